// Header builders. The expected pypolicyd-spf strings are copied verbatim from
// ../shared/reference/pypolicyd-spf.md §4.6 and §8 (observed output of pypolicyd-spf 3.0.4), and the
// outcomes come from real evaluations over the zone data used there (§1).
#include "policy/spf/header.hpp"

#include "common/text.hpp"

#include "spf_test_util.hpp"

#include <gtest/gtest.h>

using namespace spfgate;
using namespace spfgate::spf;
using namespace spfgate::spf::test;
using dns::MemoryResolver;

namespace {

class PypolicydZone : public ::testing::Test {
 protected:
  void SetUp() override {
    r.add_txt("pass.example.org", {"v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"});
    r.add_txt("softfail.example.org", {"v=spf1 ip4:198.51.100.1 ~all"});
    r.add_txt("neutral.example.org", {"v=spf1 ?all"});
    r.add_a("none.example.org", "192.0.2.99");
    r.add_txt("permerror.example.org", {"v=spf1 ip4:192.0.2.0/24 foo:bar -all"});
    r.add_txt("mail.pass.example.org", {"v=spf1 a -all"});
    r.add_a("mail.pass.example.org", "192.0.2.10");
    r.add_a("mail.pass.example.org", "2001:db8::10");
    r.add_a("helo-none.example.org", "192.0.2.10");
    r.add_txt("expfail.example.org", {"v=spf1 -all exp=explain.example.org"});
    r.add_txt("explain.example.org", {"%{i} is not one of %{d} designated mail servers."});
    r.add_name_failure("temperror.example.org", dns::DnsStatus::Timeout);
    r.add_name_failure("x.temperror.example.org", dns::DnsStatus::Timeout);
  }

  // MAIL FROM check and its pypolicyd-spf header (receiver = the recipient's domain).
  std::string mailfrom(std::string_view ip, std::string sender, std::string helo) {
    const Outcome o = run(r, request(ip, sender, helo));
    return received_spf_pypolicyd(o, Identity::MailFrom, inputs(ip, sender, helo)).line();
  }
  std::string helo(std::string_view ip, std::string name) {
    const Outcome o = run(r, helo_request(ip, name));
    return received_spf_pypolicyd(o, Identity::Helo, inputs(ip, "", name)).line();
  }
  HeaderInputs inputs(std::string_view ip, std::string_view sender, std::string_view helo_name) {
    keep_sender = sender;
    keep_helo = helo_name;
    return HeaderInputs{*parse_ip(ip), keep_helo, keep_sender, "example.net"};
  }

  MemoryResolver r;
  std::string keep_sender, keep_helo;
};

}  // namespace

TEST_F(PypolicydZone, ReceivedSpfMailFromIsByteExact) {
  EXPECT_EQ(mailfrom("192.0.2.10", "user@pass.example.org", "helo-none.example.org"),
            "Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.10; helo=helo-none.example.org; "
            "envelope-from=user@pass.example.org; receiver=example.net ");
  EXPECT_EQ(mailfrom("203.0.113.50", "user@pass.example.org", "helo-none.example.org"),
            "Received-SPF: Fail (mailfrom) identity=mailfrom; client-ip=203.0.113.50; helo=helo-none.example.org; "
            "envelope-from=user@pass.example.org; receiver=example.net ");
  EXPECT_EQ(mailfrom("192.0.2.10", "user@softfail.example.org", "helo-none.example.org"),
            "Received-SPF: Softfail (mailfrom) identity=mailfrom; client-ip=192.0.2.10; helo=helo-none.example.org; "
            "envelope-from=user@softfail.example.org; receiver=example.net ");
  EXPECT_EQ(mailfrom("192.0.2.10", "user@neutral.example.org", "helo-none.example.org"),
            "Received-SPF: Neutral (mailfrom) identity=mailfrom; client-ip=192.0.2.10; helo=helo-none.example.org; "
            "envelope-from=user@neutral.example.org; receiver=example.net ");
  EXPECT_EQ(mailfrom("192.0.2.10", "user@none.example.org", "helo-none.example.org"),
            "Received-SPF: None (mailfrom) identity=mailfrom; client-ip=192.0.2.10; helo=helo-none.example.org; "
            "envelope-from=user@none.example.org; receiver=example.net ");
  EXPECT_EQ(mailfrom("192.0.2.10", "user@permerror.example.org", "helo-none.example.org"),
            "Received-SPF: Permerror (mailfrom) identity=mailfrom; client-ip=192.0.2.10; helo=helo-none.example.org; "
            "envelope-from=user@permerror.example.org; receiver=example.net ");
  EXPECT_EQ(mailfrom("192.0.2.10", "user@temperror.example.org", "helo-none.example.org"),
            "Received-SPF: Temperror (mailfrom) identity=mailfrom; client-ip=192.0.2.10; helo=helo-none.example.org; "
            "envelope-from=user@temperror.example.org; receiver=example.net ");
  EXPECT_EQ(mailfrom("2001:db8::10", "user@pass.example.org", "mail.pass.example.org"),
            "Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=2001:db8::10; helo=mail.pass.example.org; "
            "envelope-from=user@pass.example.org; receiver=example.net ");
  EXPECT_EQ(mailfrom("::ffff:192.0.2.10", "user@pass.example.org", "helo-none.example.org"),
            "Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=::ffff:192.0.2.10; helo=helo-none.example.org; "
            "envelope-from=user@pass.example.org; receiver=example.net ");
}

