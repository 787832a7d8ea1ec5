#!/usr/bin/python3
"""Alerting end to end: `stswatch serve` with Redis and the testbed, its alerter delivering to a
real Postfix relay (STARTTLS and AUTH) that puts the mail in a Maildir, and to an HTTPS webhook
receiver that checks the signature. Channels are set through the API with `stswatch ctl`.

- An enforce domain's MX certificate is replaced by an expired one: exactly one critical e-mail
  and one signed webhook POST; the certificate is fixed: exactly one resolved notification on
  each, threaded to the first.
- The receiver refuses (HTTP 500) for a while; serve is killed (SIGKILL) in the middle of the
  retries; events left pending by a consumer that died are reclaimed by `stswatch alerter`,
  started as a process of its own: every notification arrives, none twice, in order.
- Webhook targets on private addresses are refused with a clear error: at once for an address
  literal, as a dead letter (visible through the API) for a name that resolves to one.

Usage: alert_e2e_test.py STSWATCH TESTBED PROTO_DIR SCENARIO_DIR SINKS_DIR
"""

import importlib.util
import json
import re
import urllib.request
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import grpc

NET = "127.48"
API = NET + ".200.1:7400"
METRICS = NET + ".200.1:9400"
RELAY = NET + ".200.3"
HOOKS = NET + ".200.4"
HOOK_URL = "https://hooks.ok.alert.test:8443/hook"  # A record: 127.48.200.4 (alert-before.yaml)
INTRANET_URL = "https://intranet.ok.alert.test:8443/x"  # A record: 127.48.200.9, not allowed
ADMIN = "admin-" + os.urandom(8).hex()
SECRET = "whsec-" + os.urandom(8).hex()
SMTP_PASSWORD = "pw-" + os.urandom(6).hex()

STSWATCH, TESTBED, PROTO_DIR, SCENARIOS, SINKS = sys.argv[1:6]
del sys.argv[1:6]

WORK = tempfile.mkdtemp(prefix="stswatch-alert-", dir="/tmp")
os.chmod(WORK, 0o755)
subprocess.run(["protoc", "-I", PROTO_DIR, "--python_out", WORK] +
               [os.path.join(PROTO_DIR, "stswatch/v1", f) for f in ("model.proto", "api.proto")],
               check=True)
sys.path.insert(0, WORK)
from stswatch.v1 import api_pb2  # noqa: E402  (generated above)

_spec = importlib.util.spec_from_file_location("alert_mailbox", os.path.join(SINKS, "mailbox.py"))
mailbox = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mailbox)

C = grpc.StatusCode


def method(service, name, request, response):
    def call(channel):
        return channel.unary_unary(f"/stswatch.v1.{service}/{name}",
                                   request_serializer=request.SerializeToString,
                                   response_deserializer=response.FromString)
    return call


CreateTenant = method("TenantService", "CreateTenant", api_pb2.CreateTenantRequest,
                      api_pb2.CreateTenantResponse)
AddDomain = method("DomainService", "AddDomain", api_pb2.AddDomainRequest, api_pb2.DomainSummary)
ListDomains = method("DomainService", "ListDomains", api_pb2.ListDomainsRequest,
                     api_pb2.ListDomainsResponse)
SetAlertSettings = method("AlertService", "SetAlertSettings", api_pb2.AlertSettings,
                          api_pb2.AlertSettings)
ListOpenAlerts = method("AlertService", "ListOpenAlerts", api_pb2.ListOpenAlertsRequest,
                        api_pb2.ListOpenAlertsResponse)
ListDeliveries = method("AlertService", "ListDeliveries", api_pb2.ListDeliveriesRequest,
                        api_pb2.ListDeliveriesResponse)


def auth(token):
    return (("authorization", "Bearer " + token),)


def make_certs(d):
    """A CA of the test's own, and certificates for the relay (its address) and the receiver."""
    def run(*args):
        subprocess.run(args, check=True, cwd=d, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
        "ca.pem", "-days", "2", "-subj", "/CN=stswatch alert test CA")
    for name, san in (("relay", "IP:" + RELAY), ("hooks", "DNS:hooks.ok.alert.test")):
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
            name + ".csr", "-subj", "/CN=" + name)
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=" + san + "\n")
        run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext")


