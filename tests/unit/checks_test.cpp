// HELO checks, helo_access, iprev and how their verdicts combine with SPF — through the Engine, on
// in-memory DNS. (The same checks against the real test nsd are in tests/integration/test_checks.py.)
#include "config/options.hpp"
#include "common/metrics.hpp"
#include "common/text.hpp"
#include "policy/checks/helo_checks.hpp"
#include "policy/dns/memory_resolver.hpp"
#include "policy/engine.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace asio = boost::asio;
using namespace spfgate;
using namespace spfgate::policy;

namespace {

std::string table_file(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("spfgate-checks-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(path) << text;
  return path.string();
}

// Example zone: SPF for the senders, PTR/A for the clients.
void zone(dns::MemoryResolver& d) {
  d.add_txt("example.org", {"v=spf1 ip4:192.0.2.0/24 -all"});
  d.add_txt("mail.example.org", {"v=spf1 a -all"});
  d.add_a("mail.example.org", "192.0.2.10");
  d.add_reverse(*parse_ip("192.0.2.10"), "mail.example.org");
  d.add_reverse(*parse_ip("203.0.113.5"), "liar.example.org");
  d.add_a("liar.example.org", "198.51.100.99");
  // .17: three PTR names, only the third confirms.
  const auto ip17 = *parse_ip("192.0.2.17");
  d.add_reverse(ip17, "liar.example.org");
  d.add_reverse(ip17, "gone.example.org");
  d.add_reverse(ip17, "third.example.org");
  d.add_a("third.example.org", "192.0.2.17");
  d.add_reverse(*parse_ip("2001:db8::10"), "mail6.example.org");
  d.add_a("mail6.example.org", "2001:db8::10");
  d.add_name_failure(dns::reverse_name(*parse_ip("192.0.2.30")), dns::DnsStatus::ServFail);
  d.add_reverse(*parse_ip("192.0.2.31"), "host.bogus.example");
  d.add_a("host.bogus.example", "192.0.2.31");
  d.set_dnssec("host.bogus.example", dns::Dnssec::Bogus);
  // .32: the PTR answers, but the forward lookup of its name fails.
  d.add_reverse(*parse_ip("192.0.2.32"), "fwd-fail.example.org");
  d.add_name_failure("fwd-fail.example.org", dns::DnsStatus::ServFail);
  // .33: a bogus PTR answer (the reverse zone's signatures do not validate).
  d.add_reverse(*parse_ip("192.0.2.33"), "mail.example.org");
  d.set_dnssec(dns::reverse_name(*parse_ip("192.0.2.33")), dns::Dnssec::Bogus);
  // .40: twelve PTR names; only the eleventh and twelfth resolve back, past the limit of 10.
  const auto ip40 = *parse_ip("192.0.2.40");
  for (int i = 1; i <= 12; ++i) {
    const std::string name = "n" + std::to_string(i) + ".many.example.org";
    d.add_reverse(ip40, name);
    d.add_a(name, i > 10 ? "192.0.2.40" : "198.51.100.40");
  }
  // An IPv6 client whose PTR name resolves elsewhere.
  d.add_reverse(*parse_ip("2001:db8::11"), "liar6.example.org");
  d.add_a("liar6.example.org", "2001:db8::99");
  d.add_a("mx-only.example.org", "192.0.2.99");
  d.add_mx("mxonly.example.org", 10, "mx-only.example.org");
  d.add_name_failure("slow.example.org", dns::DnsStatus::Timeout);
}

Answer ask_engine(const Engine& engine, dns::Resolver& dns, MessageCache& cache, const std::string& client,
                  const std::string& helo, const std::string& sender) {
  asio::io_context io;
  auto req = PolicyRequest::from({{"request", "smtpd_access_policy"}, {"protocol_state", "RCPT"},
                                  {"client_address", client}, {"helo_name", helo}, {"sender", sender},
                                  {"recipient", "rcpt@example.net"}, {"instance", ""}});
  auto f = asio::co_spawn(io, engine.handle(req, dns, cache, dns::Clock::now() + std::chrono::seconds(5)),
                          asio::use_future);
  io.run();
  return f.get();
}

struct Rig {
  dns::MemoryResolver dns;
  MessageCache cache;
  std::shared_ptr<const Engine> engine;
  explicit Rig(std::vector<std::string> args) {
    args.push_back("--skip_addresses=127.0.0.0/8");
    engine = Engine::build(std::make_shared<const config::Settings>(config::load(args).settings));
    zone(dns);
  }
  Answer ask(const std::string& client, const std::string& helo, const std::string& sender = "someone@example.org") {
    return ask_engine(*engine, dns, cache, client, helo, sender);
  }
};

}  // namespace

TEST(HeloAccess, SeedCaseLetsTheMisconfiguredExchangeServerThrough) {
  const auto table = table_file("helo_access", "# internal Exchange\nmailsrv02.foo.local PERMIT\n");
  Rig without({});
  // Its HELO is not a real domain and the sender's SPF does not list it: rejected without the table.
  EXPECT_EQ(without.ask("203.0.113.5", "mailsrv02.foo.local").kind, DecisionKind::Reject);
  Rig with({"--helo-access=hash:" + table});
  Answer a = with.ask("203.0.113.5", "MAILSRV02.foo.local");
  EXPECT_EQ(a.action, "PERMIT");
  EXPECT_EQ(a.deciding_check, "helo_access");
  EXPECT_EQ(with.ask("203.0.113.5", "mailsrv03.foo.local").kind, DecisionKind::Reject);
}

TEST(HeloAccess, ParentDomainsAndDunno) {
  const auto table = table_file("parents", "example.com REJECT go away\ngood.example.com OK\nneutral.example.com DUNNO\n");
  Rig rig({"--helo-access=hash:" + table});
  EXPECT_EQ(rig.ask("192.0.2.10", "a.good.example.com", "x@example.org").action, "OK");
  EXPECT_EQ(rig.ask("192.0.2.10", "bad.example.com", "x@example.org").action,
            "REJECT 5.7.1 <bad.example.com>: Helo command rejected: go away");
  // DUNNO stops the table search (no REJECT from example.com) and lets the other checks decide.
  const Answer n = rig.ask("192.0.2.10", "x.neutral.example.com", "x@example.org");
  EXPECT_EQ(n.kind, DecisionKind::Prepend);
  EXPECT_NE(n.action.find("Received-SPF: Pass"), std::string::npos);
}

TEST(HeloAccess, WorkersShareOneReadingOfTheTables) {
  // Two Engines built from one configuration, as two worker threads' are: the table is read once (its
  // warning logged once) and both answer from that reading, even when the file changed between the two
  // builds; a reload (an Engine built afresh) reads it again.
  const auto path = table_file("shared_access", "bad.example.com REJECT go away\nbad.example.com REJECT again\n");
  const auto settings = std::make_shared<const config::Settings>(
      config::load({"--helo-access=hash:" + path, "--skip_addresses=127.0.0.0/8"}).settings);
  auto lines = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(20);
  lines->set_pattern("%v");
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", lines));
  auto first = Engine::build(settings);
  std::ofstream(path) << "bad.example.com OK\n";
  auto second = Engine::build(settings, first->files());
  auto reloaded = Engine::build(settings);
  spdlog::set_default_logger(previous);
  EXPECT_EQ(first->files(), second->files());
  EXPECT_NE(first->files(), reloaded->files());
  dns::MemoryResolver dns;
  zone(dns);
  MessageCache cache;
  const std::string rejected = "REJECT 5.7.1 <bad.example.com>: Helo command rejected: go away";
  EXPECT_EQ(ask_engine(*first, dns, cache, "192.0.2.10", "bad.example.com", "x@example.org").action, rejected);
  EXPECT_EQ(ask_engine(*second, dns, cache, "192.0.2.10", "bad.example.com", "x@example.org").action, rejected);
  EXPECT_EQ(ask_engine(*reloaded, dns, cache, "192.0.2.10", "bad.example.com", "x@example.org").action, "OK");
  const std::vector<std::string> logged = lines->last_formatted();
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0].rfind("helo-access: " + path + ":2: duplicate entry", 0), 0u) << logged[0];
}