TEST_F(PypolicydZone, ReceivedSpfHeloCarriesTheReason) {
  EXPECT_EQ(helo("192.0.2.10", "mail.pass.example.org"),
            "Received-SPF: Pass (sender SPF authorized) identity=helo; client-ip=192.0.2.10; "
            "helo=mail.pass.example.org; envelope-from=<>; receiver=example.net ");
  EXPECT_EQ(helo("203.0.113.50", "mail.pass.example.org"),
            "Received-SPF: Fail (SPF fail - not authorized) identity=helo; client-ip=203.0.113.50; "
            "helo=mail.pass.example.org; envelope-from=<>; receiver=example.net ");
  EXPECT_EQ(helo("192.0.2.10", "softfail.example.org"),
            "Received-SPF: Softfail (domain owner discourages use of this host) identity=helo; client-ip=192.0.2.10; "
            "helo=softfail.example.org; envelope-from=<>; receiver=example.net ");
  EXPECT_EQ(helo("192.0.2.10", "neutral.example.org"),
            "Received-SPF: Neutral (access neither permitted nor denied) identity=helo; client-ip=192.0.2.10; "
            "helo=neutral.example.org; envelope-from=<>; receiver=example.net ");
  EXPECT_EQ(helo("192.0.2.10", "helo-none.example.org"),
            "Received-SPF: None (no SPF record) identity=helo; client-ip=192.0.2.10; helo=helo-none.example.org; "
            "envelope-from=<>; receiver=example.net ");
  EXPECT_EQ(helo("192.0.2.10", "permerror.example.org"),
            "Received-SPF: Permerror (SPF Permanent Error: Unknown mechanism found: foo:bar) identity=helo; "
            "client-ip=192.0.2.10; helo=permerror.example.org; envelope-from=<>; receiver=example.net ");
  EXPECT_EQ(helo("192.0.2.10", "x.temperror.example.org"),
            "Received-SPF: Temperror (SPF Temporary Error: DNS Timeout) identity=helo; client-ip=192.0.2.10; "
            "helo=x.temperror.example.org; envelope-from=<>; receiver=example.net ");
  // MAIL FROM None with HELO Pass: pypolicyd-spf prepends the HELO header with the real sender (§8.1).
  const Outcome o = run(r, helo_request("192.0.2.10", "mail.pass.example.org"));
  EXPECT_EQ(received_spf_pypolicyd(o, Identity::Helo, inputs("192.0.2.10", "user@none.example.org",
                                                                "mail.pass.example.org")).line(),
            "Received-SPF: Pass (sender SPF authorized) identity=helo; client-ip=192.0.2.10; "
            "helo=mail.pass.example.org; envelope-from=user@none.example.org; receiver=example.net ");
  // Reject_Not_Pass_Domains gives its own reason text.
  EXPECT_EQ(received_spf_pypolicyd(Result::Pass, Identity::Helo, "Receiver policy for SPF Pass",
                                   inputs("192.0.2.10", "", "mail.pass.example.org")).line(),
            "Received-SPF: Pass (Receiver policy for SPF Pass) identity=helo; client-ip=192.0.2.10; "
            "helo=mail.pass.example.org; envelope-from=<>; receiver=example.net ");
}

