// UnboundResolver against the test DNS (nsd with signed zones, dnsproxy.py for faults): every record type,
// negative answers, the DNSSEC states, faults (SERVFAIL, timeouts, a stopped server), large answers,
// concurrency without blocking the io_context, and exactly-once completion under deadlines, cancellation
// and destruction. Zone data: tests/dns/zones/, tests/dns/README.md.
#include "policy/dns/unbound_resolver.hpp"
#include "tests/dns/testdns_rig.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace asio = boost::asio;
using namespace std::chrono_literals;
using spfgate::IpAddress;
using spfgate::parse_ip;
using spfgate::test::TestDns;
using namespace spfgate::dns;

namespace {

// Slack on top of a deadline before a late completion counts as a failure. Generous on purpose: this
// catches a resolver that ignores its deadline, it does not measure speed (2 shared cores, sanitizers).
constexpr auto kDeadlineSlack = 1500ms;

// The strings of big.example.test's and *.wild.trunc.test's TXT record (testdns.py {{BIG_SPF}}).
std::vector<std::string> big_spf_strings() {
  std::vector<std::string> s{"v=spf1 "};
  for (int k = 1; k <= 120; ++k) s.push_back("ip4:192.0.2." + std::to_string(k) + " ");
  s.push_back("-all");
  return s;
}

std::size_t total_size(const std::vector<std::string>& strings) {
  std::size_t n = 0;
  for (const auto& s : strings) n += s.size();
  return n;
}

std::string address(const DnsAnswer& a, std::size_t i = 0) {
  return i < a.addresses.size() ? spfgate::to_string(a.addresses[i]) : std::string("(none)");
}

std::string reverse(std::string_view ip) { return reverse_name(*parse_ip(ip)); }

std::string describe(const DnsAnswer& a) {
  return std::string(to_string(a.status)) + "/" + std::string(to_string(a.dnssec)) + " why=\"" + a.why + "\"";
}

// The validator's reason for a signature that does not verify: libunbound says "ECDSA signature
// verification failed", the unbound daemon "signature crypto failed".
bool says_bad_signature(const std::string& why) {
  return why.find("signature verification failed") != std::string::npos ||
         why.find("signature crypto failed") != std::string::npos;
}

std::string unique_label(std::string_view prefix) {
  static std::atomic<int> counter{0};
  return std::string(prefix) + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
}

class UnboundRig : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    auto loaded = TestDns::load(why);
    ASSERT_TRUE(loaded) << why;
    rig_ = std::move(*loaded);
    resolver_ = std::make_unique<UnboundResolver>(io_.get_executor(), rig_->options());
  }

  // One query on the fixture's resolver; runs the io_context until it is idle again.
  DnsAnswer ask(std::string name, RrType type, std::chrono::milliseconds budget = 5s) {
    return ask_with(*resolver_, std::move(name), type, budget);
  }

  DnsAnswer ask_with(UnboundResolver& resolver, std::string name, RrType type, std::chrono::milliseconds budget,
                     std::chrono::steady_clock::duration* elapsed = nullptr) {
    const auto started = Clock::now();
    auto future = asio::co_spawn(io_, resolver.query(std::move(name), type, started + budget), asio::use_future);
    io_.restart();
    io_.run();
    if (elapsed) *elapsed = Clock::now() - started;
    return future.get();
  }

  std::filesystem::path scratch(const std::string& name) {
    const auto dir = rig_->dir() / "scratch";
    std::filesystem::create_directories(dir);
    return dir / (unique_label(name));
  }

  std::optional<TestDns> rig_;
  asio::io_context io_;
  std::unique_ptr<UnboundResolver> resolver_;
};

// --- record types ------------------------------------------------------------------------------------------

TEST_F(UnboundRig, AnswersARecordsValidated) {
  const DnsAnswer a = ask("mail.example.test", RrType::A);
  ASSERT_EQ(a.status, DnsStatus::Ok) << describe(a);
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(address(a), "127.0.0.10");
  EXPECT_EQ(a.dnssec, Dnssec::Secure);
  EXPECT_GT(a.ttl, 0u);
  EXPECT_LE(a.ttl, 300u);
}

TEST_F(UnboundRig, AnswersAaaaRecords) {
  const DnsAnswer a = ask("Mail.Example.Test.", RrType::AAAA);
  ASSERT_EQ(a.status, DnsStatus::Ok) << describe(a);
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(address(a), "::1");
  EXPECT_TRUE(a.addresses[0].is_v6());
  const DnsAnswer doc = ask("mail-doc.example.test", RrType::AAAA);
  ASSERT_EQ(doc.status, DnsStatus::Ok) << describe(doc);
  EXPECT_EQ(address(doc), "2001:db8::10");
}

