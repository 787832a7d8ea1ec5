#!/usr/bin/python3
"""hostile.py: misbehaving SMTP and HTTPS servers for the stswatch testbed.

The testbed runs real servers (knot, nginx, postfix) for well-behaved peers.
This program provides what those cannot be configured to do: servers that
test a prober's deadlines, size limits and STARTTLS handling.

Usage:
    hostile.py --config FILE.json [--pid-file FILE] [--log FILE] [--verbose]

Standard library only; runs with Debian's /usr/bin/python3 (3.11).

Process behaviour
-----------------
* Every listener is bound before the pid file is written (atomically, via a
  temporary file and rename); the pid file is removed again on a clean exit.
* An invalid config exits with status 2, a listener that cannot be bound with
  status 1; both print one clear line on stderr.
* SIGTERM / SIGINT: stop listening, abort every connection (including ones
  deliberately left hanging), exit 0 within well under a second.
* SIGHUP: re-read the config file and apply it.  Listeners are identified by
  (address, port): an identical entry keeps its socket; an entry whose
  settings changed keeps its socket too and new connections use the new
  settings (behaviour, hostname, sites, certificates, ...); only a change of
  protocol rebinds.  Removed entries stop listening (their established
  connections run on with the settings they were accepted with).  Cert files
  and body files are re-read at every reload.  An invalid new config is
  logged ("reload_failed") and the old one stays in force.  SIGHUP also
  reopens the --log file.
* Never crashes on client misbehaviour (resets, garbage, TLS failures): the
  problem is logged and the connection closed.

Event log (--log FILE, "-" for stdout)
-------------------------------------
One JSON object per line, flushed per line.  Common fields:
    "ts"       ISO 8601 UTC timestamp, e.g. "2024-05-01T12:00:00.123456Z"
    "time"     the same as seconds since the epoch (float)
    "event"    see below
    "listener" "ADDRESS:PORT" ("[ADDR]:PORT" for IPv6) of the listener
    "protocol" "smtp" | "https"
    "name"     the listener's optional "name" from the config
    "peer"     "ADDRESS:PORT" of the client (connection events)
    "conn"     connection number, unique within the process
Events:
    listening / listener_updated / listener_removed / bind_failed
    ready           all listeners bound, pid file written ("pid")
    accepted        connection accepted (also logged for "canary")
    behaviour       the behaviour applied to the connection ("behaviour",
                    plus e.g. "delay", "interval", "action": "inject")
    command         an SMTP command line received ("line", truncated)
    message         an SMTP DATA body was received and discarded ("bytes")
    discarded       plaintext pipelined after STARTTLS was thrown away
    sent            bytes handed to the peer ("bytes", "data" preview; one
                    summary event for a trickle)
    tls             TLS handshake completed ("sni", "version", "cipher")
    tls_failed      TLS handshake failed ("sni", "error")
    request         HTTP request head ("method", "target", "host",
                    "user_agent", "sni", "site", "status", "behaviour"; or
                    "error" and "line" for a malformed request line)
    error           unexpected condition on a connection ("error")
    closed          connection closed ("reason", "duration", "bytes_sent" and
                    "bytes_received": application bytes, i.e. plaintext
                    inside TLS; "queued_at_close": wire bytes written but
                    not yet taken by the kernel when we closed, if any and
                    if the connection was still up - e.g. the unread part
                    of a long line when the peer half-closed)
    reload / reload_failed / stopping / stopped
    loop_error      an error reported by asyncio itself (logged, ignored)
With --verbose every event is also printed on stderr.

Config format
-------------
{"listeners": [
  {"protocol": "smtp", "address": "127.20.1.7", "port": 25,
   "name": "optional label copied into the event log",
   "hostname": "mx7.hostile.test",
   "behaviour": "no-banner" | "long-line" | "starttls-454" |
                "inject-after-starttls" | "canary" | "normal",
   "cert": "/path/chain-and-key.pem"},
  {"protocol": "https", "address": "127.20.0.3", "port": 443,
   "name": "optional label",
   "sites": {"mta-sts.slow.test": {
                 "behaviour": "delay" | "trickle" | "never-close" | "normal",
                 "delay": 90,
                 "interval": 1.0,
                 "body_file": "/path/policy.txt",
                 "content_type": "text/plain",
                 "status": 200,
                 "cert": "/path/chain-and-key.pem"}}}
]}

"address" must be an IP address literal; (address, port) must be unique.
Unknown keys are rejected (to catch typos).  An optional key given as null
counts as absent ("content_type": null excepted, see below); "behaviour":
"none" (or absent) means "normal".

Every "cert" file holds the PEM certificate chain (leaf first) followed by the
PEM private key (OpenSSL skips over the other blocks, so key-first files work
as well).  TLS 1.2 and 1.3 are accepted.

SMTP listener keys: "hostname" (default "localhost") is used in the banner
and the EHLO reply.  "behaviour" defaults to "normal".  "cert" is required
for "inject-after-starttls"; with "normal" and no cert, STARTTLS is neither
advertised nor accepted (502).  The client's SNI is logged but not used.

SMTP behaviours (lines end in CRLF; a connection stays open until the peer
leaves or after a 10-minute cap):
    normal      "220 <hostname> ESMTP"; EHLO -> 250-<hostname>, PIPELINING,
                8BITMIME, STARTTLS (not after TLS); HELO -> 250; STARTTLS ->
                "220 2.0.0 Ready to start TLS" and the TLS handshake (any
                plaintext pipelined after STARTTLS is discarded); MAIL/RCPT
                -> 250, DATA -> 354 ... "." -> 250 (discarded); RSET/NOOP ->
                250; QUIT -> 221 and close; unknown commands -> 500; a line
                longer than 4096 bytes (without CRLF) -> 500 and close.
    no-banner   accept and never send anything.
    long-line   send "220 " and 1 MiB of 'x' without a line end, then wait.
    starttls-454  like normal, but STARTTLS ->
                "454 4.7.0 TLS not available due to local problem".
    inject-after-starttls  like normal, but STARTTLS sends
                "220 2.0.0 Ready to start TLS\\r\\n250 injected-before-handshake\\r\\n"
                in one write, then does the TLS handshake.
    canary      log the connection and close it at once.

HTTPS listener keys: "sites" maps server names (matched case-insensitively
against the SNI) to sites.  A ClientHello naming no configured site, or no
name at all, is refused with a fatal unrecognized_name alert.

Site keys: "behaviour" (default "normal"); "cert" (required); "body_file"
(optional, default empty body; read at every request so a test can rewrite
it); "content_type" (default "text/plain"; null omits the header); "status"
(default 200); "delay" (seconds, required for "delay"); "interval" (seconds
between bytes for "trickle", default 1).

HTTPS behaviours (HTTP/1.1 over TLS).  The request head is read up to 16 KiB
(longer -> 431, malformed -> 400, both sent at once and closed).  Only GET of
/.well-known/mta-sts.txt (query string ignored) serves the site's body with
its status; other paths get 404, other methods 405.  The behaviour applies to
all those responses:
    normal      status line, Content-Type, Content-Length, Connection: close,
                body, close.
    delay       finish the handshake, read the request, wait "delay" seconds
                (or until the peer leaves), then answer as normal.
    trickle     send the whole response (head and body) one byte per
                "interval" seconds, then close.
    never-close head without Content-Length and without chunked encoding, then
                the body, then keep the connection open until the peer leaves
                or the server shuts down (no cap).
Waiting for the TLS handshake is capped at 60 s and for the request head at
10 minutes.
"""

