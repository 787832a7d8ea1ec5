// Drift detection from hand-built observations: each change a mail operator cares about yields
// exactly the event they would expect, with the severity that matches the mode, and an unchanged
// world yields none.

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "drift/events.h"
#include "drift/snapshot.h"
#include "mtasts/verdict.h"

namespace stswatch::drift {
namespace {

using mtasts::CertificateInfo;
using mtasts::DomainObservation;
using mtasts::MxObservation;
using mtasts::SmtpProbe;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
constexpr auto kDay = std::chrono::hours(24);

CertificateInfo Cert(const std::string& name, const std::string& sha, int days_left = 200) {
  CertificateInfo c;
  c.names = {name};
  c.subject = "CN=" + name;
  c.issuer = "CN=Test CA";
  c.sha256 = sha;
  c.not_before = kNow - 10 * kDay;
  c.not_after = kNow + days_left * kDay;
  c.chain_valid = true;
  c.name_match = true;
  return c;
}

SmtpProbe Probe(const std::string& host, const std::string& address) {
  SmtpProbe p;
  p.address = address;
  p.starttls_offered = true;
  p.starttls_reply = 220;
  p.tls_established = true;
  p.tls_version = "TLSv1.3";
  p.cert = Cert(host, "aa" + host);
  return p;
}

MxObservation Mx(const std::string& host, int priority, const std::string& address) {
  MxObservation mx;
  mx.host = host;
  mx.priority = priority;
  mx.addresses = {address};
  mx.probes = {Probe(host, address)};
  return mx;
}

std::string Body(const std::string& mode, const std::string& mx = "*.example.test",
                 const std::string& max_age = "2592000") {
  return "version: STSv1\r\nmode: " + mode + "\r\nmx: " + mx + "\r\nmax_age: " + max_age + "\r\n";
}

DomainObservation Healthy(const std::string& mode = "enforce") {
  DomainObservation o;
  o.domain = "example.test";
  o.sts.records = {"v=STSv1; id=1;"};
  o.tlsrpt.records = {"v=TLSRPTv1; rua=mailto:tlsrpt@example.test"};
  o.mx = {Mx("mx1.example.test", 10, "192.0.2.1"), Mx("mx2.example.test", 20, "192.0.2.2")};
  mtasts::PolicyFetch fetch;
  fetch.http_status = 200;
  fetch.content_type = "text/plain";
  fetch.body = Body(mode);
  fetch.cert = Cert("mta-sts.example.test", "bb01");
  o.policy = fetch;
  return o;
}

Snapshot Snap(const DomainObservation& o, std::chrono::system_clock::time_point now = kNow) {
  return TakeSnapshot(o, mtasts::Judge(o, now), now);
}

std::vector<Event> Changes(const DomainObservation& before, const DomainObservation& after,
                           std::chrono::system_clock::time_point later = kNow) {
  const Snapshot a = Snap(before);
  const Snapshot b = Snap(after, later);
  Transition t{"example.test", StateHash(a), StateHash(b), 3, later};
  return Diff(a, b, t);
}

std::vector<std::string> Kinds(const std::vector<Event>& events) {
  std::vector<std::string> kinds;
  kinds.reserve(events.size());
  for (const Event& e : events) {
    kinds.emplace_back(EventKindName(e.kind));
  }
  return kinds;
}

const Event* Find(const std::vector<Event>& events, EventKind kind) {
  for (const Event& e : events) {
    if (e.kind == kind) {
      return &e;
    }
  }
  return nullptr;
}

TEST(SnapshotTest, UnchangedWorldHasTheSameHashWhateverTheAnswerOrder) {
  DomainObservation a = Healthy();
  DomainObservation b = Healthy();
  // Two addresses for one MX, answered in either order; the MX records in either order.
  a.mx[0].addresses = {"192.0.2.1", "192.0.2.9"};
  a.mx[0].probes = {Probe("mx1.example.test", "192.0.2.1"), Probe("mx1.example.test", "192.0.2.9")};
  b.mx[0].addresses = {"192.0.2.9", "192.0.2.1"};
  b.mx[0].probes = {Probe("mx1.example.test", "192.0.2.9"), Probe("mx1.example.test", "192.0.2.1")};
  std::swap(b.mx[0], b.mx[1]);
  b.mx[0].probes[0].error = "";
  EXPECT_EQ(StateHash(Snap(a)), StateHash(Snap(b)));
  EXPECT_EQ(ToJson(Snap(a)), ToJson(Snap(b)));
  EXPECT_THAT(Changes(a, b), IsEmpty());
}

TEST(SnapshotTest, JsonRoundTrips) {
  DomainObservation o = Healthy("testing");
  o.mx[1].probes[0].tls_established = false;
  o.mx[1].probes[0].cert.reset();
  o.mx[1].probes[0].failed_stage = mtasts::SmtpStage::kStartTls;
  const Snapshot s = Snap(o);
  const auto back = FromJson(ToJson(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
  EXPECT_EQ(StateHash(*back), StateHash(s));
  EXPECT_EQ(s.mode, "testing");
  EXPECT_EQ(s.mx[1].starttls, StartTls::kFailed);
  EXPECT_EQ(s.mx[0].tls_version, "TLSv1.3");
}

TEST(SnapshotTest, BadJsonNamesTheMember) {
  EXPECT_FALSE(FromJson("{").ok());
  EXPECT_FALSE(FromJson("[]").ok());
  const auto wrong = FromJson(R"({"domain":"x","mx":[{"host":"a","starttls":"maybe"}]})");
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(std::string(wrong.status().message()),
              ::testing::HasSubstr("snapshot.mx[0].starttls"));
  const auto twice =
      FromJson(R"({"mx":[{"host":"a","starttls":"failed"},{"host":"a","starttls":"failed"}]})");
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(std::string(twice.status().message()),
              ::testing::HasSubstr("snapshot.mx[1].host repeats a"));
  const auto type = FromJson(R"({"max_age":"soon"})");
  ASSERT_FALSE(type.ok());
  EXPECT_THAT(std::string(type.status().message()), ::testing::HasSubstr("max_age"));
}

TEST(SnapshotTest, ExpiryWindows) {
  EXPECT_EQ(ExpiryWindowAt(kNow + 31 * kDay, kNow), ExpiryWindow::kNone);
  EXPECT_EQ(ExpiryWindowAt(kNow + 30 * kDay, kNow), ExpiryWindow::kDays30);
  EXPECT_EQ(ExpiryWindowAt(kNow + 14 * kDay, kNow), ExpiryWindow::kDays14);
  EXPECT_EQ(ExpiryWindowAt(kNow + 7 * kDay, kNow), ExpiryWindow::kDays7);
  EXPECT_EQ(ExpiryWindowAt(kNow + kDay, kNow), ExpiryWindow::kDays1);
  EXPECT_EQ(ExpiryWindowAt(kNow, kNow), ExpiryWindow::kExpired);
}

TEST(DriftTest, FirstCheckIsOneEvent) {
  const Snapshot s = Snap(Healthy());
  const auto events = Diff(std::nullopt, s, {"example.test", "", StateHash(s), 0, kNow});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, EventKind::kFirstCheck);
  EXPECT_EQ(events[0].severity, EventSeverity::kInfo);
  EXPECT_THAT(EventToJson(events[0]), ::testing::HasSubstr(R"("status":"ok")"));
}

TEST(DriftTest, PolicyChangedWithoutIdChange) {
  DomainObservation after = Healthy();
  after.policy->body = Body("enforce", "*.example.test", "5184000");
  const auto events = Changes(Healthy(), after);
  EXPECT_THAT(Kinds(events),
              UnorderedElementsAre("policy_changed_without_id_change", "max_age_changed"));
  const Event* e = Find(events, EventKind::kPolicyChangedWithoutIdChange);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->severity, EventSeverity::kWarning);
  EXPECT_EQ(e->subject, "mta-sts.example.test");
  EXPECT_THAT(e->after, ::testing::HasSubstr("5184000"));
}

TEST(DriftTest, PolicyUpdatedWithNewId) {
  DomainObservation after = Healthy();
  after.policy->body = Body("enforce", "*.example.test", "5184000");
  after.sts.records = {"v=STSv1; id=2;"};
  EXPECT_THAT(Kinds(Changes(Healthy(), after)),
              UnorderedElementsAre("policy_changed", "max_age_changed"));
}

TEST(DriftTest, IdChangedSameBody) {
  DomainObservation after = Healthy();
  after.sts.records = {"v=STSv1; id=2;"};
  EXPECT_THAT(Kinds(Changes(Healthy(), after)), ElementsAre("id_changed_same_policy"));
}

TEST(DriftTest, ModeChangeToEnforce) {
  DomainObservation after = Healthy();
  after.policy->body = Body("enforce");
  after.sts.records = {"v=STSv1; id=2;"};
  const auto events = Changes(Healthy("testing"), after);
  EXPECT_THAT(Kinds(events), UnorderedElementsAre("policy_changed", "mode_changed"));
}

TEST(DriftTest, UncoveredMxInEnforceIsCriticalAndFails) {
  DomainObservation after = Healthy();
  after.mx.push_back(Mx("mail.other.test", 30, "192.0.2.3"));
  const auto events = Changes(Healthy(), after);
  EXPECT_THAT(Kinds(events),
              UnorderedElementsAre("status_changed", "mx_set_changed", "mx_not_covered"));
  const Event* status = Find(events, EventKind::kStatusChanged);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->before, R"("ok")");
  EXPECT_EQ(status->after, R"("failing")");
  EXPECT_EQ(status->severity, EventSeverity::kCritical);
  const Event* uncovered = Find(events, EventKind::kMxNotCovered);
  ASSERT_NE(uncovered, nullptr);
  EXPECT_EQ(uncovered->subject, "mail.other.test");
  EXPECT_EQ(uncovered->severity, EventSeverity::kCritical);
  EXPECT_THAT(uncovered->message, ::testing::HasSubstr("mx: mail.other.test"));
}

TEST(DriftTest, UncoveredMxInTestingIsAWarning) {
  DomainObservation before = Healthy("testing");
  DomainObservation after = Healthy("testing");
  after.mx.push_back(Mx("mail.other.test", 30, "192.0.2.3"));
  const auto events = Changes(before, after);
  const Event* uncovered = Find(events, EventKind::kMxNotCovered);
  ASSERT_NE(uncovered, nullptr);
  EXPECT_EQ(uncovered->severity, EventSeverity::kWarning);
  // Still uncovered at the next check: not reported again.
  EXPECT_THAT(Changes(after, after), IsEmpty());
}

TEST(DriftTest, CertificateRenewed) {
  DomainObservation after = Healthy();
  after.mx[0].probes[0].cert = Cert("mx1.example.test", "cc01", 365);
  const auto events = Changes(Healthy(), after);
  EXPECT_THAT(Kinds(events), ElementsAre("certificate_changed"));
  EXPECT_EQ(events[0].subject, "mx1.example.test");
  EXPECT_THAT(events[0].before, ::testing::HasSubstr("aamx1.example.test"));
  EXPECT_THAT(events[0].after, ::testing::HasSubstr("cc01"));
  EXPECT_THAT(events[0].message, ::testing::HasSubstr("expiry"));
}

TEST(DriftTest, PolicyHostCertificateRenewed) {
  DomainObservation after = Healthy();
  after.policy->cert = Cert("mta-sts.example.test", "bb02", 300);
  const auto events = Changes(Healthy(), after);
  EXPECT_THAT(Kinds(events), ElementsAre("certificate_changed"));
  EXPECT_EQ(events[0].subject, "mta-sts.example.test");
}

TEST(DriftTest, ExpiryWindowsAreEachReportedOnce) {
  DomainObservation o = Healthy();
  o.mx[0].probes[0].cert = Cert("mx1.example.test", "dd01", 40);
  // Time moves on; the same certificate crosses 30, 14, 7 and 1 days, and expires.
  std::vector<std::string> windows;
  Snapshot previous = Snap(o, kNow);
  for (int day = 1; day <= 41; ++day) {
    const auto now = kNow + day * kDay;
    const Snapshot next = Snap(o, now);
    for (const Event& e :
         Diff(previous, next, {"example.test", StateHash(previous), StateHash(next), 1, now})) {
      if (e.kind == EventKind::kCertificateExpiring) {
        windows.push_back(e.after);
        EXPECT_EQ(e.subject, "mx1.example.test");
      }
    }
    previous = next;
  }
  EXPECT_THAT(windows, ElementsAre(R"("30d")", R"("14d")", R"("7d")", R"("1d")", R"("expired")"));
}

TEST(DriftTest, StartTlsLostAndRegained) {
  DomainObservation after = Healthy();
  SmtpProbe& p = after.mx[1].probes[0];
  p.starttls_offered = false;
  p.tls_established = false;
  p.tls_version.clear();
  p.cert.reset();
  p.failed_stage = mtasts::SmtpStage::kStartTls;
  auto events = Changes(Healthy(), after);
  EXPECT_THAT(Kinds(events), UnorderedElementsAre("starttls_lost", "status_changed"));
  EXPECT_EQ(Find(events, EventKind::kStartTlsLost)->severity, EventSeverity::kCritical);
  EXPECT_EQ(Find(events, EventKind::kStartTlsLost)->subject, "mx2.example.test");
  events = Changes(after, Healthy());
  EXPECT_THAT(Kinds(events), UnorderedElementsAre("starttls_regained", "status_changed"));
}

TEST(DriftTest, TlsVersionChanged) {
  DomainObservation after = Healthy();
  after.mx[0].probes[0].tls_version = "TLSv1.2";
  EXPECT_THAT(Kinds(Changes(Healthy(), after)), ElementsAre("tls_version_changed"));
}

TEST(DriftTest, TlsRptRecordChanged) {
  DomainObservation after = Healthy();
  after.tlsrpt.records = {"v=TLSRPTv1; rua=mailto:other@example.test"};
  EXPECT_THAT(Kinds(Changes(Healthy(), after)), ElementsAre("tlsrpt_record_changed"));
  after.tlsrpt.records.clear();
  after.tlsrpt.outcome = mtasts::DnsOutcome::kNxDomain;
  const auto events = Changes(Healthy(), after);
  ASSERT_THAT(Kinds(events), ::testing::Contains("tlsrpt_record_changed"));
  EXPECT_EQ(Find(events, EventKind::kTlsRptRecordChanged)->after, "null");
}

TEST(DriftTest, StsRecordRemoved) {
  DomainObservation after = Healthy();
  after.sts.records.clear();
  after.sts.outcome = mtasts::DnsOutcome::kNxDomain;
  after.policy.reset();
  const auto events = Changes(Healthy(), after);
  EXPECT_THAT(Kinds(events), ::testing::IsSupersetOf({"sts_record_removed", "status_changed"}));
}

TEST(DriftTest, PolicyHostDisappearedInEnforceIsCritical) {
  DomainObservation after = Healthy();
  after.policy->outcome = mtasts::FetchOutcome::kNoPolicyHost;
  after.policy->body.clear();
  after.policy->cert.reset();
  const auto events = Changes(Healthy(), after);
  const Event* lost = Find(events, EventKind::kPolicyHostLost);
  ASSERT_NE(lost, nullptr);
  EXPECT_EQ(lost->severity, EventSeverity::kCritical);
  EXPECT_EQ(lost->after, R"("no-policy-host")");
  const Event* status = Find(events, EventKind::kStatusChanged);
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->after, R"("broken")");
  EXPECT_EQ(status->severity, EventSeverity::kCritical);
}

