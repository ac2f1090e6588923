// The Engine with the bypass stage: the exact pypolicyd-spf answers (reference §4.6 (d), §4.7).
#include "config/options.hpp"
#include "policy/checks/bypass.hpp"
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

  explicit Rig(const std::vector<std::string>& args) {
    engine = Engine::build(std::make_shared<const config::Settings>(config::load(args).settings));
  }
  Answer ask(std::vector<Attribute> attrs) {
    asio::io_context io;
    auto req = PolicyRequest::from(std::move(attrs));
    auto f = asio::co_spawn(io, engine->handle(req, dns, cache, dns::Clock::now() + std::chrono::seconds(5)),
                            asio::use_future);
    io.run();
    return f.get();
  }
};

std::vector<Attribute> request(std::string client, std::string instance = "a1.1",
                               std::string recipient = "rcpt1@example.net", std::string helo = "localhost",
                               std::string sender = "User@Pass.Example.org") {
  return {{"request", "smtpd_access_policy"}, {"protocol_state", "RCPT"},  {"client_address", client},
          {"helo_name", helo},                {"sender", sender},          {"recipient", recipient},
          {"instance", instance},             {"queue_id", ""}};
}

}  // namespace

TEST(EngineBypass, SkipAddressesThenDunnoForTheNextRecipient) {
  Rig rig({});
  Answer a = rig.ask(request("127.0.0.1"));
  EXPECT_EQ(a.action,
            "prepend X-Comment: SPF check N/A for local connections - client-ip=127.0.0.1; helo=localhost; "
            "envelope-from=user@pass.example.org; receiver=example.net ");
  EXPECT_EQ(a.log_line, a.action);  // pypolicyd-spf logs the answer; no ": " prefix for an empty queue_id
  Answer b = rig.ask(request("127.0.0.1", "a1.1", "rcpt2@example.net"));
  EXPECT_EQ(b.action, "dunno");
  EXPECT_TRUE(b.log_line.empty());
}

TEST(EngineBypass, Ipv6LoopbackAndNullSender) {
  Rig rig({});
  Answer a = rig.ask(request("::1", "b.1", "rcpt@example.net", "localhost", ""));
  EXPECT_EQ(a.action,
            "prepend X-Comment: SPF check N/A for local connections - client-ip=::1; helo=localhost; "
            "envelope-from=; receiver=example.net ");
}

TEST(EngineBypass, WhitelistAndArHeader) {
  Rig rig({"--Whitelist=198.51.100.0/28, 203.0.113.99", "--Header_Type=AR", "--Authserv_Id=mx.example.net"});
  Answer a = rig.ask(request("198.51.100.5", "c.1", "rcpt1@example.net", "helo-none.example.org"));
  EXPECT_EQ(a.action,
            "prepend Authentication-Results: mx.example.net; none (SPF skipped for whitelisted relay -  "
            "client-ip=198.51.100.5; helo=helo-none.example.org; envelope-from=user@pass.example.org; "
            "receiver=example.net)");
  Answer b = rig.ask(request("203.0.113.99", "c.2"));
  EXPECT_EQ(b.kind, DecisionKind::Prepend);
}

TEST(EngineBypass, ArCommentCannotBeClosedByARequestValue) {
  // Found by fuzz_policy: the values sit inside a comment, where quoting means nothing; an unescaped ")"
  // ended the comment and the rest became a property of the header.
  Rig rig({"--Header_Type=AR", "--Authserv_Id=mx.example.net"});
  Answer a = rig.ask(request("127.0.0.1", "e.1", "rcpt1@example.net", "x) smtp.mailfrom=evil.example ("));
  EXPECT_EQ(a.action,
            "prepend Authentication-Results: mx.example.net; none (SPF check N/A for local connections -  "
            "client-ip=127.0.0.1; helo=\"x\\) smtp.mailfrom=evil.example \\(\"; envelope-from=user@pass.example.org; "
            "receiver=example.net)");
}

TEST(EngineBypass, LongValuesAreShortenedSoTheHeaderFitsOneReplyLine) {
  // Found by fuzz_policy: four values of up to 256 octets each made the header longer than a reply line
  // (510 octets with "PREPEND "), and the codec cut it.
  for (const char* type : {"--Header_Type=SPF", "--Header_Type=AR"}) {
    Rig rig({type, "--Authserv_Id=mx.example.net"});
    const std::string helo(300, 'h'), sender = std::string(300, 's') + "@example.org";
    Answer a = rig.ask(request("127.0.0.1", "f.1", "r@" + std::string(300, 'd') + ".example", helo, sender));
    EXPECT_EQ(a.kind, DecisionKind::Prepend) << type;
    EXPECT_LE(a.action.size(), 510u) << a.action;
    EXPECT_NE(a.action.find("helo=hhhh"), std::string::npos) << a.action;
  }
}

