#!/usr/bin/python3
"""Self-test of the testbed: starts a scenario (the catalogue by default) with the `testbed`
command, checks that every domain and MX host behaves as its scenario says — using only tools
nobody in this project wrote (kdig, curl, openssl s_client, swaks, bash's /dev/tcp) — and stops it.

  selftest.py [--scenario FILE] [--net 127.N] [--keep]
  selftest.py --scale N [--net 127.N]      generate N domains, time the start, spot-check
  selftest.py --drift [--net 127.N]        start drift-before.yaml, apply drift-after.yaml live

Prints one line per check and ends with "N passed, N failed"; exit status 0 when all passed.
"""

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, HERE)

from tb import scenario as scn  # noqa: E402

TESTBED = os.path.join(HERE, "testbed")
VALID_CERTS = ("valid", "valid-ecdsa")
# What openssl s_client says when it refuses each broken certificate kind.
VERIFY_ERRORS = {
    "expired": "certificate has expired",
    "not-yet-valid": "certificate is not yet valid",
    "wrong-name": "hostname mismatch",
    "self-signed": "self-signed certificate",
    "untrusted": "unable to get local issuer certificate",
    "missing-intermediate": "unable to verify the first certificate",
}
# curl exit status 60: the peer certificate could not be authenticated.
CURL_VERIFY_FAILED = 60
CURL_TIMEOUT = 28


class Checker:
    def __init__(self, env):
        self.env = env
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {name}")
        else:
            self.failed += 1
            print(f"FAIL {name}: {detail}")

    def report(self):
        """Prints the closing line; returns the exit status."""
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1

    def run(self, argv, timeout=20, input_bytes=None):
        try:
            r = subprocess.run(argv, capture_output=True, timeout=timeout, input=input_bytes,
                               check=False)
            return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(
                errors="replace")
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace")
            return 124, out, "timed out"

    def dig(self, name, rtype):
        resolver = self.env["resolver"].split(":")[0]
        code, out, err = self.run(["kdig", f"@{resolver}", "+short", "+timeout=3", rtype, name])
        return [line for line in out.splitlines() if line.strip()] if code == 0 else None


def parse_txt(line):
    """Joins the character-strings of one kdig +short TXT line, undoing its escapes."""
    out, i, inside = bytearray(), 0, False
    data = line.encode()
    while i < len(data):
        c = data[i:i + 1]
        if c == b'"':
            inside = not inside
        elif inside and c == b"\\":
            nxt = data[i + 1:i + 4]
            if nxt[:1].isdigit():
                out.append(int(nxt))
                i += 3
            else:
                out += data[i + 1:i + 2]
                i += 1
        elif inside:
            out += c
        i += 1
    return out.decode(errors="replace")


def check_dns(c, d, sc):
    for label, txt in (("_mta-sts", d.mta_sts), ("_smtp._tls", d.tlsrpt)):
        got = c.dig(f"{label}.{d.name}", "TXT")
        if txt.cname:
            target = txt.cname
            expected_target = next((x for x in sc.domains if f"{label}.{x.name}" == target), None)
            want = sorted("".join(r) for r in expected_target.mta_sts.records) if (
                expected_target and label == "_mta-sts") else None
            ok = got is not None and f"{target}." in got and (
                want is None or sorted(parse_txt(x) for x in got if x.startswith('"')) == want)
            c.check(f"{d.name}: {label} is a CNAME to {target} and resolves through it", ok,
                    f"got {got}")
            continue
        want = sorted("".join(r) for r in txt.records)
        have = sorted(parse_txt(x) for x in (got or []))
        c.check(f"{d.name}: {label} TXT has {len(want)} record(s) as written", have == want,
                f"got {have}, want {want}")
        for record in txt.records:
            if len(record) > 1:
                raw = [x for x in (got or []) if parse_txt(x) == "".join(record)]
                c.check(f"{d.name}: {label} TXT keeps {len(record)} character-strings",
                        bool(raw) and raw[0].count('" "') == len(record) - 1, f"got {raw}")
    got = c.dig(d.name, "MX")
    want = sorted(f"{p} {h}." for p, h in d.mx)
    c.check(f"{d.name}: MX set", sorted(got or []) == want, f"got {got}, want {want}")


def curl(c, host, address, timeout, insecure=False):
    argv = ["curl", "-sS", "-o", "/dev/null", "--max-time", str(timeout), "-w",
            "%{http_code} %{size_download} %{content_type} %{redirect_url}",
            "--resolve", f"{host}:443:{address}", "--cacert", c.env["ca_file"],
            f"https://{host}/.well-known/mta-sts.txt"]
    if insecure:
        argv.insert(1, "-k")
    code, out, err = c.run(argv, timeout=timeout + 10)
    fields = out.split(" ", 3) + ["", "", "", ""]
    return code, fields[0], int(fields[1] or 0), fields[2], fields[3], err.strip()


