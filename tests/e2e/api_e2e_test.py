#!/usr/bin/python3
"""The public gRPC API end to end, driven by Debian's python3-grpcio (a client nobody here wrote)
against `stswatch serve` with its own Redis and the testbed.

Two tenants; tenant A imports domains, watches its events, breaks one domain in the testbed and
sees the events arrive, reads the history; tenant B can neither read, change nor watch A's
domains; malformed requests, missing and forged tokens get the right status codes; health
checking and server reflection answer.

Usage: api_e2e_test.py STSWATCH TESTBED PROTO_DIR SCENARIO_DIR
"""

import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import json
import urllib.request

import grpc

NET = "127.47"
API = NET + ".200.1:7400"
API_TLS = NET + ".200.2:7400"
METRICS = NET + ".200.1:9400"
BUF = "/opt/stswatch-tools/buf-1.75.0/node_modules/.bin/buf"
ADMIN = "admin-" + os.urandom(8).hex()

STSWATCH, TESTBED, PROTO_DIR, SCENARIOS = sys.argv[1:5]
del sys.argv[1:5]

WORK = tempfile.mkdtemp(prefix="stswatch-api-", dir="/tmp")
os.chmod(WORK, 0o755)
subprocess.run(["protoc", "-I", PROTO_DIR, "--python_out", WORK] +
               [os.path.join(PROTO_DIR, "stswatch/v1", f) for f in ("model.proto", "api.proto")],
               check=True)
sys.path.insert(0, WORK)
from stswatch.v1 import api_pb2  # noqa: E402  (generated above)

C = grpc.StatusCode


def method(service, name, request, response, kind="unary_unary"):
    def call(channel):
        return getattr(channel, kind)(
            f"/stswatch.v1.{service}/{name}",
            request_serializer=request.SerializeToString,
            response_deserializer=response.FromString)
    return call


CreateTenant = method("TenantService", "CreateTenant", api_pb2.CreateTenantRequest,
                      api_pb2.CreateTenantResponse)
ListTenants = method("TenantService", "ListTenants", api_pb2.ListTenantsRequest,
                     api_pb2.ListTenantsResponse)
AddDomain = method("DomainService", "AddDomain", api_pb2.AddDomainRequest, api_pb2.DomainSummary)
RemoveDomain = method("DomainService", "RemoveDomain", api_pb2.RemoveDomainRequest,
                      api_pb2.RemoveDomainResponse)
ListDomains = method("DomainService", "ListDomains", api_pb2.ListDomainsRequest,
                     api_pb2.ListDomainsResponse)
GetDomain = method("DomainService", "GetDomain", api_pb2.GetDomainRequest, api_pb2.DomainDetail)
ImportDomains = method("DomainService", "ImportDomains", api_pb2.ImportDomainsRequest,
                       api_pb2.ImportDomainsResponse, "stream_unary")
UpdateSettings = method("DomainService", "UpdateDomainSettings",
                        api_pb2.UpdateDomainSettingsRequest, api_pb2.DomainSummary)
ListEvents = method("DomainService", "ListEvents", api_pb2.ListEventsRequest,
                    api_pb2.ListEventsResponse)
WatchEvents = method("DomainService", "WatchEvents", api_pb2.WatchEventsRequest,
                     api_pb2.WatchEventsResponse, "unary_stream")
CheckNow = method("DomainService", "CheckNow", api_pb2.CheckNowRequest, api_pb2.DomainDetail)


def auth(token):
    return (("authorization", "Bearer " + token),)