TEST(EngineBypass, BothHeadersGoOutOnePerRequestOfTheMessage) {
  Rig rig({"--Header_Type=SPF,AR", "--Authserv_Id=mx.example.net"});
  Answer a = rig.ask(request("127.0.0.1", "d.1"));
  Answer b = rig.ask(request("127.0.0.1", "d.1", "rcpt2@example.net"));
  Answer c = rig.ask(request("127.0.0.1", "d.1", "rcpt3@example.net"));
  EXPECT_EQ(a.action.rfind("prepend X-Comment: ", 0), 0u);
  EXPECT_EQ(b.action.rfind("prepend Authentication-Results: mx.example.net; none (", 0), 0u);
  EXPECT_EQ(c.action, "dunno");
}

TEST(EngineBypass, HeaderTypeNoneAnswersDunnoAndLogs) {
  Rig rig({"--Header_Type=None"});
  Answer a = rig.ask(request("127.0.0.1", "e.1"));
  EXPECT_EQ(a.action, "dunno");
  EXPECT_EQ(a.log_line.rfind("Header field not prepended: X-Comment: SPF check N/A", 0), 0u);
  // The message has had its (withheld) header: later recipients get a silent dunno, as in pypolicyd-spf,
  // and are not checked again.
  Answer b = rig.ask(request("127.0.0.1", "e.1", "rcpt2@example.net"));
  EXPECT_EQ(b.action, "dunno");
  EXPECT_TRUE(b.from_cache);
  EXPECT_TRUE(b.log_line.empty()) << b.log_line;
  // Outside a mail transaction nothing is remembered: the header goes out at RCPT.
  Rig rig2({});
  auto connect = request("127.0.0.1", "e.2");
  connect[1].second = "CONNECT";
  EXPECT_EQ(rig2.ask(connect).action, "dunno");
  EXPECT_EQ(rig2.ask(request("127.0.0.1", "e.2")).action.rfind("prepend X-Comment: ", 0), 0u);
}

TEST(EngineBypass, MissingAttributesShowAsUnknownInTheComment) {
  // pypolicyd-spf writes data.get('helo_name', '<UNKNOWN>'): an absent attribute is "<UNKNOWN>", an empty
  // one stays empty.
  Rig rig({});
  Answer a = rig.ask({{"client_address", "127.0.0.1"}, {"recipient", "rcpt@example.net"}, {"instance", "u.1"}});
  EXPECT_EQ(a.action,
            "prepend X-Comment: SPF check N/A for local connections - client-ip=127.0.0.1; helo=<UNKNOWN>; "
            "envelope-from=<UNKNOWN>; receiver=example.net ");
  Answer b = rig.ask({{"client_address", "127.0.0.1"}, {"helo_name", ""}, {"sender", ""}, {"instance", "u.2"}});
  EXPECT_EQ(b.action,
            "prepend X-Comment: SPF check N/A for local connections - client-ip=127.0.0.1; helo=; envelope-from=; "
            "receiver=none ");
}

TEST(EngineBypass, QueueIdPrefixesTheLogLine) {
  Rig rig({});
  auto attrs = request("127.0.0.1", "f.1");
  attrs.back().second = "4XyZ1234";
  Answer a = rig.ask(attrs);
  EXPECT_EQ(a.log_line.rfind("4XyZ1234: prepend X-Comment:", 0), 0u);
}

TEST(EngineBypass, ProspectiveAnswersDunnoForHeaders) {
  Rig rig({"--Prospective=127.0.0.2"});
  Answer a = rig.ask(request("203.0.113.50", "g.1"));  // the Prospective address is skipped
  EXPECT_EQ(a.action, "dunno");
  EXPECT_TRUE(a.log_line.empty()) << a.log_line;  // pypolicyd-spf says nothing about Prospective's headers
  auto eom = request("203.0.113.50", "g.2");
  eom[1].second = "END-OF-MESSAGE";
  Answer b = rig.ask(eom);
  EXPECT_EQ(b.action, "dunno");
  EXPECT_TRUE(b.log_line.empty()) << b.log_line;  // not even outside a mail transaction
}