def check_policy(c, d):
    host = f"mta-sts.{d.name}"
    addresses = c.dig(host, "A")
    p = d.policy
    if not p.present:
        c.check(f"{d.name}: no policy host", addresses == [], f"{host} resolves to {addresses}")
        return
    if not addresses:
        c.check(f"{d.name}: policy host resolves", False, f"{host} has no address")
        return
    address = addresses[0]
    if p.behaviour == "delay":
        code, status, size, *_ = curl(c, host, address, 3, insecure=True)
        c.check(f"{d.name}: policy host holds the answer back (delay {p.delay:.0f} s)",
                code == CURL_TIMEOUT and size == 0, f"curl exit {code}, {size} bytes")
        return
    if p.behaviour == "trickle":
        code, status, size, *_ = curl(c, host, address, 3, insecure=True)
        c.check(f"{d.name}: policy host trickles (a few bytes in 3 s)",
                code == CURL_TIMEOUT and size < len(p.body), f"curl exit {code}, {size} bytes")
        return
    if p.behaviour == "never-close":
        code, status, size, *_ = curl(c, host, address, 3, insecure=True)
        c.check(f"{d.name}: policy host sends the body and never closes",
                code == CURL_TIMEOUT and size == len(p.body), f"curl exit {code}, {size} bytes")
        return
    code, status, size, ctype, location, err = curl(c, host, address, 10)
    if p.cert.kind not in VALID_CERTS:
        c.check(f"{d.name}: policy host certificate ({p.cert.kind}) is refused by curl",
                code == CURL_VERIFY_FAILED, f"curl exit {code} {err}")
        code, status, size, ctype, location, err = curl(c, host, address, 10, insecure=True)
    else:
        c.check(f"{d.name}: policy host certificate validates", code == 0, f"{code} {err}")
    if p.redirect:
        c.check(f"{d.name}: policy URL redirects", status == "301" and location == p.redirect,
                f"got {status} {location}")
    elif p.status != 200:
        c.check(f"{d.name}: policy URL answers {p.status}", status == str(p.status),
                f"got {status}")
    else:
        want_type = p.content_type or ""
        c.check(f"{d.name}: policy served (200, {len(p.body)} bytes, {want_type or 'no type'})",
                status == "200" and size == len(p.body) and ctype == want_type,
                f"got {status}, {size} bytes, type {ctype!r}")


def smtp_dialogue(c, address, commands, timeout=4):
    """Talks SMTP with bash's /dev/tcp; returns everything the server sent."""
    script = (f"exec 3<>/dev/tcp/{address}/25; sleep 0.3; "
              + "".join(f"printf '{cmd}\\r\\n' >&3; sleep 0.3; " for cmd in commands)
              + "timeout 1 cat <&3")
    code, out, err = c.run(["timeout", str(timeout), "bash", "-c", script], timeout=timeout + 5)
    return out


def negotiated(s_client_output):
    """The protocol of s_client's "New, TLSv1.3, Cipher is ..." line; None without a handshake."""
    match = re.search(r"^New, (TLSv[0-9.]+), Cipher is (?!\(NONE\))", s_client_output, re.M)
    return match.group(1) if match else None


