#include "alerting/rules.h"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "drift/events.h"
#include "drift/snapshot.h"

namespace stswatch::alerting {
namespace {

using drift::Event;
using drift::EventKind;
using drift::Snapshot;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace std::chrono_literals;

// 2026-03-01T12:00:00Z.
constexpr Time kT0 = std::chrono::sys_days{std::chrono::year{2026} / 3 / 1} + 12h;

TenantPolicy Policy(const std::string& tenant = "acme") {
  TenantPolicy p;
  p.tenant = tenant;
  return p;
}

// ---- Worlds turned into events by drift::Diff, as the store does ----

struct Mx {
  std::string host;
  bool covered = true;
  drift::StartTls starttls = drift::StartTls::kEstablished;
};

Snapshot Domain(const std::string& mode, const std::vector<std::string>& patterns,
                const std::vector<Mx>& mx, const std::string& id, std::uint32_t max_age = 604800,
                const std::string& domain = "example.com") {
  Snapshot s;
  s.domain = domain;
  s.sts_present = true;
  s.sts_id = id;
  s.fetch = "ok";
  s.mode = mode;
  s.max_age = max_age;
  s.policy_mx = patterns;
  s.policy_body = "version: STSv1\nmode: " + mode + "\n";
  for (const std::string& p : patterns) {
    s.policy_body += "mx: " + p + "\n";
  }
  s.policy_body += "max_age: " + std::to_string(max_age) + "\n";
  s.policy_sha256 = std::to_string(std::hash<std::string>()(s.policy_body));
  bool refuse = false;
  for (const Mx& m : mx) {
    drift::MxSnapshot ms;
    ms.host = m.host;
    ms.covered = m.covered;
    ms.starttls = m.starttls;
    ms.tls_version = m.starttls == drift::StartTls::kEstablished ? "TLSv1.3" : "";
    ms.deliver = m.covered && m.starttls == drift::StartTls::kEstablished;
    refuse = refuse || !ms.deliver;
    s.mx_hosts.push_back(m.host);
    s.mx.push_back(ms);
  }
  s.status = !refuse ? "ok" : mode == "enforce" ? "failing" : "warning";
  return s;
}

// A domain's history: each Step is one check that changed the state.
class World {
 public:
  std::vector<Event> Step(const Snapshot& next, Time at) {
    drift::Transition t;
    t.domain = next.domain;
    t.previous_hash = previous_ ? drift::StateHash(*previous_) : "";
    t.next_hash = drift::StateHash(next);
    t.version = version_++;
    t.time = at;
    std::vector<Event> events = drift::Diff(previous_, next, t);
    previous_ = next;
    return events;
  }