TEST_F(PypolicydZone, AuthenticationResultsIsByteExact) {
  const auto ar = [&](std::string_view ip, std::string sender, std::string helo_name) {
    const Outcome o = run(r, request(ip, sender, helo_name));
    AuthenticationResults h("mx.example.net");
    EXPECT_TRUE(h.add_spf(o, Identity::MailFrom, inputs(ip, sender, helo_name)));
    return h.field().line();
  };
  EXPECT_EQ(ar("192.0.2.10", "user@pass.example.org", "helo-none.example.org"),
            "Authentication-Results: mx.example.net; spf=pass (sender SPF authorized) smtp.mailfrom=pass.example.org "
            "(client-ip=192.0.2.10; helo=helo-none.example.org; envelope-from=user@pass.example.org; "
            "receiver=example.net)");
  EXPECT_EQ(ar("203.0.113.50", "user@pass.example.org", "helo-none.example.org"),
            "Authentication-Results: mx.example.net; spf=fail (SPF fail - not authorized) "
            "smtp.mailfrom=pass.example.org "
            "(client-ip=203.0.113.50; helo=helo-none.example.org; envelope-from=user@pass.example.org; "
            "receiver=example.net)");
  EXPECT_EQ(ar("192.0.2.10", "user@softfail.example.org", "helo-none.example.org"),
            "Authentication-Results: mx.example.net; spf=softfail (domain owner discourages use of this host) "
            "smtp.mailfrom=softfail.example.org (client-ip=192.0.2.10; helo=helo-none.example.org; "
            "envelope-from=user@softfail.example.org; receiver=example.net)");
  EXPECT_EQ(ar("192.0.2.10", "user@none.example.org", "helo-none.example.org"),
            "Authentication-Results: mx.example.net; spf=none (no SPF record) smtp.mailfrom=none.example.org "
            "(client-ip=192.0.2.10; helo=helo-none.example.org; envelope-from=user@none.example.org; "
            "receiver=example.net)");
  EXPECT_EQ(ar("192.0.2.10", "user@permerror.example.org", "helo-none.example.org"),
            "Authentication-Results: mx.example.net; spf=permerror (SPF Permanent Error: Unknown mechanism found: "
            "foo:bar) smtp.mailfrom=permerror.example.org (client-ip=192.0.2.10; helo=helo-none.example.org; "
            "envelope-from=user@permerror.example.org; receiver=example.net)");
  EXPECT_EQ(ar("192.0.2.10", "user@temperror.example.org", "helo-none.example.org"),
            "Authentication-Results: mx.example.net; spf=temperror (SPF Temporary Error: DNS Timeout) "
            "smtp.mailfrom=temperror.example.org (client-ip=192.0.2.10; helo=helo-none.example.org; "
            "envelope-from=user@temperror.example.org; receiver=example.net)");
  EXPECT_EQ(ar("192.0.2.10", "user@expfail.example.org", "helo-none.example.org"),
            "Authentication-Results: mx.example.net; spf=fail (192.0.2.10 is not one of expfail.example.org designated "
            "mail servers.) smtp.mailfrom=expfail.example.org (client-ip=192.0.2.10; helo=helo-none.example.org; "
            "envelope-from=user@expfail.example.org; receiver=example.net)");

  const Outcome h = run(r, helo_request("192.0.2.10", "mail.pass.example.org"));
  AuthenticationResults a("mx.example.net");
  a.add_spf(h, Identity::Helo, inputs("192.0.2.10", "", "mail.pass.example.org"));
  EXPECT_EQ(a.field().line(),
            "Authentication-Results: mx.example.net; spf=pass (sender SPF authorized) smtp.helo=mail.pass.example.org "
            "(client-ip=192.0.2.10; helo=mail.pass.example.org; envelope-from=<>; receiver=example.net)");
  const Outcome t = run(r, helo_request("192.0.2.10", "x.temperror.example.org"));
  AuthenticationResults b("mx.example.net");
  b.add_spf(t, Identity::Helo, inputs("192.0.2.10", "", "x.temperror.example.org"));
  EXPECT_EQ(b.field().line(),
            "Authentication-Results: mx.example.net; spf=temperror (SPF Temporary Error: DNS Timeout) "
            "smtp.helo=x.temperror.example.org (client-ip=192.0.2.10; helo=x.temperror.example.org; envelope-from=<>; "
            "receiver=example.net)");
}