def check_mx(c, host, net, canary):
    if host.cname:
        got = c.dig(host.name, "A")
        c.check(f"{host.name}: is a CNAME to {host.cname}", got is not None and
                f"{host.cname}." in got, f"got {got}")
        return
    addresses = c.dig(host.name, "A") or []
    if host.addresses == ["canary"]:
        c.check(f"{host.name}: resolves outside the testbed, to the canary {canary}",
                addresses == [canary] and not canary.startswith(net + "."), f"got {addresses}")
        return
    if not addresses:
        c.check(f"{host.name}: resolves", False, "no address")
        return
    a = addresses[0]
    if host.behaviour == "no-banner":
        code, out, _ = c.run(["timeout", "3", "bash", "-c",
                              f"exec 3<>/dev/tcp/{a}/25; head -c 1 <&3"], timeout=10)
        c.check(f"{host.name}: accepts and never sends a banner", code == 124 and out == "",
                f"exit {code}, read {out!r}")
        return
    if host.behaviour == "long-line":
        code, out, _ = c.run(["timeout", "5", "bash", "-c",
                              f"exec 3<>/dev/tcp/{a}/25; head -c 1048580 <&3 | tr -d x"],
                             timeout=10)
        c.check(f"{host.name}: sends a 1 MiB line without a line end", out == "220 ",
                f"non-x bytes: {out[:40]!r}")
        return
    if host.behaviour == "starttls-454":
        code, out, err = c.run(["swaks", "--server", a, "--to", "postmaster@example.test",
                                "--tls", "--quit-after", "TLS", "--timeout", "5"], timeout=20)
        c.check(f"{host.name}: answers 454 to STARTTLS", "<** 454" in out, out[-300:])
        return
    if host.behaviour == "inject-after-starttls":
        out = smtp_dialogue(c, a, ["EHLO selftest.test", "STARTTLS"])
        ok = "220 2.0.0 Ready to start TLS\r\n250 injected" in out
        c.check(f"{host.name}: injects plaintext after 220 Ready to start TLS", ok, repr(out[-200:]))
        return
    argv = ["openssl", "s_client", "-starttls", "smtp", "-connect", f"{a}:25", "-servername",
            host.name, "-verify_hostname", host.name, "-CAfile", c.env["ca_file"]]
    if not host.starttls:
        code, out, err = c.run(argv, timeout=15, input_bytes=b"QUIT\r\n")
        c.check(f"{host.name}: does not offer STARTTLS",
                "didn't find starttls" in (out + err).lower(), (out + err)[-300:])
        return
    legacy = host.tls_versions[-1] in ("TLSv1", "TLSv1.1")
    if legacy:
        code, out, err = c.run(argv, timeout=15, input_bytes=b"QUIT\r\n")
        c.check(f"{host.name}: refuses TLS 1.2 and later", negotiated(out) is None, out[-300:])
        argv += ["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"]
    code, out, err = c.run(argv, timeout=15, input_bytes=b"QUIT\r\n")
    want_version = "TLSv1.0" if legacy else host.tls_versions[-1]
    c.check(f"{host.name}: STARTTLS handshake at {want_version}",
            negotiated(out) == want_version, (out + err)[-300:])
    if host.cert.kind in VALID_CERTS:
        c.check(f"{host.name}: certificate validates for its name",
                "Verify return code: 0 (ok)" in out, out[-300:])
    else:
        c.check(f"{host.name}: certificate ({host.cert.kind}) is refused by openssl",
                VERIFY_ERRORS[host.cert.kind] in out and "Verify return code: 0 " not in out,
                out[-400:])


def start(scenario_path, net, directory):
    r = subprocess.run([TESTBED, "start", scenario_path, "--net", net, "--dir", directory,
                        "--json", "--replace"], capture_output=True, check=False, timeout=300)
    sys.stderr.write(r.stderr.decode(errors="replace"))
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)


def start_failed():
    print("FAIL testbed start")
    print("0 passed, 1 failed")
    return 1


def stop(directory):
    subprocess.run([TESTBED, "stop", "--dir", directory], check=False, timeout=120)


def run_catalogue(args):
    sc = scn.load(args.scenario)
    directory = tempfile.mkdtemp(prefix="stswatch-selftest-")
    env = start(args.scenario, args.net, directory)
    if env is None:
        return start_failed()
    c = Checker(env)
    try:
        for d in sc.domains:
            check_dns(c, d, sc)
            check_policy(c, d)
        for host in sc.mx_hosts.values():
            check_mx(c, host, env["net"], env["canary"])
        # The canary logs every connection: the proof tests use that nobody touched it.
        c.run(["timeout", "3", "bash", "-c", f"exec 3<>/dev/tcp/{env['canary']}/25"])
        time.sleep(0.3)
        with open(os.path.join(directory, "hostile", "events.jsonl")) as f:
            events = [json.loads(line) for line in f if line.strip()]
        c.check("canary logs connections", any(env["canary"] in json.dumps(e) for e in events),
                f"{len(events)} events")
    finally:
        if not args.keep:
            stop(directory)
            left = subprocess.run(["pgrep", "-f", directory], capture_output=True).stdout
            c.check("stop leaves no process behind", not left.strip(), left.decode())
            shutil.rmtree(directory, ignore_errors=True)
        else:
            print(f"kept running in {directory}")
    return c.report()


