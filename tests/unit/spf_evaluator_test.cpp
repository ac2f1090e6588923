#include "policy/spf/evaluator.hpp"

#include "spf_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace spfgate;
using namespace spfgate::spf;
using namespace spfgate::spf::test;
using dns::DnsStatus;
using dns::MemoryResolver;
using dns::RrType;

namespace {

std::size_t count_queries(const MemoryResolver& r, RrType type) {
  const auto& q = r.queries();
  return static_cast<std::size_t>(std::count_if(q.begin(), q.end(), [&](auto& e) { return e.second == type; }));
}

bool queried(const MemoryResolver& r, std::string_view name, RrType type) {
  for (const auto& [n, t] : r.queries())
    if (n == name && t == type) return true;
  return false;
}

}  // namespace

TEST(SpfEvaluator, PassFailAndOutcomeFields) {
  MemoryResolver r;
  r.add_txt("example.org", {"v=spf1 ip4:192.0.2.0/24 ", "-all"});
  Outcome pass = run(r, request("192.0.2.10", "User@Example.ORG"));
  EXPECT_EQ(pass.result, Result::Pass);
  EXPECT_EQ(pass.domain, "example.org");
  EXPECT_EQ(pass.mechanism, "ip4:192.0.2.0/24");
  EXPECT_EQ(pass.record, "v=spf1 ip4:192.0.2.0/24 -all");
  EXPECT_EQ(pass.record_strings, (std::vector<std::string>{"v=spf1 ip4:192.0.2.0/24 ", "-all"}));
  EXPECT_EQ(pass.dns_queries, 1u);
  EXPECT_EQ(pass.dns_terms, 0u);
  EXPECT_TRUE(pass.explanation.empty());
  EXPECT_TRUE(pass.problem.empty());

  Outcome fail = run(r, request("198.51.100.1", "user@example.org"));
  EXPECT_EQ(fail.result, Result::Fail);
  EXPECT_EQ(fail.mechanism, "-all");
  EXPECT_EQ(fail.explanation, "SPF fail - not authorized");
}

TEST(SpfEvaluator, NoneNeutralDefaultAndSoftfail) {
  MemoryResolver r;
  r.add_a("none.example.org", "192.0.2.99");
  r.add_txt("none.example.org", {"some other text"});
  r.add_txt("neutral.example.org", {"v=spf1 ip4:203.0.113.1"});
  r.add_txt("soft.example.org", {"v=spf1 ~all"});
  EXPECT_EQ(run(r, request("192.0.2.1", "a@none.example.org")).result, Result::None);
  EXPECT_EQ(run(r, request("192.0.2.1", "a@nxdomain.example.org")).result, Result::None);
  Outcome n = run(r, request("192.0.2.1", "a@neutral.example.org"));
  EXPECT_EQ(n.result, Result::Neutral);
  EXPECT_EQ(n.mechanism, "default");
  Outcome s = run(r, request("192.0.2.1", "a@soft.example.org"));
  EXPECT_EQ(s.result, Result::SoftFail);
  EXPECT_TRUE(s.explanation.empty());
  // Malformed or single-label domains are "none" without a query (§4.3).
  for (const char* sender : {"a@localhost", "a@[192.0.2.1]", "a@foo..example.org", "a@"}) {
    r.clear_queries();
    EXPECT_EQ(run(r, request("192.0.2.1", sender)).result, Result::None) << sender;
    EXPECT_EQ(r.query_count(), 0u) << sender;
  }
}

TEST(SpfEvaluator, MultipleRecordsArePermerrorAndTypeSpfIsNeverAsked) {
  MemoryResolver r;
  r.add_txt("two.example.org", {"v=spf1 -all"});
  r.add_txt("two.example.org", {"V=SPF1 +all"});
  Outcome o = run(r, request("192.0.2.1", "a@two.example.org"));
  EXPECT_EQ(o.result, Result::PermError);
  EXPECT_EQ(o.problem, "Two or more type TXT spf records found.");
  for (const auto& [name, type] : r.queries()) EXPECT_EQ(type, RrType::TXT);
}