import argparse
import asyncio
import datetime
import http
import ipaddress
import itertools
import json
import logging
import math
import os
import resource
import signal
import ssl
import sys
import time

CONN_CAP = 600.0  # seconds an SMTP session / an HTTP request wait may last
TLS_HANDSHAKE_TIMEOUT = 60.0
CLOSE_TIMEOUT = 2.0  # seconds to wait for a graceful (TLS) close
SMTP_MAX_LINE = 4096
HTTP_MAX_HEAD = 16 * 1024
LONG_LINE_BYTES = 1 << 20
READ_CHUNK = 65536
WELL_KNOWN_PATH = "/.well-known/mta-sts.txt"
INJECTED_REPLY = b"220 2.0.0 Ready to start TLS\r\n250 injected-before-handshake\r\n"

SMTP_BEHAVIOURS = ("normal", "no-banner", "long-line", "starttls-454",
                   "inject-after-starttls", "canary")
HTTPS_BEHAVIOURS = ("normal", "delay", "trickle", "never-close")

EXIT_CONFIG = 2
EXIT_BIND = 1

log = logging.getLogger("hostile")


# --------------------------------------------------------------------------
# Event log


class EventLog:
    """Writes one JSON object per line; never raises."""

    def __init__(self, path):
        self.path = path
        self.fh = None
        self.reopen()

    def reopen(self):
        if self.path is None:
            return
        if self.path == "-":
            self.fh = sys.stdout
            return
        new = open(self.path, "a", encoding="utf-8", buffering=1)
        old, self.fh = self.fh, new
        if old is not None:
            try:
                old.close()
            except OSError:
                pass

    def reopen_safe(self):
        try:
            self.reopen()
        except OSError as exc:
            log.error("cannot reopen event log %s: %s", self.path, exc)

    def emit(self, event, **fields):
        now = time.time()
        ts = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
        record = {"ts": ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                  "time": round(now, 6), "event": event}
        record.update((k, v) for k, v in fields.items() if v is not None)
        if log.isEnabledFor(logging.INFO):
            log.info("%s", " ".join(f"{k}={v}" for k, v in record.items() if k not in ("ts", "time")))
        if self.fh is None:
            return
        try:
            self.fh.write(json.dumps(record, default=str) + "\n")
            self.fh.flush()
        except (OSError, ValueError) as exc:
            log.warning("cannot write event log: %s", exc)