def run_scale(args):
    directory = tempfile.mkdtemp(prefix="stswatch-selftest-scale-")
    os.chmod(directory, 0o755)
    path = os.path.join(directory, "scenario.yaml")
    with open(path, "w") as f:
        subprocess.run([TESTBED, "generate", "--domains", str(args.scale), "--mx-hosts", "10"],
                       stdout=f, check=True)
    sc = scn.load(path)
    began = time.monotonic()
    env = start(path, args.net, os.path.join(directory, "tb"))
    elapsed = time.monotonic() - began
    if env is None:
        return start_failed()
    c = Checker(env)
    try:
        c.check(f"{args.scale} domains started in {elapsed:.1f} s (limit 60 s)", elapsed < 60)
        rng = random.Random(7)
        for d in rng.sample(sc.domains, 20):
            check_dns(c, d, sc)
            check_policy(c, d)
        for host in rng.sample(list(sc.mx_hosts.values()), 3):
            check_mx(c, host, env["net"], env["canary"])
    finally:
        stop(os.path.join(directory, "tb"))
        shutil.rmtree(directory, ignore_errors=True)
    return c.report()


def server_pids(directory):
    """The pids of the long-lived servers: a live apply must not restart them."""
    pids = {}
    for name, path in (("knot", "dns/knotd.pid"), ("nginx", "nginx/nginx.pid"),
                       ("postfix", "mta/spool/pid/master.pid"), ("hostile", "hostile/hostile.pid")):
        try:
            with open(os.path.join(directory, path)) as f:
                pids[name] = f.read().split()[0]
        except OSError:
            pids[name] = None
    return pids


def cert_serial(c, argv):
    code, out, err = c.run(argv, timeout=15, input_bytes=b"QUIT\r\n")
    match = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    if not match:
        return None
    code, out, err = c.run(["openssl", "x509", "-noout", "-serial"],
                           input_bytes=match.group(0).encode())
    return out.strip()


def run_drift(args):
    before = os.path.join(HERE, "scenarios", "drift-before.yaml")
    after = os.path.join(HERE, "scenarios", "drift-after.yaml")
    directory = tempfile.mkdtemp(prefix="stswatch-selftest-drift-")
    os.chmod(directory, 0o755)
    env = start(before, args.net, directory)
    if env is None:
        return start_failed()
    c = Checker(env)
    try:
        def mx_serial(host):
            address = c.dig(host, "A")[0]
            return cert_serial(c, ["openssl", "s_client", "-starttls", "smtp", "-connect",
                                   f"{address}:25", "-servername", host])

        def policy_serial():
            address = c.dig("mta-sts.drift.test", "A")[0]
            return cert_serial(c, ["openssl", "s_client", "-connect", f"{address}:443",
                                   "-servername", "mta-sts.drift.test"])

        mx1_before, policy_before = mx_serial("mx1.drift.test"), policy_serial()
        pids_before = server_pids(directory)
        r = subprocess.run([TESTBED, "apply", after, "--dir", directory], capture_output=True,
                           timeout=120, check=False)
        c.check("testbed apply succeeds", r.returncode == 0, r.stderr.decode(errors="replace"))
        c.check("apply restarts no server", server_pids(directory) == pids_before,
                f"{pids_before} -> {server_pids(directory)}")
        sc = scn.load(after)
        for d in sc.domains:
            check_dns(c, d, sc)
            check_policy(c, d)
        for host in sc.mx_hosts.values():
            check_mx(c, host, env["net"], env["canary"])
        mx1_after, policy_after = mx_serial("mx1.drift.test"), policy_serial()
        c.check("mx1's certificate was renewed", None not in (mx1_before, mx1_after) and
                mx1_before != mx1_after, f"{mx1_before} -> {mx1_after}")
        c.check("the policy host's certificate was renewed", None not in (
            policy_before, policy_after) and policy_before != policy_after,
            f"{policy_before} -> {policy_after}")
        r = subprocess.run([TESTBED, "apply", before, "--dir", directory], capture_output=True,
                           timeout=120, check=False)
        c.check("applying the first state again succeeds", r.returncode == 0,
                r.stderr.decode(errors="replace"))
        sc = scn.load(before)
        for host in sc.mx_hosts.values():
            check_mx(c, host, env["net"], env["canary"])
    finally:
        stop(directory)
        shutil.rmtree(directory, ignore_errors=True)
    return c.report()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default=os.path.join(HERE, "scenarios", "catalogue.yaml"))
    parser.add_argument("--net", default="127.31")
    parser.add_argument("--keep", action="store_true", help="leave the testbed running")
    parser.add_argument("--scale", type=int, default=0, help="generate and spot-check N domains")
    parser.add_argument("--drift", action="store_true", help="check live changes (apply)")
    args = parser.parse_args()
    if args.drift:
        return run_drift(args)
    return run_scale(args) if args.scale else run_catalogue(args)


if __name__ == "__main__":
    sys.exit(main())