TEST(DriftTest, IdsAreDeterministicAndDistinguishFlapping) {
  DomainObservation after = Healthy();
  after.mx.push_back(Mx("mail.other.test", 30, "192.0.2.3"));
  const Snapshot a = Snap(Healthy());
  const Snapshot b = Snap(after);
  const auto first = Diff(a, b, {"example.test", StateHash(a), StateHash(b), 4, kNow});
  const auto again = Diff(a, b, {"example.test", StateHash(a), StateHash(b), 4, kNow + kDay});
  ASSERT_EQ(first.size(), again.size());
  for (std::size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].id, again[i].id);
    EXPECT_EQ(first[i].id.size(), 32u);
  }
  // The same transition later in the history (A → B → A → B) is a new event.
  const auto later = Diff(a, b, {"example.test", StateHash(a), StateHash(b), 6, kNow});
  EXPECT_NE(first[0].id, later[0].id);
  std::vector<std::string> ids;
  ids.reserve(first.size());
  for (const Event& e : first) {
    ids.push_back(e.id);
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
}

TEST(DriftTest, ReadmeListsEveryKind) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  ASSERT_NE(srcdir, nullptr);
  std::ifstream in(std::string(srcdir) + "/" + (workspace ? workspace : "stswatch") +
                   "/drift/README.md");
  std::stringstream readme;
  readme << in.rdbuf();
  for (const EventKind kind : AllEventKinds()) {
    EXPECT_THAT(readme.str(), ::testing::HasSubstr("| `" + std::string(EventKindName(kind)) +
                                                   "` | " + std::string(EventKindDoc(kind)) + " |"))
        << "drift/README.md does not describe " << EventKindName(kind) << " as events.h does";
  }
}

TEST(DriftTest, EveryKindHasANameAndDocumentation) {
  for (const EventKind kind : AllEventKinds()) {
    EXPECT_FALSE(EventKindName(kind).empty());
    EXPECT_FALSE(EventKindDoc(kind).empty());
    EXPECT_EQ(EventKindFromName(EventKindName(kind)), kind);
  }
  EXPECT_EQ(EventKindFromName("nonsense"), std::nullopt);
}

}  // namespace
}  // namespace stswatch::drift