TEST(HeloAccess, CidrPcreAndPrependTables) {
  const auto cidr = table_file("t.cidr", "198.51.100.0/24 550 5.7.1 no bare addresses from there\n");
  const auto pcre = table_file("t.pcre", "/^(dsl|dyn)[0-9-]+\\./ 554 5.7.1 dynamic HELO $1\n/^tagme\\./ PREPEND X-Helo-Tag: yes\n");
  Rig rig({"--helo-access=cidr:" + cidr + ",pcre:" + pcre});
  EXPECT_EQ(rig.ask("192.0.2.10", "198.51.100.7").action,
            "550 5.7.1 <198.51.100.7>: Helo command rejected: no bare addresses from there");
  EXPECT_EQ(rig.ask("192.0.2.10", "dsl12-34.isp.example").action,
            "554 5.7.1 <dsl12-34.isp.example>: Helo command rejected: dynamic HELO dsl");
  EXPECT_EQ(rig.ask("192.0.2.10", "tagme.example.org").action, "prepend X-Helo-Tag: yes");
}

TEST(HeloAccess, SeveralTablesAreSeveralRestrictions) {
  // Postfix runs each check_helo_access on its own: DUNNO, WARN or PREPEND in the first table lets the
  // second speak; OK in the first ends the list.
  const auto first = table_file("first", "dunno.example.com DUNNO\nwarn.example.com WARN looks odd\n"
                                          "ok.example.com OK\ntag.example.com PREPEND X-Tag: 1\n");
  const auto second = table_file("second", "example.com REJECT no\n");
  Rig rig({"--helo-access=hash:" + first + ",hash:" + second});
  for (const char* helo : {"dunno.example.com", "warn.example.com", "tag.example.com"})
    EXPECT_EQ(rig.ask("192.0.2.10", helo, "x@example.org").action,
              "REJECT 5.7.1 <" + std::string(helo) + ">: Helo command rejected: no")
        << helo;
  EXPECT_EQ(rig.ask("192.0.2.10", "ok.example.com", "x@example.org").action, "OK");
}