TEST_F(UnboundRig, KeepsTxtCharacterStringsApart) {
  const DnsAnswer split = ask("split.example.test", RrType::TXT);
  ASSERT_EQ(split.status, DnsStatus::Ok) << describe(split);
  ASSERT_EQ(split.txt.size(), 1u);
  EXPECT_EQ(split.txt[0], (std::vector<std::string>{"v=spf1 ip4:127.0.0.10 ", "-all"}));

  const DnsAnswer multi = ask("multi.example.test", RrType::TXT);
  ASSERT_EQ(multi.status, DnsStatus::Ok) << describe(multi);
  ASSERT_EQ(multi.txt.size(), 2u);  // two records: the SPF layer's "multiple records" case
  std::vector<std::string> records{multi.txt[0].at(0), multi.txt[1].at(0)};
  std::sort(records.begin(), records.end());
  EXPECT_EQ(records, (std::vector<std::string>{"v=spf1 ip4:127.0.0.10 -all", "v=spf1 ip4:127.0.0.11 -all"}));
}

TEST_F(UnboundRig, AnswersMxRecords) {
  const DnsAnswer mx = ask("mx.example.test", RrType::MX);
  ASSERT_EQ(mx.status, DnsStatus::Ok) << describe(mx);
  ASSERT_EQ(mx.mx.size(), 1u);
  EXPECT_EQ(mx.mx[0], (MxRecord{10, "mail.example.test"}));
  EXPECT_EQ(mx.dnssec, Dnssec::Secure);
}

TEST_F(UnboundRig, AnswersPtrRecordsFromSignedReverseZones) {
  const DnsAnswer ptr = ask(reverse("127.0.0.10"), RrType::PTR);
  ASSERT_EQ(ptr.status, DnsStatus::Ok) << describe(ptr);
  EXPECT_EQ(ptr.names, (std::vector<std::string>{"mail.example.test"}));
  EXPECT_EQ(ptr.dnssec, Dnssec::Secure);

  DnsAnswer three = ask(reverse("127.0.0.17"), RrType::PTR);
  ASSERT_EQ(three.status, DnsStatus::Ok) << describe(three);
  std::sort(three.names.begin(), three.names.end());
  EXPECT_EQ(three.names, (std::vector<std::string>{"gone.example.test", "liar.example.test", "third.example.test"}));

  const DnsAnswer doc6 = ask(reverse("2001:db8::11"), RrType::PTR);
  ASSERT_EQ(doc6.status, DnsStatus::Ok) << describe(doc6);
  EXPECT_EQ(doc6.names, (std::vector<std::string>{"liar-doc.example.test"}));
  EXPECT_EQ(doc6.dnssec, Dnssec::Secure);

  const DnsAnswer net2 = ask(reverse("198.51.100.10"), RrType::PTR);
  ASSERT_EQ(net2.status, DnsStatus::Ok) << describe(net2);
  EXPECT_EQ(net2.names, (std::vector<std::string>{"net2.example.test"}));
}

TEST_F(UnboundRig, FollowsCnames) {
  const DnsAnswer a = ask("alias-chain.example.test", RrType::A);  // CNAME -> CNAME -> A
  ASSERT_EQ(a.status, DnsStatus::Ok) << describe(a);
  EXPECT_EQ(address(a), "127.0.0.10");
  EXPECT_EQ(a.dnssec, Dnssec::Secure);
  const DnsAnswer cname = ask("alias.example.test", RrType::CNAME);
  ASSERT_EQ(cname.status, DnsStatus::Ok) << describe(cname);
  EXPECT_EQ(cname.names, (std::vector<std::string>{"mail.example.test"}));
}

TEST_F(UnboundRig, AnswersNsRecords) {
  const DnsAnswer ns = ask("example.test", RrType::NS);
  ASSERT_EQ(ns.status, DnsStatus::Ok) << describe(ns);
  EXPECT_EQ(ns.names, (std::vector<std::string>{"ns.e2e.invalid"}));
}

// --- negative answers ----------------------------------------------------------------------------------------