TEST(SpfEvaluator, TemporaryDnsTroubleIsTemperror) {
  MemoryResolver r;
  r.add_name_failure("timeout.example.org", DnsStatus::Timeout);
  r.add_name_failure("servfail.example.org", DnsStatus::ServFail);
  r.add_txt("bogus.example.org", {"v=spf1 +all"});
  r.set_dnssec("bogus.example.org", dns::Dnssec::Bogus);
  r.add_txt("a.example.org", {"v=spf1 a:host.servfail.example.org -all"});
  r.add_name_failure("host.servfail.example.org", DnsStatus::ServFail);
  r.add_txt("mx.example.org", {"v=spf1 mx -all"});
  r.add_mx("mx.example.org", 10, "mx1.example.org");
  r.add_type_failure("mx1.example.org", RrType::A, DnsStatus::Error, "REFUSED");
  r.add_txt("exists.example.org", {"v=spf1 exists:x.timeout.example.org -all"});
  r.add_name_failure("x.timeout.example.org", DnsStatus::Timeout);

  Outcome t = run(r, request("192.0.2.1", "a@timeout.example.org"));
  EXPECT_EQ(t.result, Result::TempError);
  EXPECT_EQ(t.problem, "DNS Timeout");
  EXPECT_EQ(run(r, request("192.0.2.1", "a@servfail.example.org")).problem, "DNS Error: SERVFAIL");
  EXPECT_EQ(run(r, request("192.0.2.1", "a@bogus.example.org")).result, Result::TempError);
  Outcome a = run(r, request("192.0.2.1", "a@a.example.org"));
  EXPECT_EQ(a.result, Result::TempError);
  EXPECT_EQ(a.mechanism, "a:host.servfail.example.org");
  Outcome mx = run(r, request("192.0.2.1", "a@mx.example.org"));
  EXPECT_EQ(mx.result, Result::TempError);
  EXPECT_EQ(mx.problem, "DNS Error: REFUSED");
  EXPECT_EQ(run(r, request("192.0.2.1", "a@exists.example.org")).result, Result::TempError);
}

TEST(SpfEvaluator, PtrLookupTroubleIsNoMatchNotTemperror) {
  MemoryResolver r;
  r.add_txt("example.org", {"v=spf1 ptr ip4:192.0.2.1 -all"});
  r.add_name_failure(dns::reverse_name(*parse_ip("192.0.2.1")), DnsStatus::ServFail);
  EXPECT_EQ(run(r, request("192.0.2.1", "a@example.org")).result, Result::Pass);  // §5.5
}

TEST(SpfEvaluator, EleventhDnsTermIsPermerror) {
  MemoryResolver r;
  std::string ten = "v=spf1", eleven = "v=spf1";
  for (int i = 1; i <= 11; ++i) {
    const std::string host = cat("h", i, ".example.org");
    r.add_a(host, "203.0.113.1");
    if (i <= 10) ten += " a:" + host;
    eleven += " a:" + host;
  }
  r.add_txt("ten.example.org", {ten + " -all"});
  r.add_txt("eleven.example.org", {eleven + " -all"});
  Outcome at_limit = run(r, request("192.0.2.1", "a@ten.example.org"));
  EXPECT_EQ(at_limit.result, Result::Fail);
  EXPECT_EQ(at_limit.dns_terms, 10u);
  r.clear_queries();
  Outcome over = run(r, request("192.0.2.1", "a@eleven.example.org"));
  EXPECT_EQ(over.result, Result::PermError);
  EXPECT_EQ(over.problem, "Too many DNS lookups");
  EXPECT_EQ(over.mechanism, "a:h11.example.org");
  EXPECT_EQ(over.dns_terms, 11u);
  EXPECT_EQ(r.query_count(), 11u);  // the record and 10 A lookups: the 11th term sends nothing
  EXPECT_FALSE(queried(r, "h11.example.org", RrType::A));

  Options lax;
  lax.limits.max_dns_terms = 11;
  EXPECT_EQ(run(r, request("192.0.2.1", "a@eleven.example.org"), lax).result, Result::Fail);
}

