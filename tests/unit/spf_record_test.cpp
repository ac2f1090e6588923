#include "policy/spf/record.hpp"

#include <gtest/gtest.h>

using namespace spfgate;
using namespace spfgate::spf;

namespace {

Record parse_ok(std::string_view text) {
  Record r;
  std::string why;
  EXPECT_TRUE(parse_record(text, r, &why)) << text << ": " << why;
  return r;
}

std::string parse_error(std::string_view text) {
  Record r;
  std::string why;
  EXPECT_FALSE(parse_record(text, r, &why)) << text;
  return why;
}

}  // namespace

TEST(SpfRecord, VersionIsCaseInsensitiveAndEndsAtSpaceOrEnd) {
  EXPECT_TRUE(is_spf_record("v=spf1"));
  EXPECT_TRUE(is_spf_record("V=SpF1 -all"));
  EXPECT_FALSE(is_spf_record("v=spf10"));
  EXPECT_FALSE(is_spf_record("v=spf1-all"));
  EXPECT_FALSE(is_spf_record(" v=spf1"));
  EXPECT_FALSE(is_spf_record("v=spf"));
  // Character-strings join without a separator: ["v=spf1", " mx"] is a record, ["v=spf1", "mx"] is not.
  EXPECT_TRUE(is_spf_record(std::vector<std::string>{"v=sp", "f1", " mx"}));
  EXPECT_FALSE(is_spf_record(std::vector<std::string>{"v=spf1", "mx"}));
  EXPECT_TRUE(is_spf_record(std::vector<std::string>{"v=spf1"}));
  EXPECT_FALSE(is_spf_record(std::vector<std::string>{}));
}

TEST(SpfRecord, ParsesEveryMechanismWithQualifiersAndCidrs) {
  const Record r = parse_ok(
      "v=spf1 +all -include:_spf.example.com ~a ?a:mail.example.com/24//64 mx/0 MX:%{d}//0 ptr ptr:example.org "
      "ip4:192.0.2.0/24 iP6:2001:db8::/32 exists:%{ir}.bl.example.com");
  ASSERT_EQ(r.mechanisms.size(), 11u);
  EXPECT_EQ(r.mechanisms[0].type, MechanismType::All);
  EXPECT_EQ(r.mechanisms[0].qualifier, Qualifier::Pass);
  EXPECT_EQ(r.mechanisms[1].type, MechanismType::Include);
  EXPECT_EQ(r.mechanisms[1].qualifier, Qualifier::Fail);
  EXPECT_EQ(r.mechanisms[1].domain_spec, "_spf.example.com");
  EXPECT_EQ(r.mechanisms[1].text, "-include:_spf.example.com");
  EXPECT_EQ(r.mechanisms[2].qualifier, Qualifier::SoftFail);
  EXPECT_TRUE(r.mechanisms[2].domain_spec.empty());
  EXPECT_EQ(r.mechanisms[3].qualifier, Qualifier::Neutral);
  EXPECT_EQ(r.mechanisms[3].domain_spec, "mail.example.com");
  EXPECT_EQ(r.mechanisms[3].cidr4, 24);
  EXPECT_EQ(r.mechanisms[3].cidr6, 64);
  EXPECT_EQ(r.mechanisms[4].cidr4, 0);
  EXPECT_EQ(r.mechanisms[4].cidr6, 128);
  EXPECT_EQ(r.mechanisms[5].type, MechanismType::Mx);
  EXPECT_EQ(r.mechanisms[5].cidr4, 32);
  EXPECT_EQ(r.mechanisms[5].cidr6, 0);
  EXPECT_EQ(r.mechanisms[7].domain_spec, "example.org");
  EXPECT_EQ(r.mechanisms[8].network.to_string(), "192.0.2.0");
  EXPECT_EQ(r.mechanisms[8].cidr4, 24);
  EXPECT_EQ(r.mechanisms[9].network.to_string(), "2001:db8::");
  EXPECT_EQ(r.mechanisms[9].cidr6, 32);
  EXPECT_EQ(r.mechanisms[10].type, MechanismType::Exists);
  EXPECT_TRUE(r.has_all);
  EXPECT_EQ(std::count_if(r.mechanisms.begin(), r.mechanisms.end(), [](auto& m) { return m.queries_dns(); }), 8);
}

