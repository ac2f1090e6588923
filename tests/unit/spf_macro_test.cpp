#include "policy/spf/macro.hpp"

#include "common/text.hpp"

#include <gtest/gtest.h>

using namespace spfgate;
using namespace spfgate::spf;

namespace {

// RFC 7208 §7.4: "The <sender> is strong-bad@email.example.com. The IPv4 SMTP client IP is 192.0.2.3.
// The IPv6 SMTP client IP is 2001:db8::cb01. The PTR domain name of the client IP is mx.example.org."
MacroValues rfc_values(std::string_view client = "192.0.2.3") {
  MacroValues v;
  v.sender = "strong-bad@email.example.com";
  v.local_part = "strong-bad";
  v.sender_domain = "email.example.com";
  v.domain = "email.example.com";
  v.helo = "mx.example.org";
  v.ptr_name = "mx.example.org";
  v.receiver = "example.net";
  v.client = *parse_ip(client);
  v.timestamp = 1700000000;
  return v;
}

std::string expand(std::string_view text, const MacroValues& v = rfc_values(), MacroUse use = MacroUse::DomainSpec) {
  std::string out, why;
  EXPECT_TRUE(expand_macros(text, use, v, out, &why)) << text << ": " << why;
  return out;
}

}  // namespace

TEST(SpfMacro, Rfc7208Section74SingleMacros) {
  const std::pair<const char*, const char*> cases[] = {
      {"%{s}", "strong-bad@email.example.com"},
      {"%{o}", "email.example.com"},
      {"%{d}", "email.example.com"},
      {"%{d4}", "email.example.com"},
      {"%{d3}", "email.example.com"},
      {"%{d2}", "example.com"},
      {"%{d1}", "com"},
      {"%{dr}", "com.example.email"},
      {"%{d2r}", "example.email"},
      {"%{l}", "strong-bad"},
      {"%{l-}", "strong.bad"},
      {"%{lr}", "strong-bad"},
      {"%{lr-}", "bad.strong"},
      {"%{l1r-}", "strong"},
  };
  for (const auto& [macro, expansion] : cases) EXPECT_EQ(expand(macro), expansion) << macro;
}