 private:
  std::optional<Snapshot> previous_;
  std::uint64_t version_ = 0;
};

std::vector<Notification> Feed(AlertBook& book, const TenantPolicy& policy,
                               const std::vector<Event>& events, Time now) {
  std::vector<Notification> out;
  for (const Event& e : events) {
    for (Notification& n : book.OnEvent(policy, e, now)) {
      out.push_back(std::move(n));
    }
  }
  return out;
}

// "<kind> <severity> <problem key>" for compact expectations.
std::vector<std::string> Digest(const std::vector<Notification>& ns) {
  std::vector<std::string> out;
  out.reserve(ns.size());
  for (const Notification& n : ns) {
    out.push_back(std::string(NotificationKindName(n.kind)) + " " +
                  std::string(SeverityName(n.problem.severity)) + " " + n.problem.key);
  }
  return out;
}

// A hand-built event, for shapes a test wants exactly.
Event Ev(const std::string& id, EventKind kind, Severity severity, const std::string& subject,
         const std::string& before, const std::string& after, Time at,
         const std::string& domain = "example.com") {
  Event e;
  e.id = id;
  e.domain = domain;
  e.kind = kind;
  e.severity = severity;
  e.subject = subject;
  e.time = at;
  e.before = before;
  e.after = after;
  e.message = "message of " + id + ".";
  return e;
}

std::vector<Mx> Good() { return {{"mx1.example.com"}, {"mx2.example.com"}}; }
std::vector<Mx> Mx9Uncovered() { return {{"mx1.example.com"}, {"mx9.example.net", false}}; }

// ---- Lifecycle ----

TEST(AlertLifecycle, OpensOnceRemindsAfterTheQuietPeriodAndResolvesOnce) {
  AlertBook book;
  const TenantPolicy policy = Policy();
  World w;
  Feed(book, policy,
       w.Step(Domain("enforce", {"mx1.example.com"}, {{"mx1.example.com"}}, "1"), kT0), kT0);

  // mx9.example.net appears, not covered: the domain fails in enforce mode.
  const Time t1 = kT0 + 1h;
  const std::vector<Notification> opened = Feed(
      book, policy, w.Step(Domain("enforce", {"mx1.example.com"}, Mx9Uncovered(), "1"), t1), t1);
  // One message for one cause: the domain's failing status is explained by the uncovered MX, so
  // its alert stays silent (AlertBook::Covered), also at the next tick.
  EXPECT_THAT(Digest(opened), ElementsAre("notice info event:mx_set_changed",
                                          "opened critical mx_not_covered:mx9.example.net"));
  EXPECT_THAT(book.OnTick(t1), IsEmpty());
  const Notification& mx9 = opened[1];
  EXPECT_EQ(mx9.sequence, 0u);
  EXPECT_EQ(mx9.opened_at, t1);
  EXPECT_EQ(mx9.problem.host, "mx9.example.net");
  EXPECT_EQ(mx9.problem.detail,
            "MX host mx9.example.net is not covered by the MTA-STS policy of example.com (mode "
            "enforce): compliant senders refuse to deliver to it.");
  EXPECT_THAT(mx9.problem.fix,
              HasSubstr("Add the line `mx: mx9.example.net` to "
                        "https://mta-sts.example.com/.well-known/mta-sts.txt and publish a new id "
                        "in the _mta-sts.example.com TXT record"));
  EXPECT_EQ(mx9.problem.rfc, "RFC 8461 §4.1, §3.1");

  // Later checks see the same problem (new event ids, e.g. after a flap of something else): no
  // second alert.
  const Event again = Ev("e-again", EventKind::kMxNotCovered, Severity::kCritical,
                         "mx9.example.net", "null", "\"mx9.example.net\"", t1 + 2h);
  EXPECT_THAT(book.OnEvent(policy, again, t1 + 2h), IsEmpty());
  EXPECT_EQ(book.OpenAlerts("acme").size(), 2u);

  // Not before the quiet period (24 h after the last notification)...
  EXPECT_THAT(book.OnTick(t1 + 23h + 59min), IsEmpty());
  // ...then once per alert, and not again right after.
  const std::vector<Notification> reminders = book.OnTick(t1 + 24h);
  EXPECT_THAT(Digest(reminders), ElementsAre("reminder critical mx_not_covered:mx9.example.net"));
  EXPECT_EQ(reminders[0].alert_id, mx9.alert_id);
  EXPECT_EQ(reminders[0].sequence, 1u);
  EXPECT_EQ(reminders[0].opened_at, t1);
  EXPECT_THAT(book.OnTick(t1 + 25h), IsEmpty());
  EXPECT_THAT(Digest(book.OnTick(t1 + 48h)),
              ElementsAre("reminder critical mx_not_covered:mx9.example.net"));

  // The operator adds the mx line and a new id: both alerts resolve, once.
  const Time t2 = t1 + 50h;
  const std::vector<Notification> resolved =
      Feed(book, policy,
           w.Step(Domain("enforce", {"mx1.example.com", "mx9.example.net"},
                         {{"mx1.example.com"}, {"mx9.example.net"}}, "2"),
                  t2),
           t2);
  // The status alert was never told: it resolves silently.
  EXPECT_THAT(Digest(resolved),
              ElementsAre("resolved critical mx_not_covered:mx9.example.net",
                          "notice info event:policy_changed:mta-sts.example.com"));
  EXPECT_EQ(resolved[0].alert_id, mx9.alert_id);
  EXPECT_EQ(resolved[0].sequence, 3u);
  EXPECT_EQ(resolved[0].resolved_at, t2);
  EXPECT_THAT(book.OpenAlerts("acme"), IsEmpty());
  EXPECT_THAT(book.OnTick(t2 + 72h), IsEmpty());

  // The problem comes back: a new alert, with a new id, numbered from 0 again.
  const Time t3 = t2 + 100h;
  const std::vector<Notification> reopened = Feed(
      book, policy, w.Step(Domain("enforce", {"mx1.example.com"}, Mx9Uncovered(), "3"), t3), t3);
  ASSERT_THAT(Digest(reopened),
              ::testing::Contains("opened critical mx_not_covered:mx9.example.net"));
  for (const Notification& n : reopened) {
    if (n.problem.key == "mx_not_covered:mx9.example.net") {
      EXPECT_NE(n.alert_id, mx9.alert_id);
      EXPECT_EQ(n.sequence, 0u);
      EXPECT_EQ(n.opened_at, t3);
    }
  }
}

TEST(AlertLifecycle, AnEventIdSeenTwiceProducesNothingTheSecondTime) {
  AlertBook book;
  const TenantPolicy policy = Policy();
  const Event lost = Ev("e1", EventKind::kStartTlsLost, Severity::kCritical, "mx1.example.com",
                        "\"established\"", "\"not-offered\"", kT0);
  EXPECT_THAT(Digest(book.OnEvent(policy, lost, kT0)),
              ElementsAre("opened critical starttls:mx1.example.com"));
  EXPECT_THAT(book.OnEvent(policy, lost, kT0 + 1min), IsEmpty());

  const Event regained = Ev("e2", EventKind::kStartTlsRegained, Severity::kInfo, "mx1.example.com",
                            "\"not-offered\"", "\"established\"", kT0 + 1h);
  EXPECT_THAT(Digest(book.OnEvent(policy, regained, kT0 + 1h)),
              ElementsAre("resolved critical starttls:mx1.example.com"));
  // A redelivery of the resolving event, and of the opening one, after the alert is gone.
  EXPECT_THAT(book.OnEvent(policy, regained, kT0 + 2h), IsEmpty());
  EXPECT_THAT(book.OnEvent(policy, lost, kT0 + 2h), IsEmpty());
  EXPECT_THAT(book.OpenAlerts("acme"), IsEmpty());

  // Notices too.
  const Event tlsrpt = Ev("e3", EventKind::kTlsRptRecordChanged, Severity::kInfo, "", "null",
                          "\"v=TLSRPTv1; rua=mailto:r@example.com\"", kT0);
  EXPECT_EQ(book.OnEvent(policy, tlsrpt, kT0).size(), 1u);
  EXPECT_THAT(book.OnEvent(policy, tlsrpt, kT0), IsEmpty());
  // Ids are remembered for dedup_retention (7 days), then forgotten.
  book.OnTick(kT0 + 6 * 24h);
  EXPECT_THAT(book.OnEvent(policy, tlsrpt, kT0 + 6 * 24h), IsEmpty());
  book.OnTick(kT0 + 8 * 24h);
  EXPECT_EQ(book.OnEvent(policy, tlsrpt, kT0 + 8 * 24h).size(), 1u);
}

TEST(AlertLifecycle, EachTenantHasItsOwnAlertsAndDedup) {
  AlertBook book;
  const Event lost = Ev("e1", EventKind::kStartTlsLost, Severity::kWarning, "mx1.example.com",
                        "\"established\"", "\"failed\"", kT0);
  const std::vector<Notification> a = book.OnEvent(Policy("a"), lost, kT0);
  const std::vector<Notification> b = book.OnEvent(Policy("b"), lost, kT0);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].tenant, "a");
  EXPECT_EQ(b[0].tenant, "b");
  EXPECT_NE(a[0].alert_id, b[0].alert_id);
  EXPECT_THAT(a[0].problem.summary, HasSubstr("fails the STARTTLS handshake"));
}