TEST_F(UnboundRig, TellsNxdomainFromNodata) {
  const DnsAnswer nx = ask("nohelo.example.test", RrType::A);
  EXPECT_EQ(nx.status, DnsStatus::NxDomain) << describe(nx);
  EXPECT_EQ(nx.dnssec, Dnssec::Secure);  // NSEC-proven
  EXPECT_TRUE(nx.is_void());
  const DnsAnswer nodata = ask("mx-only.example.test", RrType::A);
  EXPECT_EQ(nodata.status, DnsStatus::NoData) << describe(nodata);
  EXPECT_EQ(nodata.dnssec, Dnssec::Secure);
  EXPECT_TRUE(nodata.is_void());
  EXPECT_EQ(ask("a-only.example.test", RrType::TXT).status, DnsStatus::NoData);
  EXPECT_EQ(ask(reverse("127.0.0.12"), RrType::PTR).status, DnsStatus::NxDomain);
  EXPECT_EQ(ask("void1.example.test", RrType::A).status, DnsStatus::NxDomain);
}

TEST_F(UnboundRig, NamesOutsideTheTestZonesFailWithoutLeavingLoopback) {
  // The catch-all stub sends them to nsd, which refuses: SERVFAIL, never a query to the root servers.
  const DnsAnswer a = ask("host.example", RrType::A);
  EXPECT_EQ(a.status, DnsStatus::ServFail) << describe(a);
  EXPECT_TRUE(a.is_temporary());
}

// --- DNSSEC ---------------------------------------------------------------------------------------------------

TEST_F(UnboundRig, ReportsSecureAndInsecureZones) {
  const DnsAnswer secure = ask("example.test", RrType::TXT);
  ASSERT_EQ(secure.status, DnsStatus::Ok) << describe(secure);
  EXPECT_EQ(secure.dnssec, Dnssec::Secure);
  EXPECT_EQ(secure.txt.at(0).at(0), "v=spf1 ip4:127.0.0.10 ip6:::1 ip4:192.0.2.10 ip6:2001:db8::10 -all");

  const DnsAnswer insecure = ask("host.insecure.test", RrType::A);  // delegated without DS
  ASSERT_EQ(insecure.status, DnsStatus::Ok) << describe(insecure);
  EXPECT_EQ(insecure.dnssec, Dnssec::Insecure);
  EXPECT_EQ(address(insecure), "127.0.0.13");

  const DnsAnswer island = ask("island.example.test", RrType::TXT);  // domain-insecure
  ASSERT_EQ(island.status, DnsStatus::Ok) << describe(island);
  EXPECT_EQ(island.dnssec, Dnssec::Insecure);

  const DnsAnswer loop6 = ask(reverse("::1"), RrType::PTR);  // no trust anchor covers it
  ASSERT_EQ(loop6.status, DnsStatus::Ok) << describe(loop6);
  EXPECT_EQ(loop6.dnssec, Dnssec::Insecure);
  EXPECT_EQ(loop6.names, (std::vector<std::string>{"mail.example.test"}));
}

TEST_F(UnboundRig, AlteredDataIsBogusAndCarriesNoData) {
  for (const auto& [name, type] : {std::pair{"bogus.test", RrType::TXT}, std::pair{"host.bogus.test", RrType::A}}) {
    const DnsAnswer a = ask(name, type);
    EXPECT_EQ(a.status, DnsStatus::Bogus) << name << ": " << describe(a);
    EXPECT_EQ(a.dnssec, Dnssec::Bogus);
    EXPECT_TRUE(says_bad_signature(a.why)) << a.why;
    EXPECT_NE(a.why.find(name), std::string::npos) << a.why;
    EXPECT_TRUE(a.addresses.empty());  // libunbound hands back the forged 127.0.0.14: dropped
    EXPECT_TRUE(a.txt.empty());
    EXPECT_TRUE(a.is_temporary());
  }
  const DnsAnswer ok = ask("ok.bogus.test", RrType::TXT);  // same zone, untouched record
  EXPECT_EQ(ok.status, DnsStatus::Ok) << describe(ok);
  EXPECT_EQ(ok.dnssec, Dnssec::Secure);
}

TEST_F(UnboundRig, AlteredSignatureIsBogus) {
  const DnsAnswer a = ask("sig.bogus.test", RrType::TXT);
  EXPECT_EQ(a.status, DnsStatus::Bogus) << describe(a);
  EXPECT_TRUE(says_bad_signature(a.why)) << a.why;
  EXPECT_TRUE(a.txt.empty());
}

TEST_F(UnboundRig, ExpiredSignaturesAreBogus) {
  const DnsAnswer a = ask("host.expired.test", RrType::A);
  EXPECT_EQ(a.status, DnsStatus::Bogus) << describe(a);
  EXPECT_NE(a.why.find("signature expired"), std::string::npos) << a.why;
  EXPECT_TRUE(a.addresses.empty());
}