EVENTS = EventLog(None)


# --------------------------------------------------------------------------
# Configuration


class ConfigError(Exception):
    pass


def _check_keys(obj, where, allowed, required=()):
    if not isinstance(obj, dict):
        raise ConfigError(f"{where}: expected a JSON object")
    unknown = sorted(set(obj) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    for key in required:
        if key not in obj:
            raise ConfigError(f"{where}: missing key {key!r}")


def _string(obj, key, where, default=None):
    value = obj.get(key)
    if value is None:
        value = default
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key!r} must be a non-empty string")
    return value


def _number(obj, key, where, default=None, minimum=0):
    value = obj.get(key)
    if value is None:
        value = default
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value < minimum):
        raise ConfigError(f"{where}: {key!r} must be a number >= {minimum}")
    return float(value)


def _behaviour(raw):
    behaviour = raw.get("behaviour")
    return "normal" if behaviour in (None, "none") else behaviour


def tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def load_cert(path, where, alpn=None):
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{where}: 'cert' must be a file name")
    ctx = tls_context()
    if alpn:
        ctx.set_alpn_protocols(alpn)
    try:
        ctx.load_cert_chain(path)
    except ssl.SSLError as exc:
        raise ConfigError(f"{where}: cannot load cert {path}: {exc} (the file must hold the "
                          "PEM certificate chain and the matching PEM private key)") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot load cert {path}: {exc.strerror or exc}") from None
    return ctx


def format_addr(host, port):
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


class SmtpConfig:
    protocol = "smtp"

    def __init__(self, raw, where):
        _check_keys(raw, where, ("protocol", "address", "port", "name", "hostname",
                                 "behaviour", "cert"))
        self.raw = raw
        self.name = raw.get("name")
        self.hostname = _string(raw, "hostname", where, "localhost")
        if any(c in self.hostname for c in "\r\n"):
            raise ConfigError(f"{where}: 'hostname' must not contain line breaks")
        self.behaviour = _behaviour(raw)
        if self.behaviour not in SMTP_BEHAVIOURS:
            raise ConfigError(f"{where}: 'behaviour' must be one of {', '.join(SMTP_BEHAVIOURS)}")
        self.cert_ctx = None
        if raw.get("cert") is not None:
            self.cert_ctx = load_cert(raw["cert"], where)
        elif self.behaviour == "inject-after-starttls":
            raise ConfigError(f"{where}: behaviour {self.behaviour!r} needs a 'cert'")


class SiteConfig:
    def __init__(self, raw, where):
        _check_keys(raw, where, ("behaviour", "delay", "interval", "body_file",
                                 "content_type", "status", "cert"), ("cert",))
        self.behaviour = _behaviour(raw)
        if self.behaviour not in HTTPS_BEHAVIOURS:
            raise ConfigError(f"{where}: 'behaviour' must be one of {', '.join(HTTPS_BEHAVIOURS)}")
        if self.behaviour == "delay" and raw.get("delay") is None:
            raise ConfigError(f"{where}: behaviour 'delay' needs 'delay' (seconds)")
        self.delay = _number(raw, "delay", where, 0)
        self.interval = _number(raw, "interval", where, 1.0)
        self.body_file = raw.get("body_file")
        if self.body_file is not None:
            _string(raw, "body_file", where)
            if not os.path.isfile(self.body_file) or not os.access(self.body_file, os.R_OK):
                raise ConfigError(f"{where}: body_file {self.body_file} is not a readable file")
        self.content_type = raw.get("content_type", "text/plain")
        if self.content_type is not None and (
                not isinstance(self.content_type, str) or any(c in self.content_type for c in "\r\n")):
            raise ConfigError(f"{where}: 'content_type' must be a string (one line) or null")
        status = raw.get("status", 200)
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
            raise ConfigError(f"{where}: 'status' must be an integer 100..999")
        self.status = status
        self.ctx = load_cert(raw["cert"], where, alpn=["http/1.1"])


class HttpsConfig:
    protocol = "https"

    def __init__(self, raw, where):
        _check_keys(raw, where, ("protocol", "address", "port", "name", "sites"), ("sites",))
        self.raw = raw
        self.name = raw.get("name")
        sites = raw["sites"]
        if not isinstance(sites, dict):
            raise ConfigError(f"{where}: 'sites' must be an object")
        self.sites = {}
        for server_name, site in sites.items():
            key = server_name.lower().rstrip(".")
            if not key or key in self.sites:
                raise ConfigError(f"{where}: bad or duplicate site name {server_name!r}")
            self.sites[key] = SiteConfig(site, f"{where}, site {server_name}")