TEST(SpfEvaluator, IncludesAndRedirectShareOneBudget) {
  MemoryResolver r;
  for (const char* n : {"x1.example.org", "x2.example.org", "x3.example.org"}) r.add_a(n, "203.0.113.1");
  r.add_txt("inc.example.org", {"v=spf1 a:x1.example.org a:x2.example.org a:x3.example.org"});
  r.add_txt("two.example.org", {"v=spf1 include:inc.example.org include:inc.example.org -all"});     // 8 terms
  r.add_txt("three.example.org", {"v=spf1 include:inc.example.org include:inc.example.org redirect=two.example.org"});
  Outcome two = run(r, request("192.0.2.1", "a@two.example.org"));
  EXPECT_EQ(two.result, Result::Fail);
  EXPECT_EQ(two.dns_terms, 8u);
  Outcome three = run(r, request("192.0.2.1", "a@three.example.org"));  // 8 + redirect + 8 > 10
  EXPECT_EQ(three.result, Result::PermError);
  EXPECT_EQ(three.problem, "Too many DNS lookups");
  EXPECT_EQ(three.dns_terms, 11u);
}

TEST(SpfEvaluator, IncludeLoopEndsQuicklyWithPermerror) {
  MemoryResolver r;
  r.add_txt("a.example.org", {"v=spf1 include:b.example.org -all"});
  r.add_txt("b.example.org", {"v=spf1 include:a.example.org -all"});
  r.add_txt("self.example.org", {"v=spf1 ip4:203.0.113.1 redirect=self.example.org"});
  Outcome loop = run(r, request("192.0.2.1", "x@a.example.org"));
  EXPECT_EQ(loop.result, Result::PermError);
  EXPECT_EQ(loop.problem, "Too many DNS lookups");
  EXPECT_LE(r.query_count(), 11u);
  r.clear_queries();
  EXPECT_EQ(run(r, request("192.0.2.1", "x@self.example.org")).result, Result::PermError);
  EXPECT_LE(r.query_count(), 11u);
}

TEST(SpfEvaluator, WideIncludeTreeCostsAboutTenTermsOfQueries) {
  // Three levels, ten includes per record: 1 + 10 + 100 records, 1000 leaves. Without one shared budget this
  // would be thousands of lookups.
  MemoryResolver r;
  std::string top = "v=spf1";
  for (int i = 0; i < 10; ++i) {
    const std::string l1 = cat("l1-", i, ".example.org");
    top += " include:" + l1;
    std::string mid = "v=spf1";
    for (int j = 0; j < 10; ++j) {
      const std::string l2 = cat("l2-", i, "-", j, ".example.org");
      mid += " include:" + l2;
      std::string leaf = "v=spf1";
      for (int k = 0; k < 10; ++k) leaf += cat(" include:l3-", k, ".example.org");
      r.add_txt(l2, {leaf + " -all"});
    }
    r.add_txt(l1, {mid + " -all"});
  }
  for (int k = 0; k < 10; ++k) r.add_txt(cat("l3-", k, ".example.org"), {"v=spf1 -all"});
  r.add_txt("tree.example.org", {top + " -all"});
  Outcome o = run(r, request("192.0.2.1", "x@tree.example.org"));
  EXPECT_EQ(o.result, Result::PermError);
  EXPECT_EQ(o.problem, "Too many DNS lookups");
  EXPECT_LE(r.query_count(), 12u);
  EXPECT_EQ(o.dns_queries, r.query_count());
}