TEST(SpfRecord, HostBitsAndZeroLengthsAreFine) {
  // SPF, unlike access lists, allows host bits beyond the prefix and /0.
  const Record r = parse_ok("v=spf1 ip4:192.0.2.77/24 ip4:1.1.1.1/0 ip6:::1.1.1.1/0 a/0//0");
  EXPECT_EQ(r.mechanisms[0].network.to_string(), "192.0.2.77");
  EXPECT_EQ(r.mechanisms[1].cidr4, 0);
  EXPECT_EQ(r.mechanisms[2].cidr6, 0);
}

TEST(SpfRecord, ModifiersRedirectExpAndUnknownOnes) {
  const Record r = parse_ok("v=spf1 mx redirect=_spf.example.com exp=explain.%{d} moo.cow-far_out=man:dog/cat x=");
  ASSERT_TRUE(r.redirect);
  EXPECT_EQ(*r.redirect, "_spf.example.com");
  EXPECT_EQ(r.redirect_term, "redirect=_spf.example.com");
  ASSERT_TRUE(r.exp);
  EXPECT_EQ(*r.exp, "explain.%{d}");
  EXPECT_FALSE(r.has_all);
  // Unknown modifiers may repeat (§6); names are case-insensitive for the known ones.
  parse_ok("v=spf1 foo=1 foo=2 -all");
  EXPECT_EQ(parse_error("v=spf1 Redirect=a.example.com REDIRECT=b.example.com"),
            "redirect= MUST appear at most once: REDIRECT=b.example.com");
  EXPECT_EQ(parse_error("v=spf1 exp=a.example.com -all exp=b.example.com"),
            "exp= MUST appear at most once: exp=b.example.com");
}

TEST(SpfRecord, TermsSeparatedBySpacesOnly) {
  EXPECT_EQ(parse_ok("v=spf1   a    -all   ").mechanisms.size(), 2u);
  EXPECT_EQ(parse_ok("v=spf1").mechanisms.size(), 0u);
  EXPECT_FALSE(parse_error("v=spf1 a\t-all").empty());
  EXPECT_FALSE(parse_error("v=spf1 a:ctrl.example.com\rptr -all").empty());
  EXPECT_FALSE(parse_error("v=spf1 ip4:192.0.2.5\n include:x.example.com").empty());
  EXPECT_FALSE(parse_error(std::string_view("v=spf1 a:foo.example.com\0", 25)).empty());
}