def load_config(path):
    """Returns {(address, port): SmtpConfig | HttpsConfig}; raises ConfigError."""
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config {path} is not valid JSON: {exc}") from None
    _check_keys(doc, "config", ("listeners",), ("listeners",))
    if not isinstance(doc["listeners"], list):
        raise ConfigError("config: 'listeners' must be an array")
    result = {}
    for index, raw in enumerate(doc["listeners"]):
        where = f"listener #{index}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a JSON object")
        address = _string(raw, "address", where)
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError:
            raise ConfigError(f"{where}: 'address' {address!r} is not an IP address") from None
        port = raw.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ConfigError(f"{where}: 'port' must be an integer 1..65535")
        where = f"listener {format_addr(address, port)}"
        protocol = raw.get("protocol")
        if protocol == "smtp":
            cfg = SmtpConfig(raw, where)
        elif protocol == "https":
            cfg = HttpsConfig(raw, where)
        else:
            raise ConfigError(f"{where}: 'protocol' must be \"smtp\" or \"https\"")
        cfg.address, cfg.port = address, port
        cfg.label = format_addr(address, port)
        if (address, port) in result:
            raise ConfigError(f"{where}: listed twice")
        result[(address, port)] = cfg
    return result


# --------------------------------------------------------------------------
# Connections


class LineTooLong(Exception):
    pass


class PeerGone(Exception):
    pass


class Conn:
    """One accepted connection: plaintext or TLS (done here with an SSLObject
    over memory BIOs, so alerts are flushed and EOFs seen reliably)."""

    ids = itertools.count(1)

    def __init__(self, cfg, reader, writer):
        self.id = next(Conn.ids)
        self.cfg = cfg
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.peer = format_addr(peer[0], peer[1])
        self.started = time.monotonic()
        self.sent = 0
        self.received = 0
        self.buf = bytearray()  # application bytes received, not yet consumed
        self.reason = "server closed"
        self.tls = None  # ssl.SSLObject once the handshake has completed
        self.outgoing = None

    def log(self, event, **fields):
        EVENTS.emit(event, listener=self.cfg.label, protocol=self.cfg.protocol,
                    name=self.cfg.name, peer=self.peer, conn=self.id, **fields)

    # -- writing

    def _flush_tls(self):
        data = self.outgoing.read() if self.outgoing is not None else b""
        if data and not self.writer.is_closing():
            self.writer.write(data)

    def write(self, data, preview=True):
        """Queues data (no waiting) and logs it."""
        if self.writer.is_closing():
            raise PeerGone()
        if self.tls is not None:
            self.tls.write(data)
            self._flush_tls()
        else:
            self.writer.write(data)
        self.sent += len(data)
        if preview is True:
            preview = data[:200].decode("latin-1")
        if preview is not None:
            self.log("sent", bytes=len(data), data=preview or None)

    async def send(self, data, preview=True):
        self.write(data, preview)
        await self.writer.drain()

    async def reply(self, *lines):
        await self.send("".join(line + "\r\n" for line in lines).encode("utf-8"))

    # -- reading

    async def _read_wire(self):
        try:
            return await self.reader.read(READ_CHUNK)
        except OSError as exc:
            self.reason = f"peer reset ({exc.__class__.__name__})"
            return b""

    async def read(self):
        """Application bytes; b"" when the peer closed, reset or broke TLS."""
        if self.tls is None:
            data = await self._read_wire()
        else:
            while True:
                try:
                    data = self.tls.read(READ_CHUNK)
                    break
                except ssl.SSLWantReadError:
                    self._flush_tls()
                    wire = await self._read_wire()
                    if not wire:
                        data = b""
                        break
                    self.tls_in.write(wire)
                except ssl.SSLZeroReturnError:
                    data = b""
                    break
                except ssl.SSLError as exc:
                    self._flush_tls()
                    self.reason = f"tls error ({exc.reason or exc})"
                    data = b""
                    break
        if not data and self.reason == "server closed":
            self.reason = "peer closed"
        self.received += len(data)
        return data

    async def readline(self, limit):
        """Returns one line without its line end, or None at EOF."""
        while True:
            pos = self.buf.find(b"\n")
            if pos >= 0:
                line = bytes(self.buf[:pos])
                del self.buf[:pos + 1]
                if line.endswith(b"\r"):
                    line = line[:-1]
                if len(line) > limit:
                    raise LineTooLong()
                return line
            if len(self.buf) > limit + 1:
                raise LineTooLong()
            data = await self.read()
            if not data:
                return None
            self.buf += data

    async def wait_peer_gone(self):
        """Reads and discards until the peer closes or resets."""
        while await self.read():
            pass

    async def peer_gone_within(self, seconds):
        """True if the peer left within `seconds`, False if time ran out."""
        try:
            async with asyncio.timeout(seconds):
                await self.wait_peer_gone()
            return True
        except TimeoutError:
            return False

    def discard_buffered(self):
        """Throws away plaintext received but not yet processed (RFC 3207)."""
        count = len(self.buf)
        self.buf.clear()
        pending = getattr(self.reader, "_buffer", None)  # StreamReader internals
        if pending:
            count += len(pending)
            pending.clear()
        if count:
            self.log("discarded", bytes=count)

    # -- TLS

    async def start_tls(self, select_ctx):
        """Server-side TLS handshake. select_ctx(sni) returns the SSLContext to
        use, or None to refuse with an unrecognized_name alert. Returns the
        SNI ("" without one) on success, None on failure (logged)."""
        state = {"sni": None}

        def on_sni(sslobj, server_name, _base):
            state["sni"] = server_name
            try:
                ctx = select_ctx(server_name)
            except Exception as exc:  # noqa: BLE001
                state["error"] = f"site selection failed: {exc}"
                return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
            if ctx is None:
                state["error"] = "unrecognized server name"
                return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
            sslobj.context = ctx
            return None

        base = tls_context()
        base.sni_callback = on_sni
        self.tls_in, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        sslobj = base.wrap_bio(self.tls_in, self.outgoing, server_side=True)
        error = None
        try:
            async with asyncio.timeout(TLS_HANDSHAKE_TIMEOUT):
                while True:
                    try:
                        sslobj.do_handshake()
                        break
                    except ssl.SSLWantReadError:
                        self._flush_tls()
                        wire = await self._read_wire()
                        if not wire:
                            error = "peer closed during the handshake"
                            break
                        self.tls_in.write(wire)
        except TimeoutError:
            error = f"no handshake within {TLS_HANDSHAKE_TIMEOUT:.0f} s"
        except ssl.SSLError as exc:
            self._flush_tls()  # the alert
            error = state.get("error") or f"{exc.reason or exc}"
        if error is None:
            self._flush_tls()
            self.tls = sslobj
            cipher = sslobj.cipher()
            self.log("tls", sni=state["sni"], version=sslobj.version(),
                     cipher=cipher[0] if cipher else None)
            return state["sni"] or ""
        self.outgoing = None
        self.log("tls_failed", sni=state["sni"], error=error)
        self.reason = "tls failed"
        return None

    async def close(self, graceful=True):
        transport = self.writer.transport
        queued = 0
        try:
            if graceful and self.tls is not None and not self.writer.is_closing():
                try:
                    self.tls.unwrap()  # sends close_notify
                except (ssl.SSLError, ValueError, OSError):
                    pass  # not waiting for the peer's close_notify
                self._flush_tls()
            queued = transport.get_write_buffer_size()
            if graceful and not transport.is_closing():
                self.writer.close()  # flushes what is queued, then FIN
                try:
                    await asyncio.wait_for(self.writer.wait_closed(), CLOSE_TIMEOUT)
                except (TimeoutError, OSError):
                    pass
        finally:
            try:
                transport.abort()
            except Exception:  # noqa: BLE001
                pass
            self.log("closed", reason=self.reason, bytes_sent=self.sent,
                     bytes_received=self.received,
                     queued_at_close=queued or None,
                     duration=round(time.monotonic() - self.started, 3))