TEST(HeloAccess, NonTerminalActionsLetTheOtherChecksSpeak) {
  const auto table = table_file("nonterminal", "hold.example.com HOLD quarantine\n"
                                                "dip.example.com DEFER_IF_PERMIT 4.7.1 try later\n"
                                                "dir.example.com DEFER_IF_REJECT 4.7.1 not now\n"
                                                "discard.example.com DISCARD\n");
  Rig rig({"--helo-access=hash:" + table});
  // SPF passes for 192.0.2.10 and fails for 203.0.113.5 (example.org: ip4:192.0.2.0/24 -all).
  EXPECT_EQ(rig.ask("192.0.2.10", "hold.example.com", "x@example.org").action, "HOLD quarantine");
  EXPECT_EQ(rig.ask("203.0.113.5", "hold.example.com", "x@example.org").action,
            "550 5.7.23 Message rejected due to: SPF fail - not authorized.");  // a reject wins over HOLD
  EXPECT_EQ(rig.ask("192.0.2.10", "dip.example.com", "x@example.org").action,
            "DEFER_IF_PERMIT 4.7.1 <dip.example.com>: Helo command rejected: try later");
  EXPECT_EQ(rig.ask("203.0.113.5", "dip.example.com", "x@example.org").kind, DecisionKind::Reject);
  // DEFER_IF_REJECT: nothing when nothing rejects; the reject becomes its deferral otherwise.
  EXPECT_EQ(rig.ask("192.0.2.10", "dir.example.com", "x@example.org").kind, DecisionKind::Prepend);
  EXPECT_EQ(rig.ask("203.0.113.5", "dir.example.com", "x@example.org").action,
            "DEFER 4.7.1 <dir.example.com>: Helo command rejected: not now");
  // DISCARD ends the list, as OK does.
  EXPECT_EQ(rig.ask("203.0.113.5", "discard.example.com", "x@example.org").action, "DISCARD");
}

TEST(HeloAccess, PatternTablesSeeTheHeloAsSent) {
  // pcre_table(5): the "i" flag is on by default; "/.../i" turns it off (case-sensitive).
  const auto pcre = table_file("case.pcre", "/^UPPER\\./i REJECT shouting\n");
  Rig rig({"--helo-access=pcre:" + pcre});
  EXPECT_EQ(rig.ask("192.0.2.10", "UPPER.example.org", "x@example.org").action,
            "REJECT 5.7.1 <UPPER.example.org>: Helo command rejected: shouting");
  EXPECT_NE(rig.ask("192.0.2.10", "upper.example.org", "x@example.org").kind, DecisionKind::Reject);
}

TEST(Decision, SeveralDeferralsNameThemAllWith4726) {
  Rig rig({"--helo-fqdn=defer", "--iprev-fail=reject", "--HELO_reject=False", "--Mail_From_reject=False"});
  const Answer a = rig.ask("203.0.113.5", "mailhost", "x@example.org");
  EXPECT_EQ(a.action, "450 4.7.26 Multiple authentication checks failed: HELO is not a fully-qualified host name; "
                      "reverse DNS fail for 203.0.113.5");
  EXPECT_EQ(a.deciding_check, "helo+iprev");
}

TEST(HeloAccess, BadTableFailsAtLoadWithItsLine) {
  const auto bad = table_file("bad.pcre", "/^ok/ OK\n/(unclosed/ REJECT\n");
  try {
    Rig rig({"--helo-access=pcre:" + bad});
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(bad + ":2:"), std::string::npos) << e.what();
  }
}

TEST(HeloSanity, PostfixTexts) {
  Rig rig({"--helo-syntax=reject", "--helo-fqdn=reject", "--helo-literal=reject"});
  EXPECT_EQ(rig.ask("192.0.2.10", "bad_-.name!").action, "501 5.5.2 <bad_-.name!>: Helo command rejected: Invalid name");
  EXPECT_EQ(rig.ask("192.0.2.10", "[300.1.2.3]").action,
            "501 5.5.2 <[300.1.2.3]>: Helo command rejected: invalid ip address");
  EXPECT_EQ(rig.ask("192.0.2.10", "localhost").action,
            "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname");
  EXPECT_EQ(rig.ask("192.0.2.10", "[192.0.2.99]").action,
            "550 5.7.1 <[192.0.2.99]>: Helo command rejected: address literal does not match your address [192.0.2.10]");
  EXPECT_EQ(rig.ask("192.0.2.10", "[192.0.2.10]", "x@example.org").kind, DecisionKind::Prepend);
  EXPECT_EQ(rig.ask("192.0.2.10", "mail.example.org.", "x@example.org").kind, DecisionKind::Prepend);
}