TEST_F(UnboundRig, WithoutValidationBogusDataComesThrough) {
  auto options = rig_->options();
  options.validate = false;
  UnboundResolver plain(io_.get_executor(), options);
  const DnsAnswer a = ask_with(plain, "host.bogus.test", RrType::A, 5s);
  ASSERT_EQ(a.status, DnsStatus::Ok) << describe(a);
  EXPECT_EQ(a.dnssec, Dnssec::Insecure);
  EXPECT_EQ(address(a), "127.0.0.14");
}

// --- faults -----------------------------------------------------------------------------------------------------

TEST_F(UnboundRig, ServfailFromTheServerIsServFail) {
  const DnsAnswer a = ask("host.servfail.test", RrType::A);
  EXPECT_EQ(a.status, DnsStatus::ServFail) << describe(a);
  EXPECT_TRUE(a.is_temporary());
  EXPECT_EQ(ask(reverse("127.0.3.10"), RrType::PTR).status, DnsStatus::ServFail);
}

TEST_F(UnboundRig, ASilentServerTimesOutAtTheDeadline) {
  std::chrono::steady_clock::duration elapsed{};
  const DnsAnswer a = ask_with(*resolver_, "host.drop.test", RrType::A, 1000ms, &elapsed);
  EXPECT_EQ(a.status, DnsStatus::Timeout) << describe(a);
  EXPECT_TRUE(a.is_temporary());
  EXPECT_GE(elapsed, 950ms);
  EXPECT_LT(elapsed, 1000ms + kDeadlineSlack);
  EXPECT_EQ(resolver_->in_flight(), 0u);

  const DnsAnswer ptr = ask_with(*resolver_, reverse("127.0.2.10"), RrType::PTR, 800ms, &elapsed);
  EXPECT_EQ(ptr.status, DnsStatus::Timeout) << describe(ptr);
  EXPECT_LT(elapsed, 800ms + kDeadlineSlack);
}

TEST_F(UnboundRig, PerQueryTimeoutBoundsALaterDeadline) {
  auto options = rig_->options();
  options.query_timeout = 300ms;
  UnboundResolver quick(io_.get_executor(), options);
  std::chrono::steady_clock::duration elapsed{};
  const DnsAnswer a = ask_with(quick, "x.drop.test", RrType::TXT, 30s, &elapsed);
  EXPECT_EQ(a.status, DnsStatus::Timeout) << describe(a);
  EXPECT_NE(a.why.find("300 ms"), std::string::npos) << a.why;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 300ms + kDeadlineSlack);
}

TEST_F(UnboundRig, APassedDeadlineTimesOutAtOnce) {
  std::chrono::steady_clock::duration elapsed{};
  const DnsAnswer a = ask_with(*resolver_, "mail.example.test", RrType::A, -1ms, &elapsed);
  EXPECT_EQ(a.status, DnsStatus::Timeout) << describe(a);
  EXPECT_LT(elapsed, kDeadlineSlack);
}

TEST_F(UnboundRig, SlowAnswersArriveWithinTheirDeadline) {
  const DnsAnswer a = ask("host.slow.test", RrType::A);
  ASSERT_EQ(a.status, DnsStatus::Ok) << describe(a);
  EXPECT_EQ(address(a), "127.0.0.21");
  EXPECT_EQ(a.dnssec, Dnssec::Insecure);
}

// A dnsproxy.py of the test's own in front of nsd, serving down.test: the test can stop it.
class PrivateProxy {
 public:
  PrivateProxy(const TestDns& rig, const std::filesystem::path& scratch) {
    const std::string port_file = (scratch / "port").string();
    std::filesystem::create_directories(scratch);
    std::vector<std::string> args{"/usr/bin/python3", rig.value("TESTDNS_PROXY_SCRIPT"), "--listen", "127.0.0.1:0",
                                  "--upstream", "127.0.0.1:" + rig.value("TESTDNS_NSD_PORT"), "--port-file",
                                  port_file, "--log", (scratch / "queries.log").string()};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) pid_ = -1;
    for (int i = 0; i < 500 && pid_ > 0 && port_ == 0; ++i) {  // up to 5 s for Python to start and bind
      std::this_thread::sleep_for(10ms);
      std::ifstream in(port_file);
      if (!(in >> port_)) port_ = 0;
    }
  }
  ~PrivateProxy() { kill(); }
  PrivateProxy(const PrivateProxy&) = delete;
  PrivateProxy& operator=(const PrivateProxy&) = delete;

  int port() const { return port_; }
  void freeze() const { ::kill(pid_, SIGSTOP); }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