TEST(AlertLifecycle, AlertIdsAreDeterministic) {
  const Event lost = Ev("e1", EventKind::kStartTlsLost, Severity::kCritical, "mx1.example.com",
                        "\"established\"", "\"not-offered\"", kT0);
  AlertBook one;
  AlertBook two;
  const std::vector<Notification> a = one.OnEvent(Policy(), lost, kT0);
  const std::vector<Notification> b = two.OnEvent(Policy(), lost, kT0 + 5min);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].alert_id, b[0].alert_id);
  EXPECT_EQ(a[0].alert_id.size(), 32u);
}

// ---- Rules and severities ----

TEST(AlertRules, UncoveredMxIsCriticalInEnforceAndWarningInTesting) {
  for (const auto& [mode, severity] :
       {std::pair<std::string, std::string>{"enforce", "critical"}, {"testing", "warning"}}) {
    AlertBook book;
    World w;
    Feed(book, Policy(), w.Step(Domain(mode, {"mx1.example.com"}, {{"mx1.example.com"}}, "1"), kT0),
         kT0);
    const std::vector<Notification> ns =
        Feed(book, Policy(),
             w.Step(Domain(mode, {"mx1.example.com"}, Mx9Uncovered(), "1"), kT0 + 1h), kT0 + 1h);
    const std::vector<std::string> digest = Digest(ns);
    EXPECT_THAT(digest,
                ::testing::Contains("opened " + severity + " mx_not_covered:mx9.example.net"))
        << mode;
    if (mode == "testing") {
      // A testing domain that would fail under enforce: the status is only "warning".
      EXPECT_THAT(digest, ::testing::Not(::testing::Contains(HasSubstr(" status"))));
      for (const Notification& n : ns) {
        if (n.problem.key == "mx_not_covered:mx9.example.net") {
          EXPECT_THAT(n.problem.detail, HasSubstr("(mode testing)"));
        }
      }
    }
  }
}

TEST(AlertRules, BrokenPolicyIsCriticalInEnforceAndWarningOtherwise) {
  for (const auto& [severity, expected] :
       {std::pair<Severity, std::string>{Severity::kCritical, "critical"},
        {Severity::kWarning, "warning"}}) {
    AlertBook book;
    const Event broken =
        Ev("b1", EventKind::kStatusChanged, severity, "", "\"ok\"", "\"broken\"", kT0);
    // A status alert waits for the tick: a later event of the same check may explain it.
    EXPECT_THAT(book.OnEvent(Policy(), broken, kT0), IsEmpty());
    const std::vector<Notification> ns = book.OnTick(kT0);
    ASSERT_EQ(ns.size(), 1u);
    EXPECT_EQ(Digest(ns)[0], "opened " + expected + " status");
    EXPECT_EQ(ns[0].problem.host, "mta-sts.example.com");
    EXPECT_THAT(ns[0].problem.fix, HasSubstr("`v=STSv1; id=`"));
    // Back to ok, warning or none: resolved.
    const Event back = Ev("b2", EventKind::kStatusChanged, Severity::kWarning, "", "\"broken\"",
                          "\"warning\"", kT0 + 1h);
    EXPECT_THAT(Digest(book.OnEvent(Policy(), back, kT0 + 1h)),
                ElementsAre("resolved " + expected + " status"));
  }
}

TEST(AlertRules, FirstCheckOfAFailingDomainOpensTheStatusAlert) {
  AlertBook book;
  World w;
  EXPECT_THAT(Feed(book, Policy(),
                   w.Step(Domain("enforce", {"mx1.example.com"}, Mx9Uncovered(), "1"), kT0), kT0),
              IsEmpty());
  const std::vector<Notification> ns = book.OnTick(kT0);
  EXPECT_THAT(Digest(ns), ElementsAre("opened critical status"));
  EXPECT_THAT(ns[0].problem.summary, HasSubstr("example.com is failing"));

  AlertBook ok_book;
  World ok;
  EXPECT_THAT(Digest(Feed(ok_book, Policy(),
                          ok.Step(Domain("enforce", {"*.example.com"}, Good(), "1"), kT0), kT0)),
              ElementsAre("notice info event:first_check"));
}