# --------------------------------------------------------------------------
# SMTP


async def smtp_session(conn):
    cfg = conn.cfg
    behaviour = cfg.behaviour
    conn.log("behaviour", behaviour=behaviour)
    if behaviour == "canary":
        conn.reason = "canary"
        return
    if behaviour == "no-banner":
        await conn.wait_peer_gone()
        return
    if behaviour == "long-line":
        # Queue it all; the transport flushes as fast as the peer reads.
        conn.write(b"220 " + b"x" * LONG_LINE_BYTES, preview="220 xxx... (no line end)")
        await conn.wait_peer_gone()
        return

    can_tls = cfg.cert_ctx is not None or behaviour == "starttls-454"
    tls = False
    await conn.reply(f"220 {cfg.hostname} ESMTP")
    while True:
        try:
            line = await conn.readline(SMTP_MAX_LINE)
        except LineTooLong:
            conn.log("error", error=f"line longer than {SMTP_MAX_LINE} bytes")
            conn.reason = "line too long"
            await conn.reply("500 5.5.0 Line too long")
            return
        if line is None:
            return
        text = line.decode("utf-8", "replace")
        conn.log("command", line=text[:512], tls=tls)
        verb, _, arg = text.strip().partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            if not arg.strip():
                await conn.reply("501 5.5.4 Syntax: EHLO hostname")
                continue
            lines = [cfg.hostname, "PIPELINING", "8BITMIME"]
            if can_tls and not tls:
                lines.append("STARTTLS")
            await conn.reply(*[f"250-{x}" for x in lines[:-1]], f"250 {lines[-1]}")
        elif verb == "HELO":
            if not arg.strip():
                await conn.reply("501 5.5.4 Syntax: HELO hostname")
                continue
            await conn.reply(f"250 {cfg.hostname}")
        elif verb == "STARTTLS":
            if tls:
                await conn.reply("503 5.5.1 TLS already active")
            elif not can_tls:
                await conn.reply("502 5.5.1 STARTTLS not supported")
            elif arg.strip():
                await conn.reply("501 5.5.4 Syntax: STARTTLS")
            elif behaviour == "starttls-454":
                await conn.reply("454 4.7.0 TLS not available due to local problem")
            else:
                # RFC 3207: plaintext pipelined after STARTTLS does not count.
                # Discarded before the 220 goes out, so it cannot be the
                # ClientHello of a client that waited for the 220.
                conn.discard_buffered()
                if behaviour == "inject-after-starttls":
                    conn.log("behaviour", behaviour=behaviour, action="inject")
                    conn.write(INJECTED_REPLY)  # one write, before the handshake
                else:
                    conn.write(b"220 2.0.0 Ready to start TLS\r\n")
                if await conn.start_tls(lambda _name: cfg.cert_ctx) is None:
                    return
                tls = True
        elif verb == "MAIL":
            await conn.reply("250 2.1.0 Ok")
        elif verb == "RCPT":
            await conn.reply("250 2.1.5 Ok")
        elif verb == "DATA":
            await conn.reply("354 End data with <CR><LF>.<CR><LF>")
            size = 0
            while True:
                try:
                    data_line = await conn.readline(SMTP_MAX_LINE)
                except LineTooLong:
                    conn.log("error", error=f"DATA line longer than {SMTP_MAX_LINE} bytes")
                    conn.reason = "line too long"
                    await conn.reply("500 5.5.0 Line too long")
                    return
                if data_line is None:
                    return
                if data_line == b".":
                    break
                size += len(data_line) + 2
            conn.log("message", bytes=size)
            await conn.reply("250 2.0.0 Ok: queued and discarded")
        elif verb in ("RSET", "NOOP"):
            await conn.reply("250 2.0.0 Ok")
        elif verb == "QUIT":
            conn.reason = "quit"
            await conn.reply("221 2.0.0 Bye")
            return
        else:
            await conn.reply("500 5.5.2 Error: command not recognized")