TEST(SpfEvaluator, VoidLookupLimitIsConfigurable) {
  MemoryResolver r;
  r.add_empty_name("nodata.example.org");
  r.add_txt("two.example.org", {"v=spf1 a:nx1.example.org mx:nodata.example.org ?all"});
  r.add_txt("three.example.org", {"v=spf1 a:nx1.example.org a:nx2.example.org exists:nx3.example.org -all"});
  Outcome two = run(r, request("192.0.2.1", "x@two.example.org"));
  EXPECT_EQ(two.result, Result::Neutral);
  EXPECT_EQ(two.void_lookups, 2u);
  Outcome three = run(r, request("192.0.2.1", "x@three.example.org"));
  EXPECT_EQ(three.result, Result::PermError);
  EXPECT_EQ(three.problem, "Void lookup limit of 2 exceeded");
  EXPECT_EQ(three.mechanism, "exists:nx3.example.org");
  Options more;
  more.limits.max_void_lookups = 3;
  EXPECT_EQ(run(r, request("192.0.2.1", "x@three.example.org"), more).result, Result::Fail);
  more.limits.max_void_lookups = 1;
  EXPECT_EQ(run(r, request("192.0.2.1", "x@two.example.org"), more).problem, "Void lookup limit of 1 exceeded");
}

TEST(SpfEvaluator, MxNameLimitIsPerMechanism) {
  MemoryResolver r;
  r.add_txt("ten.example.org", {"v=spf1 mx -all"});
  r.add_txt("eleven.example.org", {"v=spf1 mx -all"});
  for (int i = 0; i < 11; ++i) {
    const std::string host = cat("mx", i, ".example.org");
    for (int a = 1; a <= 20; ++a) r.add_a(host, cat("203.0.113.", a + 10 * i));  // many addresses
    if (i < 10) r.add_mx("ten.example.org", static_cast<std::uint16_t>(i), host);
    r.add_mx("eleven.example.org", static_cast<std::uint16_t>(i), host);
  }
  // The client is an address of the last MX host of "ten".
  Outcome ten = run(r, request("203.0.113.110", "x@ten.example.org"));
  EXPECT_EQ(ten.result, Result::Pass);
  EXPECT_EQ(ten.dns_terms, 1u);
  EXPECT_EQ(count_queries(r, RrType::A), 10u);
  r.clear_queries();
  Outcome eleven = run(r, request("203.0.113.110", "x@eleven.example.org"));
  EXPECT_EQ(eleven.result, Result::PermError);
  EXPECT_EQ(eleven.problem, "More than 10 MX records returned");
  EXPECT_EQ(count_queries(r, RrType::A), 0u);  // refused before any address lookup
}

TEST(SpfEvaluator, MxAndPtrResultsAreDeterministicUnderConcurrency) {
  // With latency every address lookup is in flight at once; the outcome must still be the serial one:
  // walk the MX names in preference order, the first error or match decides.
  for (int round = 0; round < 2; ++round) {
    MemoryResolver r;
    r.set_latency(std::chrono::milliseconds(2));
    r.add_txt("example.org", {"v=spf1 mx -all"});
    r.add_mx("example.org", 20, "second.example.org");
    r.add_mx("example.org", 10, "first.example.org");
    r.add_mx("example.org", 30, "third.example.org");
    r.add_a("third.example.org", "192.0.2.3");
    if (round == 0) {
      r.add_name_failure("first.example.org", DnsStatus::ServFail);
      r.add_a("second.example.org", "192.0.2.2");
    } else {
      r.add_a("first.example.org", "192.0.2.2");
      r.add_name_failure("second.example.org", DnsStatus::ServFail);
    }
    Outcome o = run(r, request("192.0.2.2", "x@example.org"));
    EXPECT_EQ(o.result, round == 0 ? Result::TempError : Result::Pass) << round;
    EXPECT_EQ(count_queries(r, RrType::A), 3u);
  }
}

