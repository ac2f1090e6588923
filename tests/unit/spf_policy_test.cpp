// The SPF stage through the Engine on in-memory DNS: answers byte for byte as pypolicyd-spf 3.0.4 gives them
// (reference pypolicyd-spf.md §4.6), for the cases where tests/compat found spfgate different.
#include "config/options.hpp"
#include "policy/dns/memory_resolver.hpp"
#include "policy/engine.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace asio = boost::asio;
using namespace spfgate;
using namespace spfgate::policy;

namespace {

struct Rig {
  dns::MemoryResolver dns;
  MessageCache cache;
  std::shared_ptr<const Engine> engine;

  explicit Rig(std::vector<std::string> args) {
    args.push_back("--skip_addresses=127.0.0.1/32");
    engine = Engine::build(std::make_shared<const config::Settings>(config::load(args).settings));
    dns.add_txt("pass.example.org", {"v=spf1 ip4:192.0.2.0/24 -all"});
    dns.add_txt("mail.example.org", {"v=spf1 a -all"});
    dns.add_a("mail.example.org", "192.0.2.10");
  }
  Answer ask(const std::string& client, const std::string& helo, const std::string& sender,
             const std::string& instance = "", const std::string& recipient = "rcpt@example.net") {
    asio::io_context io;
    auto req = PolicyRequest::from({{"request", "smtpd_access_policy"}, {"protocol_state", "RCPT"},
                                    {"client_address", client}, {"helo_name", helo}, {"sender", sender},
                                    {"recipient", recipient}, {"instance", instance}, {"queue_id", ""}});
    auto f = asio::co_spawn(io, engine->handle(req, dns, cache, dns::Clock::now() + std::chrono::seconds(5)),
                            asio::use_future);
    io.run();
    return f.get();
  }
};

}  // namespace

// pypolicyd-spf's Why URL names the MAIL FROM identity "mfrom" (s=mfrom), not "mailfrom".
TEST(SpfPolicy, WhyUrlSaysMfromAndHelo) {
  Rig rig({"--Why_URL=http://www.openspf.net/Why"});
  EXPECT_EQ(rig.ask("203.0.113.50", "helo-none.example.org", "user@pass.example.org").action,
            "550 5.7.23 Message rejected due to: SPF fail - not authorized. Please see "
            "http://www.openspf.net/Why?s=mfrom;id=user@pass.example.org;ip=203.0.113.50;r=example.net");
  EXPECT_EQ(rig.ask("203.0.113.50", "mail.example.org", "").action,
            "550 5.7.23 Message rejected due to: SPF fail - not authorized. Please see "
            "http://www.openspf.net/Why?s=helo;id=mail.example.org;ip=203.0.113.50;r=example.net");
}

// Reject_Not_Pass_Domains: "Receiver policy for SPF <Result>", except for None, which keeps "no SPF record".
TEST(SpfPolicy, RejectNotPassDomainsReasonButNotForNone) {
  Rig rig({"--Reject_Not_Pass_Domains=mail.example.org,helo-none.example.org", "--Header_Type=AR",
           "--Authserv_Id=mx.example.net"});
  EXPECT_EQ(rig.ask("192.0.2.10", "mail.example.org", "").action,
            "prepend Authentication-Results: mx.example.net; spf=pass (Receiver policy for SPF Pass) "
            "smtp.helo=mail.example.org (client-ip=192.0.2.10; helo=mail.example.org; envelope-from=<>; "
            "receiver=example.net)");
  EXPECT_EQ(rig.ask("192.0.2.10", "helo-none.example.org", "").action,
            "prepend Authentication-Results: mx.example.net; spf=none (no SPF record) smtp.helo=helo-none.example.org "
            "(client-ip=192.0.2.10; helo=helo-none.example.org; envelope-from=<>; receiver=example.net)");
}

// Request values are decoded as pypolicyd-spf decodes them: a byte that is not UTF-8 becomes U+FFFD.
TEST(SpfPolicy, InvalidUtf8InARequestBecomesTheReplacementCharacter) {
  Rig rig({});
  EXPECT_EQ(rig.ask("192.0.2.10", "helo-none.example.org", "j\xF6rn@pass.example.org").action,
            "prepend Received-SPF: Pass (mailfrom) identity=mailfrom; client-ip=192.0.2.10; "
            "helo=helo-none.example.org; envelope-from=j\xEF\xBF\xBDrn@pass.example.org; receiver=example.net ");
}