TEST(HeloSanity, WarnModeOnlyLogsAndDeferModeIs4xx) {
  Rig warn({"--helo-fqdn=warn"});
  const Answer a = warn.ask("192.0.2.10", "localhost", "x@example.org");
  EXPECT_EQ(a.kind, DecisionKind::Prepend);
  EXPECT_NE(a.details.find("helo=warn"), std::string::npos) << a.details;
  Rig defer({"--helo-fqdn=defer"});
  EXPECT_EQ(defer.ask("192.0.2.10", "localhost").action,
            "450 4.5.2 <localhost>: Helo command rejected: need fully-qualified hostname");
}

TEST(HeloSanity, ClaimsToBeUs) {
  Rig rig({"--helo-local=reject", "--helo-local-names=mx.example.net, 198.51.100.25"});
  EXPECT_EQ(rig.ask("203.0.113.5", "MX.example.net", "").action,  // shown as sent, as Postfix does
            "550 5.7.1 <MX.example.net>: Helo command rejected: You are not me");
  EXPECT_EQ(rig.ask("203.0.113.5", "[198.51.100.25]", "").kind, DecisionKind::Reject);
  EXPECT_NE(rig.ask("198.51.100.25", "[198.51.100.25]", "").kind, DecisionKind::Reject);  // really us
}

TEST(HeloDns, NoAddressNoMxAndTemporaryFailure) {
  Rig rig({"--helo-dns=reject"});
  EXPECT_EQ(rig.ask("192.0.2.10", "nothing.example.org").action,
            "450 4.7.1 <nothing.example.org>: Helo command rejected: Host not found");
  EXPECT_EQ(rig.ask("192.0.2.10", "mxonly.example.org", "x@example.org").kind, DecisionKind::Prepend);  // MX counts
  const Answer t = rig.ask("192.0.2.10", "slow.example.org", "x@example.org");
  EXPECT_EQ(t.action, "DEFER_IF_PERMIT 4.7.1 <slow.example.org>: Helo command rejected: Host not found");
  Rig hard({"--helo-dns=reject", "--helo-reject-code=550"});
  EXPECT_EQ(hard.ask("192.0.2.10", "nothing.example.org").action,
            "550 5.7.1 <nothing.example.org>: Helo command rejected: Host not found");
}

TEST(Iprev, ResultsActionsAndPostfixTexts) {
  // iprev-fail set: reject_unknown_client_hostname's reply for every failure, no PTR included.
  Rig rig({"--iprev-fail=reject", "--iprev-permerror=reject", "--iprev-temperror=defer", "--Mail_From_reject=False",
           "--HELO_reject=False"});
  EXPECT_EQ(rig.ask("192.0.2.10", "mail.example.org").kind, DecisionKind::Prepend);  // pass
  EXPECT_EQ(rig.ask("203.0.113.5", "x.example.org").action,
            "450 4.7.25 Client host rejected: cannot find your hostname, [203.0.113.5]");  // fail
  EXPECT_EQ(rig.ask("198.51.100.1", "x.example.org").action,
            "450 4.7.25 Client host rejected: cannot find your hostname, [198.51.100.1]");  // no PTR
  EXPECT_EQ(rig.ask("192.0.2.30", "x.example.org").action,
            "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.30]");  // SERVFAIL
  EXPECT_EQ(rig.ask("192.0.2.32", "x.example.org").action,
            "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.32]");  // forward SERVFAIL
  EXPECT_EQ(rig.ask("192.0.2.31", "x.example.org").kind, DecisionKind::Defer);  // DNSSEC bogus = temperror
  EXPECT_EQ(rig.ask("192.0.2.33", "x.example.org").action,  // a bogus PTR answer is never used as data
            "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.33]");
  EXPECT_EQ(rig.ask("192.0.2.17", "x.example.org").kind, DecisionKind::Prepend);  // only the third PTR confirms
  EXPECT_EQ(rig.ask("2001:db8::10", "x.example.org").kind, DecisionKind::Prepend);  // IPv6 via AAAA
  EXPECT_EQ(rig.ask("2001:db8::11", "x.example.org").action,
            "450 4.7.25 Client host rejected: cannot find your hostname, [2001:db8::11]");  // IPv6 fail
  // Only the first 10 PTR names are looked up (RFC 8601 §3): the 11th, which confirms, is never tried.
  EXPECT_EQ(rig.ask("192.0.2.40", "x.example.org").action,
            "450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.40]");
}