# --------------------------------------------------------------------------
# HTTPS


def http_response(status, content_type, body, content_length=True):
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    head = [f"HTTP/1.1 {status} {phrase}"]
    if content_type is not None:
        head.append(f"Content-Type: {content_type}")
    if content_length:
        head.append(f"Content-Length: {len(body)}")
    head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1"), body


async def read_request_head(conn):
    """Returns the head (bytes, without the blank line), None at EOF, or
    raises LineTooLong when it exceeds HTTP_MAX_HEAD."""
    while True:
        for sep in (b"\r\n\r\n", b"\n\n"):
            pos = conn.buf.find(sep)
            if pos >= 0:
                if pos > HTTP_MAX_HEAD:
                    raise LineTooLong()
                head = bytes(conn.buf[:pos])
                del conn.buf[:pos + len(sep)]
                return head
        if len(conn.buf) > HTTP_MAX_HEAD:
            raise LineTooLong()
        data = await conn.read()
        if not data:
            return None
        conn.buf += data


async def https_session(conn):
    cfg = conn.cfg

    def select(name):
        site = cfg.sites.get((name or "").lower().rstrip("."))
        return site.ctx if site else None

    sni = await conn.start_tls(select)
    if sni is None:
        return
    site_name = sni.lower().rstrip(".")
    site = cfg.sites[site_name]

    try:
        async with asyncio.timeout(CONN_CAP):
            head = await read_request_head(conn)
    except TimeoutError:
        conn.reason = "cap reached waiting for request"
        return
    except LineTooLong:
        conn.reason = "request head too large"
        conn.log("error", error=f"request head larger than {HTTP_MAX_HEAD} bytes")
        await conn.send(b"".join(http_response(431, "text/plain", b"Request Header Fields Too Large\n")))
        return
    if head is None:
        conn.log("error", error="peer closed before a complete request head")
        return

    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
    parts = lines[0].split()
    headers = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            headers.setdefault(key.strip().lower(), value.strip())
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        conn.reason = "bad request"
        conn.log("request", error="malformed request line", line=lines[0][:512], sni=sni)
        await conn.send(b"".join(http_response(400, "text/plain", b"Bad Request\n")))
        return
    method, target, _version = parts
    path = target.split("?", 1)[0]
    content_type = "text/plain"
    if method != "GET":
        status, body = 405, b"Method Not Allowed\n"
    elif path != WELL_KNOWN_PATH:
        status, body = 404, b"Not Found\n"
    else:
        status, content_type = site.status, site.content_type
        body = b""
        if site.body_file:
            try:
                with open(site.body_file, "rb") as fh:
                    body = fh.read()
            except OSError as exc:
                conn.log("error", error=f"cannot read body_file: {exc}")
                status, content_type, body = 500, "text/plain", b"Internal Server Error\n"
    behaviour = site.behaviour
    conn.log("request", method=method, target=target[:512], host=headers.get("host"),
             user_agent=headers.get("user-agent"), sni=sni, site=site_name,
             status=status, behaviour=behaviour)

    if behaviour == "delay":
        conn.log("behaviour", behaviour=behaviour, delay=site.delay)
        if await conn.peer_gone_within(site.delay):
            return
        behaviour = "normal"

    if behaviour == "never-close":
        conn.log("behaviour", behaviour=behaviour)
        head_bytes, body = http_response(status, content_type, body, content_length=False)
        conn.write(head_bytes)
        if body:
            conn.write(body)
        await conn.wait_peer_gone()  # until the peer leaves or shutdown
        return

    head_bytes, body = http_response(status, content_type, body)
    if behaviour == "trickle":
        conn.log("behaviour", behaviour=behaviour, interval=site.interval)
        data = head_bytes + body
        watcher = asyncio.create_task(conn.wait_peer_gone())
        try:
            for i in range(len(data)):
                if i:
                    await asyncio.wait({watcher}, timeout=site.interval)
                if watcher.done() or conn.writer.is_closing():
                    conn.log("sent", bytes=i, data=f"trickled {i} of {len(data)} bytes")
                    return
                conn.write(data[i:i + 1], preview=None)
            conn.log("sent", bytes=len(data), data=f"trickled all {len(data)} bytes")
            conn.reason = "response complete"
        finally:
            watcher.cancel()
            await asyncio.wait({watcher})
        return

    conn.write(head_bytes)
    if body:
        conn.write(body)
    try:
        async with asyncio.timeout(CONN_CAP):
            await conn.writer.drain()
    except TimeoutError:
        conn.reason = "cap reached sending the response"
        return
    conn.reason = "response complete"


