"""The testbed's HTTPS policy hosts: one nginx, one server block per policy host, SNI-routed."""

import os

from . import procs


class Nginx:
    def __init__(self, directory, address):
        self.prefix = os.path.join(directory, "nginx")
        self.address = address
        self.conf = os.path.join(self.prefix, "nginx.conf")
        self.pid_file = os.path.join(self.prefix, "nginx.pid")
        self.log = os.path.join(self.prefix, "error.log")

    def write(self, config_text):
        os.makedirs(os.path.join(self.prefix, "tmp"), exist_ok=True)
        tmp = self.conf + ".tmp"
        with open(tmp, "w") as f:
            f.write(config_text)
        os.replace(tmp, self.conf)

    def check(self):
        procs.run(["nginx", "-t", "-q", "-p", self.prefix, "-c", self.conf],
                  "nginx configuration check")

    def start(self):
        procs.run(["nginx", "-p", self.prefix, "-c", self.conf], "nginx start")
        procs.wait_for(lambda: procs.read_pid(self.pid_file) is not None and
                       procs.port_open(self.address, 443), "nginx", 60, self.log)
        return procs.read_pid(self.pid_file)

    def reload(self):
        # A bad configuration would leave the old one running silently: check it first.
        self.check()
        procs.run(["nginx", "-p", self.prefix, "-c", self.conf, "-s", "reload"], "nginx reload")

    def stop(self):
        pid = procs.read_pid(self.pid_file)
        procs.stop_pid(pid, timeout=10)