TEST(SpfEvaluator, PtrMechanismValidatesOnlyTheFirstTenNames) {
  MemoryResolver r;
  const IpAddress client = *parse_ip("192.0.2.5");
  r.add_txt("ptr.example.org", {"v=spf1 ptr -all"});
  for (int i = 0; i < 10; ++i) r.add_reverse(client, cat("h", i, ".other.example"));
  r.add_reverse(client, "mail.ptr.example.org");  // the 11th name: ignored (§4.6.4)
  r.add_a("mail.ptr.example.org", "192.0.2.5");
  EXPECT_EQ(run(r, request("192.0.2.5", "x@ptr.example.org")).result, Result::Fail);
  EXPECT_EQ(count_queries(r, RrType::A), 0u);  // no name within the target, nothing to validate

  MemoryResolver r2;
  r2.add_txt("ptr.example.org", {"v=spf1 ptr -all"});
  r2.add_reverse(client, "spoof.ptr.example.org");  // not validated: no A back to the client
  r2.add_reverse(client, "mail.ptr.example.org");
  r2.add_a("spoof.ptr.example.org", "203.0.113.9");
  r2.add_a("mail.ptr.example.org", "192.0.2.5");
  EXPECT_EQ(run(r2, request("192.0.2.5", "x@ptr.example.org")).result, Result::Pass);
}

TEST(SpfEvaluator, PtrMacroUsesValidatedNames) {
  MemoryResolver r;
  const IpAddress client = *parse_ip("192.0.2.7");
  r.add_txt("example.org", {"v=spf1 exists:%{p}.allow.example.net -all exp=why.example.org"});
  r.add_txt("why.example.org", {"%{p} is %{i}"});
  r.add_reverse(client, "fake.example.org");
  r.add_reverse(client, "mx.example.org");
  r.add_a("mx.example.org", "192.0.2.7");
  r.add_a("mx.example.org.allow.example.net", "127.0.0.2");
  Outcome o = run(r, request("192.0.2.7", "x@example.org"));
  EXPECT_EQ(o.result, Result::Pass);
  EXPECT_EQ(o.dns_terms, 2u);  // exists, and the PTR lookup of %{p} (§4.6.4)
  Outcome f = run(r, request("192.0.2.8", "x@example.org"));
  EXPECT_EQ(f.result, Result::Fail);
  EXPECT_EQ(f.explanation, "unknown is 192.0.2.8");
  EXPECT_EQ(f.void_lookups, 1u);  // the exists lookup; a missing PTR is not the domain owner's doing

  // The %{p} lookup is made once per evaluation, and it can be the term that breaks the limit.
  MemoryResolver r2;
  std::string nine = "v=spf1";
  for (int i = 0; i < 8; ++i) nine += " a";
  r2.add_txt("p.example.org", {nine + " exists:%{p}.a.example.net exists:%{p}.b.example.net -all"});
  r2.add_a("p.example.org", "203.0.113.1");
  Outcome over = run(r2, request("192.0.2.7", "x@p.example.org"));
  EXPECT_EQ(over.result, Result::PermError);
  EXPECT_EQ(over.problem, "Too many DNS lookups");
  EXPECT_EQ(over.dns_terms, 11u);  // 8 a + exists + %{p} + exists
  EXPECT_EQ(count_queries(r2, RrType::PTR), 1u);
}

// %{p} validates at most 10 PTR names too (§4.6.4): an 11th name that would validate is never asked about,
// so %{p} is "unknown".
TEST(SpfEvaluator, PtrMacroValidatesOnlyTheFirstTenNames) {
  MemoryResolver r;
  const IpAddress client = *parse_ip("192.0.2.9");
  r.add_txt("example.org", {"v=spf1 exists:%{p}.allow.example.net -all"});
  for (int i = 0; i < 10; ++i) r.add_reverse(client, cat("h", i, ".other.example"));
  r.add_reverse(client, "mx.example.org");  // the 11th name: it would validate
  r.add_a("mx.example.org", "192.0.2.9");
  r.add_a("unknown.allow.example.net", "127.0.0.2");  // only "unknown" is allowed: Pass means the cap held
  Outcome o = run(r, request("192.0.2.9", "x@example.org"));
  EXPECT_EQ(o.result, Result::Pass);
  EXPECT_EQ(count_queries(r, RrType::A), 11u) << "ten names validated, then the exists lookup";
  MemoryResolver r10;  // the same name as the 10th: validated and used
  r10.add_txt("example.org", {"v=spf1 exists:%{p}.allow.example.net -all"});
  for (int i = 0; i < 9; ++i) r10.add_reverse(client, cat("h", i, ".other.example"));
  r10.add_reverse(client, "mx.example.org");
  r10.add_a("mx.example.org", "192.0.2.9");
  r10.add_a("mx.example.org.allow.example.net", "127.0.0.2");
  EXPECT_EQ(run(r10, request("192.0.2.9", "x@example.org")).result, Result::Pass);
}

