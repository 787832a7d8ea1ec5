#!/usr/bin/python3
"""A mailbox for the alerting end-to-end tests: a real Postfix instance that the alerter submits
its e-mail to, delivering every message for one domain into a Maildir the test reads.

The instance has everything of its own under DIR (configuration, queue, data, log), listens on
one loopback address only, and keeps nothing running outside DIR. Mail for the domain (every
local part) goes to DIR/Maildir/ through Postfix's `virtual` delivery agent; mail for any other
domain is refused with "Relay access denied". Optionally it offers STARTTLS with a given
certificate (or requires it), and requires SMTP AUTH (PLAIN, LOGIN) against a Cyrus sasldb.

    mailbox.py start --dir DIR --address 127.x.y.z [--port 25] [--domain alerts.test]
                     [--tls-cert CERT --tls-key KEY] [--require-tls]
                     [--auth-user USER --auth-password PASSWORD]
    mailbox.py list --dir DIR       # JSON: one object per delivered message
    mailbox.py stop --dir DIR

From Python:

    box = Mailbox(dir, "127.77.0.1", tls_cert=..., tls_key=...)
    box.start()
    ...
    for m in box.wait_for_messages(2, timeout=30): print(m["subject"])
    box.stop()

Needs root (Postfix's master runs as root and binds the port). DIR and the directories above it
must be searchable by the unprivileged `postfix` and `nobody` users; `start` makes DIR itself
searchable and says so when an ancestor is not.
"""

import argparse
import email
import email.policy
import json
import os
import pty
import pwd
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time

# Postfix's programs; Debian's paths.
POSTFIX = "/usr/sbin/postfix"
SASLPASSWD2 = "/usr/sbin/saslpasswd2"

# Who the `virtual` agent delivers as: DIR/Maildir belongs to this user.
DELIVERY_USER = "nobody"

_MASTER_CF = """\
# service   type  private unpriv chroot wakeup maxproc command
{listen}    inet  n       -       n       -       -       smtpd
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
virtual   unix  -       n       n       -       -       virtual
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class MailboxError(Exception):
    """The mailbox could not be configured, started or stopped; the message says why (with the
    end of the Postfix log when Postfix is the cause)."""


def _tail(path, lines=30):
    try:
        with open(path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
    except OSError:
        return ""


def _alive(pid):
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _banner(address, port, timeout=1.0):
    """The first line the server sends, or None when nothing answers."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as s:
            s.settimeout(timeout)
            data = b""
            while b"\n" not in data:
                chunk = s.recv(512)
                if not chunk:
                    break
                data += chunk
            try:
                s.sendall(b"QUIT\r\n")
            except OSError:
                pass
            return data.decode(errors="replace").strip() or None
    except OSError:
        return None


def _run(argv, what, input_bytes=None, tty=False):
    """Runs a command; raises MailboxError with its output when it fails. With `tty`, its
    stderr is a pseudo-terminal: Postfix's commands print their errors only to a terminal (and
    otherwise to syslog, which a test machine may not have)."""
    master = slave = None
    if tty:
        master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=slave if tty else subprocess.STDOUT)
    except FileNotFoundError as e:
        raise MailboxError(f"{what}: {argv[0]} is not installed") from e
    finally:
        if slave is not None:
            os.close(slave)
    chunks = []
    reader = None
    if tty:
        def drain():
            while True:
                try:
                    data = os.read(master, 4096)
                except OSError:  # EIO once every holder of the terminal has closed it
                    break
                if not data:
                    break
                chunks.append(data)
        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
    try:
        out, _ = proc.communicate(input_bytes, timeout=60)
    except subprocess.TimeoutExpired as e:
        proc.kill()
        proc.communicate()
        raise MailboxError(f"{what}: no answer within 60 s") from e
    finally:
        if reader is not None:
            # Postfix's daemons inherit nothing of the terminal, so this ends promptly.
            reader.join(timeout=5)
            os.close(master)
    text = (out + b"".join(chunks)).decode(errors="replace").replace("\r\n", "\n").strip()
    if proc.returncode != 0:
        raise MailboxError(f"{what} failed ({' '.join(argv)}):\n{text or '(no output)'}")
    return text


