"""The testbed's DNS: one knotd serving the root zone "." from one file, so every scenario name is
in-zone and CNAME chains are followed by the server itself. Changes are applied by reloading the
zone file (no restart)."""

import os

from . import procs


class Knot:
    def __init__(self, directory, address):
        self.dir = os.path.join(directory, "dns")
        self.address = address
        self.conf = os.path.join(self.dir, "knot.conf")
        self.zone = os.path.join(self.dir, "root.zone")
        self.socket = os.path.join(self.dir, "run", "knot.sock")
        self.log = os.path.join(self.dir, "knot.log")
        self.pid_file = os.path.join(self.dir, "knotd.pid")

    def write(self, zone_text):
        os.makedirs(os.path.join(self.dir, "run"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(f"""server:
    rundir: "{self.dir}/run"
    pidfile: "{self.dir}/run/knot.pid"
    listen: [ "{self.address}@53" ]
    udp-workers: 2
    tcp-workers: 2
    background-workers: 1
log:
  - target: "{self.log}"
    any: notice
database:
    storage: "{self.dir}/db"
    journal-db-max-size: 64M
    kasp-db-max-size: 16M
    timer-db-max-size: 16M
    catalog-db-max-size: 16M
control:
    listen: "{self.socket}"
zone:
  - domain: "."
    file: "{self.zone}"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
""")
        tmp = self.zone + ".tmp"
        with open(tmp, "w") as f:
            f.write(zone_text)
        os.replace(tmp, self.zone)

    def _serving(self):
        import subprocess
        result = subprocess.run(["knotc", "-s", self.socket, "-t", "1", "zone-status", "."],
                                capture_output=True, check=False)
        return b"serial: " in result.stdout and b"serial: -" not in result.stdout

    def start(self):
        procs.run(["knotc", "-c", self.conf, "conf-check"], "knot configuration check")
        pid = procs.spawn(["knotd", "-c", self.conf], self.log)
        with open(self.pid_file, "w") as f:
            f.write(str(pid))
        procs.wait_for(self._serving, "knotd", 30, self.log, pid)
        return pid

    def reload(self):
        procs.run(["knotc", "-s", self.socket, "-b", "-t", "60", "zone-reload", "."],
                  "DNS zone reload")

    def stop(self):
        pid = procs.read_pid(self.pid_file)
        procs.stop_pid(pid)