TEST(SpfEvaluator, IncludeAndRedirectEdgeCases) {
  MemoryResolver r;
  r.add_txt("nope.example.org", {"not spf"});
  r.add_name_failure("slow.example.org", DnsStatus::Timeout);
  r.add_txt("broken.example.org", {"v=spf1 bogus -all"});
  r.add_txt("i-none.example.org", {"v=spf1 include:nope.example.org -all"});
  r.add_txt("i-nx.example.org", {"v=spf1 include:nx.example.org -all"});
  r.add_txt("i-temp.example.org", {"v=spf1 include:slow.example.org -all"});
  r.add_txt("i-perm.example.org", {"v=spf1 include:broken.example.org -all"});
  r.add_txt("r-none.example.org", {"v=spf1 redirect=nope.example.org"});
  r.add_txt("r-all.example.org", {"v=spf1 redirect=slow.example.org ?all"});
  Outcome none = run(r, request("192.0.2.1", "x@i-none.example.org"));
  EXPECT_EQ(none.result, Result::PermError);
  EXPECT_EQ(none.problem, "No valid SPF record for included domain: nope.example.org: include:nope.example.org");
  Outcome nx = run(r, request("192.0.2.1", "x@i-nx.example.org"));
  EXPECT_EQ(nx.result, Result::PermError);
  EXPECT_EQ(nx.void_lookups, 1u);
  EXPECT_EQ(run(r, request("192.0.2.1", "x@i-temp.example.org")).result, Result::TempError);
  Outcome perm = run(r, request("192.0.2.1", "x@i-perm.example.org"));
  EXPECT_EQ(perm.result, Result::PermError);
  EXPECT_EQ(perm.problem, "Unknown mechanism found: bogus");
  Outcome rn = run(r, request("192.0.2.1", "x@r-none.example.org"));
  EXPECT_EQ(rn.result, Result::PermError);
  EXPECT_EQ(rn.problem, "redirect domain has no SPF record: nope.example.org");
  // redirect= is ignored when the record has "all" (and so is never fetched).
  r.clear_queries();
  EXPECT_EQ(run(r, request("192.0.2.1", "x@r-all.example.org")).result, Result::Neutral);
  EXPECT_FALSE(queried(r, "slow.example.org", RrType::TXT));
}