def _check_searchable(path, users):
    """Raises when one of `users` cannot reach `path` (a missing x bit above it)."""
    path = os.path.abspath(path)
    parts = [path]
    while os.path.dirname(parts[-1]) != parts[-1]:
        parts.append(os.path.dirname(parts[-1]))
    for user in users:
        for p in reversed(parts[1:]):
            st = os.stat(p)
            if st.st_uid == user.pw_uid:
                ok = st.st_mode & stat.S_IXUSR
            elif st.st_gid == user.pw_gid:
                ok = st.st_mode & stat.S_IXGRP
            else:
                ok = st.st_mode & stat.S_IXOTH
            if not ok:
                raise MailboxError(f"user {user.pw_name} cannot search {p} (mode "
                                   f"{stat.filemode(st.st_mode)}): Postfix could not reach {path}; "
                                   "use a directory under /tmp or make it searchable")


def _header(msg, name):
    value = msg.get(name)
    if value is None:
        return None
    return " ".join(str(value).split())


def _text_body(msg):
    part = msg.get_body(preferencelist=("plain",)) if msg.is_multipart() else msg
    if part is None:
        return None
    try:
        return part.get_content()
    except (LookupError, KeyError, ValueError):
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else None


def _our_received(msg):
    """What this mailbox's Postfix wrote in the topmost Received header: the SMTP protocol
    (ESMTP, ESMTPS with TLS, ESMTPSA with TLS and AUTH), the TLS version, the SASL user."""
    received = msg.get_all("Received") or []
    text = " ".join(str(received[0]).split()) if received else ""
    proto = re.search(r"\bwith (E?SMTP[SA]*|LMTP\S*)\b", text)
    tls = re.search(r"\(using (TLSv[0-9.]+|SSLv[0-9.]+)", text)
    user = re.search(r"\(Authenticated sender: ([^)]+)\)", text)
    return {"smtp_protocol": proto.group(1) if proto else None,
            "tls_version": tls.group(1) if tls else None,
            "authenticated_sender": user.group(1) if user else None}


def _delivery_order(name):
    """Sort key of a Maildir file name: Postfix names them SECONDS.V..I..M<usec>.host."""
    m = re.match(r"(\d+)\.(?:\S*?M(\d+))?", name)
    if not m:
        return (0, 0, name)
    return (int(m.group(1)), int(m.group(2) or 0), name)