TEST_F(UnboundRig, AStoppedServerGivesATimeoutWithinTheDeadline) {
  const auto dir = scratch("down");
  PrivateProxy proxy(*rig_, dir);
  ASSERT_GT(proxy.port(), 0) << "private dnsproxy.py did not start";
  const auto conf = dir / "unbound.conf";
  std::ofstream(conf) << "include: \"" << rig_->stub_conf() << "\"\n"
                      << "stub-zone:\n    name: \"down.test.\"\n    stub-addr: 127.0.0.1@" << proxy.port() << "\n";
  auto options = rig_->options();
  options.config_file = conf.string();
  UnboundResolver resolver(io_.get_executor(), options);

  const DnsAnswer up = ask_with(resolver, "host.down.test", RrType::A, 5s);
  ASSERT_EQ(up.status, DnsStatus::Ok) << describe(up);
  EXPECT_EQ(address(up), "127.0.0.10");

  proxy.freeze();  // hung: queries reach its socket, nothing answers
  std::chrono::steady_clock::duration elapsed{};
  const DnsAnswer hung = ask_with(resolver, unique_label("h") + ".wild.down.test", RrType::TXT, 1000ms, &elapsed);
  EXPECT_EQ(hung.status, DnsStatus::Timeout) << describe(hung);
  EXPECT_LT(elapsed, 1000ms + kDeadlineSlack);

  proxy.kill();  // gone: the port is closed
  const DnsAnswer gone = ask_with(resolver, unique_label("g") + ".wild.down.test", RrType::TXT, 1000ms, &elapsed);
  EXPECT_TRUE(gone.status == DnsStatus::Timeout || gone.status == DnsStatus::ServFail) << describe(gone);
  EXPECT_LT(elapsed, 1000ms + kDeadlineSlack);
  // Cached answers are still served.
  EXPECT_EQ(ask_with(resolver, "host.down.test", RrType::A, 1000ms).status, DnsStatus::Ok);
}

// --- large answers ------------------------------------------------------------------------------------------

TEST_F(UnboundRig, LargeTxtRecordsArriveWhole) {
  const DnsAnswer medium = ask("medium.example.test", RrType::TXT);  // > 512 octets, fits EDNS 1232
  ASSERT_EQ(medium.status, DnsStatus::Ok) << describe(medium);
  ASSERT_EQ(medium.txt.size(), 1u);
  EXPECT_EQ(medium.txt[0], (std::vector<std::string>{std::string(250, 'A'), std::string(250, 'B'),
                                                     std::string(250, 'C')}));

  const DnsAnswer big = ask("big.example.test", RrType::TXT);  // > 1232 octets: TC, then TCP
  ASSERT_EQ(big.status, DnsStatus::Ok) << describe(big);
  ASSERT_EQ(big.txt.size(), 1u);
  EXPECT_EQ(big.txt[0], big_spf_strings());
  EXPECT_GT(total_size(big.txt[0]), 1500u);
  EXPECT_EQ(big.dnssec, Dnssec::Secure);
}

TEST_F(UnboundRig, TruncatedUdpAnswersAreFetchedOverTcp) {
  const std::string name = unique_label("t") + ".wild.trunc.test";
  const DnsAnswer big = ask(name, RrType::TXT);
  ASSERT_EQ(big.status, DnsStatus::Ok) << describe(big);
  ASSERT_EQ(big.txt.size(), 1u);
  EXPECT_EQ(big.txt[0], big_spf_strings());
  // dnsproxy.py logged our query twice: truncated over UDP, then forwarded over TCP.
  std::ifstream log(rig_->value("TESTDNS_PROXY_LOG"));
  bool udp_truncated = false, tcp_forwarded = false;
  for (std::string line; std::getline(log, line);) {
    if (line.find(" " + name + ". TXT ") == std::string::npos) continue;
    udp_truncated |= line.find(" udp ") != std::string::npos && line.find(" truncate") != std::string::npos;
    tcp_forwarded |= line.find(" tcp ") != std::string::npos && line.find(" forward") != std::string::npos;
  }
  EXPECT_TRUE(udp_truncated) << "no truncated UDP answer for " << name << " in the proxy log";
  EXPECT_TRUE(tcp_forwarded) << "no TCP query for " << name << " in the proxy log";
  const DnsAnswer small = ask("trunc.test", RrType::TXT);
  ASSERT_EQ(small.status, DnsStatus::Ok) << describe(small);
  EXPECT_EQ(small.txt.at(0), (std::vector<std::string>{"v=spf1 ip4:127.0.0.10 -all"}));
}