# --------------------------------------------------------------------------
# Listeners and the application


class Listener:
    def __init__(self, app, cfg):
        self.app = app
        self.cfg = cfg
        self.server = None

    async def start(self):
        self.server = await asyncio.start_server(
            self.handle, host=self.cfg.address, port=self.cfg.port,
            reuse_address=True, backlog=1024)
        EVENTS.emit("listening", listener=self.cfg.label, protocol=self.cfg.protocol,
                    name=self.cfg.name)

    def stop(self):
        if self.server is not None:
            self.server.close()
            self.server = None

    async def handle(self, reader, writer):
        cfg = self.cfg  # settings in force when the connection was accepted
        task = asyncio.current_task()
        conn = None
        try:
            conn = Conn(cfg, reader, writer)
            self.app.conns[task] = conn
            conn.log("accepted", behaviour=getattr(cfg, "behaviour", None))
            if cfg.protocol == "smtp":
                try:
                    async with asyncio.timeout(CONN_CAP):
                        await smtp_session(conn)
                except TimeoutError:
                    conn.reason = "cap reached"
            else:
                await https_session(conn)
        except asyncio.CancelledError:
            if conn is not None:
                conn.reason = "shutdown"
        except PeerGone:
            if conn is not None:
                conn.reason = "peer gone"
        except Exception as exc:  # noqa: BLE001 - never crash on a client
            if conn is not None:
                if isinstance(exc, (ConnectionError, ssl.SSLError)):
                    conn.reason = f"peer reset ({exc.__class__.__name__})"
                else:
                    conn.reason = "error"
                    conn.log("error", error=f"{exc.__class__.__name__}: {exc}")
            else:
                log.exception("connection setup failed")
        finally:
            self.app.conns.pop(task, None)
            if conn is not None:
                try:
                    await conn.close(graceful=not self.app.stopping)
                except BaseException:  # noqa: BLE001
                    writer.transport.abort()
            else:
                writer.transport.abort()


def bind_error(exc):
    return os.strerror(exc.errno) if exc.errno else str(exc)