TEST(Iprev, AResultIsReusedForItsTtlButNeverATemporaryOne) {
  const auto ptr_queries = [](const dns::MemoryResolver& d, const std::string& client) {
    const std::string name = dns::reverse_name(*parse_ip(client));
    std::size_t n = 0;
    for (const auto& [q, type] : d.queries()) n += q == name && type == dns::RrType::PTR;
    return n;
  };
  Rig rig({"--iprev-fail=reject", "--iprev-temperror=defer", "--Mail_From_reject=False", "--HELO_reject=False"});
  Metrics& m = metrics();
  const auto count = [&m](std::string_view outcome) { return m.get(m.ids().result_cache, {"iprev", outcome}); };
  const double hits = count("hit"), misses = count("miss");
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(rig.ask("192.0.2.10", "mail.example.org").kind, DecisionKind::Prepend);      // pass
    EXPECT_EQ(rig.ask("203.0.113.5", "x.example.org").kind, DecisionKind::Defer);          // fail
    EXPECT_EQ(rig.ask("192.0.2.30", "x.example.org").kind, DecisionKind::Defer);           // SERVFAIL
    EXPECT_EQ(rig.ask("192.0.2.32", "x.example.org").kind, DecisionKind::Defer);           // forward SERVFAIL
  }
  EXPECT_EQ(ptr_queries(rig.dns, "192.0.2.10"), 1u);
  EXPECT_EQ(ptr_queries(rig.dns, "203.0.113.5"), 1u);
  EXPECT_EQ(ptr_queries(rig.dns, "192.0.2.30"), 2u);
  EXPECT_EQ(ptr_queries(rig.dns, "192.0.2.32"), 2u);
  EXPECT_EQ(count("hit"), hits + 2);      // the second round's pass and fail
  EXPECT_EQ(count("miss"), misses + 6);   // the first round, and both temporary failures again
  // The same answer as the first time, from the cache.
  EXPECT_EQ(rig.ask("203.0.113.5", "x.example.org").action,
            "450 4.7.25 Client host rejected: cannot find your hostname, [203.0.113.5]");
  // result-cache-entries = 0: every request looks up again.
  Rig uncached({"--iprev-fail=reject", "--Mail_From_reject=False", "--HELO_reject=False", "--result-cache-entries=0"});
  uncached.ask("192.0.2.10", "mail.example.org");
  uncached.ask("192.0.2.10", "mail.example.org");
  EXPECT_EQ(ptr_queries(uncached.dns, "192.0.2.10"), 2u);
}

TEST(ResultCaches, AWarmAnswerIsTheColdOne) {
  // Once every result a request needs is cached, the checks answer without a coroutine (evaluate_now);
  // the answer must be the one evaluate() gives: the same action, kind, log line and details as the
  // first, cold request, and as an engine without result caches gives every time.
  const std::vector<std::vector<std::string>> configs = {
      {"--iprev-fail=reject", "--iprev-header=yes", "--HELO_reject=SPF_Not_Pass", "--Mail_From_reject=Fail"},
      {"--iprev-permerror=warn", "--Header_Type=AR", "--Mail_From_reject=Softfail", "--HELO_reject=Null"},
      {"--iprev-header=yes", "--Mail_From_reject=False", "--HELO_reject=No_Check"},
  };
  struct Ask {
    std::string client, helo, sender;
  };
  const std::vector<Ask> asks = {
      {"192.0.2.10", "mail.example.org", "someone@example.org"},    // all pass
      {"203.0.113.5", "mail.example.org", "someone@example.org"},   // iprev fail, SPF fail
      {"192.0.2.17", "third.example.org", ""},                      // null sender, third PTR confirms
      {"2001:db8::10", "mail6.example.org", "x@mail.example.org"},  // IPv6
      {"192.0.2.40", "x.example.org", "a@nospf.example.org"},       // past the PTR limit, SPF none
      {"192.0.2.30", "mail.example.org", "someone@example.org"},    // PTR SERVFAIL: never cached
  };
  for (const auto& config : configs) {
    std::vector<std::string> uncached_args = config;
    uncached_args.push_back("--result-cache-entries=0");
    Rig cached(config), uncached(uncached_args);
    for (int round = 0; round < 3; ++round)
      for (const Ask& a : asks) {
        const Answer want = uncached.ask(a.client, a.helo, a.sender);
        const std::size_t queries_before = cached.dns.queries().size();
        const Answer got = cached.ask(a.client, a.helo, a.sender);
        const std::string where = config.front() + " round " + std::to_string(round) + " " + a.client;
        EXPECT_EQ(got.action, want.action) << where;
        EXPECT_EQ(got.kind, want.kind) << where;
        EXPECT_EQ(got.log_line, want.log_line) << where;
        EXPECT_EQ(got.details, want.details) << where;
        // From the second round on, only the never-cached temporary failure asks DNS again.
        if (round > 0 && a.client != "192.0.2.30") {
          EXPECT_EQ(cached.dns.queries().size(), queries_before) << where;
        }
      }
  }
}