TEST(SpfMacro, Rfc7208Section74MacroStrings) {
  EXPECT_EQ(expand("%{ir}.%{v}._spf.%{d2}"), "3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(expand("%{lr-}.lp._spf.%{d2}"), "bad.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}"), "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
  EXPECT_EQ(expand("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}"), "3.2.0.192.in-addr.strong.lp._spf.example.com");
  EXPECT_EQ(expand("%{d2}.trusted-domains.example.net"), "example.com.trusted-domains.example.net");
  // The RFC prints the IPv6 nibbles in lower case; the RFC 7208 test suite (v-macro-ip6) wants upper case,
  // which is what pyspf produces. DNS does not care, so compare without case.
  const std::string v6 = expand("%{ir}.%{v}._spf.%{d2}", rfc_values("2001:db8::cb01"));
  EXPECT_TRUE(iequals(v6, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"))
      << v6;
  EXPECT_EQ(expand("%{c}", rfc_values("2001:db8::cb01"), MacroUse::Explanation), "2001:db8::cb01");
}

TEST(SpfMacro, OtherLettersAndEscapes) {
  EXPECT_EQ(expand("%{p}"), "mx.example.org");
  EXPECT_EQ(expand("%{p2}.trusted-domains.example.net"), "example.org.trusted-domains.example.net");
  EXPECT_EQ(expand("%{h}"), "mx.example.org");
  EXPECT_EQ(expand("%{i}"), "192.0.2.3");
  EXPECT_EQ(expand("%{v}"), "in-addr");
  EXPECT_EQ(expand("%%%_%-"), "% %20");
  EXPECT_EQ(expand("%{c} %{r} %{t}", rfc_values(), MacroUse::Explanation), "192.0.2.3 example.net 1700000000");
  MacroValues v = rfc_values();
  v.ptr_name = {};
  v.receiver = {};
  EXPECT_EQ(expand("%{p}"), "mx.example.org");
  EXPECT_EQ(expand("%{p}.%{r}", v, MacroUse::Explanation), "unknown.unknown");
}

TEST(SpfMacro, UpperCaseIsUrlEscaped) {
  MacroValues v = rfc_values();
  v.local_part = "~jack&jill=up-a_b3.c";
  EXPECT_EQ(expand("http://example.com/why.html?l=%{L}", v, MacroUse::Explanation),
            "http://example.com/why.html?l=~jack%26jill%3Dup-a_b3.c");
  v.helo = "JUMPIN' JUPITER";
  EXPECT_EQ(expand("%{H}.bar", v), "JUMPIN%27%20JUPITER.bar");
  EXPECT_EQ(expand("%{S}"), "strong-bad%40email.example.com");
  // Escaping applies after the transformers; the joining dots are unreserved and stay.
  EXPECT_EQ(expand("%{L1r-}"), "strong");
  v.local_part = "a b+c";
  EXPECT_EQ(expand("%{Lr+}", v), "c.a%20b");
}

TEST(SpfMacro, DelimitersAreJoinedWithDots) {
  MacroValues v = rfc_values();
  v.local_part = "foo-bar+zip+quux";
  EXPECT_EQ(expand("%{l2r+-}", v), "bar.foo");
  EXPECT_EQ(expand("%{l+-}", v), "foo.bar.zip.quux");
  EXPECT_EQ(expand("%{l1+}", v), "quux");
  v.local_part = "a,b/c_d=e";
  EXPECT_EQ(expand("%{l,/_=}", v), "a.b.c.d.e");
  v.local_part = "a..b";
  EXPECT_EQ(expand("%{lr}", v), "b..a");
  v.local_part = "";
  EXPECT_EQ(expand("x%{lr}y", v), "xy");
}

TEST(SpfMacro, HugeTransformerDigitsMeanAllParts) {
  EXPECT_EQ(expand("%{d99999999999999999999999999999}"), "email.example.com");
  EXPECT_EQ(expand("%{d99999999999999999999999999999r}"), "com.example.email");
}

TEST(SpfMacro, SyntaxErrors) {
  for (const char* bad : {"%", "%x", "%(ir).sbl.example.com", "foo%.sbl.example.com", "%{", "%{d", "%{d2r",
                          "%{dx}", "%{d0}", "%{d2rr}", "%{}", "%{1}", "%{a}", "%{d2r.-x}"}) {
    std::string out, why;
    EXPECT_FALSE(expand_macros(bad, MacroUse::Explanation, rfc_values(), out, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
    EXPECT_TRUE(check_macro_string(bad, MacroUse::Explanation).has_value()) << bad;
  }
  EXPECT_EQ(*check_macro_string("%(ir).sbl.example.com", MacroUse::DomainSpec), "invalid-macro-char : %(ir)");
  EXPECT_EQ(*check_macro_string("%{x}-files", MacroUse::Explanation), "Unknown Macro Encountered: %{x}");
  EXPECT_EQ(*check_macro_string("%{c}", MacroUse::DomainSpec), "c,r,t macros allowed in exp= text only: %{c}");
  EXPECT_FALSE(check_macro_string("%{c}%{R}%{t5r}", MacroUse::Explanation).has_value());
  // Spaces belong to explanation text only; other controls and non-ASCII nowhere.
  EXPECT_FALSE(check_macro_string("The %{s} files.", MacroUse::Explanation).has_value());
  EXPECT_TRUE(check_macro_string("a b", MacroUse::DomainSpec).has_value());
  EXPECT_TRUE(check_macro_string("a\rb", MacroUse::Explanation).has_value());
  EXPECT_TRUE(check_macro_string("caf\xC3\xA9", MacroUse::Explanation).has_value());
}

TEST(SpfMacro, DomainSpecExpansionDropsOneDotAndShortensFromTheLeft) {
  std::string out;
  EXPECT_TRUE(expand_domain_spec("%{d}.d.spf.example.com.", rfc_values(), out));
  EXPECT_EQ(out, "email.example.com.d.spf.example.com");
  // §7.3: labels are removed from the left until the name fits 253 octets.
  MacroValues v = rfc_values();
  v.sender_domain = "somewhat.long.exp.example.com";
  EXPECT_TRUE(expand_domain_spec("foobar.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.%{o}.example.com", v, out));
  EXPECT_EQ(out.size(), 251u);
  EXPECT_EQ(out.substr(0, 14), "somewhat.long.");
  EXPECT_EQ(out.substr(out.size() - 12), ".example.com");
  EXPECT_LE(out.size(), kMaxDomainLength);
  // The explanation text keeps its trailing dot.
  EXPECT_EQ(expand("This is a test.", rfc_values(), MacroUse::Explanation), "This is a test.");
}

TEST(SpfMacro, PtrMacroDetection) {
  EXPECT_TRUE(uses_ptr_macro("%{p}.example.com"));
  EXPECT_TRUE(uses_ptr_macro("x%{P2r}"));
  EXPECT_FALSE(uses_ptr_macro("%%{p}"));
  EXPECT_FALSE(uses_ptr_macro("%{d}.p"));
  EXPECT_TRUE(uses_ptr_macro("%%%{p}"));
}

TEST(SpfMacro, ValidDnsNames) {
  EXPECT_TRUE(is_valid_dns_name("example.com"));
  EXPECT_TRUE(is_valid_dns_name("example.com."));
  EXPECT_TRUE(is_valid_dns_name("localhost"));
  EXPECT_FALSE(is_valid_dns_name(""));
  EXPECT_FALSE(is_valid_dns_name("."));
  EXPECT_FALSE(is_valid_dns_name("a..b"));
  EXPECT_FALSE(is_valid_dns_name(".a"));
  EXPECT_TRUE(is_valid_dns_name(std::string(63, 'a') + ".com"));
  EXPECT_FALSE(is_valid_dns_name(std::string(64, 'a') + ".com"));
  std::string long_name;
  while (long_name.size() < 260) long_name += "abcdefghi.";
  EXPECT_FALSE(is_valid_dns_name(long_name));
}

TEST(SpfMacro, Ipv6MacroText) {
  EXPECT_EQ(ip_macro_text(*parse_ip("cafe:babe::1")),
            "C.A.F.E.B.A.B.E.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1");
}