// --- concurrency and exactly-once completion -----------------------------------------------------------------

// The rig's stub config sets infra-cache-max-rtt: 1000 so that a dead server fails fast. Under a burst on
// 2 busy cores, libunbound's single thread can take longer than that to read a few replies; it then marks
// nsd as down and answers SERVFAIL for the rest of the burst. Burst tests restore unbound's default
// (as in production) so they test the resolver, not that tuning.
UnboundOptions burst_options(const TestDns& rig) {
  auto options = rig.options();
  options.extra_options = {"infra-cache-max-rtt: 120000"};
  return options;
}

TEST_F(UnboundRig, ThousandConcurrentQueriesDoNotBlockTheIoContext) {
  constexpr int kQueries = 1000;
  const std::string run = unique_label("c");
  std::vector<std::optional<DnsAnswer>> answers(kQueries);
  std::vector<int> calls(kQueries, 0);
  int done = 0;

  // A ticker on the same io_context: if anything blocked the thread, its gaps would grow.
  asio::steady_timer ticker(io_);
  int ticks = 0;
  auto last_tick = Clock::now();
  Clock::duration max_gap{0};
  std::function<void()> tick = [&] {
    ticker.expires_after(10ms);
    ticker.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      const auto now = Clock::now();
      max_gap = std::max(max_gap, now - last_tick);
      last_tick = now;
      ++ticks;
      if (done < kQueries) tick();
    });
  };
  tick();

  UnboundResolver resolver(io_.get_executor(), burst_options(*rig_));
  const auto deadline = Clock::now() + 30s;
  for (int i = 0; i < kQueries; ++i) {
    // Half through the 50 ms delay of slow.test, half validated from example.test; all distinct names.
    const bool slow = i % 2 == 0;
    std::string name = "q" + std::to_string(i) + "-" + run + (slow ? ".wild.slow.test" : ".wild.example.test");
    resolver.async_query(std::move(name), slow ? RrType::A : RrType::TXT, deadline, [&, i](DnsAnswer a) {
      ++calls[static_cast<std::size_t>(i)];
      answers[static_cast<std::size_t>(i)] = std::move(a);
      ++done;
    });
  }
  EXPECT_EQ(resolver.in_flight(), static_cast<std::size_t>(kQueries));
  io_.run();

  EXPECT_EQ(done, kQueries);
  EXPECT_EQ(resolver.in_flight(), 0u);
  int ok = 0;
  for (int i = 0; i < kQueries; ++i) {
    const auto& a = answers[static_cast<std::size_t>(i)];
    ASSERT_EQ(calls[static_cast<std::size_t>(i)], 1) << "query " << i;
    ASSERT_TRUE(a.has_value());
    if (a->status != DnsStatus::Ok) {
      ADD_FAILURE() << "query " << i << ": " << describe(*a);
      continue;
    }
    ++ok;
    if (i % 2 == 0) {
      EXPECT_EQ(address(*a), "127.0.0.31");
    } else {
      EXPECT_EQ(a->txt.at(0), (std::vector<std::string>{"wild"}));
      EXPECT_EQ(a->dnssec, Dnssec::Secure);
    }
  }
  EXPECT_EQ(ok, kQueries);
  EXPECT_GE(ticks, 3);  // the slow half alone takes 50 ms
  EXPECT_LT(max_gap, 250ms) << "the io_context was blocked for "
                            << std::chrono::duration_cast<std::chrono::milliseconds>(max_gap).count() << " ms";
}