// No_Mail: only a domain publishing exactly "v=spf1 -all" is rejected; any other failing domain gets the
// header. A deferral (TempError_Defer) is not a reject and stands: the record could not be read.
TEST(SpfPolicy, NoMailNarrowsRejectsButNotDeferrals) {
  Rig rig({"--No_Mail=True", "--Mail_From_reject=SPF_Not_Pass", "--TempError_Defer=True", "--HELO_reject=False"});
  rig.dns.add_txt("nomail.example.org", {"v=spf1 -all"});
  rig.dns.add_txt("spaced.example.org", {"v=spf1  -all"});
  rig.dns.add_name_failure("broken.example.org", dns::DnsStatus::ServFail);
  EXPECT_EQ(rig.ask("203.0.113.50", "helo-none.example.org", "user@nomail.example.org").action,
            "550 5.7.23 Message rejected due to: SPF fail - not authorized.");
  const std::string other = rig.ask("203.0.113.50", "helo-none.example.org", "user@pass.example.org").action;
  EXPECT_EQ(other.rfind("prepend Received-SPF: Fail (mailfrom) identity=mailfrom;", 0), 0u) << other;
  const std::string spaced = rig.ask("203.0.113.50", "helo-none.example.org", "user@spaced.example.org").action;
  EXPECT_EQ(spaced.rfind("prepend Received-SPF: Fail", 0), 0u) << "not exactly \"v=spf1 -all\": " << spaced;
  const std::string deferred = rig.ask("203.0.113.50", "helo-none.example.org", "user@broken.example.org").action;
  EXPECT_EQ(deferred.rfind("defer_if_permit 4.7.24 Message deferred due to: ", 0), 0u) << deferred;
}

// A Reason_Message with {url} and no Why_URL: the reply does not end in a dangling space, and loading the
// configuration says why {url} is empty.
TEST(SpfPolicy, UrlWithoutWhyUrlIsEmptyAndNoticed) {
  const std::vector<std::string> args{"--Reason_Message=Message {rejectdefer} due to: {spf}. Please see {url}"};
  const config::Loaded loaded = config::load(args);
  bool noticed = false;
  for (const auto& n : loaded.notices) noticed = noticed || n.find("{url} but Why_URL is not set") != std::string::npos;
  EXPECT_TRUE(noticed);
  Rig rig(args);
  EXPECT_EQ(rig.ask("203.0.113.50", "helo-none.example.org", "user@pass.example.org").action,
            "550 5.7.23 Message rejected due to: SPF fail - not authorized. Please see");
}

// The rest of what tests/compat found pypolicyd-spf getting wrong, here without pypolicyd-spf: each case the
// README's migration table lists as answered differently.

// A permerror reject repeated for the message's second recipient keeps its 5.7.24 code (pypolicyd-spf
// answered 5.7.23 from its cache).
TEST(SpfPolicy, ARepeatedPermerrorRejectKeepsItsCode) {
  Rig rig({"--PermError_reject=True"});
  rig.dns.add_txt("perm.example.org", {"v=spf1 bogus:x -all"});
  const std::string first = rig.ask("203.0.113.50", "helo-none.example.org", "u@perm.example.org", "msg.1").action;
  EXPECT_EQ(first.rfind("550 5.7.24 Message rejected due to: SPF Permanent Error: ", 0), 0u) << first;
  EXPECT_EQ(rig.ask("203.0.113.50", "helo-none.example.org", "u@perm.example.org", "msg.1", "other@example.net").action,
            first);
}

// Only HELO_pass_restriction set and both identities pass: the restriction (pypolicyd-spf: "None").
TEST(SpfPolicy, HeloPassRestrictionAloneWhenBothPass) {
  Rig rig({"--HELO_pass_restriction=helo_passed_spf"});
  EXPECT_EQ(rig.ask("192.0.2.10", "mail.example.org", "user@pass.example.org").action, "helo_passed_spf");
}

// MAIL FROM none while HELO has a result: the MAIL FROM header (pypolicyd-spf prepended the HELO one,
// CVE-2019-20790).
TEST(SpfPolicy, MailFromNoneGetsTheMailFromHeader) {
  Rig rig({});
  rig.dns.add_txt("none.example.org", {"not an spf record"});
  const std::string a = rig.ask("192.0.2.10", "mail.example.org", "user@none.example.org").action;
  EXPECT_EQ(a.rfind("prepend Received-SPF: None (mailfrom) identity=mailfrom; client-ip=192.0.2.10; "
                    "helo=mail.example.org; envelope-from=user@none.example.org;", 0), 0u) << a;
}

