"""The testbed's MX hosts: one Postfix instance (its own configuration, queue and data
directories) with one smtpd service per MX host address, each with its own certificate, STARTTLS
setting and TLS versions. Mail is accepted for any recipient and discarded."""

import os
import pwd

from . import procs

_VERSIONS = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]

_MASTER_STATIC = """\
# service   type  private unpriv chroot wakeup maxproc command
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    def __init__(self, directory):
        self.base = os.path.join(directory, "mta")
        self.conf = os.path.join(self.base, "etc")
        self.log = os.path.join(self.base, "log", "postfix.log")
        self.pid_file = os.path.join(self.base, "spool", "pid", "master.pid")
        self.listeners = []
        self.removed = set()

    def _configured_addresses(self):
        try:
            with open(os.path.join(self.conf, "master.cf")) as f:
                return {line.split(":25 ", 1)[0] for line in f if ":25 inet " in line}
        except OSError:
            return set()

    def write(self, listeners):
        self.removed = self._configured_addresses() - {l.address for l in listeners}
        self.listeners = listeners
        for sub in ("etc", "spool", "data", "log"):
            os.makedirs(os.path.join(self.base, sub), exist_ok=True)
        user = pwd.getpwnam("postfix")
        os.chown(os.path.join(self.base, "data"), user.pw_uid, user.pw_gid)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"""compatibility_level = 3.6
queue_directory = {self.base}/spool
data_directory = {self.base}/data
maillog_file = {self.log}
maillog_file_prefixes = {self.base}/log
syslog_name = stswatch-testbed
myhostname = mta.testbed.test
mydomain = testbed.test
myorigin = $myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains = static:ALL
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
default_transport = discard:testbed
relay_transport = discard:testbed
local_transport = discard:testbed
smtpd_banner = $myhostname ESMTP
biff = no
smtpd_tls_security_level = none
smtpd_tls_loglevel = 1
""")
        # Postfix programs stall for up to two seconds on a main.cf younger than a second.
        old = os.path.getmtime(os.path.join(self.conf, "main.cf")) - 60
        os.utime(os.path.join(self.conf, "main.cf"), (old, old))
        lines = [_MASTER_STATIC, "# One smtpd per MX host address.\n"]
        for listener in listeners:
            lines.append(f"{listener.address}:25 inet n - n - - smtpd\n")
            lines.append(f"  -o myhostname={listener.host}\n")
            if not listener.starttls:
                lines.append("  -o smtpd_tls_security_level=none\n")
                continue
            lines.append("  -o smtpd_tls_security_level=may\n")
            lines.append(f"  -o smtpd_tls_chain_files={listener.cert_file}\n")
            offered = sorted(listener.tls_versions, key=_VERSIONS.index)
            protocols = f">={offered[0]} <={offered[-1]}"
            lines.append(f"  -o {{smtpd_tls_protocols = {protocols}}}\n")
            lines.append(f"  -o {{smtpd_tls_mandatory_protocols = {protocols}}}\n")
            if offered[0] in ("TLSv1", "TLSv1.1"):
                # Debian's OpenSSL 3 refuses TLS < 1.2 at its default security level.
                lines.append("  -o tls_medium_cipherlist=DEFAULT:@SECLEVEL=0\n")
                lines.append("  -o tls_high_cipherlist=DEFAULT:@SECLEVEL=0\n")
        tmp = os.path.join(self.conf, "master.cf.tmp")
        with open(tmp, "w") as f:
            f.writelines(lines)
        os.replace(tmp, os.path.join(self.conf, "master.cf"))
        procs.run(["postfix", "-c", self.conf, "check"], "postfix configuration check")

    def start(self):
        if not self.listeners:
            return None
        procs.run(["postfix", "-c", self.conf, "start"], "postfix start")
        first = self.listeners[0].address
        procs.wait_for(lambda: procs.port_open(first, 25), "postfix", 30, self.log)
        return procs.read_pid(self.pid_file)

    @staticmethod
    def _smtpd_pids(master):
        pids = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == master and fields[0] != "Z":
                    with open(f"/proc/{entry}/comm") as f:
                        if f.read().strip() == "smtpd":
                            pids.add(int(entry))
            except (OSError, IndexError, ValueError):
                continue
        return pids

    def reload(self):
        pid = procs.read_pid(self.pid_file)
        if pid is None or not procs.alive(pid):
            self.start()
            return
        if not self.listeners:
            self.stop()
            return
        before = self._smtpd_pids(pid)
        procs.run(["postfix", "-c", self.conf, "reload"], "postfix reload")
        # Idle smtpd processes keep serving the old certificates until they exit.
        procs.wait_for(lambda: not (before & self._smtpd_pids(pid)), "postfix reload", 10,
                       self.log)
        # The master rebinds asynchronously: wait until the new set of listeners is in place.
        procs.wait_for(lambda: all(procs.port_open(l.address, 25) for l in self.listeners) and
                       not any(procs.port_open(a, 25) for a in self.removed),
                       "postfix reload", 30, self.log)

    def stop(self):
        pid = procs.read_pid(self.pid_file)
        if pid is not None and procs.alive(pid):
            procs.run(["postfix", "-c", self.conf, "stop"], "postfix stop")
            procs.stop_pid(pid, timeout=10)