TEST(AlertRules, AStatusAlertSpeaksOnlyForWhatNoOtherAlertExplains) {
  AlertBook book;
  const TenantPolicy policy = Policy();
  // One check: the status goes to failing and mx1 loses STARTTLS.
  const std::vector<Event> check = {
      Ev("s1", EventKind::kStatusChanged, Severity::kCritical, "", "\"ok\"", "\"failing\"", kT0),
      Ev("t1", EventKind::kStartTlsLost, Severity::kCritical, "mx1.example.com", "\"established\"",
         "\"not_offered\"", kT0)};
  EXPECT_THAT(Digest(Feed(book, policy, check, kT0)),
              ElementsAre("opened critical starttls:mx1.example.com"));
  EXPECT_THAT(book.OnTick(kT0 + 1min), IsEmpty());
  // STARTTLS is back but the domain still fails (for a reason no event named): now the status
  // alert speaks.
  book.OnEvent(policy,
               Ev("t2", EventKind::kStartTlsRegained, Severity::kInfo, "mx1.example.com",
                  "\"not_offered\"", "\"established\"", kT0 + 1h),
               kT0 + 1h);
  EXPECT_THAT(Digest(book.OnTick(kT0 + 1h)), ElementsAre("opened critical status"));
}

TEST(AlertRules, HistoryMovesTheStateAndOnlyWhatIsStillOpenIsSaid) {
  AlertBook book;
  const TenantPolicy policy = Policy();
  const auto lost = [](const std::string& id, const std::string& host, Time at) {
    return Ev(id, EventKind::kStartTlsLost, Severity::kCritical, host, "\"established\"",
              "\"not_offered\"", at);
  };
  const auto back = [](const std::string& id, const std::string& host, Time at) {
    return Ev(id, EventKind::kStartTlsRegained, Severity::kInfo, host, "\"not_offered\"",
              "\"established\"", at);
  };
  // Days of history, read at once: mx1 broke and was fixed, mx2 broke and still is.
  EXPECT_THAT(book.OnEvent(policy, lost("h1", "mx1.example.com", kT0), kT0 + 72h, false),
              IsEmpty());
  EXPECT_THAT(book.OnEvent(policy, back("h2", "mx1.example.com", kT0 + 1h), kT0 + 72h, false),
              IsEmpty());
  EXPECT_THAT(book.OnEvent(policy, lost("h3", "mx2.example.com", kT0 + 2h), kT0 + 72h, false),
              IsEmpty());
  // The tick says what is open now, once.
  const std::vector<Notification> now = book.OnTick(kT0 + 72h);
  EXPECT_THAT(Digest(now), ElementsAre("opened critical starttls:mx2.example.com"));
  EXPECT_EQ(now[0].opened_at, kT0 + 2h);
  EXPECT_THAT(book.OnTick(kT0 + 72h + 1min), IsEmpty());
  // A resolution read as history of an alert already told is still said.
  EXPECT_THAT(
      Digest(book.OnEvent(policy, back("h4", "mx2.example.com", kT0 + 73h), kT0 + 80h, false)),
      ElementsAre("resolved critical starttls:mx2.example.com"));
}

TEST(AlertRules, StatusOkResolvesPerHostProblems) {
  AlertBook book;
  const TenantPolicy policy = Policy();
  book.OnEvent(policy,
               Ev("e1", EventKind::kStartTlsLost, Severity::kCritical, "mx1.example.com",
                  "\"established\"", "\"failed\"", kT0),
               kT0);
  book.OnEvent(policy,
               Ev("e2", EventKind::kMxNotCovered, Severity::kCritical, "mx2.example.com", "null",
                  "\"mx2.example.com\"", kT0),
               kT0);
  book.OnEvent(policy,
               Ev("e3", EventKind::kCertificateExpiring, Severity::kWarning, "mx1.example.com",
                  "\"30d\"", "\"14d\"", kT0),
               kT0);
  const std::vector<Notification> ns = book.OnEvent(
      policy,
      Ev("e4", EventKind::kStatusChanged, Severity::kInfo, "", "\"failing\"", "\"ok\"", kT0 + 1h),
      kT0 + 1h);
  EXPECT_THAT(Digest(ns), ElementsAre("resolved critical mx_not_covered:mx2.example.com",
                                      "resolved critical starttls:mx1.example.com"));
  // A certificate 14 days from expiry is still that, whatever the status.
  ASSERT_EQ(book.OpenAlerts("acme").size(), 1u);
  EXPECT_EQ(book.OpenAlerts("acme")[0].problem.key, "cert_expiring:mx1.example.com");
}

TEST(AlertRules, UncoveredMxResolvesWhenItLeavesTheMxSet) {
  AlertBook book;
  World w;
  const TenantPolicy policy = Policy();
  Feed(book, policy,
       w.Step(Domain("testing", {"mx1.example.com"}, {{"mx1.example.com"}}, "1"), kT0), kT0);
  Feed(book, policy, w.Step(Domain("testing", {"mx1.example.com"}, Mx9Uncovered(), "1"), kT0 + 1h),
       kT0 + 1h);
  ASSERT_EQ(book.OpenAlerts("acme").size(), 1u);
  // mx9 goes away while mx1 loses STARTTLS (so the status stays "warning").
  const std::vector<Notification> ns =
      Feed(book, policy,
           w.Step(Domain("testing", {"mx1.example.com"},
                         {{"mx1.example.com", true, drift::StartTls::kNotOffered}}, "1"),
                  kT0 + 2h),
           kT0 + 2h);
  EXPECT_THAT(Digest(ns), ElementsAre("resolved warning mx_not_covered:mx9.example.net",
                                      "opened warning starttls:mx1.example.com"));
  ASSERT_EQ(book.OpenAlerts("acme").size(), 1u);
  EXPECT_EQ(book.OpenAlerts("acme")[0].problem.key, "starttls:mx1.example.com");
}