TEST_F(PypolicydZone, AuthenticationResultsCombinesSpfAndIprev) {
  const Outcome o = run(r, request("192.0.2.10", "user@pass.example.org", "helo-none.example.org"));
  AuthenticationResults a("mx.example.net");
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.field().line(), "Authentication-Results: mx.example.net; none");
  a.add_spf(o, Identity::MailFrom, inputs("192.0.2.10", "user@pass.example.org", "helo-none.example.org"));
  EXPECT_TRUE(a.add_iprev("pass", *parse_ip("192.0.2.10")));
  EXPECT_EQ(a.field().value,
            "mx.example.net; spf=pass (sender SPF authorized) smtp.mailfrom=pass.example.org (client-ip=192.0.2.10; "
            "helo=helo-none.example.org; envelope-from=user@pass.example.org; receiver=example.net); "
            "iprev=pass policy.iprev=192.0.2.10");
  AuthenticationResults six("mx.example.net");
  six.add_iprev("fail", *parse_ip("2001:db8::1"), "no PTR");
  EXPECT_EQ(six.field().value, "mx.example.net; iprev=fail (no PTR) policy.iprev=\"2001:db8::1\"");
  AuthenticationResults generic("mx.example.net");
  generic.add("dkim", "pass", {}, {{"header.d", "example.org"}, {"header.s", "sel 1"}});
  EXPECT_EQ(generic.field().value, "mx.example.net; dkim=pass header.d=example.org header.s=\"sel 1\"");
}

TEST_F(PypolicydZone, Rfc7208Layout) {
  const Outcome pass = run(r, request("192.0.2.10", "user@pass.example.org", "helo-none.example.org"));
  HeaderInputs in{*parse_ip("192.0.2.10"), "helo-none.example.org", "user@pass.example.org", "mybox.example.org"};
  EXPECT_EQ(received_spf_rfc7208(pass, Identity::MailFrom, in).line(),
            "Received-SPF: pass (mybox.example.org: domain of user@pass.example.org designates 192.0.2.10 as "
            "permitted sender) receiver=mybox.example.org; client-ip=192.0.2.10; "
            "envelope-from=\"user@pass.example.org\"; helo=helo-none.example.org; identity=mailfrom; "
            "mechanism=\"ip4:192.0.2.0/24\"");
  const Outcome fail = run(r, request("203.0.113.50", "user@pass.example.org", "helo-none.example.org"));
  in.client = *parse_ip("203.0.113.50");
  EXPECT_EQ(received_spf_rfc7208(fail, Identity::MailFrom, in).value,
            "fail (mybox.example.org: domain of user@pass.example.org does not designate 203.0.113.50 as permitted "
            "sender) receiver=mybox.example.org; client-ip=203.0.113.50; envelope-from=\"user@pass.example.org\"; "
            "helo=helo-none.example.org; identity=mailfrom; mechanism=-all");
  const Outcome perm = run(r, helo_request("192.0.2.10", "permerror.example.org"));
  HeaderInputs hin{*parse_ip("2001:db8::1"), "permerror.example.org", "", ""};
  EXPECT_EQ(received_spf_rfc7208(perm, Identity::Helo, hin).value,
            "permerror (permanent error in processing domain of permerror.example.org) client-ip=\"2001:db8::1\"; "
            "helo=permerror.example.org; identity=helo; problem=\"Unknown mechanism found: foo:bar\"");
}

TEST(SpfHeader, HiddenReceiverStaysBare) {
  // Hide_Receiver: pypolicyd-spf writes receiver=<UNKNOWN>, and "<", ">" cannot end a value or start a key.
  Outcome o;
  o.result = Result::Pass;
  HeaderInputs in{*parse_ip("192.0.2.10"), "helo-none.example.org", "user@pass.example.org", "<UNKNOWN>"};
  EXPECT_EQ(received_spf_pypolicyd(o, Identity::MailFrom, in).line(),
            "Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.10; helo=helo-none.example.org; "
            "envelope-from=user@pass.example.org; receiver=<UNKNOWN> ");
  EXPECT_EQ(received_spf_pypolicyd(Result::Pass, Identity::Helo, "sender SPF authorized", in).line(),
            "Received-SPF: Pass (sender SPF authorized) identity=helo; client-ip=192.0.2.10; "
            "helo=helo-none.example.org; envelope-from=user@pass.example.org; receiver=<UNKNOWN> ");
}

