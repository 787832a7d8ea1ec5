#!/usr/bin/python3
"""TLS reports end to end: `stswatch serve` with its HTTPS report receiver, its API, Redis and
the testbed; `stswatch ingest-report` fed e-mails as an MTA's pipe transport would.

- Reports from the shared corpus, POSTed (gzip and JSON) and piped in as e-mail, appear in the
  aggregates through the API (python3-grpcio) and `stswatch ctl`, with the counts this test
  computes itself from the same files. A duplicate is counted once; a gzip bomb, a truncated
  body, a non-report e-mail and other bad input are refused with the right status.
- A testing domain's readiness moves, over simulated days (serve's clock offset), from "not
  ready: 3 days of reports" to ready; `stswatch policy promote` refuses, then prints a valid
  enforce policy and a new record; a failing report makes the domain not ready again, with its
  evidence, and is a cross-check event because stswatch's own checks are clean.

Usage: tlsrpt_e2e_test.py STSWATCH TESTBED PROTO_DIR SCENARIO_DIR TESTDATA_DIR
"""

import base64
import datetime
import email
import email.utils
import gzip
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import dkim
import grpc
import nacl.signing

NET = "127.49"
API = NET + ".200.1:7400"
RECEIVER = NET + ".200.2:8443"  # reports.rpt.test (tlsrpt.yaml)
METRICS = NET + ".200.1:9400"
ADMIN = "admin-" + os.urandom(8).hex()

STSWATCH, TESTBED, PROTO_DIR, SCENARIOS, TESTDATA = sys.argv[1:6]
del sys.argv[1:6]

WORK = tempfile.mkdtemp(prefix="stswatch-tlsrpt-", dir="/tmp")
os.chmod(WORK, 0o755)
subprocess.run(["protoc", "-I", PROTO_DIR, "--python_out", WORK] +
               [os.path.join(PROTO_DIR, "stswatch/v1", f) for f in ("model.proto", "api.proto")],
               check=True)
sys.path.insert(0, WORK)
from stswatch.v1 import api_pb2  # noqa: E402  (generated above)

C = grpc.StatusCode
DAY = 86400


def method(service, name, request, response):
    def call(channel):
        return channel.unary_unary(f"/stswatch.v1.{service}/{name}",
                                   request_serializer=request.SerializeToString,
                                   response_deserializer=response.FromString)
    return call


CreateTenant = method("TenantService", "CreateTenant", api_pb2.CreateTenantRequest,
                      api_pb2.CreateTenantResponse)
AddDomain = method("DomainService", "AddDomain", api_pb2.AddDomainRequest, api_pb2.DomainSummary)
GetDomain = method("DomainService", "GetDomain", api_pb2.GetDomainRequest, api_pb2.DomainDetail)
ListEvents = method("DomainService", "ListEvents", api_pb2.ListEventsRequest,
                    api_pb2.ListEventsResponse)
Aggregates = method("ReportService", "GetReportAggregates", api_pb2.GetReportAggregatesRequest,
                    api_pb2.GetReportAggregatesResponse)
Readiness = method("ReportService", "GetReadiness", api_pb2.GetReadinessRequest,
                   api_pb2.Readiness)
Promote = method("ReportService", "PromotePolicy", api_pb2.PromotePolicyRequest,
                 api_pb2.PromotePolicyResponse)


def auth(token):
    return (("authorization", "Bearer " + token),)


def corpus(name):
    with open(os.path.join(TESTDATA, name), "rb") as f:
        return f.read()


def expected_days(report_json, domain):
    """What a report adds per UTC day for `domain`, computed here from the JSON."""
    r = json.loads(report_json)
    day = r["date-range"]["start-datetime"][:10]
    out = {}
    for p in r["policies"]:
        if p["policy"].get("policy-domain", "").lower() != domain:
            continue
        d = out.setdefault(day, {"ok": 0, "failed": 0, "types": {}})
        d["ok"] += p["summary"]["total-successful-session-count"]
        d["failed"] += p["summary"]["total-failure-session-count"]
        for f in p.get("failure-details", []):
            t = d["types"]
            t[f["result-type"]] = t.get(f["result-type"], 0) + f["failed-session-count"]
    return out