TEST(AlertRules, CertificateWindowsEscalateOneAlertUntilTheCertificateIsRenewed) {
  AlertBook book;
  const TenantPolicy policy = Policy();
  const std::string host = "mx1.example.com";
  const auto expiring = [&](const std::string& id, Severity s, const std::string& before,
                            const std::string& after, Time at) {
    return book.OnEvent(policy,
                        Ev(id, EventKind::kCertificateExpiring, s, host, "\"" + before + "\"",
                           "\"" + after + "\"", at),
                        at);
  };
  const std::vector<Notification> d30 = expiring("c1", Severity::kInfo, "", "30d", kT0);
  EXPECT_THAT(Digest(d30), ElementsAre("opened info cert_expiring:mx1.example.com"));
  EXPECT_EQ(d30[0].problem.summary, "The certificate of mx1.example.com expires within 30 days");
  // Info alerts are said once: no reminders.
  EXPECT_THAT(book.OnTick(kT0 + 5 * 24h), IsEmpty());

  const std::vector<Notification> d14 =
      expiring("c2", Severity::kWarning, "30d", "14d", kT0 + 16 * 24h);
  EXPECT_THAT(Digest(d14), ElementsAre("escalated warning cert_expiring:mx1.example.com"));
  EXPECT_EQ(d14[0].previous_severity, Severity::kInfo);
  EXPECT_EQ(d14[0].alert_id, d30[0].alert_id);
  EXPECT_EQ(d14[0].opened_at, kT0);
  EXPECT_EQ(d14[0].sequence, 1u);
  // 7 days: still a warning, nothing new to say.
  EXPECT_THAT(expiring("c3", Severity::kWarning, "14d", "7d", kT0 + 23 * 24h), IsEmpty());
  // ...but its reminders say 7 days now.
  const std::vector<Notification> reminder = book.OnTick(kT0 + 24 * 24h);
  ASSERT_EQ(reminder.size(), 1u);
  EXPECT_EQ(reminder[0].kind, NotificationKind::kReminder);
  EXPECT_EQ(reminder[0].problem.summary,
            "The certificate of mx1.example.com expires within 7 days");
  const std::vector<Notification> d1 =
      expiring("c4", Severity::kCritical, "7d", "1d", kT0 + 29 * 24h);
  EXPECT_THAT(Digest(d1), ElementsAre("escalated critical cert_expiring:mx1.example.com"));
  EXPECT_EQ(d1[0].problem.summary, "The certificate of mx1.example.com expires within 1 day");
  EXPECT_EQ(d1[0].sequence, 3u);
  EXPECT_THAT(d1[0].event_ids, ElementsAre("c1", "c2", "c3", "c4"));

  // Renewed: a certificate_changed for the host with no expiry window.
  const std::vector<Notification> renewed = book.OnEvent(
      policy,
      Ev("c5", EventKind::kCertificateChanged, Severity::kInfo, host, "{}",
         R"({"sha256":"ab","issuer":"R3","names":["mx1.example.com"],"not_after":"2026-06-01T00:00:00Z","window":""})",
         kT0 + 29 * 24h + 3h),
      kT0 + 29 * 24h + 3h);
  EXPECT_THAT(Digest(renewed), ElementsAre("resolved critical cert_expiring:mx1.example.com"));
}

TEST(AlertRules, ACertificateWithoutTheHostNameIsAProblemWithTheNameInTheFix) {
  AlertBook book;
  TenantPolicy policy = Policy();
  drift::Snapshot s = Domain("enforce", {"*.example.com"}, Good(), "1");
  book.NoteSnapshot("acme", s);
  const std::vector<Notification> ns = book.OnEvent(
      policy,
      Ev("n1", EventKind::kCertificateChanged, Severity::kInfo, "mx2.example.com", "{}",
         R"({"sha256":"cd","issuer":"R3","names":["mail.example.org","*.mx.example.com"],"not_after":"2026-06-01T00:00:00Z","window":""})",
         kT0),
      kT0);
  ASSERT_THAT(Digest(ns), ElementsAre("opened critical cert_name_missing:mx2.example.com"));
  EXPECT_THAT(ns[0].problem.detail, HasSubstr("mail.example.org, *.mx.example.com"));
  EXPECT_THAT(ns[0].problem.fix, HasSubstr("`mx2.example.com` among its subjectAltName"));
  // A wildcard certificate naming it resolves it.
  const std::vector<Notification> fixed = book.OnEvent(
      policy,
      Ev("n2", EventKind::kCertificateChanged, Severity::kInfo, "mx2.example.com", "{}",
         R"({"sha256":"ef","issuer":"R3","names":["*.example.com"],"not_after":"2026-06-01T00:00:00Z","window":""})",
         kT0 + 1h),
      kT0 + 1h);
  EXPECT_THAT(Digest(fixed), ElementsAre("resolved critical cert_name_missing:mx2.example.com"));
}

