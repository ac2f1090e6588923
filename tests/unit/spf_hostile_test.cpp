// Hostile input: records built to exhaust CPU, memory or the DNS budget. Each must give the RFC's result
// within the budget (no timing assertions: the sanitizer build and ctest's timeout catch runaways).
#include "policy/spf/evaluator.hpp"
#include "policy/spf/macro.hpp"

#include "spf_test_util.hpp"

#include <gtest/gtest.h>

using namespace spfgate;
using namespace spfgate::spf;
using namespace spfgate::spf::test;
using dns::MemoryResolver;

namespace {

// Splits `text` into DNS character-strings of at most 255 octets, as a zone would publish it.
std::vector<std::string> character_strings(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < text.size(); i += 255) out.push_back(text.substr(i, 255));
  return out;
}

// "v=spf1 ip4:10.x.y.z ... ip4:192.0.2.1 -all" of at least `size` octets.
std::string long_record(std::size_t size) {
  std::string r = "v=spf1";
  for (unsigned i = 0; r.size() < size; ++i)
    r += cat(" ip4:10.", (i >> 16) & 255, ".", (i >> 8) & 255, ".", i & 255);
  return r + " ip4:192.0.2.1 -all";
}

}  // namespace

TEST(SpfHostile, LongRunOfMacroTransformers) {
  // CVE-2023-42118 (libspf2) was an integer underflow on odd transformer input; here a 5 KB transformer
  // run must neither overflow (digits saturate) nor take more than linear time.
  MemoryResolver r;
  const std::string macro = "%{l" + std::string(2500, '9') + "r" + std::string(2500, '.') + "}";
  r.add_txt("example.org", {"v=spf1 exists:" + macro + ".example.net -all"});
  r.add_a("a.b.example.net", "127.0.0.2");
  Outcome o = run(r, request("192.0.2.1", "b.a@example.org"));
  EXPECT_EQ(o.result, Result::Pass);  // "b.a" reversed, all parts: a.b.example.net
  EXPECT_EQ(o.dns_terms, 1u);
}

TEST(SpfHostile, ManyMacrosAreBoundedNotExpandedToMegabytes) {
  MemoryResolver r;
  std::string many;
  for (int i = 0; i < 1500; ++i) many += "%{s}";
  r.add_txt("example.org", {"v=spf1 exists:" + many + ".example.net -all"});
  const std::string sender = std::string(200, 'x') + "@example.org";  // 1500 * 212 octets would be ~318 KB
  Outcome o = run(r, request("192.0.2.1", sender));
  EXPECT_EQ(o.result, Result::PermError);
  EXPECT_EQ(o.problem, cat("Macro expansion exceeds ", kMaxExpansion, " octets"));

  // 5 KB of "%%" and "%_": valid; the 2500-octet first label is cut off by §7.3's left truncation.
  MemoryResolver r2;
  std::string escapes;
  for (int i = 0; i < 1250; ++i) escapes += "%%%_";
  r2.add_txt("example.org", {"v=spf1 a:" + escapes + ".example.net -all"});
  Outcome o2 = run(r2, request("192.0.2.1", "x@example.org"));
  EXPECT_EQ(o2.result, Result::Fail);
  ASSERT_EQ(r2.query_count(), 2u);
  EXPECT_EQ(r2.queries()[1].first, "example.net");
  // A 100-octet label within a short name cannot exist: no match, and nothing is sent for it.
  MemoryResolver r3;
  r3.add_txt("example.org", {"v=spf1 a:" + escapes.substr(0, 200) + ".example.net -all"});
  EXPECT_EQ(run(r3, request("192.0.2.1", "x@example.org")).result, Result::Fail);
  EXPECT_EQ(r3.query_count(), 1u);
}

TEST(SpfHostile, UnterminatedMacroAfterLongDigitRun) {
  MemoryResolver r;
  r.add_txt("example.org", {"v=spf1 a:%{d" + std::string(5000, '1') + " -all"});
  Outcome o = run(r, request("192.0.2.1", "x@example.org"));
  EXPECT_EQ(o.result, Result::PermError);
  EXPECT_LE(o.problem.size(), 200u);  // the problem quotes a bounded excerpt, not 5 KB
}

TEST(SpfHostile, TenAndSixtyKilobyteRecords) {
  for (std::size_t size : {10u * 1024, 60u * 1024}) {
    MemoryResolver r;
    const std::string text = long_record(size);
    const auto strings = character_strings(text);  // terms are cut across string boundaries on purpose
    r.add_txt("big.example.org", strings);
    Outcome pass = run(r, request("192.0.2.1", "x@big.example.org"));
    EXPECT_EQ(pass.result, Result::Pass) << size;
    EXPECT_EQ(pass.record, text);
    EXPECT_EQ(pass.record_strings.size(), strings.size());
    EXPECT_GE(pass.record_strings.size(), size / 255);
    EXPECT_EQ(run(r, request("192.0.2.2", "x@big.example.org")).result, Result::Fail) << size;
  }
}