def wait_until(predicate, timeout, what, diagnostics=lambda: ""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}\n{diagnostics()}")


class AlertTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tb = os.path.join(WORK, "tb")
        subprocess.run([TESTBED, "start", os.path.join(SCENARIOS, "alert-before.yaml"), "--net",
                        NET, "--dir", cls.tb, "--replace"], check=True, stdout=subprocess.DEVNULL)
        make_certs(WORK)
        cls.box = mailbox.Mailbox(os.path.join(WORK, "mailbox"), RELAY, port=25,
                                  domain="alerts.test", tls_cert=os.path.join(WORK, "relay.pem"),
                                  tls_key=os.path.join(WORK, "relay.key"), require_tls=True,
                                  auth_user="alerter", auth_password=SMTP_PASSWORD)
        cls.box.start()
        cls.fail_file = os.path.join(WORK, "receiver-fails")
        cls.hooks_log = os.path.join(WORK, "hooks.jsonl")
        cls.receiver = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(SINKS, "webhook_receiver.py"), "--listen",
             HOOKS + ":8443", "--tls-cert", os.path.join(WORK, "hooks.pem"), "--tls-key",
             os.path.join(WORK, "hooks.key"), "--secret", SECRET, "--log", cls.hooks_log,
             "--fail-until-file", cls.fail_file],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = cls.receiver.stdout.readline()
        assert line.startswith("listening"), line
        cls.redis_sock = os.path.join(WORK, "redis.sock")
        cls.redis = subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", cls.redis_sock, "--dir", WORK,
             "--appendonly", "yes", "--save", ""], stdout=subprocess.DEVNULL)
        wait_until(lambda: os.path.exists(cls.redis_sock), 20, "redis-server")
        for name, value in (("admin-token", ADMIN), ("smtp-password", SMTP_PASSWORD),
                            ("hook-secret", SECRET)):
            with open(os.path.join(WORK, name), "w") as f:
                f.write(value + "\n")
        cls.serve = None
        cls.alerter = None
        cls.serve_log = open(os.path.join(WORK, "serve.log"), "a")
        cls.start_serve()
        cls.channel = grpc.insecure_channel(API)
        grpc.channel_ready_future(cls.channel).result(timeout=60)

    @classmethod
    def alerting_options(cls):
        return ["--smtp-relay", RELAY + ":25", "--smtp-user", "alerter", "--smtp-password-file",
                os.path.join(WORK, "smtp-password"), "--alert-from",
                "stswatch alerts <alerts@stswatch.test>", "--alert-ca-file",
                os.path.join(WORK, "ca.pem"), "--webhook-allow-net", HOOKS + "/32",
                "--alert-retry-initial", "1s", "--alert-retry-max", "2s", "--alert-tick", "1s"]

    @classmethod
    def start_serve(cls, *extra):
        cls.serve = subprocess.Popen(
            [STSWATCH, "serve", "--redis", "unix://" + cls.redis_sock, "--interval", "2s",
             "--timeout", "3", "--resolver", NET + ".0.1:53", "--ca-file",
             os.path.join(cls.tb, "ca/root.pem"), "--allow-private", "--api-listen", API,
             "--admin-token-file", os.path.join(WORK, "admin-token"), "--api-min-interval", "1s",
             *cls.alerting_options(), *extra],
            stdout=cls.serve_log, stderr=subprocess.STDOUT)

    @classmethod
    def start_alerter(cls):
        """`stswatch alerter` as a process of its own, beside `serve --no-alerter`."""
        cls.alerter = subprocess.Popen(
            [STSWATCH, "alerter", "--redis", "unix://" + cls.redis_sock, "--resolver",
             NET + ".0.1:53", "--metrics-listen", METRICS, *cls.alerting_options()],
            stdout=cls.serve_log, stderr=subprocess.STDOUT)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        for p in (cls.serve, cls.alerter):
            if p is None:
                continue
            p.terminate()
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        cls.serve_log.close()
        cls.receiver.terminate()
        cls.receiver.wait(timeout=30)
        cls.redis.terminate()
        cls.redis.wait(timeout=30)
        cls.box.stop()
        subprocess.run([TESTBED, "stop", "--dir", cls.tb], stdout=subprocess.DEVNULL)
        if os.environ.get("KEEP_WORK") is None:
            shutil.rmtree(WORK, ignore_errors=True)

    # --- helpers

    def log_tail(self):
        with open(os.path.join(WORK, "serve.log")) as f:
            return f.read()[-6000:]

    def ctl(self, token, *args, check=True):
        env = dict(os.environ, STSWATCH_TOKEN=token, STSWATCH_SERVER=API)
        r = subprocess.run([STSWATCH, "ctl", *args], env=env, capture_output=True, text=True,
                           timeout=60)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def hooks(self):
        if not os.path.exists(self.hooks_log):
            return []
        with open(self.hooks_log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def accepted(self):
        return [h for h in self.hooks() if h["status"] == 200]

    def mails(self):
        return self.box.messages()

    def apply(self, scenario):
        subprocess.run([TESTBED, "apply", os.path.join(SCENARIOS, scenario), "--dir", self.tb],
                       check=True, stdout=subprocess.DEVNULL)

    def wait_counts(self, mails, accepted, what):
        wait_until(lambda: len(self.mails()) >= mails and len(self.accepted()) >= accepted, 60,
                   what, lambda: f"mails {len(self.mails())}, accepted {len(self.accepted())}\n" +
                   self.log_tail())
        # Several more check cycles (2 s each): nothing else arrives.
        time.sleep(6)
        self.assertEqual(len(self.mails()), mails, [m["subject"] for m in self.mails()])
        self.assertEqual(len(self.accepted()), accepted,
                         [(h["delivery_id"], h["state"]) for h in self.accepted()])

    # --- the test

    def test_alerts(self):
        ch = self.channel
        a = CreateTenant(ch)(api_pb2.CreateTenantRequest(name="Hoster A"), metadata=auth(ADMIN))
        b = CreateTenant(ch)(api_pb2.CreateTenantRequest(name="Hoster B"), metadata=auth(ADMIN))
        ta, tb = a.token, b.token

        # --- Channels, through the API with ctl.
        self.ctl(ta, "alerts", "channel", "add", "mail", "--email", "ops@alerts.test",
                 "--min-severity", "warning")
        self.ctl(ta, "alerts", "channel", "add", "hook", "--webhook", HOOK_URL, "--secret-file",
                 os.path.join(WORK, "hook-secret"), "--min-severity", "warning")
        # A private address literal is refused at once, saying why and what would allow it.
        r = self.ctl(ta, "alerts", "channel", "add", "bad", "--webhook",
                     "https://127.48.200.9:8443/x", check=False)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("INVALID_ARGUMENT", r.stderr)
        self.assertIn("127.48.200.9 is refused (loopback address", r.stderr)
        self.assertIn("--webhook-allow-net", r.stderr)
        # A name is judged after resolution, at delivery.
        self.ctl(ta, "alerts", "channel", "add", "intranet", "--webhook", INTRANET_URL,
                 "--min-severity", "warning")
        settings = json.loads(self.ctl(ta, "--json", "alerts", "get").stdout)
        self.assertEqual([c["id"] for c in settings["channels"]], ["mail", "hook", "intranet"])
        hook = settings["channels"][1]["webhook"]
        self.assertTrue(hook["has_secret"])
        self.assertNotIn(SECRET, json.dumps(settings), "secrets are never returned")

        # Malformed settings are refused with a reason.
        for bad in (api_pb2.AlertSettings(channels=[api_pb2.AlertChannel(
                        id="Bad Id", email=api_pb2.EmailChannel(to=["a@b.test"]))]),
                    api_pb2.AlertSettings(channels=[api_pb2.AlertChannel(
                        id="m", email=api_pb2.EmailChannel(to=["not-an-address"]))]),
                    api_pb2.AlertSettings(channels=[api_pb2.AlertChannel(
                        id="h", webhook=api_pb2.WebhookChannel(url="http://hooks.test/"))]),
                    api_pb2.AlertSettings(minimum_severity="loud")):
            with self.assertRaises(grpc.RpcError) as e:
                SetAlertSettings(ch)(bad, metadata=auth(ta))
            self.assertEqual(e.exception.code(), C.INVALID_ARGUMENT)
            self.assertTrue(e.exception.details())
        with self.assertRaises(grpc.RpcError) as e:
            SetAlertSettings(ch)(api_pb2.AlertSettings(), metadata=auth("stsw_" + "A" * 43))
        self.assertEqual(e.exception.code(), C.UNAUTHENTICATED)

        # --- Domains: A watches both, B only the healthy one (and has no channels).
        for d in ("ok.alert.test", "expire.alert.test"):
            AddDomain(ch)(api_pb2.AddDomainRequest(domain=d), metadata=auth(ta))
        AddDomain(ch)(api_pb2.AddDomainRequest(domain="ok.alert.test"), metadata=auth(tb))
        wait_until(lambda: all(d.status == "ok" for d in ListDomains(ch)(
            api_pb2.ListDomainsRequest(), metadata=auth(ta)).domains), 60, "first checks",
            self.log_tail)
        time.sleep(4)
        # First checks of healthy domains are info notices, below the channels' minimum.
        self.assertEqual(self.mails(), [])
        self.assertEqual(self.hooks(), [])

        # --- The MX certificate of expire.alert.test expires.
        self.apply("alert-after.yaml")
        self.wait_counts(1, 1, "the critical alert")
        mail = self.mails()[0]
        self.assertEqual(mail["x_stswatch_state"], "opened")
        self.assertEqual(mail["x_stswatch_severity"], "critical")
        self.assertIn("CRITICAL", mail["subject"])
        self.assertIn("mx-exp.expire.alert.test", mail["body"])
        self.assertIn("expired", mail["body"])
        self.assertEqual(mail["delivered_to"], "ops@alerts.test")
        self.assertEqual(mail["return_path"], "<alerts@stswatch.test>")
        # Submitted over STARTTLS with AUTH, as the relay requires.
        self.assertEqual(mail["smtp_protocol"], "ESMTPSA")
        self.assertIn(mail["authenticated_sender"], ("alerter", "alerter@alerts.test"))
        post = self.accepted()[0]
        self.assertTrue(post["signature_valid"], post.get("signature_error"))
        self.assertEqual(post["state"], "opened")
        self.assertEqual(post["severity"], "critical")
        self.assertEqual(post["domain"], "expire.alert.test")
        self.assertEqual(post["problem_key"], "cert_expiring:mx-exp.expire.alert.test")
        self.assertEqual(post["alert_id"], mail["x_stswatch_alert"])
        self.assertIn("renew", post["body"]["fix"].lower() + post["body"]["detail"].lower())
        alert_id = post["alert_id"]

        open_a = ListOpenAlerts(ch)(api_pb2.ListOpenAlertsRequest(), metadata=auth(ta))
        self.assertIn(alert_id, [x.alert_id for x in open_a.alerts])
        self.assertEqual(len(ListOpenAlerts(ch)(api_pb2.ListOpenAlertsRequest(),
                                                metadata=auth(tb)).alerts), 0)
        # The intranet channel: a dead letter, with the reason.
        dead = ListDeliveries(ch)(api_pb2.ListDeliveriesRequest(which="dead"), metadata=auth(ta))
        self.assertEqual([d.channel for d in dead.deliveries], ["intranet"])
        self.assertIn("intranet.ok.alert.test resolves only to refused addresses: 127.48.200.9",
                      dead.deliveries[0].last_error)
        self.assertIn("intranet", self.ctl(ta, "alerts", "dead").stdout)

        # --- Fixed: one resolved notification on each channel, threaded to the first.
        self.apply("alert-before.yaml")
        self.wait_counts(2, 2, "the resolution")
        resolved = self.mails()[1]
        self.assertEqual(resolved["x_stswatch_state"], "resolved")
        self.assertEqual(resolved["in_reply_to"], mail["message_id"])
        post = self.accepted()[1]
        self.assertEqual((post["state"], post["alert_id"]), ("resolved", alert_id))
        self.assertTrue(post["signature_valid"])
        self.assertEqual(len(ListOpenAlerts(ch)(api_pb2.ListOpenAlertsRequest(),
                                                metadata=auth(ta)).alerts), 0)

        # --- The receiver refuses for a while; serve dies in the middle of the retries.
        open(self.fail_file, "w").close()
        self.apply("alert-after.yaml")
        wait_until(lambda: len([h for h in self.hooks() if h["status"] == 500]) >= 2, 60,
                   "refused webhook attempts", self.log_tail)
        wait_until(lambda: len(self.mails()) >= 3, 60, "the second alert's e-mail")
        self.serve.send_signal(signal.SIGKILL)
        self.serve.wait(timeout=30)
        refused_before = len([h for h in self.hooks() if h["status"] == 500])

        # While no alerter runs, the fix happens; the events it makes are read by a consumer
        # that then dies without acknowledging them (they stay pending in the group).
        self.start_serve("--no-alerter")
        self.apply("alert-before.yaml")
        # (The API of this serve answers; the fix is stored once the domain is ok again.)
        grpc.channel_ready_future(ch).result(timeout=60)
        wait_until(lambda: {d.domain: d.status for d in ListDomains(ch)(
            api_pb2.ListDomainsRequest(), metadata=auth(ta)).domains}.get(
                "expire.alert.test") == "ok", 60, "the fix checked", self.log_tail)
        self.serve.terminate()
        self.serve.wait(timeout=60)
        ghost_claimed = self.claim_as_ghost()
        self.assertGreater(ghost_claimed, 0, "the fix's events are pending with a dead consumer")

        # From now on the alerter runs as a process of its own, beside serve.
        self.start_serve("--no-alerter")
        self.start_alerter()
        # Retrying resumes after the restart, still refused...
        wait_until(lambda: len([h for h in self.hooks() if h["status"] == 500]) > refused_before,
                   60, "retries after the restart", self.log_tail)
        # ...the pending events were reclaimed: the resolution is mailed...
        wait_until(lambda: len(self.mails()) >= 4, 60, "the reclaimed resolution", self.log_tail)
        # ...and the receiver accepts again: everything arrives, once, in order.
        os.remove(self.fail_file)
        self.wait_counts(4, 4, "the retried notifications")
        ids = [h["delivery_id"] for h in self.accepted()]
        self.assertEqual(len(ids), len(set(ids)), ids)
        second = [h for h in self.accepted() if h["alert_id"] != alert_id]
        self.assertEqual([h["state"] for h in second], ["opened", "resolved"])
        self.assertTrue(all(h["signature_valid"] for h in self.accepted()))
        states = [m["x_stswatch_state"] for m in self.mails()]
        self.assertEqual(states, ["opened", "resolved", "opened", "resolved"])
        self.assertEqual(len({m["message_id"] for m in self.mails()}), 4)
        sent = ListDeliveries(ch)(api_pb2.ListDeliveriesRequest(which="sent"), metadata=auth(ta))
        retried = [d for d in sent.deliveries if d.channel == "hook" and d.state == "opened" and
                   d.alert_id != alert_id]
        self.assertEqual(len(retried), 1)
        self.assertGreater(retried[0].attempts, 2)

        # The standalone alerter's metrics count what it did.
        text = urllib.request.urlopen(f"http://{METRICS}/metrics", timeout=10).read().decode()
        def value(series):
            m = re.search("^" + re.escape(series) + r" (\S+)$", text, re.MULTILINE)
            self.assertIsNotNone(m, series)
            return float(m.group(1))
        self.assertGreaterEqual(value('stswatch_alert_deliveries_total{channel="webhook",'
                                      'outcome="retry"}'), 1)
        self.assertGreaterEqual(value('stswatch_alert_deliveries_total{channel="webhook",'
                                      'outcome="delivered"}'), 2)
        self.assertEqual(value("stswatch_alert_deliveries_pending"), 0)

    def claim_as_ghost(self):
        """Reads every partition's new events as consumer "ghost" of the alerter's group, without
        acknowledging them: what an alerter that crashed after reading leaves behind."""
        streams = ["stswatch:{p%d}:events" % p for p in range(64)]
        out = subprocess.run(["redis-cli", "-s", self.redis_sock, "--raw", "XREADGROUP", "GROUP",
                              "alerter", "ghost", "COUNT", "1000", "STREAMS", *streams] +
                             [">"] * len(streams), capture_output=True, text=True, check=True)
        pending = 0
        for s in streams:
            r = subprocess.run(["redis-cli", "-s", self.redis_sock, "--raw", "XPENDING", s,
                                "alerter"], capture_output=True, text=True, check=True)
            first = r.stdout.split("\n")[0].strip()
            pending += int(first) if first.isdigit() else 0
        return pending if out.returncode == 0 else 0


if __name__ == "__main__":
    unittest.main(verbosity=2)