TEST(AlertRules, PolicyChangedWithoutIdChangeUntilTheIdIsBumped) {
  AlertBook book;
  World w;
  const TenantPolicy policy = Policy();
  Feed(book, policy,
       w.Step(Domain("enforce", {"mx1.example.com"}, {{"mx1.example.com"}}, "20260101"), kT0), kT0);
  // The body gains a line but the id stays.
  const std::vector<Notification> opened =
      Feed(book, policy,
           w.Step(Domain("enforce", {"mx1.example.com", "mx2.example.com"}, {{"mx1.example.com"}},
                         "20260101"),
                  kT0 + 1h),
           kT0 + 1h);
  ASSERT_THAT(Digest(opened), ElementsAre("opened warning policy_changed_without_id_change"));
  EXPECT_THAT(opened[0].problem.fix, HasSubstr("Publish a new id in the _mta-sts.example.com TXT "
                                               "record (`v=STSv1; id=20260301130000;` instead of "
                                               "id 20260101)"));
  EXPECT_EQ(opened[0].problem.rfc, "RFC 8461 §3.1, §8.1");
  // The id is bumped (same body): resolved.
  const std::vector<Notification> resolved =
      Feed(book, policy,
           w.Step(Domain("enforce", {"mx1.example.com", "mx2.example.com"}, {{"mx1.example.com"}},
                         "20260301130000"),
                  kT0 + 2h),
           kT0 + 2h);
  EXPECT_THAT(Digest(resolved), ElementsAre("resolved warning policy_changed_without_id_change"));
}

TEST(AlertRules, ShortMaxAgeInEnforceIsAWarning) {
  AlertBook book;
  World w;
  const TenantPolicy policy = Policy();
  Feed(book, policy,
       w.Step(Domain("enforce", {"mx1.example.com"}, {{"mx1.example.com"}}, "1", 31557600), kT0),
       kT0);
  const std::vector<Notification> ns = Feed(
      book, policy,
      w.Step(Domain("enforce", {"mx1.example.com"}, {{"mx1.example.com"}}, "2", 86400), kT0 + 1h),
      kT0 + 1h);
  EXPECT_THAT(Digest(ns), ElementsAre("notice info event:policy_changed:mta-sts.example.com",
                                      "opened warning max_age_short"));
  EXPECT_THAT(ns[1].problem.detail, HasSubstr("for only 1 day"));
  EXPECT_THAT(ns[1].problem.fix, HasSubstr("`max_age: 2592000`"));
  // Back to a year: resolved.
  const std::vector<Notification> back =
      Feed(book, policy,
           w.Step(Domain("enforce", {"mx1.example.com"}, {{"mx1.example.com"}}, "3", 31557600),
                  kT0 + 2h),
           kT0 + 2h);
  EXPECT_THAT(Digest(back), ::testing::Contains("resolved warning max_age_short"));

  // In testing mode a short max_age is only drift.
  AlertBook testing_book;
  World t;
  Feed(testing_book, policy,
       t.Step(Domain("testing", {"mx1.example.com"}, {{"mx1.example.com"}}, "1", 31557600), kT0),
       kT0);
  EXPECT_THAT(
      Digest(Feed(testing_book, policy,
                  t.Step(Domain("testing", {"mx1.example.com"}, {{"mx1.example.com"}}, "2", 86400),
                         kT0 + 1h),
                  kT0 + 1h)),
      ElementsAre("notice info event:policy_changed:mta-sts.example.com",
                  "notice info event:max_age_changed"));
}

TEST(AlertRules, OtherDriftIsAnInfoNoticeThatOpensAndClosesAtOnce) {
  AlertBook book;
  const std::vector<Notification> ns =
      book.OnEvent(Policy(),
                   Ev("t1", EventKind::kTlsRptRecordChanged, Severity::kInfo, "", "null",
                      "\"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\"", kT0),
                   kT0);
  ASSERT_EQ(ns.size(), 1u);
  EXPECT_EQ(ns[0].kind, NotificationKind::kNotice);
  EXPECT_EQ(ns[0].problem.severity, Severity::kInfo);
  EXPECT_EQ(ns[0].problem.summary, "message of t1.");
  EXPECT_EQ(ns[0].resolved_at, kT0);
  EXPECT_THAT(book.OpenAlerts("acme"), IsEmpty());
  EXPECT_THAT(book.OnTick(kT0 + 48h), IsEmpty());
}

// ---- Tenant overrides ----

TEST(TenantOverrides, MinimumSeverityHidesAlertsUntilTheyAreSevereEnough) {
  AlertBook book;
  TenantPolicy policy = Policy();
  policy.minimum_severity = Severity::kWarning;
  // Below the minimum: no notice, no info alert...
  EXPECT_THAT(book.OnEvent(policy,
                           Ev("i1", EventKind::kTlsRptRecordChanged, Severity::kInfo, "", "null",
                              "\"v=TLSRPTv1;\"", kT0),
                           kT0),
              IsEmpty());
  EXPECT_THAT(book.OnEvent(policy,
                           Ev("c1", EventKind::kCertificateExpiring, Severity::kInfo,
                              "mx1.example.com", "\"\"", "\"30d\"", kT0),
                           kT0),
              IsEmpty());
  // ...but the alert is tracked: at 14 days it is news to this tenant, so it is "opened".
  const std::vector<Notification> ns =
      book.OnEvent(policy,
                   Ev("c2", EventKind::kCertificateExpiring, Severity::kWarning, "mx1.example.com",
                      "\"30d\"", "\"14d\"", kT0 + 16 * 24h),
                   kT0 + 16 * 24h);
  EXPECT_THAT(Digest(ns), ElementsAre("opened warning cert_expiring:mx1.example.com"));
  EXPECT_EQ(ns[0].sequence, 0u);
  EXPECT_EQ(ns[0].opened_at, kT0);

  // An alert never notified resolves silently.
  TenantPolicy critical_only = policy;
  critical_only.minimum_severity = Severity::kCritical;
  book.OnEvent(critical_only,
               Ev("p1", EventKind::kPolicyChangedWithoutIdChange, Severity::kWarning,
                  "mta-sts.example.com", "\"a\"", "\"b\"", kT0),
               kT0);
  EXPECT_THAT(book.OnEvent(critical_only,
                           Ev("p2", EventKind::kIdChangedSamePolicy, Severity::kInfo, "", "\"1\"",
                              "\"2\"", kT0 + 1h),
                           kT0 + 1h),
              IsEmpty());
}