TEST(SpfEvaluator, ExplanationOnlyForFailAndOnlyFromTheDecidingRecord) {
  MemoryResolver r;
  r.add_txt("soft.example.org", {"v=spf1 ~all exp=why.example.org"});
  r.add_txt("fail.example.org", {"v=spf1 -all exp=why.example.org"});
  r.add_txt("bad-exp.example.org", {"v=spf1 -all exp=broken.example.org"});
  r.add_txt("slow-exp.example.org", {"v=spf1 -all exp=slow.example.org"});
  r.add_txt("redir.example.org", {"v=spf1 exp=why.example.org redirect=plain.example.org"});
  r.add_txt("plain.example.org", {"v=spf1 -all"});
  r.add_txt("why.example.org", {"%{i} is not allowed to send for %{d} (", "%{c}, %{r})"});
  r.add_txt("broken.example.org", {"%{q}"});
  r.add_name_failure("slow.example.org", DnsStatus::Timeout);

  r.clear_queries();
  Outcome soft = run(r, request("192.0.2.1", "x@soft.example.org"));
  EXPECT_EQ(soft.result, Result::SoftFail);
  EXPECT_TRUE(soft.explanation.empty());
  EXPECT_FALSE(queried(r, "why.example.org", RrType::TXT));  // fetched only for fail

  Outcome fail = run(r, request("192.0.2.1", "x@fail.example.org", "helo.example", "mx.example.net"));
  EXPECT_EQ(fail.explanation, "192.0.2.1 is not allowed to send for fail.example.org (192.0.2.1, mx.example.net)");
  EXPECT_EQ(fail.void_lookups, 0u);
  EXPECT_EQ(fail.dns_terms, 0u);
  EXPECT_EQ(run(r, request("192.0.2.1", "x@bad-exp.example.org")).explanation, "SPF fail - not authorized");
  Outcome slow = run(r, request("192.0.2.1", "x@slow-exp.example.org"));
  EXPECT_EQ(slow.result, Result::Fail);  // a failed exp= lookup never turns fail into temperror
  EXPECT_EQ(slow.explanation, "SPF fail - not authorized");
  r.add_txt("t.example.org", {"v=spf1 -all exp=t-why.example.org"});
  r.add_txt("t-why.example.org", {"%{t}"});
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  const long long t = std::stoll(run(r, request("192.0.2.1", "x@t.example.org")).explanation);
  EXPECT_GE(t, now - 60);
  EXPECT_LE(t, now + 60);
  Options custom;
  custom.default_explanation = "Not authorized";
  EXPECT_EQ(run(r, request("192.0.2.1", "x@redir.example.org"), custom).explanation, "Not authorized");
}

TEST(SpfEvaluator, Ipv4MappedClientIsIpv4) {
  MemoryResolver r;
  r.add_txt("example.org", {"v=spf1 ip6:::ffff:0:0/96 a -all"});
  r.add_a("example.org", "192.0.2.10");
  Outcome o = run(r, request("::ffff:192.0.2.10", "x@example.org"));
  EXPECT_EQ(o.result, Result::Pass);
  EXPECT_EQ(o.mechanism, "a");
  EXPECT_TRUE(queried(r, "example.org", RrType::A));
  EXPECT_FALSE(queried(r, "example.org", RrType::AAAA));
}

TEST(SpfEvaluator, Ipv6ClientUsesAaaaAndCidr6) {
  MemoryResolver r;
  r.add_txt("example.org", {"v=spf1 a/24//64 -all"});
  r.add_a("example.org", "192.0.2.10");
  r.add_a("example.org", "2001:db8:1::1");
  EXPECT_EQ(run(r, request("2001:db8:1::ffff", "x@example.org")).result, Result::Pass);
  EXPECT_EQ(run(r, request("2001:db8:2::1", "x@example.org")).result, Result::Fail);
  EXPECT_EQ(run(r, request("192.0.2.200", "x@example.org")).result, Result::Pass);
}

TEST(SpfEvaluator, TimeBudgetAndDeadline) {
  MemoryResolver r;
  r.add_txt("example.org", {"v=spf1 -all"});
  // A deadline already passed: nothing is sent, the answer is temperror.
  Outcome late = run(r, request("192.0.2.1", "x@example.org"), {}, dns::Clock::now() - std::chrono::seconds(1));
  EXPECT_EQ(late.result, Result::TempError);
  EXPECT_EQ(late.problem, "DNS Timeout");
  EXPECT_EQ(late.dns_queries, 0u);
  Options none;
  none.limits.time_budget = std::chrono::milliseconds(0);
  EXPECT_EQ(run(r, request("192.0.2.1", "x@example.org"), none).result, Result::TempError);
  // The effective deadline is start + budget when that comes first: a query that never answers ends at the
  // budget, not at the (far) deadline argument.
  MemoryResolver slow;
  slow.real_timeouts(true);
  slow.add_name_failure("example.org", DnsStatus::Timeout);
  Options short_budget;
  short_budget.limits.time_budget = std::chrono::milliseconds(50);
  const auto start = dns::Clock::now();
  Outcome o = run(slow, request("192.0.2.1", "x@example.org"), short_budget, start + std::chrono::hours(1));
  EXPECT_EQ(o.result, Result::TempError);
  EXPECT_LT(dns::Clock::now() - start, std::chrono::minutes(10));  // not the hour-long deadline argument
}