class Mailbox:
    """One Postfix instance under `directory`. Only `directory` is needed to stop it or read
    its messages; `start` needs the address and the rest."""

    def __init__(self, directory, address=None, port=25, domain="alerts.test", tls_cert=None,
                 tls_key=None, require_tls=False, auth_user=None, auth_password=None):
        self.dir = os.path.abspath(directory)
        self.address = address
        self.port = int(port)
        self.domain = domain
        self.tls_cert = os.path.abspath(tls_cert) if tls_cert else None
        self.tls_key = os.path.abspath(tls_key) if tls_key else None
        self.require_tls = require_tls
        self.auth_user = auth_user
        self.auth_password = auth_password
        self.conf = os.path.join(self.dir, "etc")
        self.spool = os.path.join(self.dir, "spool")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "log", "postfix.log")
        # Debian's Postfix reads smtpd.conf from $config_directory/sasl whatever
        # cyrus_sasl_config_path says; main.cf names the same directory for other builds. The
        # database is elsewhere: `postfix check` wants everything under etc/ owned by root.
        self.sasl_conf = os.path.join(self.conf, "sasl")
        self.sasldb = os.path.join(self.dir, "sasl", "sasldb2")
        # Told apart from whatever else answers on the port: a new token in the banner.
        self.token = None
        self.maildir = os.path.join(self.dir, "Maildir")
        self.pid_file = os.path.join(self.spool, "pid", "master.pid")

    # -- configuration -------------------------------------------------------------------------

    def _validate(self):
        if not self.address:
            raise MailboxError("an address is needed to start the mailbox")
        try:
            socket.inet_pton(socket.AF_INET, self.address)
        except OSError as e:
            raise MailboxError(f"not an IPv4 address: {self.address}") from e
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*"
                            r"[A-Za-z0-9])?)+", self.domain or ""):
            raise MailboxError(f"not a domain name: {self.domain!r}")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise MailboxError("--tls-cert and --tls-key go together")
        for f in (self.tls_cert, self.tls_key):
            if f and not os.path.isfile(f):
                raise MailboxError(f"no such file: {f}")
        if self.tls_cert:
            # Postfix would start all the same, with TLS quietly disabled.
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(self.tls_cert,
                                                                        self.tls_key)
            except (ssl.SSLError, OSError) as e:
                raise MailboxError(f"cannot use {self.tls_cert} with {self.tls_key}: {e}") from e
        if self.require_tls and not self.tls_cert:
            raise MailboxError("--require-tls needs --tls-cert and --tls-key")
        if bool(self.auth_user) != bool(self.auth_password):
            raise MailboxError("--auth-user and --auth-password go together")
        if self.auth_user and not os.path.exists(SASLPASSWD2):
            raise MailboxError(f"AUTH needs {SASLPASSWD2}: install the Debian packages "
                               "sasl2-bin and libsasl2-modules")
        if self.auth_user and any(c in self.auth_user for c in "@\n\r\0 "):
            raise MailboxError("--auth-user is a plain user name (no @, no spaces)")

    def _main_cf(self):
        lines = f"""\
compatibility_level = 3.6
queue_directory = {self.spool}
data_directory = {self.data}
maillog_file = {self.log}
maillog_file_prefixes = {os.path.dirname(self.log)}
syslog_name = stswatch-mailbox
myhostname = mailbox.{self.domain}
mydomain = {self.domain}
myorigin = $myhostname
inet_interfaces = {self._interfaces()}
inet_protocols = ipv4
smtpd_banner = $myhostname ESMTP {self.token}
biff = no
# Nothing is delivered locally or relayed: only the virtual domain exists.
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
mynetworks =
default_transport = error:this mailbox delivers nowhere else
relay_transport = error:this mailbox delivers nowhere else
local_transport = error:this mailbox delivers nowhere else
virtual_transport = virtual
virtual_mailbox_domains = {self.domain}
virtual_mailbox_base = {self.dir}
# A trailing slash: Maildir format. Every local part shares the one Maildir.
virtual_mailbox_maps = static:Maildir/
virtual_alias_maps =
virtual_uid_maps = static:{self._delivery_user().pw_uid}
virtual_gid_maps = static:{self._delivery_user().pw_gid}
virtual_minimum_uid = 1
virtual_mailbox_limit = 0
smtpd_relay_restrictions = reject_unauth_destination
smtpd_tls_loglevel = 1
"""
        if self.tls_cert:
            lines += f"""\
smtpd_tls_security_level = {"encrypt" if self.require_tls else "may"}
smtpd_tls_cert_file = {self.tls_cert}
smtpd_tls_key_file = {self.tls_key}
smtpd_tls_received_header = yes
"""
        else:
            lines += "smtpd_tls_security_level = none\n"
        if self.auth_user:
            lines += f"""\
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {self.sasl_conf}
smtpd_sasl_local_domain = {self.domain}
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_sasl_authenticated_header = yes
# With a certificate, AUTH is offered only after STARTTLS.
smtpd_tls_auth_only = {"yes" if self.tls_cert else "no"}
# Unauthenticated clients may not submit at all.
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
"""
        return lines

    def _interfaces(self):
        # Postfix insists that inet_interfaces be addresses of interfaces, and 127.x.y.z other
        # than 127.0.0.1 is not one (lo has 127.0.0.1/8). master.cf binds the smtpd service to
        # the one address all the same.
        if self.address.startswith("127."):
            return "loopback-only"
        return self.address

    @staticmethod
    def _delivery_user():
        return pwd.getpwnam(DELIVERY_USER)

    def _write(self):
        postfix = pwd.getpwnam("postfix")
        delivery = self._delivery_user()
        os.makedirs(self.dir, exist_ok=True)
        mode = stat.S_IMODE(os.stat(self.dir).st_mode)
        os.chmod(self.dir, mode | 0o711)
        _check_searchable(self.dir, [postfix, delivery])
        for d in (self.conf, self.spool, self.data, os.path.dirname(self.log)):
            os.makedirs(d, exist_ok=True)
        os.chown(self.data, postfix.pw_uid, postfix.pw_gid)
        for sub in ("", "tmp", "new", "cur"):
            p = os.path.join(self.maildir, sub)
            os.makedirs(p, exist_ok=True)
            os.chown(p, delivery.pw_uid, delivery.pw_gid)
            os.chmod(p, 0o700)
        main_cf = os.path.join(self.conf, "main.cf")
        with open(main_cf, "w") as f:
            f.write(self._main_cf())
        # Postfix's programs stall for up to two seconds on a main.cf younger than a second.
        old = time.time() - 60
        os.utime(main_cf, (old, old))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(_MASTER_CF.format(listen=f"{self.address}:{self.port}"))
        if self.auth_user:
            self._write_sasl(postfix)
        else:
            for d in (self.sasl_conf, os.path.dirname(self.sasldb)):
                if os.path.isdir(d):
                    shutil.rmtree(d)
        _run([POSTFIX, "-c", self.conf, "check"], "postfix configuration check", tty=True)

    def _write_sasl(self, postfix):
        os.makedirs(self.sasl_conf, exist_ok=True)
        os.chmod(self.sasl_conf, 0o755)
        db = self.sasldb
        db_dir = os.path.dirname(db)
        if os.path.isdir(db_dir):
            shutil.rmtree(db_dir)
        os.makedirs(db_dir)
        os.chown(db_dir, postfix.pw_uid, postfix.pw_gid)
        os.chmod(db_dir, 0o700)
        with open(os.path.join(self.sasl_conf, "smtpd.conf"), "w") as f:
            f.write(f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {db}\n"
                    "mech_list: PLAIN LOGIN\n")
        _run([SASLPASSWD2, "-f", db, "-p", "-c", "-u", self.domain, self.auth_user],
             "saslpasswd2", input_bytes=self.auth_password.encode())
        # smtpd reads the database as the postfix user.
        os.chown(db, postfix.pw_uid, postfix.pw_gid)
        os.chmod(db, 0o600)

    # -- processes -----------------------------------------------------------------------------

    def master_pid(self):
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if _alive(pid) else None

    def running(self):
        return self.master_pid() is not None

    def start(self, timeout=30):
        """Writes the configuration, starts Postfix and waits for its SMTP banner."""
        self._validate()
        if self.running():
            raise MailboxError(f"a mailbox already runs in {self.dir} "
                               f"(master pid {self.master_pid()}); stop it first")
        if _banner(self.address, self.port, timeout=0.5) is not None:
            raise MailboxError(f"something already answers on {self.address}:{self.port}")
        self.token = os.urandom(6).hex()
        self._write()
        log_size = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        try:
            _run([POSTFIX, "-c", self.conf, "start"], "postfix start", tty=True)
        except MailboxError as e:
            raise MailboxError(f"{e}\n{self._new_log(log_size)}") from e
        deadline = time.monotonic() + timeout
        while True:
            banner = _banner(self.address, self.port, timeout=0.5)
            if banner and banner.startswith("220") and self.token in banner:
                # smtpd loads its certificate before it answers.
                if self.tls_cert and "disabling TLS support" in self._new_log(log_size):
                    self.stop()
                    raise MailboxError("postfix disabled TLS; its log:\n"
                                       f"{self._new_log(log_size)}")
                return banner
            # `postfix start` returns once the master runs; if it is gone, it failed. A daemon
            # that cannot start (a bad certificate, say) logs a fatal error; the master then
            # keeps trying, throttled, and the port never answers.
            gone = self.master_pid() is None
            fatal = re.search(r": (fatal|panic): ", self._new_log(log_size))
            if gone or fatal or time.monotonic() > deadline:
                self.stop()
                why = ("exited" if gone else "failed" if fatal else
                       f"did not answer within {timeout} s" if banner is None else
                       f"answered {banner!r}, not the expected banner, within {timeout} s")
                raise MailboxError(f"postfix on {self.address}:{self.port} {why}; its log:\n"
                                   f"{self._new_log(log_size)}")
            time.sleep(0.02)

    def _new_log(self, since):
        try:
            with open(self.log, "rb") as f:
                f.seek(since)
                text = f.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        lines = text.splitlines()[-40:]
        return "\n".join(lines) if lines else "(nothing logged)"

    def stop(self, timeout=10):
        """Stops Postfix: `postfix stop`, then the master's pid if it lingers. Idempotent."""
        pid = self.master_pid()
        if pid is None:
            return
        try:
            _run([POSTFIX, "-c", self.conf, "stop"], "postfix stop", tty=True)
        except MailboxError:
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if not _alive(pid):
                return
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- messages ------------------------------------------------------------------------------

    def messages(self):
        """Delivered messages, oldest first: dicts with file, path, message_id, in_reply_to,
        references, subject (RFC 2047 decoded), from, to, date, delivered_to (the envelope
        recipient), return_path (the envelope sender), x_stswatch_alert, x_stswatch_state,
        x_stswatch_severity, auto_submitted, content_type; from this mailbox's Received header
        smtp_protocol (ESMTP, ESMTPS, ESMTPSA), tls_version (None without STARTTLS) and
        authenticated_sender (the SASL user, or None); body (the text/plain part)."""
        files = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir, sub)
            try:
                files += [(name, os.path.join(d, name)) for name in os.listdir(d)]
            except FileNotFoundError:
                continue
        files.sort(key=lambda f: _delivery_order(f[0]))
        out = []
        for name, path in files:
            try:
                with open(path, "rb") as f:
                    msg = email.message_from_binary_file(f, policy=email.policy.default)
            except FileNotFoundError:
                continue
            out.append({
                "file": name,
                "path": path,
                "message_id": _header(msg, "Message-ID"),
                "in_reply_to": _header(msg, "In-Reply-To"),
                "references": _header(msg, "References"),
                "subject": _header(msg, "Subject"),
                "from": _header(msg, "From"),
                "to": _header(msg, "To"),
                "date": _header(msg, "Date"),
                "delivered_to": _header(msg, "Delivered-To"),
                "return_path": _header(msg, "Return-Path"),
                "x_stswatch_alert": _header(msg, "X-Stswatch-Alert"),
                "x_stswatch_state": _header(msg, "X-Stswatch-State"),
                "x_stswatch_severity": _header(msg, "X-Stswatch-Severity"),
                "auto_submitted": _header(msg, "Auto-Submitted"),
                "content_type": msg.get_content_type(),
                **_our_received(msg),
                "body": _text_body(msg),
            })
        return out

    def wait_for_messages(self, count, timeout=30):
        """Polls until at least `count` messages are delivered; returns them all. Raises
        MailboxError after `timeout` s, with what arrived and the end of the Postfix log."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages()
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise MailboxError(f"{len(got)} of {count} messages within {timeout} s; "
                                   f"subjects {[m['subject'] for m in got]}; postfix log:\n"
                                   f"{_tail(self.log)}")
            time.sleep(0.05)

    def clear(self):
        """Deletes every delivered message."""
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir, sub)
            for name in os.listdir(d) if os.path.isdir(d) else []:
                try:
                    os.unlink(os.path.join(d, name))
                except FileNotFoundError:
                    pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="configure and start Postfix; wait for its banner")
    start.add_argument("--dir", required=True)
    start.add_argument("--address", required=True, help="the IPv4 address to listen on")
    start.add_argument("--port", type=int, default=25)
    start.add_argument("--domain", default="alerts.test",
                       help="the domain whose mail is delivered (others are refused)")
    start.add_argument("--tls-cert", help="PEM certificate (chain) for STARTTLS")
    start.add_argument("--tls-key", help="PEM private key for STARTTLS")
    start.add_argument("--require-tls", action="store_true",
                       help="refuse mail before STARTTLS (smtpd_tls_security_level = encrypt)")
    start.add_argument("--auth-user", help="require SMTP AUTH (PLAIN, LOGIN) as this user")
    start.add_argument("--auth-password")
    for name, text in (("stop", "stop Postfix"), ("list", "print the delivered messages")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--dir", required=True)
    args = parser.parse_args(argv)

    try:
        if args.command == "start":
            box = Mailbox(args.dir, args.address, args.port, args.domain, args.tls_cert,
                          args.tls_key, args.require_tls, args.auth_user, args.auth_password)
            box.start()
            print(f"smtp={box.address}:{box.port}")
            print(f"domain={box.domain}")
            print(f"maildir={box.maildir}")
            print(f"log={box.log}")
            print(f"pid={box.master_pid()}")
        elif args.command == "stop":
            Mailbox(args.dir).stop()
        else:
            json.dump(Mailbox(args.dir).messages(), sys.stdout, indent=1, ensure_ascii=False)
            sys.stdout.write("\n")
    except MailboxError as e:
        print(f"mailbox.py {args.command}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