TEST(TenantOverrides, MutedDomainsAreTrackedSilently) {
  AlertBook book;
  TenantPolicy policy = Policy();
  policy.muted_domains = {"Example.COM"};
  const Event lost = Ev("m1", EventKind::kStartTlsLost, Severity::kCritical, "mx1.example.com",
                        "\"established\"", "\"failed\"", kT0);
  EXPECT_THAT(book.OnEvent(policy, lost, kT0), IsEmpty());
  // Other domains of the tenant are not muted.
  EXPECT_EQ(book.OnEvent(policy,
                         Ev("m2", EventKind::kStartTlsLost, Severity::kCritical, "mx.other.org",
                            "\"established\"", "\"failed\"", kT0, "other.org"),
                         kT0)
                .size(),
            1u);
  EXPECT_THAT(book.OnTick(kT0 + 12h), IsEmpty());
  ASSERT_EQ(book.OpenAlerts("acme").size(), 2u);
  // Unmuted: the open alert is told at the next tick, with when it started.
  policy.muted_domains.clear();
  book.SetTenantPolicy(policy);
  const std::vector<Notification> ns = book.OnTick(kT0 + 13h);
  EXPECT_THAT(Digest(ns), ElementsAre("opened critical starttls:mx1.example.com"));
  EXPECT_EQ(ns[0].opened_at, kT0);
  // Muted again: its resolution is not told either.
  policy.muted_domains = {"example.com"};
  EXPECT_THAT(book.OnEvent(policy,
                           Ev("m3", EventKind::kStartTlsRegained, Severity::kInfo,
                              "mx1.example.com", "\"failed\"", "\"established\"", kT0 + 14h),
                           kT0 + 14h),
              IsEmpty());
}

TEST(TenantOverrides, QuietHoursDeferAllButCriticalToTheirEnd) {
  // 22:00-07:00 in UTC+2: 20:00-05:00 UTC.
  TenantPolicy policy = Policy();
  policy.quiet_hours = QuietHours{22, 7, 120};
  const Time night = kT0 + 9h + 30min;  // 21:30 UTC = 23:30 local.
  const Time end = kT0 + 17h;           // 05:00 UTC next day = 07:00 local.
  ASSERT_TRUE(InQuietHours(*policy.quiet_hours, night));
  ASSERT_FALSE(InQuietHours(*policy.quiet_hours, end));
  ASSERT_TRUE(InQuietHours(*policy.quiet_hours, end - 1s));
  EXPECT_EQ(QuietHoursEnd(*policy.quiet_hours, night), end);
  EXPECT_EQ(QuietHoursEnd(*policy.quiet_hours, kT0), kT0);

  AlertBook book;
  // Critical: now.
  EXPECT_THAT(Digest(book.OnEvent(policy,
                                  Ev("q1", EventKind::kStartTlsLost, Severity::kCritical,
                                     "mx1.example.com", "\"established\"", "\"failed\"", night),
                                  night)),
              ElementsAre("opened critical starttls:mx1.example.com"));
  // A warning and a notice: deferred.
  EXPECT_THAT(book.OnEvent(policy,
                           Ev("q2", EventKind::kStartTlsLost, Severity::kWarning, "mx1.example.org",
                              "\"established\"", "\"failed\"", night, "example.org"),
                           night),
              IsEmpty());
  EXPECT_THAT(book.OnEvent(policy,
                           Ev("q3", EventKind::kTlsRptRecordChanged, Severity::kInfo, "", "null",
                              "\"v=TLSRPTv1;\"", night),
                           night),
              IsEmpty());
  // A warning that opens and resolves within the night says nothing at all.
  book.OnEvent(policy,
               Ev("q4", EventKind::kPolicyChangedWithoutIdChange, Severity::kWarning,
                  "mta-sts.example.net", "\"a\"", "\"b\"", night, "example.net"),
               night);
  EXPECT_THAT(book.OnEvent(policy,
                           Ev("q5", EventKind::kIdChangedSamePolicy, Severity::kInfo, "", "\"1\"",
                              "\"2\"", night + 1h, "example.net"),
                           night + 1h),
              IsEmpty());

  EXPECT_THAT(book.OnTick(end - 1min), IsEmpty());
  const std::vector<Notification> morning = book.OnTick(end);
  EXPECT_THAT(Digest(morning), ElementsAre("notice info event:tlsrpt_record_changed",
                                           "opened warning starttls:mx1.example.org"));
  for (const Notification& n : morning) {
    EXPECT_EQ(n.time, end);
    EXPECT_EQ(n.opened_at, night);
  }
  EXPECT_THAT(book.OnTick(end + 1min), IsEmpty());

  // A warning resolved during the next night is told in the morning; a critical one at once.
  const Time night2 = night + 24h;
  EXPECT_THAT(
      book.OnEvent(policy,
                   Ev("q6", EventKind::kStartTlsRegained, Severity::kInfo, "mx1.example.org",
                      "\"failed\"", "\"established\"", night2, "example.org"),
                   night2),
      IsEmpty());
  EXPECT_THAT(Digest(book.OnEvent(policy,
                                  Ev("q7", EventKind::kStartTlsRegained, Severity::kInfo,
                                     "mx1.example.com", "\"failed\"", "\"established\"", night2),
                                  night2)),
              ElementsAre("resolved critical starttls:mx1.example.com"));
  EXPECT_THAT(Digest(book.OnTick(end + 24h)),
              ElementsAre("resolved warning starttls:mx1.example.org"));
}