TEST(SpfRecord, PyspfWordingForSyntaxErrors) {
  EXPECT_EQ(parse_error("v=spf1 ip4:192.0.2.0/24 foo:bar -all"), "Unknown mechanism found: foo:bar");
  EXPECT_EQ(parse_error("v=spf1 ip4:192.0.0.0/8 ?all moo"), "Unknown mechanism found: moo");
  EXPECT_EQ(parse_error("v=spf1 =a ?all"), "Unknown qualifier, RFC 4408 para 4.6.1, found in: =a");
  EXPECT_EQ(parse_error("v=spf1 ip4:192.0.0.n ?all"), "Invalid IP4 address: ip4:192.0.0.n");
  EXPECT_EQ(parse_error("v=spf1 ip6:2001:db8:ZZZZ:: ?all"), "Invalid IP6 address: ip6:2001:db8:ZZZZ::");
  EXPECT_EQ(parse_error("v=spf1 ip4:1.2.3.4/33"), "Invalid IP4 CIDR length: ip4:1.2.3.4/33");
  EXPECT_EQ(parse_error("v=spf1 ip4:1.2.3.4/247"), "Invalid IP4 CIDR length: ip4:1.2.3.4/247");
  EXPECT_EQ(parse_error("v=spf1 ip6:::1/129"), "Invalid IP6 CIDR length: ip6:::1/129");
  EXPECT_EQ(parse_error("v=spf1 a//129"), "Invalid IP6 CIDR length: a//129");
  EXPECT_EQ(parse_error("v=spf1 ip4:1.2.3.4//32"), "Dual CIDR not allowed: ip4:1.2.3.4//32");
  EXPECT_EQ(parse_error("v=spf1 a:example.com:8080"), "Invalid domain found (use FQDN): example.com:8080");
  EXPECT_EQ(parse_error("v=spf1 ip4:1.2.3.444/24"), "Invalid IP4 address: ip4:1.2.3.444/24");
  EXPECT_EQ(parse_error("v=spf1 ip4:1.2.03.4/24"), "Invalid IP4 address: ip4:1.2.03.4/24");
  EXPECT_EQ(parse_error("v=spf1 -all:3030"),
            "Invalid all mechanism format - only qualifier allowed with all: -all:3030");
  EXPECT_EQ(parse_error("v=spf1 -all/8"), "CIDR not allowed: -all/8");
  EXPECT_EQ(parse_error("v=spf1 -all."), "Unknown mechanism found: -all.");
  EXPECT_EQ(parse_error("v=spf1 include:ip5.example.com/24"), "CIDR not allowed: include:ip5.example.com/24");
  EXPECT_EQ(parse_error("v=spf1 ptr/0 -all"), "CIDR not allowed: ptr/0");
  EXPECT_EQ(parse_error("v=spf1 include"), "include mechanism missing domain: include");
  EXPECT_EQ(parse_error("v=spf1 exists"), "implicit exists not allowed: exists");
  EXPECT_EQ(parse_error("v=spf1 a:"), "empty domain: a:");
  EXPECT_EQ(parse_error("v=spf1 a:111.222.33.44"), "Use the ip4 mechanism for ip4 addresses: a:111.222.33.44");
  EXPECT_EQ(parse_error("v=spf1 ?all redirect="), "redirect has empty domain: redirect=");
  EXPECT_EQ(parse_error("v=spf1 exp= -all"), "exp has empty domain-spec: exp=");
  EXPECT_EQ(parse_error("v=spf1 redirect:t2.example.com"), "Unknown mechanism found: redirect:t2.example.com");
  EXPECT_EQ(parse_error("v=spf1 1up=foo"), "Unknown mechanism found: 1up=foo");
  // A term without a name (found by fuzz_spf_record: this threw std::out_of_range).
  EXPECT_EQ(parse_error("v=spf1 :of:oabar/baz.example.com -all"), "Unknown mechanism found: :of:oabar/baz.example.com");
  EXPECT_EQ(parse_error("v=spf1 /24 -all"), "Unknown mechanism found: /24");
  EXPECT_EQ(parse_error("v=spf1 +:x"), "Unknown mechanism found: +:x");
  EXPECT_EQ(parse_error("v=spf1 -all foo=%abc"), "invalid-macro-char : %abc");
  EXPECT_EQ(parse_error("v=spf1 a:%{a}.example.com"), "Unknown Macro Encountered: %{a}");
  EXPECT_EQ(parse_error("v=spf1 -all exp=%{r}.example.com"), "c,r,t macros allowed in exp= text only: %{r}");
  EXPECT_EQ(parse_error("v=spf1 a:\xEF\xBB\xBFgarbage.example.net -all"),
            "Non-ascii characters found: v=spf1 a:\\xef\\xbb\\xbfgarbage.example.net -all");
}

TEST(SpfRecord, DomainSpecGrammar) {
  // domain-end = "." toplabel [ "." ] / macro-expand
  parse_ok("v=spf1 a:foo.example.xn--zckzah a:foo:bar/baz.example.com a:mail.example...com a:%{d} a:x.%{d}.com");
  parse_ok("v=spf1 a:foo.example.com. a:%%.example.com a:macro%%percent%_%_space%-url-space.example.com");
  for (const char* bad : {"v=spf1 a:museum", "v=spf1 a:museum.", "v=spf1 a:foo-bar", "v=spf1 a:abc.123",
                          "v=spf1 a:example.-com", "v=spf1 a:example.com-", "v=spf1 a:%{d}.", "v=spf1 mx:%{d}/",
                          "v=spf1 redirect=-all", "v=spf1 exp=-all", "v=spf1 a:mail.example.com,"})
    EXPECT_FALSE(parse_error(bad).empty()) << bad;
}

TEST(SpfRecord, DualCidrOrderAndLeadingZeros) {
  EXPECT_FALSE(parse_error("v=spf1 a/24/64 -all").empty());
  EXPECT_FALSE(parse_error("v=spf1 a//64/24 -all").empty());
  EXPECT_FALSE(parse_error("v=spf1 ip4:1.2.3.4/032").empty());
  EXPECT_FALSE(parse_error("v=spf1 a/99999999999999999999").empty());
  const Record r = parse_ok("v=spf1 a:x.example.com/0//128");
  EXPECT_EQ(r.mechanisms[0].cidr4, 0);
  EXPECT_EQ(r.mechanisms[0].cidr6, 128);
}

TEST(SpfRecord, ViewsPointIntoTheText) {
  const std::string text = "v=spf1 include:a.example.com -all";
  const Record r = parse_ok(text);
  EXPECT_EQ(r.mechanisms[0].text.data(), text.data() + 7);
  std::string_view bad;
  Record r2;
  const std::string text2 = "v=spf1 a foo -all";
  EXPECT_FALSE(parse_record(text2, r2, nullptr, &bad));
  EXPECT_EQ(bad, "foo");
}