class Watcher:
    """Collects a WatchEvents stream in a thread."""

    def __init__(self, channel, token, cursor=""):
        self.events = queue.Queue()
        self.call = WatchEvents(channel)(api_pb2.WatchEventsRequest(cursor=cursor),
                                         metadata=auth(token))
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for response in self.call:
                self.events.put(response)
        except grpc.RpcError as e:
            self.error = e

    def wait_for(self, predicate, timeout):
        seen = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                r = self.events.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(r)
            if predicate(r):
                return r, seen
        return None, seen

    def drain(self):
        out = []
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out

    def cancel(self):
        self.call.cancel()


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tb = os.path.join(WORK, "tb")
        subprocess.run([TESTBED, "start", os.path.join(SCENARIOS, "api-before.yaml"), "--net", NET,
                        "--dir", cls.tb, "--replace"], check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(WORK, "admin-token"), "w") as f:
            f.write(ADMIN + "\n")
        cls.log = open(os.path.join(WORK, "serve.log"), "w")
        cls.serve = subprocess.Popen(
            [STSWATCH, "serve", "--data-dir", os.path.join(WORK, "data"), "--interval", "3s",
             "--timeout", "3", "--resolver", NET + ".0.1:53", "--ca-file",
             os.path.join(cls.tb, "ca/root.pem"), "--allow-private", "--api-listen", API,
             "--admin-token-file", os.path.join(WORK, "admin-token"), "--api-min-interval", "1s",
             "--metrics-listen", METRICS],
            stdout=cls.log, stderr=subprocess.STDOUT)
        cls.channel = grpc.insecure_channel(API)
        grpc.channel_ready_future(cls.channel).result(timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.serve.terminate()
        try:
            cls.serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            cls.serve.kill()
        cls.log.close()
        subprocess.run([TESTBED, "stop", "--dir", cls.tb], stdout=subprocess.DEVNULL)
        if os.environ.get("KEEP_WORK") is None:
            shutil.rmtree(WORK, ignore_errors=True)

    def assertCode(self, code, fn, *args, **kwargs):
        with self.assertRaises(grpc.RpcError) as ctx:
            fn(*args, **kwargs)
        self.assertEqual(ctx.exception.code(), code, ctx.exception.details())
        self.assertTrue(ctx.exception.details(), "every refusal says why")
        return ctx.exception

    def serve_log(self):
        with open(os.path.join(WORK, "serve.log")) as f:
            return f.read()

    def test_everything(self):
        ch = self.channel
        # --- Tenants, and who may create them.
        self.assertCode(C.UNAUTHENTICATED, CreateTenant(ch), api_pb2.CreateTenantRequest(name="x"))
        self.assertCode(C.UNAUTHENTICATED, CreateTenant(ch), api_pb2.CreateTenantRequest(name="x"),
                        metadata=auth("not-the-admin-token"))
        a = CreateTenant(ch)(api_pb2.CreateTenantRequest(name="Hoster A"), metadata=auth(ADMIN))
        b = CreateTenant(ch)(api_pb2.CreateTenantRequest(name="Hoster B"), metadata=auth(ADMIN))
        self.assertNotEqual(a.tenant.id, b.tenant.id)
        self.assertTrue(a.token.startswith("stsw_"))
        self.assertCode(C.INVALID_ARGUMENT, CreateTenant(ch), api_pb2.CreateTenantRequest(name=""),
                        metadata=auth(ADMIN))
        # A tenant's token is not the admin's.
        self.assertCode(C.UNAUTHENTICATED, ListTenants(ch), api_pb2.ListTenantsRequest(),
                        metadata=auth(a.token))
        ta, tb = a.token, b.token

        # --- Domain calls need a tenant token.
        self.assertCode(C.UNAUTHENTICATED, ListDomains(ch), api_pb2.ListDomainsRequest())
        self.assertCode(C.UNAUTHENTICATED, ListDomains(ch), api_pb2.ListDomainsRequest(),
                        metadata=auth("stsw_" + "A" * 43))
        self.assertCode(C.UNAUTHENTICATED, ListDomains(ch), api_pb2.ListDomainsRequest(),
                        metadata=(("authorization", "Basic Zm9vOmJhcg=="),))

        # --- Tenant A watches its events from now on.
        watch_a = Watcher(ch, ta)
        watch_b = Watcher(ch, tb)

        # --- Import: good names, a bad one, a U-label.
        def batches():
            yield api_pb2.ImportDomainsRequest(domains=["ok.api.test", "break.api.test"])
            yield api_pb2.ImportDomainsRequest(domains=["bad..name", "bücher.api.test"])
        imported = ImportDomains(ch)(batches(), metadata=auth(ta))
        self.assertEqual(imported.added, 3)
        self.assertEqual([e.domain for e in imported.errors], ["bad..name"])
        self.assertIn("domain name", imported.errors[0].error)
        AddDomain(ch)(api_pb2.AddDomainRequest(domain="other.api.test"), metadata=auth(tb))
        listed = ListDomains(ch)(api_pb2.ListDomainsRequest(), metadata=auth(ta))
        self.assertEqual(sorted(d.domain for d in listed.domains),
                         ["break.api.test", "ok.api.test", "xn--bcher-kva.api.test"])

        # --- Malformed requests.
        self.assertCode(C.INVALID_ARGUMENT, AddDomain(ch),
                        api_pb2.AddDomainRequest(domain="-bad-.test"), metadata=auth(ta))
        self.assertCode(C.INVALID_ARGUMENT, AddDomain(ch),
                        api_pb2.AddDomainRequest(domain="x" * 300 + ".test"), metadata=auth(ta))
        self.assertCode(C.INVALID_ARGUMENT, ListDomains(ch),
                        api_pb2.ListDomainsRequest(page_size=5000), metadata=auth(ta))
        self.assertCode(C.INVALID_ARGUMENT, ListDomains(ch),
                        api_pb2.ListDomainsRequest(page_token="garbage!"), metadata=auth(ta))
        e = self.assertCode(C.INVALID_ARGUMENT, lambda: list(WatchEvents(ch)(
            api_pb2.WatchEventsRequest(cursor="c1.nonsense"), metadata=auth(ta))))
        self.assertIn("cursor", e.details())

        # --- Every domain gets checked; the status shows.
        deadline = time.time() + 60
        while time.time() < deadline:
            listed = ListDomains(ch)(api_pb2.ListDomainsRequest(), metadata=auth(ta))
            if all(d.status != "pending" for d in listed.domains):
                break
            time.sleep(0.5)
        statuses = {d.domain: d.status for d in listed.domains}
        self.assertEqual(statuses["ok.api.test"], "ok", self.serve_log()[-3000:])
        self.assertEqual(statuses["break.api.test"], "ok")
        detail = GetDomain(ch)(api_pb2.GetDomainRequest(domain="break.api.test"), metadata=auth(ta))
        self.assertEqual(detail.summary.mode, "enforce")
        self.assertEqual([m.host for m in detail.mx], ["mx-break.api.test"])
        self.assertTrue(detail.mx[0].deliver)
        self.assertTrue(detail.mx[0].certificate.sha256)
        filtered = ListDomains(ch)(api_pb2.ListDomainsRequest(status=["none"]), metadata=auth(ta))
        self.assertEqual([d.domain for d in filtered.domains], ["xn--bcher-kva.api.test"])

        # --- Isolation: B cannot read, change or watch A's domains.
        for call, req in ((GetDomain, api_pb2.GetDomainRequest(domain="break.api.test")),
                          (RemoveDomain, api_pb2.RemoveDomainRequest(domain="break.api.test")),
                          (ListEvents, api_pb2.ListEventsRequest(domain="break.api.test")),
                          (CheckNow, api_pb2.CheckNowRequest(domain="break.api.test")),
                          (UpdateSettings, api_pb2.UpdateDomainSettingsRequest(
                              domain="break.api.test",
                              settings=api_pb2.DomainSettings(interval_seconds=60)))):
            err = self.assertCode(C.NOT_FOUND, call(ch), req, metadata=auth(tb))
            self.assertNotIn("enforce", err.details())
        listed_b = ListDomains(ch)(api_pb2.ListDomainsRequest(), metadata=auth(tb))
        self.assertEqual([d.domain for d in listed_b.domains], ["other.api.test"])

        # --- The first events (first checks) arrived on A's stream, none of B's.
        first, _ = watch_a.wait_for(lambda r: r.event.domain == "break.api.test", 60)
        self.assertIsNotNone(first, self.serve_log()[-3000:])
        self.assertEqual(first.event.kind, "first_check")

        # --- Break break.api.test in the testbed: A sees it happen.
        subprocess.run([TESTBED, "apply", os.path.join(SCENARIOS, "api-after.yaml"), "--dir",
                        self.tb], check=True, stdout=subprocess.DEVNULL)
        lost, seen = watch_a.wait_for(lambda r: r.event.kind == "starttls_lost", 60)
        self.assertIsNotNone(lost, [r.event.kind for r in seen])
        self.assertEqual(lost.event.domain, "break.api.test")
        self.assertEqual(lost.event.subject, "mx-break.api.test")
        self.assertEqual(lost.event.severity, "critical")
        status, _ = watch_a.wait_for(lambda r: r.event.kind == "status_changed", 10)
        if status is None:  # Already received before starttls_lost.
            status = next(r for r in seen if r.event.kind == "status_changed")
        self.assertEqual(status.event.after_json, '"failing"')
        time.sleep(5)
        for r in watch_b.drain():
            self.assertEqual(r.event.domain, "other.api.test", "B saw another tenant's event")

        # --- History, newest first.
        history = ListEvents(ch)(api_pb2.ListEventsRequest(domain="break.api.test"),
                                 metadata=auth(ta))
        kinds = [e.kind for e in history.events]
        self.assertEqual(kinds[-1], "first_check")
        self.assertIn("starttls_lost", kinds)
        times = [e.time_unix_ms for e in history.events]
        self.assertEqual(times, sorted(times, reverse=True))
        page = ListEvents(ch)(api_pb2.ListEventsRequest(domain="break.api.test", page_size=1),
                              metadata=auth(ta))
        self.assertEqual(len(page.events), 1)
        self.assertTrue(page.next_page_token)
        rest = ListEvents(ch)(api_pb2.ListEventsRequest(domain="break.api.test", page_size=100,
                                                         page_token=page.next_page_token),
                              metadata=auth(ta))
        self.assertEqual([page.events[0].id] + [e.id for e in rest.events],
                         [e.id for e in history.events])

        # --- Resume: a watch from the first event's cursor gets what followed it, again.
        resumed = Watcher(ch, ta, cursor=first.cursor)
        again, _ = resumed.wait_for(lambda r: r.event.id == lost.event.id, 30)
        self.assertIsNotNone(again, "the resumed stream did not replay the later event")
        resumed.cancel()

        # --- Check now returns the fresh result.
        fresh = CheckNow(ch)(api_pb2.CheckNowRequest(domain="break.api.test"), metadata=auth(ta))
        self.assertEqual(fresh.summary.status, "failing")
        self.assertEqual(fresh.mx[0].starttls, "not-offered")

        # --- buf curl (npm, through reflection) and stswatch ctl call the same API.
        out = subprocess.run([BUF, "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                              "--list-methods", "http://" + API],
                             check=True, capture_output=True, text=True).stdout
        self.assertIn("stswatch.v1.DomainService/WatchEvents", out)
        out = subprocess.run([BUF, "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                              "-H", "authorization: Bearer " + ta,
                              "-d", '{"domain": "break.api.test"}',
                              "http://" + API + "/stswatch.v1.DomainService/GetDomain"],
                             check=True, capture_output=True, text=True).stdout
        self.assertEqual(json.loads(out)["summary"]["status"], "failing")
        refused = subprocess.run([BUF, "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                                  "-H", "authorization: Bearer " + tb,
                                  "-d", '{"domain": "break.api.test"}',
                                  "http://" + API + "/stswatch.v1.DomainService/GetDomain"],
                                 capture_output=True, text=True)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("not_found", refused.stdout + refused.stderr)

        ctl = [STSWATCH, "ctl", "--server", API]
        env_a = dict(os.environ, STSWATCH_TOKEN=ta)
        env_b = dict(os.environ, STSWATCH_TOKEN=tb)
        env_admin = dict(os.environ, STSWATCH_ADMIN_TOKEN=ADMIN)
        out = subprocess.run(ctl + ["tenant", "list", "--json"], env=env_admin, check=True,
                             capture_output=True, text=True).stdout
        self.assertEqual(sorted(t["name"] for t in json.loads(out)["tenants"]),
                         ["Hoster A", "Hoster B"])
        out = subprocess.run(ctl + ["domain", "ls", "--json", "--status", "failing"], env=env_a,
                             check=True, capture_output=True, text=True).stdout
        self.assertEqual([json.loads(line)["domain"] for line in out.splitlines()],
                         ["break.api.test"])
        out = subprocess.run(ctl + ["domain", "get", "break.api.test"], env=env_a, check=True,
                             capture_output=True, text=True).stdout
        self.assertIn("break.api.test: failing (mode enforce)", out)
        self.assertIn("MX mx-break.api.test: refuse", out)
        denied = subprocess.run(ctl + ["domain", "get", "break.api.test"], env=env_b,
                                capture_output=True, text=True)
        self.assertEqual(denied.returncode, 1)
        self.assertIn("NOT_FOUND", denied.stderr)
        out = subprocess.run(ctl + ["events", "break.api.test", "--json"], env=env_a, check=True,
                             capture_output=True, text=True).stdout
        self.assertIn("starttls_lost", out)

        # --- The API's metrics: calls by method and code.
        metrics = urllib.request.urlopen("http://" + METRICS + "/metrics", timeout=10).read()
        self.assertIn(b'stswatch_api_calls_total{code="NOT_FOUND",method="GetDomain"}', metrics)
        self.assertIn(b'stswatch_api_calls_total{code="OK",method="ImportDomains"} 1', metrics)

        # --- Removing: gone for A, B unaffected.
        RemoveDomain(ch)(api_pb2.RemoveDomainRequest(domain="ok.api.test"), metadata=auth(ta))
        self.assertCode(C.NOT_FOUND, GetDomain(ch), api_pb2.GetDomainRequest(domain="ok.api.test"),
                        metadata=auth(ta))
        watch_a.cancel()
        watch_b.cancel()

    def test_standalone_api_over_tls(self):
        # `stswatch api` beside serve, on the same Redis, with a certificate for its address.
        cert = os.path.join(WORK, "api.pem")
        key = os.path.join(WORK, "api.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=stswatch api test",
                        "-addext", "subjectAltName=IP:" + API_TLS.split(":")[0]],
                       check=True, capture_output=True)
        log = open(os.path.join(WORK, "api.log"), "w")
        api = subprocess.Popen(
            [STSWATCH, "api", "--redis", "unix://" + os.path.join(WORK, "data/redis.sock"),
             "--listen", API_TLS, "--api-tls-cert", cert, "--api-tls-key", key,
             "--admin-token-file", os.path.join(WORK, "admin-token")],
            stdout=log, stderr=subprocess.STDOUT)
        try:
            with open(cert, "rb") as f:
                creds = grpc.ssl_channel_credentials(root_certificates=f.read())
            channel = grpc.secure_channel(API_TLS, creds)
            grpc.channel_ready_future(channel).result(timeout=30)
            t = CreateTenant(channel)(api_pb2.CreateTenantRequest(name="Over TLS"),
                                      metadata=auth(ADMIN))
            AddDomain(channel)(api_pb2.AddDomainRequest(domain="ok.api.test"),
                               metadata=auth(t.token))
            listed = ListDomains(channel)(api_pb2.ListDomainsRequest(), metadata=auth(t.token))
            self.assertEqual([d.domain for d in listed.domains], ["ok.api.test"])
            channel.close()
            # Plain text is refused on the TLS port.
            plain = grpc.insecure_channel(API_TLS)
            with self.assertRaises(grpc.RpcError):
                ListDomains(plain)(api_pb2.ListDomainsRequest(), metadata=auth(t.token),
                                   timeout=5)
            plain.close()
            out = subprocess.run([STSWATCH, "ctl", "--server", API_TLS, "--ca-file", cert,
                                  "domain", "ls", "--json"],
                                 env=dict(os.environ, STSWATCH_TOKEN=t.token), check=True,
                                 capture_output=True, text=True).stdout
            self.assertIn('"ok.api.test"', out)

            # Bulk import: 10 000 domains in one client stream (checked daily, so serve, which
            # shares this Redis, is not flooded).
            def bulk():
                for start in range(0, 10000, 1000):
                    yield api_pb2.ImportDomainsRequest(
                        domains=[f"d{i}.bulk.api.test" for i in range(start, start + 1000)],
                        settings=api_pb2.DomainSettings(interval_seconds=86400))
            channel = grpc.secure_channel(API_TLS, creds)
            started = time.time()
            imported = ImportDomains(channel)(bulk(), metadata=auth(t.token), timeout=120)
            print(f"imported 10000 domains in {time.time() - started:.2f} s", file=sys.stderr)
            self.assertEqual((imported.added, len(imported.errors)), (10000, 0))
            page = ListDomains(channel)(api_pb2.ListDomainsRequest(page_size=1000),
                                        metadata=auth(t.token))
            self.assertEqual(page.total, 10001)
            self.assertEqual(len(page.domains), 1000)
            self.assertTrue(page.next_page_token)
            channel.close()
        finally:
            api.terminate()
            code = api.wait(timeout=30)
            log.close()
            if code != 0:
                with open(os.path.join(WORK, "api.log")) as f:
                    sys.stderr.write("stswatch api log:\n" + f.read()[-20000:])
            self.assertEqual(code, 0)

    def test_health_and_reflection(self):
        health = self.channel.unary_unary("/grpc.health.v1.Health/Check",
                                          request_serializer=lambda b: b,
                                          response_deserializer=lambda b: b)
        self.assertEqual(health(b""), b"\x08\x01")  # status: SERVING
        reflection = self.channel.stream_stream(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            request_serializer=lambda b: b, response_deserializer=lambda b: b)
        answer = b"".join(reflection(iter([b"\x3a\x00"])))  # list_services: ""
        self.assertIn(b"stswatch.v1.DomainService", answer)
        self.assertIn(b"stswatch.v1.TenantService", answer)


if __name__ == "__main__":
    unittest.main(verbosity=2)