TEST(TenantOverrides, RemindersFollowTheIntervalAndWaitForTheMorning) {
  TenantPolicy policy = Policy();
  policy.reminder_interval = 6h;
  policy.quiet_hours = QuietHours{0, 6, 0};  // 00:00-06:00 UTC.
  AlertBook book;
  const Time noon = kT0;
  ASSERT_EQ(book.OnEvent(policy,
                         Ev("r1", EventKind::kStartTlsLost, Severity::kWarning, "mx1.example.com",
                            "\"established\"", "\"failed\"", noon),
                         noon)
                .size(),
            1u);
  EXPECT_THAT(book.OnTick(noon + 5h), IsEmpty());
  EXPECT_EQ(book.OnTick(noon + 6h).size(), 1u);  // 18:00
  // The next one is due at 00:00, in the quiet hours: it waits for 06:00.
  EXPECT_THAT(book.OnTick(noon + 12h), IsEmpty());
  EXPECT_THAT(book.OnTick(noon + 17h), IsEmpty());
  const std::vector<Notification> morning = book.OnTick(noon + 18h);
  ASSERT_EQ(morning.size(), 1u);
  EXPECT_EQ(morning[0].kind, NotificationKind::kReminder);
  EXPECT_EQ(morning[0].sequence, 2u);
}

// ---- State ----

TEST(AlertState, RoundTripsThroughJson) {
  TenantPolicy policy = Policy();
  policy.quiet_hours = QuietHours{22, 7, -300};
  policy.muted_domains = {"muted.example"};
  policy.reminder_interval = 12h;
  AlertBook book;
  World w;
  Feed(book, policy,
       w.Step(Domain("enforce", {"mx1.example.com"}, {{"mx1.example.com"}}, "1"), kT0), kT0);
  Feed(book, policy, w.Step(Domain("enforce", {"mx1.example.com"}, Mx9Uncovered(), "1"), kT0 + 1h),
       kT0 + 1h);
  // Deferred notice and deferred resolution (quiet hours: 03:00-12:00 UTC).
  const Time quiet = kT0 + 15h;  // 03:00 UTC = 22:00 local.
  ASSERT_TRUE(InQuietHours(*policy.quiet_hours, quiet));
  book.OnEvent(
      policy,
      Ev("s1", EventKind::kTlsRptRecordChanged, Severity::kInfo, "", "null", "\"x\"", quiet),
      quiet);
  book.OnEvent(policy,
               Ev("s2", EventKind::kStartTlsLost, Severity::kWarning, "mx.other.org",
                  "\"established\"", "\"failed\"", kT0, "other.org"),
               kT0);
  book.OnEvent(policy,
               Ev("s3", EventKind::kStartTlsRegained, Severity::kInfo, "mx.other.org", "\"failed\"",
                  "\"established\"", quiet, "other.org"),
               quiet);
  book.SetTenantPolicy(Policy("beta"));

  const std::string json = book.ToJson();
  const absl::StatusOr<AlertBook> restored = AlertBook::FromJson(json);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(restored->ToJson(), json);
  EXPECT_EQ(restored->OpenAlerts("acme"), book.OpenAlerts("acme"));

  // The restored book carries on exactly as the original.
  AlertBook copy = *restored;
  std::size_t handed_out = 0;
  for (const Time t : {quiet + 1h, kT0 + 24h, kT0 + 30h, kT0 + 50h}) {
    const std::vector<Notification> expected = book.OnTick(t);
    EXPECT_EQ(copy.OnTick(t), expected);
    handed_out += expected.size();
  }
  // The deferred notice and resolution, and reminders.
  EXPECT_GE(handed_out, 4u);
  const Event again = Ev("s2", EventKind::kStartTlsLost, Severity::kWarning, "mx.other.org",
                         "\"established\"", "\"failed\"", kT0, "other.org");
  EXPECT_THAT(copy.OnEvent(policy, again, kT0 + 51h), IsEmpty());  // Dedup survived too.
}

TEST(AlertState, FromJsonNamesWhatIsWrong) {
  EXPECT_FALSE(AlertBook::FromJson("not json").ok());
  EXPECT_THAT(std::string(AlertBook::FromJson(R"({"version":9,"tenants":[]})").status().message()),
              HasSubstr("version 9"));
  const absl::StatusOr<AlertBook> bad = AlertBook::FromJson(
      R"({"version":1,"tenants":[{"tenant":"a","policy":{"minimum_severity":"loud"}}]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("minimum_severity"));
  EXPECT_TRUE(AlertBook::FromJson(AlertBook().ToJson()).ok());
}

TEST(AlertState, NoteSnapshotTeachesTheModeToAnAlerterThatStartsMidStream) {
  AlertBook book;
  book.NoteSnapshot("acme",
                    Domain("enforce", {"mx1.example.com"}, {{"mx1.example.com"}}, "7", 31557600));
  const std::vector<Notification> ns = book.OnEvent(
      Policy(), Ev("a1", EventKind::kMaxAgeChanged, Severity::kInfo, "", "31557600", "3600", kT0),
      kT0);
  ASSERT_THAT(Digest(ns), ElementsAre("opened warning max_age_short"));
  EXPECT_THAT(ns[0].problem.fix, HasSubstr("instead of id 7"));
}

}  // namespace
}  // namespace stswatch::alerting