def report(org, report_id, day, ok, failed=0, domain="road.rpt.test",
           mx="mx1.road.rpt.test", result_type="certificate-expired"):
    """A report as a sender would write it (RFC 8460 section 4)."""
    policy = {"policy": {"policy-type": "sts",
                         "policy-string": ["version: STSv1", "mode: testing",
                                           "mx: mx1.road.rpt.test", "max_age: 604800"],
                         "policy-domain": domain, "mx-host": [mx]},
              "summary": {"total-successful-session-count": ok,
                          "total-failure-session-count": failed}}
    if failed:
        policy["failure-details"] = [{"result-type": result_type, "sending-mta-ip": "192.0.2.1",
                                      "receiving-mx-hostname": mx,
                                      "failed-session-count": failed}]
    return json.dumps({"organization-name": org,
                       "date-range": {"start-datetime": day + "T00:00:00Z",
                                      "end-datetime": day + "T23:59:59Z"},
                       "contact-info": "tlsrpt@" + org.lower().replace(" ", "") + ".example",
                       "report-id": report_id, "policies": [policy]}).encode()


def report_mail(report_json, domain, submitter, report_id):
    """A report e-mail as RFC 8460 section 5.3 describes it, the report gzipped."""
    attachment = base64.encodebytes(gzip.compress(report_json)).decode().replace("\n", "\r\n")
    return (f"From: TLS reports <noreply-tlsrpt@{submitter}>\r\n"
            f"To: tlsrpt@{domain}\r\n"
            f"Subject: Report Domain: {domain} Submitter: {submitter} Report-ID: <{report_id}>\r\n"
            f"Date: {email.utils.formatdate()}\r\n"
            f"Message-ID: <{report_id}@{submitter}>\r\n"
            f"TLS-Report-Domain: {domain}\r\n"
            f"TLS-Report-Submitter: {submitter}\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type="tlsrpt"; boundary="b1"\r\n'
            "\r\n"
            "--b1\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n"
            f"This is an aggregate TLS report from {submitter}.\r\n"
            "--b1\r\n"
            "Content-Type: application/tlsrpt+gzip\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="{submitter}!{domain}!{report_id}.json.gz"\r\n'
            "\r\n"
            f"{attachment}"
            "--b1--\r\n").encode()


def wait_until(predicate, timeout, what, diagnostics=lambda: ""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}\n{diagnostics()}")


class TlsRptTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tb = os.path.join(WORK, "tb")
        # A reporter's DKIM key (Ed25519), published in the testbed's DNS.
        cls.dkim_key = nacl.signing.SigningKey.generate()
        public = base64.b64encode(bytes(cls.dkim_key.verify_key)).decode()
        scenario = os.path.join(WORK, "tlsrpt.yaml")
        with open(os.path.join(SCENARIOS, "tlsrpt.yaml")) as f, open(scenario, "w") as out:
            out.write(f.read())
            out.write(f'  - [mail._domainkey.reporter.rpt.test, TXT, '
                      f'"\\"v=DKIM1; k=ed25519; p={public}\\""]\n')
        subprocess.run([TESTBED, "start", scenario, "--net", NET, "--dir", cls.tb, "--replace"],
                       check=True, stdout=subprocess.DEVNULL)
        cls.cert = os.path.join(WORK, "receiver.pem")
        cls.key = os.path.join(WORK, "receiver.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", cls.key, "-out", cls.cert,
                        "-days", "2", "-subj", "/CN=reports.rpt.test", "-addext",
                        "subjectAltName=DNS:reports.rpt.test,IP:" + RECEIVER.split(":")[0]],
                       check=True, capture_output=True)
        cls.tls = ssl.create_default_context(cafile=cls.cert)
        cls.redis_sock = os.path.join(WORK, "redis.sock")
        cls.redis = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", cls.redis_sock, "--dir", WORK,
             "--save", ""], stdout=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(cls.redis_sock), 20, "redis-server")
        with open(os.path.join(WORK, "admin-token"), "w") as f:
            f.write(ADMIN + "\n")
        cls.clock = os.path.join(WORK, "clock-offset")
        cls.set_days(0)
        cls.serve_log = open(os.path.join(WORK, "serve.log"), "a")
        cls.serve = subprocess.Popen(
            [STSWATCH, "serve", "--redis", "unix://" + cls.redis_sock, "--interval", "2s",
             "--timeout", "3", "--resolver", NET + ".0.1:53", "--ca-file",
             os.path.join(cls.tb, "ca/root.pem"), "--allow-private", "--api-listen", API,
             "--admin-token-file", os.path.join(WORK, "admin-token"), "--api-min-interval", "1s",
             "--no-alerter", "--clock-offset-file", cls.clock, "--report-listen", RECEIVER,
             "--report-tls-cert", cls.cert, "--report-tls-key", cls.key, "--metrics-listen",
             METRICS],
            stdout=cls.serve_log, stderr=subprocess.STDOUT)
        cls.channel = grpc.insecure_channel(API)
        grpc.channel_ready_future(cls.channel).result(timeout=60)
        a = CreateTenant(cls.channel)(api_pb2.CreateTenantRequest(name="Road"),
                                      metadata=auth(ADMIN))
        b = CreateTenant(cls.channel)(api_pb2.CreateTenantRequest(name="Other"),
                                      metadata=auth(ADMIN))
        cls.token, cls.other = a.token, b.token
        AddDomain(cls.channel)(api_pb2.AddDomainRequest(
            domain="road.rpt.test", settings=api_pb2.DomainSettings(interval_seconds=2)),
            metadata=auth(cls.token))
        for d in ("example.com", "company-y.example"):
            AddDomain(cls.channel)(api_pb2.AddDomainRequest(
                domain=d, settings=api_pb2.DomainSettings(interval_seconds=86400)),
                metadata=auth(cls.token))

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.serve.terminate()
        try:
            cls.serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            cls.serve.kill()
        cls.serve_log.close()
        cls.redis.terminate()
        cls.redis.wait(timeout=30)
        subprocess.run([TESTBED, "stop", "--dir", cls.tb], stdout=subprocess.DEVNULL)
        if os.environ.get("KEEP_WORK") is None:
            shutil.rmtree(WORK, ignore_errors=True)

    @classmethod
    def set_days(cls, days):
        with open(cls.clock + ".tmp", "w") as f:
            f.write(str(days * DAY) + "\n")
        os.replace(cls.clock + ".tmp", cls.clock)

    # --- helpers

    def log_tail(self):
        with open(os.path.join(WORK, "serve.log")) as f:
            return f.read()[-6000:]

    def post(self, body, content_type="application/tlsrpt+json", method="POST",
             path="/tlsrpt"):
        req = urllib.request.Request("https://" + RECEIVER + path, data=body, method=method,
                                     headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, context=self.tls, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def post_report(self, body, gz=False):
        if gz:
            return self.post(gzip.compress(body), "application/tlsrpt+gzip")
        return self.post(body)

    def ingest_mail(self, message, *extra):
        return subprocess.run(
            [STSWATCH, "ingest-report", "--redis", "unix://" + self.redis_sock, "--resolver",
             NET + ".0.1:53", *extra], input=message, capture_output=True, timeout=60)

    def sign(self, message):
        return dkim.sign(message, b"mail", b"reporter.rpt.test",
                         base64.b64encode(bytes(self.dkim_key)),
                         signature_algorithm=b"ed25519-sha256",
                         include_headers=[b"from", b"to", b"subject", b"date", b"message-id",
                                          b"tls-report-domain", b"tls-report-submitter",
                                          b"content-type"]) + message

    def ctl(self, *args, token=None):
        env = dict(os.environ, STSWATCH_TOKEN=token or self.token, STSWATCH_SERVER=API)
        return subprocess.run([STSWATCH, "ctl", *args], env=env, capture_output=True, text=True,
                              timeout=60)

    def days(self, domain, first, last, token=None):
        r = Aggregates(self.channel)(api_pb2.GetReportAggregatesRequest(
            domain=domain, first_day=first, last_day=last), metadata=auth(token or self.token))
        return {d.day: {"ok": d.successful_sessions, "failed": d.failed_sessions,
                        "types": dict(d.failures_by_result_type)} for d in r.days}

    def readiness(self):
        return Readiness(self.channel)(api_pb2.GetReadinessRequest(domain="road.rpt.test"),
                                       metadata=auth(self.token))

    def assertCode(self, code, fn, *args, **kwargs):
        with self.assertRaises(grpc.RpcError) as ctx:
            fn(*args, **kwargs)
        self.assertEqual(ctx.exception.code(), code, ctx.exception.details())
        return ctx.exception

    # --- the tests (unittest runs them in name order)

    def test_1_reports_in(self):
        # POSTed: the RFC's example as JSON, Google's and Microsoft's as gzip and JSON.
        rfc = corpus("domainaware-parsedmarc/rfc8460.json")
        google = corpus("phi-ag-mta-sts-exporter/google.json")
        microsoft = corpus("phi-ag-mta-sts-exporter/microsoft.json")
        self.assertEqual(self.post_report(rfc)[0], 201, self.log_tail())
        self.assertEqual(self.post_report(google, gz=True)[0], 201)
        self.assertEqual(self.post_report(microsoft)[0], 201)
        # The same report again: accepted, counted once.
        status, body = self.post_report(google, gz=True)
        self.assertEqual(status, 200)
        self.assertIn("duplicate", body)

        self.assertEqual(self.days("company-y.example", "2016-04-01", "2016-04-01"),
                         expected_days(rfc, "company-y.example"))
        want = expected_days(google, "example.com")
        want.update(expected_days(microsoft, "example.com"))
        self.assertEqual(self.days("example.com", "2024-02-16", "2024-02-17"), want)

        # Piped in as e-mail, DKIM checked (the corpus signers' keys are not in this DNS: the
        # result is stored, the report kept).
        mail = corpus("eml/isseis-tlsrpt-digest/tlsrpt_success_google_1.eml")
        r = self.ingest_mail(mail)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn(b"stored for example.com", r.stdout)
        part = next(p for p in email.message_from_bytes(mail).walk()
                    if p.get_content_type().startswith("application/tlsrpt"))
        payload = part.get_payload(decode=True)
        mailed = gzip.decompress(payload) if payload[:2] == b"\x1f\x8b" else payload
        mailed_days = expected_days(mailed, "example.com")
        (day, counts), = mailed_days.items()
        self.assertEqual(self.days("example.com", day, day), {day: counts})
        # Delivered twice (an MTA retrying): a success for the MTA, counted once.
        again = self.ingest_mail(mail)
        self.assertEqual(again.returncode, 0)
        self.assertIn(b"duplicate", again.stdout)
        self.assertEqual(self.days("example.com", day, day), {day: counts})
        # Not a report: a data error (the MTA bounces it), nothing stored.
        plain = self.ingest_mail(corpus("mail/plain_text.eml"))
        self.assertEqual(plain.returncode, 65)
        self.assertIn(b"multipart/report", plain.stderr)
        truncated = self.ingest_mail(corpus("mail/truncated_gzip.eml"))
        self.assertEqual(truncated.returncode, 65)
        self.assertIn(b"truncated", truncated.stderr)

        # A generated report e-mail, DKIM-signed by the reporter (its key in the testbed's DNS):
        # accepted where a signature is required; unsigned or altered, refused there.
        generated = report("Reporter Inc", "gen-1", "2024-02-18", 77, domain="example.com")
        signed = self.sign(report_mail(generated, "example.com", "reporter.rpt.test", "gen-1"))
        r = self.ingest_mail(signed, "--dkim", "require-aligned")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn(b"dkim=pass", r.stderr)
        self.assertIn(b"aligned=yes", r.stderr)
        # Signed, but by a domain that is not the submitter's: enough for require, not for
        # require-aligned.
        stranger = self.sign(report_mail(report("Stranger Inc", "gen-4", "2024-02-18", 5,
                                                domain="example.com"),
                                         "example.com", "stranger.example", "gen-4"))
        r = self.ingest_mail(stranger, "--dkim", "require-aligned")
        self.assertEqual(r.returncode, 65, r.stderr.decode())
        self.assertIn(b"neither the TLS-Report-Submitter", r.stderr)
        self.assertEqual(self.days("example.com", "2024-02-18", "2024-02-18"),
                         expected_days(generated, "example.com"))
        unsigned = report_mail(report("Reporter Inc", "gen-2", "2024-02-18", 5,
                                      domain="example.com"),
                               "example.com", "reporter.rpt.test", "gen-2")
        r = self.ingest_mail(unsigned, "--dkim", "require")
        self.assertEqual(r.returncode, 65, r.stderr.decode())
        self.assertIn(b"DKIM none", r.stderr)
        altered = self.sign(report_mail(report("Reporter Inc", "gen-3", "2024-02-18", 5,
                                               domain="example.com"),
                                        "example.com", "reporter.rpt.test", "gen-3"))
        altered = altered.replace(b"This is an aggregate", b"This is an altered")
        r = self.ingest_mail(altered, "--dkim", "require")
        self.assertEqual(r.returncode, 65, r.stderr.decode())
        self.assertIn(b"DKIM fail", r.stderr)
        self.assertEqual(self.days("example.com", "2024-02-18", "2024-02-18"),
                         expected_days(generated, "example.com"))

        # ctl shows the same table.
        out = self.ctl("reports", "example.com", "--from", "2024-02-16", "--to", "2024-02-17")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("2024-02-17", out.stdout)
        self.assertIn("Google Inc. 53", out.stdout)
        # Another tenant does not see them.
        self.assertCode(C.NOT_FOUND, Aggregates(self.channel), api_pb2.GetReportAggregatesRequest(
            domain="example.com"), metadata=auth(self.other))

    def test_2_bad_input(self):
        before = self.days("road.rpt.test", "2020-01-01", "2020-12-31")
        # A gzip bomb: 64 MiB of zeros in 64 KiB; refused once 10 MiB are inflated.
        bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
        self.assertLess(len(bomb), 1 << 20)
        status, body = self.post(bomb, "application/tlsrpt+gzip")
        self.assertEqual(status, 413, body)
        # Truncated gzip, and JSON that is no report.
        good = gzip.compress(report("Truncated Inc", "t-1", "2020-06-01", 5))
        status, body = self.post(good[:len(good) // 2], "application/tlsrpt+gzip")
        self.assertEqual(status, 400)
        self.assertIn("truncated", body)
        status, body = self.post(b'{"organization-name": 5}')
        self.assertEqual(status, 400)
        status, body = self.post(b"{ not json")
        self.assertEqual(status, 400)
        # Not a report's media type; not a POST.
        self.assertEqual(self.post(b"{}", "text/plain")[0], 415)
        self.assertEqual(self.post(None, method="GET")[0], 405)
        # Too large before decompression: refused by its length, before the body is sent.
        with socket.create_connection(RECEIVER.split(":"), timeout=30) as raw:
            with self.tls.wrap_socket(raw, server_hostname="reports.rpt.test") as conn:
                conn.sendall(b"POST /tlsrpt HTTP/1.1\r\nHost: reports.rpt.test\r\n"
                             b"Content-Type: application/tlsrpt+json\r\n"
                             b"Content-Length: 2097152\r\n\r\n")
                answer = conn.recv(4096)
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer)
        self.assertEqual(self.days("road.rpt.test", "2020-01-01", "2020-12-31"), before)
        # serve is still up and well.
        self.assertEqual(self.post_report(report("After Bad Inc", "ab-1", "2020-06-02", 1))[0],
                         201)
        self.assertIsNone(self.serve.poll())
        # What the operator's monitoring sees of it all (tests 1 and 2).
        with urllib.request.urlopen("http://" + METRICS + "/metrics", timeout=10) as resp:
            metrics = resp.read().decode()
        for result, count in (("stored", 4), ("duplicate", 1), ("rejected", 7)):
            self.assertIn('stswatch_tlsrpt_reports_total{channel="https",result="%s"} %d'
                          % (result, count), metrics)

    def test_3_readiness(self):
        # The domain is checked (by serve, on its simulated clock) and clean, in testing mode.
        wait_until(lambda: GetDomain(self.channel)(
            api_pb2.GetDomainRequest(domain="road.rpt.test"),
            metadata=auth(self.token)).summary.status == "ok", 60, "a clean check",
            self.log_tail)
        start = datetime.datetime.now(datetime.timezone.utc).date()

        def day(n):
            return (start + datetime.timedelta(days=n)).isoformat()

        # Three simulated days, each with the day before's reports from two organizations.
        for n in range(1, 4):
            self.set_days(n)
            for org in ("Google Inc.", "Microsoft Corporation"):
                self.assertEqual(self.post_report(
                    report(org, f"{org}-{day(n - 1)}", day(n - 1), 100), gz=True)[0], 201)
        r = self.readiness()
        self.assertFalse(r.ready)
        self.assertEqual(r.mode, "testing")
        reasons = {x.code: x for x in r.reasons}
        self.assertEqual(set(reasons), {"too_few_days"}, r)
        self.assertTrue(reasons["too_few_days"].message.startswith("3 days of reports"), r)
        out = self.ctl("readiness", "road.rpt.test")
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("not ready", out.stdout)
        self.assertIn("3 days of reports", out.stdout)
        # promote refuses, with the reasons.
        env = dict(os.environ, STSWATCH_TOKEN=self.token)
        refused = subprocess.run([STSWATCH, "policy", "promote", "road.rpt.test", "--server", API],
                                 env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(refused.returncode, 1)
        self.assertIn("not ready", refused.stderr)
        self.assertIn("3 days of reports", refused.stderr)

        # Eleven more days: fourteen days of reports.
        for n in range(4, 15):
            self.set_days(n)
            for org in ("Google Inc.", "Microsoft Corporation"):
                self.assertEqual(self.post_report(
                    report(org, f"{org}-{day(n - 1)}", day(n - 1), 100))[0], 201)
        # The checks on day 14 are clean too (serve checks every 2 s of real time).
        time.sleep(3)
        r = self.readiness()
        self.assertTrue(r.ready, r)
        self.assertEqual((r.days_with_reports, r.organizations, r.failed_sessions), (14, 2, 0))
        self.assertEqual(self.ctl("readiness", "road.rpt.test").returncode, 0)
        promoted = subprocess.run(
            [STSWATCH, "policy", "promote", "road.rpt.test", "--server", API], env=env,
            capture_output=True, text=True, timeout=60)
        self.assertEqual(promoted.returncode, 0, promoted.stderr)
        text = promoted.stdout
        policy = "".join(line + "\r\n" for line in text.splitlines()
                         if line.split(":")[0] in ("version", "mode", "mx", "max_age"))
        self.assertIn("mode: enforce\r\n", policy)
        self.assertIn("mx: mx1.road.rpt.test\r\n", policy)
        self.assertIn("max_age: 2592000\r\n", policy)
        lint = subprocess.run([STSWATCH, "lint", "policy", "--mx", "mx1.road.rpt.test", "-"],
                              input=policy, capture_output=True, text=True)
        self.assertEqual(lint.returncode, 0, lint.stdout + lint.stderr)
        record = next(line for line in text.splitlines() if line.startswith("_mta-sts."))
        self.assertIn('IN TXT "v=STSv1; id=', record)
        self.assertNotIn("id=20261101;", record)
        self.assertLess(text.index("mode: enforce"), text.index(record))
        self.assertIn("RFC 8461 section 8.1", text)

        # A failing report for yesterday: not ready, with its evidence; and since stswatch's own
        # checks are clean, a cross-check event.
        failing = report("Google Inc.", "fail-1", day(13), 90, failed=10)
        self.assertEqual(self.post_report(failing)[0], 201)
        r = self.readiness()
        self.assertFalse(r.ready)
        reasons = {x.code: x for x in r.reasons}
        self.assertEqual(set(reasons), {"failures"}, r)
        evidence = list(reasons["failures"].evidence)
        # The reports of the days with failures, the failing one among them.
        self.assertIn(f"report {day(13)} Google Inc.: fail-1", evidence)
        self.assertIn("mx mx1.road.rpt.test (10)", evidence)
        self.assertTrue(any(e.startswith("result-type certificate-expired") for e in evidence),
                        evidence)
        self.assertIn("reports_show_unseen_failures", [n.code for n in r.notes])
        events = ListEvents(self.channel)(api_pb2.ListEventsRequest(domain="road.rpt.test"),
                                          metadata=auth(self.token)).events
        self.assertIn("report_failures_unseen", [e.kind for e in events])
        # Promotion through the API: refused with the reasons, or forced.
        e = self.assertCode(C.FAILED_PRECONDITION, Promote(self.channel),
                            api_pb2.PromotePolicyRequest(domain="road.rpt.test"),
                            metadata=auth(self.token))
        self.assertIn("failed", e.details())
        forced = Promote(self.channel)(api_pb2.PromotePolicyRequest(domain="road.rpt.test",
                                                                    force=True),
                                       metadata=auth(self.token))
        self.assertTrue(forced.forced)
        self.assertIn("mode: enforce", forced.policy_file)
        # Another tenant can neither read nor promote the domain.
        self.assertCode(C.NOT_FOUND, Readiness(self.channel),
                        api_pb2.GetReadinessRequest(domain="road.rpt.test"),
                        metadata=auth(self.other))
        self.assertCode(C.NOT_FOUND, Promote(self.channel),
                        api_pb2.PromotePolicyRequest(domain="road.rpt.test", force=True),
                        metadata=auth(self.other))


if __name__ == "__main__":
    unittest.main(verbosity=2)