// A Reject_Not_Pass_Domains entry covers its subdomains (pypolicyd-spf's match was inverted).
TEST(SpfPolicy, RejectNotPassDomainsCoversSubdomains) {
  Rig rig({"--Reject_Not_Pass_Domains=example.org", "--HELO_reject=False", "--Mail_From_reject=False"});
  rig.dns.add_txt("sub.example.org", {"v=spf1 ?all"});
  EXPECT_EQ(rig.ask("203.0.113.50", "helo-none.example.org", "u@sub.example.org").action,
            "550 5.7.23 Message rejected due to: Receiver policy for SPF Neutral.");
  rig.dns.add_txt("example.net", {"v=spf1 ?all"});  // not listed: a header
  EXPECT_EQ(rig.ask("203.0.113.50", "helo-none.example.org", "u@example.net").action.rfind("prepend ", 0), 0u);
}

// An empty HELO: no HELO identity is checked (pypolicyd-spf checked the sender's domain as s=helo).
TEST(SpfPolicy, EmptyHeloChecksNoHeloIdentity) {
  // pass.example.org does not authorise the client: checked as the HELO identity it would be rejected.
  Rig rig({"--HELO_reject=Fail", "--Mail_From_reject=False"});
  const std::string a = rig.ask("203.0.113.50", "", "user@pass.example.org").action;
  EXPECT_EQ(a.rfind("prepend Received-SPF: Fail (mailfrom) identity=mailfrom;", 0), 0u) << a;
}

// Engine::start (the server's warm path): a request whose results are all cached is decided there and
// then, without a coroutine; one that needs DNS is left to resume(); both answer as handle() does.
TEST(SpfPolicy, StartDecidesACachedRequestAloneAndLeavesTheRestToResume) {
  Rig rig({});
  auto request = [](const std::string& client, const std::string& instance) {
    return PolicyRequest::from({{"request", "smtpd_access_policy"}, {"protocol_state", "RCPT"},
                                {"client_address", client}, {"helo_name", "mail.example.org"},
                                {"sender", "user@pass.example.org"}, {"recipient", "rcpt@example.net"},
                                {"instance", instance}, {"queue_id", ""}});
  };
  const auto deadline = dns::Clock::now() + std::chrono::seconds(5);
  const PolicyRequest first = request("192.0.2.10", "m.1");
  Engine::Started cold = rig.engine->start(first, rig.dns, rig.cache, deadline);
  ASSERT_TRUE(cold.work) << "nothing was cached yet";
  EXPECT_FALSE(cold.answer);
  EXPECT_EQ(rig.dns.query_count(), 0u) << "start() asks nothing";
  asio::io_context io;
  auto f = asio::co_spawn(io, Engine::resume(first, std::move(cold.work)), asio::use_future);
  io.run();
  const Answer resumed = f.get();
  EXPECT_EQ(resumed.kind, DecisionKind::Prepend);
  EXPECT_NE(resumed.action.find("Received-SPF: Pass"), std::string::npos) << resumed.action;
  const std::size_t queries = rig.dns.query_count();
  EXPECT_GT(queries, 0u);

  const PolicyRequest second = request("192.0.2.10", "m.2");
  Engine::Started warm = rig.engine->start(second, rig.dns, rig.cache, deadline);
  ASSERT_TRUE(warm.answer) << "every result was cached";
  EXPECT_FALSE(warm.work);
  EXPECT_EQ(warm.answer->action, resumed.action);
  EXPECT_EQ(warm.answer->log_line, resumed.log_line);
  EXPECT_EQ(rig.dns.query_count(), queries);
  EXPECT_EQ(rig.ask("192.0.2.10", "mail.example.org", "user@pass.example.org", "m.3").action, resumed.action)
      << "handle() agrees";

  // The local checks decide at once too (skip_addresses), and so does the message cache for a later
  // recipient of a message already answered.
  Engine::Started local = rig.engine->start(request("127.0.0.1", "m.4"), rig.dns, rig.cache, deadline);
  ASSERT_TRUE(local.answer);
  EXPECT_NE(local.answer->action.find("SPF check N/A for local connections"), std::string::npos) << local.answer->action;
  Engine::Started again = rig.engine->start(first, rig.dns, rig.cache, deadline);
  ASSERT_TRUE(again.answer);
  EXPECT_EQ(again.answer->action, "dunno") << "the header went out with the message's first answer";
}