TEST(Iprev, ReverseOnlyIsPostfixsRejectUnknownReverseClientHostname) {
  // Without iprev-fail: reject_unknown_reverse_client_hostname — its text and DSN, and a forward lookup
  // that fails cannot matter (Postfix never makes it).
  Rig rig({"--iprev-permerror=reject", "--iprev-temperror=defer", "--Mail_From_reject=False", "--HELO_reject=False"});
  EXPECT_EQ(rig.ask("198.51.100.1", "x.example.org").action,
            "450 4.7.1 Client host rejected: cannot find your reverse hostname, [198.51.100.1]");  // no PTR
  EXPECT_EQ(rig.ask("192.0.2.30", "x.example.org").action,
            "450 4.7.1 Client host rejected: cannot find your reverse hostname, [192.0.2.30]");  // PTR SERVFAIL
  EXPECT_EQ(rig.ask("192.0.2.32", "x.example.org").kind, DecisionKind::Prepend);  // forward SERVFAIL: no matter
  EXPECT_EQ(rig.ask("203.0.113.5", "x.example.org").kind, DecisionKind::Prepend);  // fail: not checked
}

TEST(Iprev, TestOnlyLogsWhatWouldHaveBeenAnswered) {
  Rig rig({"--iprev-fail=reject", "--TestOnly=0"});
  const Answer a = rig.ask("203.0.113.5", "x.example.org", "");
  EXPECT_EQ(a.action, "dunno");
  EXPECT_EQ(a.log_line,
            "TestOnly: would have answered \"450 4.7.25 Client host rejected: cannot find your hostname, [203.0.113.5]\"");
}

TEST(Iprev, RejectCode) {
  Rig perm({"--iprev-fail=reject", "--iprev-reject-code=550"});
  EXPECT_EQ(perm.ask("203.0.113.5", "x.example.org", "").action,
            "550 5.7.25 Client host rejected: cannot find your hostname, [203.0.113.5]");
}

TEST(Iprev, AuthenticationResultsCarriesIprevNextToSpf) {
  Rig plain({"--Header_Type=AR", "--Authserv_Id=mx.example.net"});  // pypolicyd-spf's header unchanged
  EXPECT_EQ(plain.ask("192.0.2.10", "mail.example.org", "someone@example.org").action,
            "prepend Authentication-Results: mx.example.net; spf=pass (sender SPF authorized) smtp.mailfrom=example.org "
            "(client-ip=192.0.2.10; helo=mail.example.org; envelope-from=someone@example.org; receiver=example.net)");
  Rig rig({"--Header_Type=AR", "--Authserv_Id=mx.example.net", "--iprev-header=yes"});
  const Answer a = rig.ask("192.0.2.10", "mail.example.org", "someone@example.org");
  EXPECT_EQ(a.action.rfind("prepend Authentication-Results: mx.example.net; spf=pass ", 0), 0u) << a.action;
  EXPECT_NE(a.action.find("; iprev=pass (mail.example.org) policy.iprev=192.0.2.10"), std::string::npos) << a.action;
}

TEST(Combined, SeveralFailuresAreNamedWith5726) {
  Rig rig({"--iprev-fail=reject", "--iprev-reject-code=550"});
  const Answer a = rig.ask("203.0.113.5", "x.example.org", "someone@example.org");
  EXPECT_EQ(a.action.rfind("550 5.7.26 Multiple authentication checks failed: reverse DNS fail for 203.0.113.5; SPF fail "
                           "for MAIL FROM someone@example.org",
                           0),
            0u)
      << a.action;
  EXPECT_EQ(a.deciding_check, "iprev+spf");
}

TEST(Combined, TestOnlyLogsWhatWouldHaveBeenRejected) {
  Rig rig({"--TestOnly=0", "--helo-fqdn=reject"});
  const Answer a = rig.ask("192.0.2.10", "localhost");
  EXPECT_EQ(a.action, "dunno");
  EXPECT_NE(a.log_line.find("TestOnly: would have answered \"504 5.5.2 <localhost>"), std::string::npos) << a.log_line;
}

TEST(Combined, TestOnlyCoversHeloAccessAndHeloDns) {
  const auto table = table_file("testonly", "bad.example.org REJECT go away\n");
  Rig rig({"--TestOnly=0", "--helo-access=hash:" + table, "--helo-dns=reject"});
  Answer a = rig.ask("192.0.2.10", "bad.example.org", "x@example.org");
  EXPECT_EQ(a.action, "dunno");
  EXPECT_EQ(a.log_line,
            "TestOnly: would have answered \"REJECT 5.7.1 <bad.example.org>: Helo command rejected: go away\"");
  a = rig.ask("192.0.2.10", "nothing.example.org", "x@example.org");
  EXPECT_EQ(a.action, "dunno");
  EXPECT_EQ(a.log_line,
            "TestOnly: would have answered \"450 4.7.1 <nothing.example.org>: Helo command rejected: Host not found\"");
}