TEST(SpfHeader, AddressLiteralHeloStaysBare) {
  Outcome o;
  o.result = Result::None;
  HeaderInputs in{*parse_ip("192.0.2.10"), "[192.0.2.10]", "", "example.net"};
  EXPECT_EQ(received_spf_pypolicyd(Result::None, Identity::Helo, "no SPF record", in).line(),
            "Received-SPF: None (no SPF record) identity=helo; client-ip=192.0.2.10; helo=[192.0.2.10]; "
            "envelope-from=<>; receiver=example.net ");
  in.helo = "[IPv6:2001:db8::10]";
  EXPECT_NE(received_spf_pypolicyd(o, Identity::MailFrom, in).value.find(" helo=[IPv6:2001:db8::10]; "),
            std::string::npos);
}

TEST(SpfHeader, HostileSendersAreQuotedNotInjected) {
  Outcome o;
  o.result = Result::Pass;
  HeaderInputs in{*parse_ip("192.0.2.1"), "mail.example.org", "x; identity=helo@evil.example", "example.net"};
  EXPECT_EQ(received_spf_pypolicyd(o, Identity::MailFrom, in).value,
            "Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.1; helo=mail.example.org; "
            "envelope-from=\"x; identity=helo@evil.example\"; receiver=example.net ");
  in.sender = R"(a"b\c@example.org)";
  in.helo = "(comment) helo";
  EXPECT_EQ(received_spf_pypolicyd(o, Identity::MailFrom, in).value,
            "Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.1; helo=\"(comment) helo\"; "
            R"(envelope-from="a\"b\\c@example.org"; receiver=example.net )");
  // Inside the AR comment, a parenthesis without its partner is escaped so the comment cannot be closed
  // early; balanced ones nest (RFC 5322) and stand as pypolicyd-spf writes them.
  in.sender = "a)b@example.org";
  in.helo = "x) spf=pass (y";
  AuthenticationResults ar("mx.example.net");
  ar.add_spf(Result::Fail, Identity::MailFrom, "because (reasons)", in);
  EXPECT_EQ(ar.field().value,
            R"(mx.example.net; spf=fail (because (reasons)) smtp.mailfrom=example.org (client-ip=192.0.2.1; )"
            R"(helo=x\) spf=pass \(y; envelope-from=a\)b@example.org; receiver=example.net))");
  AuthenticationResults ar2("mx.example.net");
  ar2.add_spf(Result::PermError, Identity::MailFrom, "SPF Permanent Error: Invalid domain found (use FQDN): x", in);
  EXPECT_NE(ar2.field().value.find("spf=permerror (SPF Permanent Error: Invalid domain found (use FQDN): x) "),
            std::string::npos) << ar2.field().value;
  AuthenticationResults ar3("mx.example.net");
  ar3.add_spf(Result::Fail, Identity::MailFrom, ")(a\\b", in);
  EXPECT_NE(ar3.field().value.find(R"(spf=fail (\)\(a\\b) )"), std::string::npos) << ar3.field().value;
  // Cut text: every parenthesis escaped, so the cut cannot leave one open.
  AuthenticationResults ar4("mx.example.net");
  ar4.add_spf(Result::Fail, Identity::MailFrom, std::string(60, 'x') + " (a long aside" + std::string(150, 'y') + ")", in);
  EXPECT_NE(ar4.field().value.find(R"(x \(a long aside)"), std::string::npos) << ar4.field().value;
  EXPECT_NE(ar4.field().value.find("y...) smtp.mailfrom="), std::string::npos) << ar4.field().value;
  // A sender domain that is not a token is a quoted pvalue.
  in.sender = "user@exa mple.org";
  AuthenticationResults q("mx.example.net");
  q.add_spf(Result::None, Identity::MailFrom, "no SPF record", in);
  EXPECT_NE(q.field().value.find("smtp.mailfrom=\"exa mple.org\""), std::string::npos) << q.field().value;
  // Ordinary UTF-8 local parts pass through unquoted, like pypolicyd-spf.
  in.sender = "j\xC3\xB8rn@example.org";
  EXPECT_NE(received_spf_pypolicyd(o, Identity::MailFrom, in).value.find("envelope-from=j\xC3\xB8rn@example.org;"),
            std::string::npos);
}

