#!/usr/bin/python3
"""A webhook receiver for the alerting end-to-end tests: an HTTP or HTTPS server that records
every POST the alerter makes, checks its X-Stswatch-Signature, and can be told to refuse
deliveries (HTTP 500) for a while so that the test sees the alerter retry.

    webhook_receiver.py --listen 127.x.y.z:PORT [--tls-cert CERT --tls-key KEY]
                        --secret SECRET --log FILE [--fail-until-file PATH] [--port-file PATH]

Each POST becomes one JSON line appended to FILE (flushed at once, so a test can read the file
while the server runs):

    {"time": <unix seconds>, "method": "POST", "path": "/hook", "status": 200,
     "refused": false, "signature_valid": true, "signature_error": null,
     "delivery_id": ..., "state": ..., "alert_id": ..., "severity": ..., "domain": ...,
     "problem_key": ...,          # members of the JSON body, or null
     "body": <the parsed JSON body, or the raw text when it is not JSON>,
     "headers": {name: value, ...}}

The answer is 200, or 500 while the file named by --fail-until-file exists (logged with
"refused": true). The signature (`t=<unix>,v1=<hex>`, several v1 allowed) is valid when one v1
is HMAC-SHA256(secret, "<t>.<raw body>") and t is within 300 seconds of the clock; the answer
does not depend on it. Other methods get 405 and are not logged.

"listening <address>:<port>" goes to stdout once the socket is bound; with port 0 the chosen
port is in the line and, with --port-file, written to that file. SIGTERM and SIGINT stop the
server cleanly (exit status 0).
"""

import argparse
import hashlib
import hmac
import http.server
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time

TOLERANCE = 300  # seconds between the signature's t and the clock
MAX_BODY = 16 << 20


def verify_signature(secret, header, body, now=None, tolerance=TOLERANCE):
    """Returns (valid, why-not): `header` is the X-Stswatch-Signature value, `body` the raw
    bytes as received."""
    if header is None:
        return False, "no X-Stswatch-Signature header"
    items = [p.strip().split("=", 1) for p in header.split(",") if p.strip()]
    if any(len(i) != 2 for i in items):
        return False, "malformed header"
    stamps = [v for k, v in items if k == "t"]
    sigs = [v for k, v in items if k == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False, "no single numeric t"
    if not sigs:
        return False, "no v1"
    now = time.time() if now is None else now
    if abs(now - int(stamps[0])) > tolerance:
        return False, f"t is {now - int(stamps[0]):.0f} s from the clock"
    mac = hmac.new(secret, stamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    if any(hmac.compare_digest(mac, s.lower().encode("ascii", "replace").decode())
           for s in sigs):
        return True, None
    return False, "no v1 matches"


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, secret, log, fail_file, context):
        self.secret = secret
        self.log_file = log
        self.log_lock = threading.Lock()
        self.fail_file = fail_file
        self.context = context
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def get_request(self):
        sock, addr = super().get_request()
        if self.context is not None:
            # The handshake happens in the handler's thread (on first read), not here.
            sock = self.context.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        print(f"webhook_receiver: error with {client_address[0]}: {sys.exc_info()[1]!r}",
              file=sys.stderr, flush=True)

    def record(self, entry):
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self.log_lock:
            if self.log_file.closed:
                return
            self.log_file.write(line)
            self.log_file.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "stswatch-webhook-receiver"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30

    def handle(self):
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.do_handshake()
            super().handle()
        except (ssl.SSLError, OSError):
            # A client that refused our certificate or went away: nothing to answer.
            self.close_connection = True

    def finish(self):
        try:
            super().finish()
        except (ssl.SSLError, OSError):
            pass

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass

    def _answer(self, status, text):
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self._read_chunked()
        else:
            try:
                n = int(length or 0)
            except ValueError:
                self._answer(400, "bad Content-Length")
                return
            if n < 0 or n > MAX_BODY:
                self._answer(413, "too large")
                return
            raw = self.rfile.read(n)
        valid, why = verify_signature(self.server.secret,
                                      self.headers.get("X-Stswatch-Signature"), raw)
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = raw.decode("utf-8", "replace")
        refused = bool(self.server.fail_file) and os.path.exists(self.server.fail_file)
        status = 500 if refused else 200
        member = (lambda k: body.get(k)) if isinstance(body, dict) else (lambda k: None)
        self.server.record({
            "time": time.time(),
            "method": "POST",
            "path": self.path,
            "status": status,
            "refused": refused,
            "signature_valid": valid,
            "signature_error": why,
            "delivery_id": member("delivery_id"),
            "state": member("state"),
            "alert_id": member("alert_id"),
            "severity": member("severity"),
            "domain": member("domain"),
            "problem_key": member("problem_key"),
            "body": body,
            "headers": {k: v for k, v in self.headers.items()},
        })
        self._answer(status, "refused (test)" if refused else "ok")

    def _read_chunked(self):
        data = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return data
            data += self.rfile.read(size)
            self.rfile.readline()
            if len(data) > MAX_BODY:
                raise ConnectionError("body too large")

    def _not_allowed(self):
        self.send_response(405)
        self.send_header("Allow", "POST")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _not_allowed


def parse_listen(text):
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected ADDRESS:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", required=True, type=parse_listen,
                        help="ADDRESS:PORT; port 0 picks a free one (see --port-file)")
    parser.add_argument("--tls-cert", help="PEM certificate chain: serve HTTPS")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument("--secret", required=True, help="the channel's signing secret")
    parser.add_argument("--log", required=True, help="append one JSON line per POST here")
    parser.add_argument("--fail-until-file",
                        help="answer 500 to every POST while this file exists")
    parser.add_argument("--port-file", help="write the bound port here (for --listen ...:0)")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")

    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(args.tls_cert, args.tls_key)
        except (ssl.SSLError, OSError) as e:
            print(f"webhook_receiver: cannot use {args.tls_cert}: {e}", file=sys.stderr)
            return 1

    log = open(args.log, "a", encoding="utf-8")
    try:
        server = Server(args.listen, args.secret.encode(), log, args.fail_until_file, context)
    except OSError as e:
        print(f"webhook_receiver: cannot listen on {args.listen[0]}:{args.listen[1]}: {e}",
              file=sys.stderr)
        return 1
    host, port = server.server_address[:2]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)

    stopping = threading.Event()

    def stop(signum, frame):
        if not stopping.is_set():
            stopping.set()
            # shutdown() waits for serve_forever(), which runs in this thread: from another.
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"listening {host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        with server.log_lock:
            log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