TEST(SpfEvaluator, HeloIdentityAndNullLocalPart) {
  MemoryResolver r;
  r.add_txt("mail.example.org", {"v=spf1 a -all exp=why.example.org"});
  r.add_a("mail.example.org", "192.0.2.10");
  r.add_txt("why.example.org", {"%{s} %{l} %{o} %{h}"});
  EXPECT_EQ(run(r, helo_request("192.0.2.10", "mail.example.org")).result, Result::Pass);
  Outcome f = run(r, helo_request("192.0.2.11", "mail.example.org"));
  EXPECT_EQ(f.explanation, "postmaster@mail.example.org postmaster mail.example.org mail.example.org");
  Outcome n = run(r, request("192.0.2.11", "@mail.example.org", "helo.example"));
  EXPECT_EQ(n.explanation, "postmaster@mail.example.org postmaster mail.example.org helo.example");
  Request empty = request("192.0.2.11", "", "mail.example.org");
  EXPECT_EQ(run(r, empty).explanation, f.explanation);
}

TEST(SpfEvaluator, ExplicitDomainArgument) {
  MemoryResolver r;
  r.add_txt("other.example", {"v=spf1 -all"});
  Request req = request("192.0.2.1", "x@example.org");
  req.domain = "Other.Example.";
  Outcome o = run(r, req);
  EXPECT_EQ(o.domain, "other.example");
  EXPECT_EQ(o.result, Result::Fail);
}

TEST(SpfEvaluator, TraceOnlyWhenAsked) {
  MemoryResolver r;
  r.add_txt("example.org", {"v=spf1 include:inc.example.org -all"});
  r.add_txt("inc.example.org", {"v=spf1 ip4:192.0.2.0/24 -all"});
  Options traced;
  traced.trace = true;
  Outcome o = run(r, request("192.0.2.1", "x@example.org"), traced);
  EXPECT_EQ(o.result, Result::Pass);
  EXPECT_EQ(o.mechanism, "include:inc.example.org");
  ASSERT_GE(o.trace.size(), 4u);
  EXPECT_EQ(o.trace[0].term, "record");
  EXPECT_EQ(o.trace[0].depth, 0u);
  const auto inner = std::find_if(o.trace.begin(), o.trace.end(), [](auto& s) { return s.term == "ip4:192.0.2.0/24"; });
  ASSERT_NE(inner, o.trace.end());
  EXPECT_EQ(inner->depth, 1u);
  EXPECT_EQ(inner->domain, "inc.example.org");
  EXPECT_EQ(inner->outcome, "match");
  EXPECT_EQ(o.trace.back().term, "include:inc.example.org");
  EXPECT_TRUE(run(r, request("192.0.2.1", "x@example.org")).trace.empty());
}

TEST(SpfEvaluator, ResultSpellings) {
  EXPECT_EQ(to_string(Result::PermError), "permerror");
  EXPECT_EQ(to_string(Result::SoftFail), "softfail");
  EXPECT_EQ(to_capitalized(Result::PermError), "Permerror");
  EXPECT_EQ(to_capitalized(Result::TempError), "Temperror");
  EXPECT_EQ(to_capitalized(Result::SoftFail), "Softfail");
  EXPECT_EQ(to_string(Identity::MailFrom), "mailfrom");
  EXPECT_EQ(to_string(Identity::Helo), "helo");
}