TEST(SpfHeader, NoControlBytesAndBoundedLength) {
  const std::string evil =
      std::string("a\r\nX-Injected: 1") + '\0' + "\x7f\"\\();," + std::string(3000, '"') + "\xff\xfe";
  Outcome o;
  o.explanation = evil;
  o.problem = evil;
  o.mechanism = evil;
  HeaderInputs in{*parse_ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"), evil, evil, evil};
  std::vector<std::string> lines;
  for (Result r : {Result::None, Result::Neutral, Result::Pass, Result::Fail, Result::SoftFail, Result::TempError,
                   Result::PermError}) {
    o.result = r;
    for (Identity id : {Identity::MailFrom, Identity::Helo}) {
      lines.push_back(received_spf_pypolicyd(o, id, in).line());
      lines.push_back(received_spf_rfc7208(o, id, in).line());
      AuthenticationResults ar(evil);
      EXPECT_TRUE(ar.add_spf(o, id, in));
      EXPECT_TRUE(ar.add_iprev("pass", in.client, evil));
      lines.push_back(ar.field().line());
    }
  }
  for (const std::string& line : lines) {
    EXPECT_EQ(line.find_first_of(std::string("\r\n\0", 3)), std::string::npos) << line;
    EXPECT_TRUE(is_clean(line)) << line;
    EXPECT_LE(line.size(), kMaxHeaderLine) << line;
  }
  // An AR header refuses a resinfo that would make it too long, and keeps what it had.
  AuthenticationResults full("mx.example.net");
  int added = 0;
  while (full.add("x-long", "pass", evil, {{"x.a", evil}})) ++added;
  EXPECT_GE(added, 1);
  EXPECT_LE(full.field().line().size(), kMaxHeaderLine);
}

TEST(SpfHeader, SpfResinfoKeepsOrdinaryValuesWholeAndLeavesRoomForIprev) {
  // pypolicyd-spf's own header for a permerror in an include: 268 octets, uncut with a short authserv-id.
  HeaderInputs in{*parse_ip("127.0.0.120"), "helo-none.compat.test", "user@incnone.compat.test", "example.net"};
  const std::string reason =
      "SPF Permanent Error: No valid SPF record for included domain: none.compat.test: include:none.compat.test";
  AuthenticationResults ar("mx.compat.test");
  EXPECT_TRUE(ar.add_spf(Result::PermError, Identity::MailFrom, reason, in));
  EXPECT_NE(ar.field().value.find("(" + reason + ") smtp.mailfrom=incnone.compat.test (client-ip=127.0.0.120; "
                                  "helo=helo-none.compat.test; envelope-from=user@incnone.compat.test; "
                                  "receiver=example.net)"),
            std::string::npos)
      << ar.field().value;
  // The longest iprev resinfo fits its reserve, so it always joins an spf resinfo built to spf_budget().
  const std::string evil(300, '(');
  const IpAddress six = *parse_ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
  EXPECT_LE(resinfo_iprev("temperror", six, evil).size(), kMaxIprevResinfo);
  EXPECT_TRUE(ar.add_iprev("temperror", six, evil));
  EXPECT_LE(ar.field().line().size(), kMaxHeaderLine);
  // With the authserv-id at its bound the budget is the documented worst case.
  EXPECT_EQ(AuthenticationResults(std::string(200, 'a')).spf_budget(), kMaxSpfResinfo);
}

TEST(SpfHeader, PypolicydReasons) {
  Outcome o;
  o.result = Result::Fail;
  EXPECT_EQ(pypolicyd_reason(o), "SPF fail - not authorized");
  o.explanation = "See https://example.org/spf";
  EXPECT_EQ(pypolicyd_reason(o), "See https://example.org/spf");
  o.result = Result::PermError;
  o.problem = "Void lookup limit of 2 exceeded";
  EXPECT_EQ(pypolicyd_reason(o), "SPF Permanent Error: Void lookup limit of 2 exceeded");
  o.result = Result::TempError;
  o.problem = "DNS Timeout";
  EXPECT_EQ(pypolicyd_reason(o), "SPF Temporary Error: DNS Timeout");
  o.result = Result::None;
  EXPECT_EQ(pypolicyd_reason(o), "no SPF record");
}