// ----- concurrency, measured in DNS round trips rather than in seconds -----

namespace {

// Answers every query only when the test releases a "round": a query asked in round n is answered at the
// end of round n. The number of rounds a request needs is the length of its longest chain of dependent
// lookups; if the checks ran one after another it would be the total number of lookups.
class LockstepResolver final : public dns::Resolver {
 public:
  explicit LockstepResolver(dns::MemoryResolver& data) : data_(data) {}
  asio::awaitable<dns::DnsAnswer> query(std::string name, dns::RrType type, dns::Deadline) override {
    ++queries_;
    asio::steady_timer t(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
    pending_.push_back(&t);
    boost::system::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return data_.lookup(name, type);
  }
  std::size_t release() {
    auto now = std::move(pending_);
    pending_.clear();
    for (auto* t : now) t->cancel();
    return now.size();
  }
  unsigned queries_ = 0;

 private:
  dns::MemoryResolver& data_;
  std::vector<asio::steady_timer*> pending_;
};

}  // namespace

TEST(Concurrency, ARequestTakesItsLongestChainNotTheSumOfItsLookups) {
  dns::MemoryResolver data;
  // MAIL FROM: TXT, then include TXT, then mx MX, then A of the MX host: a chain of 4.
  data.add_txt("sender.example", {"v=spf1 include:_spf.sender.example -all"});
  data.add_txt("_spf.sender.example", {"v=spf1 mx -all"});
  data.add_mx("_spf.sender.example", 10, "mx.sender.example");
  data.add_a("mx.sender.example", "192.0.2.10");
  // HELO: TXT then A: a chain of 2.   iprev: PTR then A: a chain of 2.
  data.add_txt("mail.example.org", {"v=spf1 a -all"});
  data.add_a("mail.example.org", "192.0.2.10");
  data.add_reverse(*parse_ip("192.0.2.10"), "mail.example.org");
  LockstepResolver dns(data);
  auto engine = Engine::build(std::make_shared<const config::Settings>(
      config::load({"--iprev-header=yes", "--Header_Type=AR", "--Authserv_Id=mx.example.net"}).settings));
  MessageCache cache;
  asio::io_context io;
  auto req = PolicyRequest::from({{"client_address", "192.0.2.10"}, {"helo_name", "mail.example.org"},
                                  {"sender", "alice@sender.example"}, {"recipient", "bob@example.net"}});
  auto f = asio::co_spawn(io, engine->handle(req, dns, cache, dns::Clock::now() + std::chrono::seconds(30)),
                          asio::use_future);
  unsigned rounds = 0;
  for (;;) {
    io.poll();  // run everything that can run without DNS
    if (f.wait_for(std::chrono::seconds(0)) == std::future_status::ready) break;
    ASSERT_GT(dns.release(), 0u) << "stuck without pending queries";
    ++rounds;
    ASSERT_LT(rounds, 50u);
  }
  const Answer a = f.get();
  EXPECT_NE(a.action.find("spf=pass"), std::string::npos) << a.action;
  EXPECT_NE(a.action.find("iprev=pass"), std::string::npos) << a.action;
  EXPECT_GE(dns.queries_, 8u);   // 4 (MAIL FROM) + 2 (HELO) + 2 (iprev)
  EXPECT_EQ(rounds, 4u);         // the MAIL FROM chain, the others ran alongside it
}

TEST(HostnameSyntax, PostfixValidHostname) {
  EXPECT_TRUE(valid_hostname("mail.example.org"));
  EXPECT_TRUE(valid_hostname("under_score.example"));
  EXPECT_FALSE(valid_hostname("1.2.3.4"));
  EXPECT_FALSE(valid_hostname("-lead.example"));
  EXPECT_FALSE(valid_hostname("trail-.example"));
  EXPECT_FALSE(valid_hostname("a..b"));
  EXPECT_FALSE(valid_hostname(std::string(64, 'a') + ".example"));
  EXPECT_TRUE(address_literal("[IPv6:2001:db8::1]").has_value());
  EXPECT_FALSE(address_literal("[IPv6:192.0.2.1]").has_value());
  EXPECT_EQ(smtp_reply(450, "5.7.25", "x"), "450 4.7.25 x");
}

TEST(PerUser, RecipientsGetTheirOwnSettingsAndBypassTheMessageCache) {
  const auto file = table_file("peruser",
                               "# pypolicyd-spf's example\n"
                               "strict@example.net,PermError_reject=True|HELO_reject=SPF_Not_Pass|Mail_From_reject=SPF_Not_Pass\n"
                               "lax@example.net,Mail_From_reject=False|TestOnly=0\n");
  dns::MemoryResolver d;
  d.add_txt("softfail.example.org", {"v=spf1 ip4:198.51.100.1 ~all"});
  d.add_txt("example.org", {"v=spf1 ip4:192.0.2.0/24 -all"});
  auto engine = Engine::build(std::make_shared<const config::Settings>(
      config::load({"--Per_User=text," + file}).settings));
  MessageCache cache;
  auto ask = [&](const std::string& rcpt, const std::string& sender, const std::string& client) {
    asio::io_context io;
    auto req = PolicyRequest::from({{"client_address", client}, {"helo_name", "helo-none.example.org"},
                                    {"sender", sender}, {"recipient", rcpt}, {"instance", "msg.1"}});
    auto f = asio::co_spawn(io, engine->handle(req, d, cache, dns::Clock::now() + std::chrono::seconds(5)),
                            asio::use_future);
    io.run();
    return f.get().action;
  };
  // The same message: a normal recipient gets the header (receiver = full address with Per_User), the
  // strict one a reject, and a third recipient the usual DUNNO.
  EXPECT_EQ(ask("other@example.net", "user@softfail.example.org", "192.0.2.10"),
            "prepend Received-SPF: Softfail (mailfrom) identity=mailfrom; client-ip=192.0.2.10; "
            "helo=helo-none.example.org; envelope-from=user@softfail.example.org; receiver=other@example.net ");
  EXPECT_EQ(ask("strict@example.net", "user@softfail.example.org", "192.0.2.10"),
            "550 5.7.23 Message rejected due to: domain owner discourages use of this host.");
  EXPECT_EQ(ask("other2@example.net", "user@softfail.example.org", "192.0.2.10"), "dunno");
  // lax: Mail_From_reject=False and TestOnly (which pypolicyd-spf refused in per-user files).
  EXPECT_EQ(ask("lax@example.net", "user@example.org", "203.0.113.50").rfind("prepend Received-SPF: Fail", 0), 0u);
}

TEST(PerUser, WorkersFollowOneReadingOfTheFile) {
  // Two Engines built from the same settings, as two worker threads' are: the file is read once per
  // change and logged once, both follow the new table, and a broken new file leaves both on the old one.
  const std::string path = table_file("peruser-shared", "strict@example.net,Mail_From_reject=Softfail\n");
  const auto settings = std::make_shared<const config::Settings>(config::load({"--Per_User=text," + path}).settings);
  auto first = Engine::build(settings);
  auto second = Engine::build(settings, first->files());
  ASSERT_EQ(first->per_user_file(), second->per_user_file());
  auto lines = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(20);
  lines->set_pattern("%v");
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", lines));
  const auto policy_of = [](const std::shared_ptr<const Engine>& e, const std::string& rcpt) -> std::string {
    const auto user = e->engine_for(rcpt);
    return user ? std::string(config::to_string(user->settings().mail_from_reject)) : "none";
  };
  EXPECT_EQ(policy_of(first, "strict@example.net"), "Softfail");
  EXPECT_EQ(policy_of(second, "strict@example.net"), "Softfail");
  // The file changes (a new modification time), and the check interval (1 s) passes.
  const auto rewrite = [&path](const std::string& text) {
    std::ofstream(path) << text;
    std::filesystem::last_write_time(path, std::filesystem::last_write_time(path) + std::chrono::seconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // not a timing assertion
  };
  rewrite("strict@example.net,Mail_From_reject=Fail\nnew@example.net,Mail_From_reject=SPF_Not_Pass\n");
  EXPECT_EQ(policy_of(first, "strict@example.net"), "Fail");
  EXPECT_EQ(policy_of(second, "strict@example.net"), "Fail");
  EXPECT_EQ(policy_of(second, "new@example.net"), "SPF_Not_Pass");
  rewrite("strict@example.net,Lookup_Time=soon\n");  // caught half-written, say
  EXPECT_EQ(policy_of(second, "strict@example.net"), "Fail");
  EXPECT_EQ(policy_of(first, "new@example.net"), "SPF_Not_Pass");
  spdlog::set_default_logger(previous);
  const std::vector<std::string> logged = lines->last_formatted();
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_EQ(logged[0], "Per_User: reloaded " + path + " (2 recipients)\n");
  EXPECT_EQ(logged[1].rfind("Per_User: keeping the previous table: " + path + ":1: Lookup_Time", 0), 0u) << logged[1];
}

TEST(PerUser, BadLineIsAnErrorNamingIt) {
  const auto file = table_file("peruser-bad", "ok@example.net,HELO_reject=Fail\nbad@example.net,Lookup_Time=soon\n");
  try {
    Engine::build(std::make_shared<const config::Settings>(config::load({"--Per_User=text," + file}).settings));
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_EQ(std::string(e.what()), file + ":2: Lookup_Time: 'soon' is not a whole number of seconds");
  }
  const auto listen = table_file("peruser-listen", "x@example.net,listen=tcp:127.0.0.1:1\n");
  EXPECT_THROW(Engine::build(std::make_shared<const config::Settings>(config::load({"--Per_User=text," + listen}).settings)),
               std::exception);
}