TEST(EngineBypass, MockOnlyWhenExplicitlyTrue) {
  EXPECT_EQ(Rig({"--Mock=True"}).ask(request("127.0.0.1")).action, "dunno mock header field that should be ignored");
  EXPECT_NE(Rig({"--Mock=False"}).ask(request("127.0.0.1")).action, "dunno mock header field that should be ignored");
}

TEST(EngineBypass, MissingOrInvalidClientAddressIsAnsweredDunno) {
  Rig rig({});
  Answer a = rig.ask({{"request", "smtpd_access_policy"}, {"helo_name", "x.example"}});
  EXPECT_EQ(a.action, "dunno");
  Answer b = rig.ask(request(" 192.0.2.10"));
  EXPECT_EQ(b.action, "dunno");
  EXPECT_NE(b.log_line.find("invalid client_address"), std::string::npos);
}

TEST(EngineBypass, HeloWhitelistNeedsTheHeloToResolveToTheClient) {
  Rig rig({"--HELO_Whitelist=relay.example.net"});
  rig.dns.add_a("relay.example.net", "203.0.113.7");
  Answer a = rig.ask(request("203.0.113.7", "h.1", "rcpt1@example.net", "relay.example.net"));
  EXPECT_EQ(a.action,
            "prepend X-Comment: SPF skipped for whitelisted HELO domain - client-ip=203.0.113.7; "
            "helo=relay.example.net; envelope-from=user@pass.example.org; receiver=example.net ");
  Answer b = rig.ask(request("203.0.113.50", "h.2", "rcpt1@example.net", "relay.example.net"));
  EXPECT_EQ(b.action.find("X-Comment"), std::string::npos) << b.action;
}

TEST(EngineBypass, PtrWhitelistIsForwardConfirmedAndLabelBounded) {
  Rig rig({"--Domain_Whitelist_PTR=trusted.example.net"});
  auto ip8 = *parse_ip("203.0.113.8"), ip9 = *parse_ip("203.0.113.9"), ip10 = *parse_ip("203.0.113.10");
  rig.dns.add_reverse(ip8, "out1.trusted.example.net");
  rig.dns.add_a("out1.trusted.example.net", "203.0.113.8");
  rig.dns.add_reverse(ip9, "host.untrusted.example.net");  // pypolicyd-spf's suffix match let this through
  rig.dns.add_a("host.untrusted.example.net", "203.0.113.9");
  rig.dns.add_reverse(ip10, "forged.trusted.example.net");  // PTR claims the domain, forward does not agree
  rig.dns.add_a("forged.trusted.example.net", "198.51.100.1");
  EXPECT_EQ(rig.ask(request("203.0.113.8", "p.1", "r@example.net", "whatever.example.com")).action,
            "prepend X-Comment: SPF skipped for PTR whitelisted relay domain - client-ip=203.0.113.8; "
            "helo=whatever.example.com; envelope-from=user@pass.example.org; receiver=example.net ");
  EXPECT_EQ(rig.ask(request("203.0.113.9", "p.2")).action.find("X-Comment"), std::string::npos);
  EXPECT_EQ(rig.ask(request("203.0.113.10", "p.3")).action.find("X-Comment"), std::string::npos);
}

TEST(InDomain, LabelBoundary) {
  EXPECT_TRUE(in_domain("host.trusted.example.net", "trusted.example.net"));
  EXPECT_TRUE(in_domain("trusted.example.net.", "Trusted.Example.Net"));
  EXPECT_FALSE(in_domain("host.untrusted.example.net", "trusted.example.net"));
  EXPECT_FALSE(in_domain("example.net", "trusted.example.net"));
}

TEST(MessageCacheTest, BoundedInSizeAndAge) {
  MessageCache cache(3, std::chrono::seconds(60));
  const auto now = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) cache.store("i" + std::to_string(i), CachedMessage{DecisionKind::Prepend, "x", {}, now});
  EXPECT_EQ(cache.size(), 3u);
  const auto present = [&](const std::string& instance, std::chrono::steady_clock::time_point at) {
    return cache.visit(instance, at, [](CachedMessage* e) { return e != nullptr; });
  };
  EXPECT_FALSE(present("i0", now));
  EXPECT_TRUE(present("i4", now));
  EXPECT_FALSE(present("i4", now + std::chrono::seconds(61)));
  EXPECT_EQ(cache.size(), 2u);
}