class App:
    def __init__(self, config_path):
        self.config_path = config_path
        self.listeners = {}  # (address, port) -> Listener
        self.conns = {}  # task -> Conn
        self.stopping = False
        self.stop_event = asyncio.Event()
        self.reload_lock = asyncio.Lock()

    async def start(self, configs):
        """Binds every listener; raises OSError naming the failing one."""
        async with self.reload_lock:
            await self._start(configs)

    async def _start(self, configs):
        for key, cfg in configs.items():
            listener = Listener(self, cfg)
            try:
                await listener.start()
            except OSError as exc:
                raise OSError(exc.errno, f"cannot bind {cfg.protocol} listener {cfg.label}: "
                              f"{bind_error(exc)}") from None
            self.listeners[key] = listener

    async def reload(self):
        async with self.reload_lock:
            if self.stopping:
                return
            EVENTS.reopen_safe()
            try:
                configs = load_config(self.config_path)
            except Exception as exc:  # noqa: BLE001 - keep running on a bad config
                if not isinstance(exc, ConfigError):
                    exc = f"{exc.__class__.__name__}: {exc}"
                log.error("reload failed, keeping the old config: %s", exc)
                EVENTS.emit("reload_failed", error=str(exc))
                return
            try:
                await self._apply(configs)
            except Exception:  # noqa: BLE001
                log.exception("reload failed half-way")
                EVENTS.emit("reload_failed", error="internal error, see stderr")

    async def _apply(self, configs):
        for key in list(self.listeners):
            listener = self.listeners[key]
            new = configs.get(key)
            if new is None or new.protocol != listener.cfg.protocol:
                listener.stop()
                del self.listeners[key]
                EVENTS.emit("listener_removed", listener=listener.cfg.label,
                            protocol=listener.cfg.protocol, name=listener.cfg.name)
        failed = []
        for key, cfg in configs.items():
            listener = self.listeners.get(key)
            if listener is not None:
                changed = listener.cfg.raw != cfg.raw
                listener.cfg = cfg  # fresh certs/contexts either way
                if changed:
                    EVENTS.emit("listener_updated", listener=cfg.label,
                                protocol=cfg.protocol, name=cfg.name)
                continue
            listener = Listener(self, cfg)
            try:
                await listener.start()
            except OSError as exc:
                log.error("cannot bind %s listener %s: %s", cfg.protocol, cfg.label,
                          bind_error(exc))
                EVENTS.emit("bind_failed", listener=cfg.label, protocol=cfg.protocol,
                            name=cfg.name, error=bind_error(exc))
                failed.append(cfg.label)
                continue
            self.listeners[key] = listener
        EVENTS.emit("reload", listeners=sorted(l.cfg.label for l in self.listeners.values()),
                    bind_failed=failed or None)

    async def shutdown(self):
        self.stopping = True
        EVENTS.emit("stopping", connections=len(self.conns))
        for listener in self.listeners.values():
            listener.stop()
        self.listeners.clear()
        tasks = list(self.conns)
        for task, conn in list(self.conns.items()):
            try:
                conn.writer.transport.abort()
            except Exception:  # noqa: BLE001
                pass
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=0.5)
        EVENTS.emit("stopped")


def write_pid_file(path):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as fh:
        fh.write(f"{os.getpid()}\n")
    os.replace(tmp, path)


def remove_pid_file(path):
    try:
        with open(path, encoding="ascii") as fh:
            if fh.read().strip() != str(os.getpid()):
                return
        os.unlink(path)
    except OSError:
        pass


def raise_fd_limit():
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else 65536
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, 1 << 20), hard))
    except (ValueError, OSError):
        pass


def loop_exception_handler(loop, context):
    # Client misbehaviour surfacing inside asyncio internals: log, carry on.
    exc = context.get("exception")
    message = context.get("message", "")
    EVENTS.emit("loop_error", error=f"{message}: {exc!r}" if exc else message)


async def amain(args, configs):
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(loop_exception_handler)
    app = App(args.config)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, app.stop_event.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(app.reload()))
    try:
        await app.start(configs)
    except OSError as exc:
        for listener in app.listeners.values():
            listener.stop()
        print(f"hostile.py: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BIND
    if args.pid_file:
        try:
            write_pid_file(args.pid_file)
        except OSError as exc:
            print(f"hostile.py: cannot write pid file {args.pid_file}: {exc}", file=sys.stderr)
            await app.shutdown()
            return EXIT_BIND
    EVENTS.emit("ready", pid=os.getpid(),
                listeners=sorted(l.cfg.label for l in app.listeners.values()))
    await app.stop_event.wait()
    await app.shutdown()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Hostile SMTP/HTTPS servers for the stswatch testbed "
                    "(config format: see the module docstring).")
    parser.add_argument("--config", required=True, help="JSON config file")
    parser.add_argument("--pid-file", help="write the pid here once all listeners are bound")
    parser.add_argument("--log", help="JSON-lines event log ('-' for stdout)")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also print every event on stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="hostile.py: %(message)s", stream=sys.stderr)
    # Signals arriving before the loop handles them must not kill us
    # half-initialised with a SIGHUP; SIGTERM/SIGINT may.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    try:
        configs = load_config(args.config)
    except ConfigError as exc:
        print(f"hostile.py: invalid config: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.log:
        try:
            EVENTS.path = args.log
            EVENTS.reopen()
        except OSError as exc:
            print(f"hostile.py: cannot open log {args.log}: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    raise_fd_limit()
    try:
        status = asyncio.run(amain(args, configs))
    except KeyboardInterrupt:
        status = 0
    if status == 0 and args.pid_file:
        remove_pid_file(args.pid_file)
    return status


if __name__ == "__main__":
    sys.exit(main())