TEST_F(UnboundRig, DeadlinesRacingAnswersCompleteEachQueryOnce) {
  // slow.test answers after ~50 ms; deadlines from 20 to 120 ms land before, at and after the answers.
  constexpr int kQueries = 200;
  const std::string run = unique_label("r");
  std::vector<int> calls(kQueries, 0);
  std::vector<DnsStatus> status(kQueries, DnsStatus::Error);
  UnboundResolver resolver(io_.get_executor(), burst_options(*rig_));
  const auto start = Clock::now();
  for (int i = 0; i < kQueries; ++i) {
    resolver.async_query("r" + std::to_string(i) + "-" + run + ".wild.slow.test", RrType::A,
                           start + std::chrono::milliseconds(20 + i % 100), [&, i](DnsAnswer a) {
                             ++calls[static_cast<std::size_t>(i)];
                             status[static_cast<std::size_t>(i)] = a.status;
                           });
  }
  io_.run();
  // Keep running a while: late answers to cancelled queries must not complete anything again.
  asio::steady_timer wait(io_, 1500ms);
  wait.async_wait([](boost::system::error_code) {});
  io_.restart();
  io_.run();
  int timeouts = 0;
  for (int i = 0; i < kQueries; ++i) {
    EXPECT_EQ(calls[static_cast<std::size_t>(i)], 1) << "query " << i;
    const DnsStatus s = status[static_cast<std::size_t>(i)];
    EXPECT_TRUE(s == DnsStatus::Ok || s == DnsStatus::Timeout) << "query " << i << ": " << to_string(s);
    timeouts += s == DnsStatus::Timeout;
  }
  EXPECT_GT(timeouts, 0);  // 20 ms deadlines cannot beat a 50 ms delay
  EXPECT_EQ(resolver.in_flight(), 0u);
}

TEST_F(UnboundRig, QueriesBeyondTheWindowWaitTheirTurn) {
  auto options = burst_options(*rig_);
  options.max_outstanding = 4;
  UnboundResolver narrow(io_.get_executor(), options);
  constexpr int kQueries = 40;
  const std::string run = unique_label("w");
  int ok = 0, calls = 0;
  for (int i = 0; i < kQueries; ++i) {
    narrow.async_query("w" + std::to_string(i) + "-" + run + ".wild.slow.test", RrType::A, Clock::now() + 20s,
                       [&](DnsAnswer a) {
                         ++calls;
                         ok += a.status == DnsStatus::Ok;
                       });
  }
  io_.run();
  EXPECT_EQ(calls, kQueries);
  EXPECT_EQ(ok, kQueries);

  // With the only place taken by a query nobody answers, a waiting query times out at its own deadline.
  options.max_outstanding = 1;
  UnboundResolver single(io_.get_executor(), options);
  DnsAnswer blocked, waiting;
  single.async_query("host.drop.test", RrType::A, Clock::now() + 1500ms, [&](DnsAnswer a) { blocked = std::move(a); });
  const auto start = Clock::now();
  single.async_query("mail.example.test", RrType::A, Clock::now() + 300ms, [&](DnsAnswer a) {
    waiting = std::move(a);
    EXPECT_LT(Clock::now() - start, 300ms + kDeadlineSlack);
  });
  io_.restart();
  io_.run();
  EXPECT_EQ(waiting.status, DnsStatus::Timeout) << describe(waiting);
  EXPECT_EQ(blocked.status, DnsStatus::Timeout) << describe(blocked);
  // Once the place is free again, queries go through.
  EXPECT_EQ(ask_with(single, "mail.example.test", RrType::A, 5s).status, DnsStatus::Ok);
}

TEST_F(UnboundRig, ATimedOutQueryCompletesOnceEvenWhenUnboundGivesUpLater) {
  int calls = 0;
  DnsAnswer answer;
  resolver_->async_query("host.drop.test", RrType::A, Clock::now() + 300ms, [&](DnsAnswer a) {
    ++calls;
    answer = std::move(a);
  });
  io_.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(answer.status, DnsStatus::Timeout) << describe(answer);
  // libunbound keeps working on the cancelled query and gives up later; nothing may complete again.
  asio::steady_timer wait(io_, 2500ms);
  wait.async_wait([](boost::system::error_code) {});
  io_.restart();
  io_.run();
  EXPECT_EQ(calls, 1);
  // The resolver still works afterwards.
  EXPECT_EQ(ask("mail.example.test", RrType::A).status, DnsStatus::Ok);
}

TEST_F(UnboundRig, CancellationSlotEndsAQueryEarly) {
  using namespace asio::experimental::awaitable_operators;
  std::chrono::steady_clock::duration elapsed{};
  const auto start = Clock::now();
  auto race = [&]() -> asio::awaitable<std::size_t> {
    asio::steady_timer timer(co_await asio::this_coro::executor, 200ms);
    auto result = co_await (resolver_->query("host.drop.test", RrType::A, Clock::now() + 10s) ||
                            timer.async_wait(asio::use_awaitable));
    co_return result.index();
  };
  auto future = asio::co_spawn(io_, race(), asio::use_future);
  io_.run();
  elapsed = Clock::now() - start;
  EXPECT_EQ(future.get(), 1u);  // the timer won
  EXPECT_LT(elapsed, 200ms + kDeadlineSlack);
  EXPECT_EQ(resolver_->in_flight(), 0u);

  // An explicit cancellation signal completes the query with Timeout "cancelled".
  asio::cancellation_signal signal;
  int calls = 0;
  DnsAnswer answer;
  resolver_->async_query("x.drop.test", RrType::TXT, Clock::now() + 10s,
                         asio::bind_cancellation_slot(signal.slot(), [&](DnsAnswer a) {
                           ++calls;
                           answer = std::move(a);
                         }));
  asio::steady_timer later(io_, 100ms);
  later.async_wait([&](boost::system::error_code) { signal.emit(asio::cancellation_type::terminal); });
  io_.restart();
  io_.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(answer.status, DnsStatus::Timeout);
  EXPECT_EQ(answer.why, "cancelled");
}