TEST(SpfHostile, ControlBytesInsideRecords) {
  MemoryResolver r;
  r.add_txt("nul.example.org", {std::string("v=spf1 a:foo.example.org") + '\0' + " -all"});
  r.add_txt("cr.example.org", {"v=spf1 ip4:192.0.2.1\r -all"});
  r.add_txt("lf.example.org", {"v=spf1 ip4:192.0.2.1\n-all"});
  r.add_txt("tab.example.org", {"v=spf1\tip4:192.0.2.1 -all"});  // not even a record: TAB is no separator
  for (const char* d : {"nul", "cr", "lf"}) {
    Outcome o = run(r, request("192.0.2.1", std::string("x@") + d + ".example.org"));
    EXPECT_EQ(o.result, Result::PermError) << d;
    for (char c : o.problem) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << d << ": " << o.problem;
    for (char c : o.mechanism) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << d;
  }
  EXPECT_EQ(run(r, request("192.0.2.1", "x@tab.example.org")).result, Result::None);
}

TEST(SpfHostile, ControlBytesInExplanationsNeverSurvive) {
  MemoryResolver r;
  r.add_txt("example.org", {"v=spf1 -all exp=why.example.org"});
  r.add_txt("raw.example.org", {"v=spf1 -all exp=raw-why.example.org"});
  r.add_txt("why.example.org", {"sender %{l}"});
  r.add_txt("raw-why.example.org", {"line one\r\nX-Injected: yes"});
  // The local part comes from the SMTP client; control bytes in it must not reach the explanation.
  Outcome o = run(r, request("192.0.2.1", std::string("a\r\nX-Evil: 1") + '\0' + "b@example.org"));
  EXPECT_EQ(o.result, Result::Fail);
  EXPECT_EQ(o.explanation.find_first_of(std::string("\r\n\0", 3)), std::string::npos) << o.explanation;
  EXPECT_NE(o.explanation.find("X-Evil"), std::string::npos);  // replaced bytes, not dropped text
  // CR/LF in the TXT text itself is a syntax error: the default explanation is used.
  EXPECT_EQ(run(r, request("192.0.2.1", "x@raw.example.org")).explanation, "SPF fail - not authorized");
}

TEST(SpfHostile, DeepIncludeChains) {
  MemoryResolver r;
  // d0 -> d1 -> ... -> d9: ten include terms, the last record matches.
  for (int i = 0; i < 9; ++i)
    r.add_txt(cat("d", i, ".example.org"), {cat("v=spf1 include:d", i + 1, ".example.org -all")});
  r.add_txt("d9.example.org", {"v=spf1 include:leaf.example.org -all"});
  r.add_txt("leaf.example.org", {"v=spf1 ip4:192.0.2.1 -all"});
  Outcome ok = run(r, request("192.0.2.1", "x@d0.example.org"));
  EXPECT_EQ(ok.result, Result::Pass);
  EXPECT_EQ(ok.dns_terms, 10u);
  // One more link is one term too many.
  r.add_txt("e.example.org", {"v=spf1 include:d0.example.org -all"});
  r.clear_queries();
  Outcome deep = run(r, request("192.0.2.1", "x@e.example.org"));
  EXPECT_EQ(deep.result, Result::PermError);
  EXPECT_EQ(deep.problem, "Too many DNS lookups");
  EXPECT_LE(r.query_count(), 11u);
  // A 100-link chain stops at the 11th link as well.
  for (int i = 0; i < 100; ++i)
    r.add_txt(cat("c", i, ".example.org"), {cat("v=spf1 include:c", i + 1, ".example.org")});
  r.clear_queries();
  EXPECT_EQ(run(r, request("192.0.2.1", "x@c0.example.org")).result, Result::PermError);
  EXPECT_LE(r.query_count(), 11u);
}

TEST(SpfHostile, IncludeLoopThroughRedirectAndMacros) {
  MemoryResolver r;
  r.add_txt("loop.example.org", {"v=spf1 include:%{d} -all"});
  r.add_txt("ping.example.org", {"v=spf1 redirect=pong.example.org"});
  r.add_txt("pong.example.org", {"v=spf1 include:ping.example.org -all"});
  EXPECT_EQ(run(r, request("192.0.2.1", "x@loop.example.org")).result, Result::PermError);
  EXPECT_EQ(run(r, request("192.0.2.1", "x@ping.example.org")).result, Result::PermError);
  EXPECT_LE(r.query_count(), 24u);
}

TEST(SpfHostile, ManyMxTargetsWithManyAddresses) {
  MemoryResolver r;
  r.add_txt("example.org", {"v=spf1 mx mx:other.example.org -all"});
  r.add_txt("twelve.example.org", {"v=spf1 mx -all"});
  for (int i = 0; i < 12; ++i) {
    const std::string host = cat("mx", i, ".example.org");
    for (int a = 0; a < 200; ++a) r.add_a(host, cat("10.", i, ".", a, ".1"));
    r.add_a(host, cat("2001:db8::", i + 1));
    if (i < 10) r.add_mx("example.org", 10, host);
    r.add_mx("twelve.example.org", static_cast<std::uint16_t>(i), host);
  }
  r.add_mx("other.example.org", 10, "mx0.example.org");
  Outcome fail = run(r, request("192.0.2.1", "x@example.org"));
  EXPECT_EQ(fail.result, Result::Fail);
  EXPECT_EQ(fail.dns_terms, 2u);
  EXPECT_EQ(fail.dns_queries, 1u + 1u + 10u + 1u + 1u);  // record, MX, 10 A, MX, 1 A
  EXPECT_EQ(run(r, request("10.9.199.1", "x@example.org")).result, Result::Pass);
  EXPECT_EQ(run(r, request("2001:db8::10", "x@example.org")).result, Result::Pass);  // mx9's AAAA
  EXPECT_EQ(run(r, request("10.11.0.1", "x@twelve.example.org")).result, Result::PermError);
}