TEST_F(UnboundRig, DestroyingTheResolverCompletesOutstandingQueriesOnce) {
  constexpr int kQueries = 50;
  std::vector<int> calls(kQueries, 0);
  std::vector<DnsAnswer> answers(kQueries);
  auto resolver = std::make_unique<UnboundResolver>(io_.get_executor(), rig_->options());
  for (int i = 0; i < kQueries; ++i) {
    resolver->async_query("d" + std::to_string(i) + ".drop.test", RrType::TXT, Clock::now() + 10s,
                          [&, i](DnsAnswer a) {
                            ++calls[static_cast<std::size_t>(i)];
                            answers[static_cast<std::size_t>(i)] = std::move(a);
                          });
  }
  io_.run_for(200ms);  // the queries are with libunbound now
  EXPECT_EQ(resolver->in_flight(), static_cast<std::size_t>(kQueries));
  resolver.reset();
  io_.restart();
  io_.run();
  for (int i = 0; i < kQueries; ++i) {
    EXPECT_EQ(calls[static_cast<std::size_t>(i)], 1) << "query " << i;
    EXPECT_EQ(answers[static_cast<std::size_t>(i)].status, DnsStatus::Error);
    EXPECT_EQ(answers[static_cast<std::size_t>(i)].why, "resolver shut down");
  }
}

TEST_F(UnboundRig, DestroyingTheResolverBeforeItsQueriesStartIsClean) {
  int calls = 0;
  {
    UnboundResolver resolver(io_.get_executor(), rig_->options());
    resolver.async_query("mail.example.test", RrType::A, Clock::now() + 5s, [&](DnsAnswer a) {
      ++calls;
      EXPECT_EQ(a.status, DnsStatus::Error);
    });
  }  // destroyed before the io_context ran the query's start
  io_.run();
  EXPECT_EQ(calls, 1);
}

// --- configuration ----------------------------------------------------------------------------------------------

TEST_F(UnboundRig, ForwardsToAGivenResolver) {
  // nsd is authoritative for the test zones, so forwarding to it works for them; the stub file is not
  // used, only a config with the trust anchors and the built-in zone turned off.
  const auto conf = scratch("fwd.conf");
  std::ofstream(conf) << "server:\n    do-not-query-localhost: no\n    local-zone: \"test.\" nodefault\n"
                      << "    trust-anchor-file: \"" << rig_->value("TESTDNS_TRUST_ANCHORS") << "\"\n";
  UnboundOptions options;
  options.config_file = conf.string();
  options.trust_anchor_file.clear();
  options.forwarders = {"127.0.0.1@" + rig_->value("TESTDNS_NSD_PORT")};
  UnboundResolver forwarding(io_.get_executor(), options);
  const DnsAnswer a = ask_with(forwarding, "example.test", RrType::TXT, 5s);
  ASSERT_EQ(a.status, DnsStatus::Ok) << describe(a);
  EXPECT_EQ(a.dnssec, Dnssec::Secure);
  const DnsAnswer bogus = ask_with(forwarding, "bogus.test", RrType::TXT, 5s);
  EXPECT_EQ(bogus.status, DnsStatus::Bogus) << describe(bogus);
}

TEST_F(UnboundRig, ExtraOptionsApply) {
  // A 512-octet EDNS buffer makes medium.example.test (756 octets of TXT) need TCP too.
  auto options = rig_->options();
  options.extra_options = {"edns-buffer-size: 512", "msg-cache-size: 1m"};
  UnboundResolver small_buffer(io_.get_executor(), options);
  const DnsAnswer a = ask_with(small_buffer, "medium.example.test", RrType::TXT, 5s);
  ASSERT_EQ(a.status, DnsStatus::Ok) << describe(a);
  EXPECT_EQ(total_size(a.txt.at(0)), 750u);
}

}  // namespace
