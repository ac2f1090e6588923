// CachingResolver: TTLs (with an injected clock), DNSSEC state, what is never cached, de-duplication of
// concurrent questions, cancellation, and the bounds. The upstream is a MemoryResolver (real zone data, with
// latency when a test needs questions to overlap) or, for answers a zone cannot produce (a given TTL for a
// negative answer, a Timeout only on the first try), a scripted upstream that counts its calls.
#include "policy/dns/caching_resolver.hpp"
#include "policy/dns/memory_resolver.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <deque>
#include <map>

namespace asio = boost::asio;
using namespace spfgate;
using namespace spfgate::dns;
using namespace std::chrono_literals;

namespace {

// A clock the test moves by hand.
struct FakeClock {
  Clock::time_point now = Clock::time_point() + std::chrono::hours(1000);
  std::function<Clock::time_point()> fn() {
    return [this] { return now; };
  }
};

CacheOptions options_with(FakeClock& clock) {
  CacheOptions o;
  o.clock = clock.fn();
  return o;
}

DnsAnswer ask(Resolver& r, std::string name, RrType type, std::chrono::milliseconds budget = 5s) {
  asio::io_context io;
  auto f = asio::co_spawn(io, r.query(std::move(name), type, Clock::now() + budget), asio::use_future);
  io.run();
  return f.get();
}

// Answers from a script: per (name, type), the answers of successive calls (the last one repeats), after an
// optional latency. Counts its calls, and the calls it has answered.
class ScriptedResolver final : public Resolver {
 public:
  void script(std::string name, RrType type, std::vector<DnsAnswer> answers) {
    script_[{std::move(name), type}] = std::deque<DnsAnswer>(answers.begin(), answers.end());
  }
  std::chrono::milliseconds latency{0};
  int calls = 0;
  int answered = 0;

  asio::awaitable<DnsAnswer> query(std::string name, RrType type, Deadline deadline) override {
    ++calls;
    auto& queue = script_.at({name, type});
    DnsAnswer a = queue.front();
    if (queue.size() > 1) queue.pop_front();
    auto when = Clock::now() + latency;
    if (a.status == DnsStatus::Timeout || when > deadline) when = deadline;
    if (when > Clock::now()) {
      asio::steady_timer t(co_await asio::this_coro::executor, when);
      boost::system::error_code ec;
      co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    ++answered;
    co_return a;
  }

 private:
  std::map<std::pair<std::string, RrType>, std::deque<DnsAnswer>> script_;
};

DnsAnswer ok_txt(std::string text, std::uint32_t ttl, Dnssec dnssec = Dnssec::Insecure) {
  DnsAnswer a;
  a.status = DnsStatus::Ok;
  a.ttl = ttl;
  a.dnssec = dnssec;
  a.txt.push_back({std::move(text)});
  return a;
}

DnsAnswer negative(DnsStatus status, std::uint32_t ttl, Dnssec dnssec = Dnssec::Insecure) {
  DnsAnswer a;
  a.status = status;
  a.ttl = ttl;
  a.dnssec = dnssec;
  return a;
}

}  // namespace

TEST(CachingResolver, AnswersRepeatedQuestionsFromTheCacheUntilTheTtlRunsOut) {
  FakeClock clock;
  MemoryResolver zone;
  zone.set_ttl(300);
  zone.add_txt("example.com", {"v=spf1 -all"});
  CachingResolver cache(zone, options_with(clock));

  DnsAnswer first = ask(cache, "example.com", RrType::TXT);
  ASSERT_EQ(first.status, DnsStatus::Ok);
  EXPECT_EQ(first.ttl, 300u);
  EXPECT_EQ(zone.query_count(), 1u);

  clock.now += 100s;
  DnsAnswer second = ask(cache, "example.com", RrType::TXT);
  EXPECT_EQ(zone.query_count(), 1u) << "answered from the cache";
  EXPECT_EQ(second.txt, first.txt);
  EXPECT_EQ(second.ttl, 200u) << "the TTL counts down";

  clock.now += 199s;
  EXPECT_EQ(ask(cache, "example.com", RrType::TXT).ttl, 1u);
  EXPECT_EQ(zone.query_count(), 1u);

  clock.now += 1s;  // 300 s after it was stored: expired
  DnsAnswer third = ask(cache, "example.com", RrType::TXT);
  EXPECT_EQ(zone.query_count(), 2u) << "asked again after the TTL";
  EXPECT_EQ(third.ttl, 300u);
  EXPECT_EQ(cache.stats().hits, 2u);
  EXPECT_EQ(cache.stats().misses, 2u);
  EXPECT_EQ(cache.stats().expired, 1u);
}

TEST(CachingResolver, KeysIgnoreCaseAndTheTrailingDotButNotTheType) {
  FakeClock clock;
  MemoryResolver zone;
  zone.add_txt("example.com", {"v=spf1 -all"});
  zone.add_a("example.com", "192.0.2.1");
  CachingResolver cache(zone, options_with(clock));
  ask(cache, "example.com", RrType::TXT);
  EXPECT_EQ(ask(cache, "EXAMPLE.Com.", RrType::TXT).status, DnsStatus::Ok);
  EXPECT_EQ(zone.query_count(), 1u);
  DnsAnswer a = ask(cache, "example.com", RrType::A);
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(zone.query_count(), 2u) << "another type is another question";
}

TEST(CachingResolver, CachesNegativeAnswersForTheirNegativeTtl) {
  FakeClock clock;
  ScriptedResolver up;
  up.script("gone.example", RrType::TXT, {negative(DnsStatus::NxDomain, 60, Dnssec::Secure)});
  up.script("example.org", RrType::MX, {negative(DnsStatus::NoData, 30)});
  CachingResolver cache(up, options_with(clock));

  EXPECT_EQ(ask(cache, "gone.example", RrType::TXT).status, DnsStatus::NxDomain);
  EXPECT_EQ(ask(cache, "example.org", RrType::MX).status, DnsStatus::NoData);
  EXPECT_EQ(up.calls, 2);
  clock.now += 29s;
  DnsAnswer nx = ask(cache, "gone.example", RrType::TXT);
  EXPECT_EQ(nx.status, DnsStatus::NxDomain);
  EXPECT_EQ(nx.dnssec, Dnssec::Secure) << "a proven NXDOMAIN stays proven";
  EXPECT_EQ(nx.ttl, 31u);
  EXPECT_EQ(ask(cache, "example.org", RrType::MX).status, DnsStatus::NoData);
  EXPECT_EQ(up.calls, 2);
  clock.now += 1s;  // NODATA's 30 s are over, NXDOMAIN's 60 s are not
  ask(cache, "example.org", RrType::MX);
  ask(cache, "gone.example", RrType::TXT);
  EXPECT_EQ(up.calls, 3);
}

TEST(CachingResolver, KeepsTheDnssecStateOfEachAnswer) {
  FakeClock clock;
  MemoryResolver zone;
  zone.add_txt("signed.example", {"v=spf1 -all"});
  zone.set_dnssec("signed.example", Dnssec::Secure);
  zone.add_txt("plain.example", {"v=spf1 -all"});
  CachingResolver cache(zone, options_with(clock));
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(ask(cache, "signed.example", RrType::TXT).dnssec, Dnssec::Secure) << "round " << round;
    EXPECT_EQ(ask(cache, "plain.example", RrType::TXT).dnssec, Dnssec::Insecure) << "round " << round;
  }
  EXPECT_EQ(zone.query_count(), 2u);
}

TEST(CachingResolver, NeverCachesTemporaryFailuresBogusAnswersOrTtlZero) {
  FakeClock clock;
  MemoryResolver zone;
  zone.add_txt("bogus.example", {"v=spf1 +all"});
  zone.set_dnssec("bogus.example", Dnssec::Bogus);
  zone.add_name_failure("servfail.example", DnsStatus::ServFail);
  zone.add_name_failure("timeout.example", DnsStatus::Timeout);
  zone.add_name_failure("refused.example", DnsStatus::Error, "REFUSED");
  CachingResolver cache(zone, options_with(clock));
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(ask(cache, "bogus.example", RrType::TXT).status, DnsStatus::Bogus);
    EXPECT_EQ(ask(cache, "servfail.example", RrType::TXT).status, DnsStatus::ServFail);
    EXPECT_EQ(ask(cache, "timeout.example", RrType::TXT).status, DnsStatus::Timeout);
    EXPECT_EQ(ask(cache, "refused.example", RrType::TXT).status, DnsStatus::Error);
  }
  EXPECT_EQ(zone.query_count(), 12u) << "every question went upstream";
  EXPECT_EQ(cache.stats().entries, 0u);

  ScriptedResolver up;
  up.script("zero.example", RrType::TXT, {ok_txt("v=spf1 -all", 0)});
  CachingResolver cache0(up, options_with(clock));
  ask(cache0, "zero.example", RrType::TXT);
  ask(cache0, "zero.example", RrType::TXT);
  EXPECT_EQ(up.calls, 2) << "TTL 0 means: do not cache";
}

TEST(CachingResolver, CapsTheTtlAtMaxTtl) {
  FakeClock clock;
  ScriptedResolver up;
  up.script("long.example", RrType::TXT, {ok_txt("v=spf1 -all", 7 * 86400)});
  CacheOptions o = options_with(clock);
  o.max_ttl = 3600s;
  CachingResolver cache(up, o);
  ask(cache, "long.example", RrType::TXT);
  EXPECT_EQ(ask(cache, "long.example", RrType::TXT).ttl, 3600u);
  clock.now += 3600s;
  ask(cache, "long.example", RrType::TXT);
  EXPECT_EQ(up.calls, 2);
}

TEST(CachingResolver, MergesConcurrentIdenticalQuestions) {
  MemoryResolver zone;
  zone.set_latency(50ms);
  zone.add_txt("example.com", {"v=spf1 -all"});
  zone.add_txt("example.net", {"v=spf1 ~all"});
  CachingResolver cache(zone, CacheOptions{});
  asio::io_context io;
  std::vector<DnsAnswer> answers(12);
  const auto deadline = Clock::now() + 5s;
  for (int i = 0; i < 12; ++i)
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          answers[i] = co_await cache.query(i % 3 == 2 ? "example.net" : "EXAMPLE.com", RrType::TXT,
                                            deadline + std::chrono::milliseconds(i));
        },
        asio::detached);
  io.run();
  EXPECT_EQ(zone.query_count(), 2u) << "one upstream question per (name, type)";
  EXPECT_EQ(cache.stats().joined, 10u);
  for (int i = 0; i < 12; ++i) {
    ASSERT_EQ(answers[i].status, DnsStatus::Ok) << i;
    EXPECT_EQ(answers[i].txt.front().front(), i % 3 == 2 ? "v=spf1 ~all" : "v=spf1 -all") << i;
  }
}

TEST(CachingResolver, AQuestionWithAnEarlierDeadlineDoesNotWaitForALaterOne) {
  ScriptedResolver up;
  up.latency = 40ms;
  up.script("example.com", RrType::TXT, {ok_txt("v=spf1 -all", 300)});
  CachingResolver cache(up, CacheOptions{});
  asio::io_context io;
  DnsAnswer late, early;
  const auto now = Clock::now();
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { late = co_await cache.query("example.com", RrType::TXT, now + 10s); },
                 asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { early = co_await cache.query("example.com", RrType::TXT, now + 5s); },
                 asio::detached);
  io.run();
  EXPECT_EQ(up.calls, 2) << "the earlier deadline asks on its own";
  EXPECT_EQ(late.status, DnsStatus::Ok);
  EXPECT_EQ(early.status, DnsStatus::Ok);
}

TEST(CachingResolver, AWaiterAsksAgainWhenTheSharedQuestionTimedOutBeforeItsOwnDeadline) {
  ScriptedResolver up;
  up.script("example.com", RrType::TXT,
            {DnsAnswer::failure(DnsStatus::Timeout, "no answer"), ok_txt("v=spf1 -all", 300)});
  CachingResolver cache(up, CacheOptions{});
  asio::io_context io;
  DnsAnswer first, second;
  const auto now = Clock::now();
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { first = co_await cache.query("example.com", RrType::TXT, now + 30ms); },
                 asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { second = co_await cache.query("example.com", RrType::TXT, now + 5s); },
                 asio::detached);
  io.run();
  EXPECT_EQ(first.status, DnsStatus::Timeout);
  EXPECT_EQ(second.status, DnsStatus::Ok) << "its own deadline had not passed";
  EXPECT_EQ(up.calls, 2);
  EXPECT_EQ(cache.stats().joined, 1u);
}

TEST(CachingResolver, ACancelledWaiterCompletesAtOnceAndTheOthersStillGetTheAnswer) {
  ScriptedResolver up;
  up.latency = 200ms;
  up.script("example.com", RrType::TXT, {ok_txt("v=spf1 -all", 300)});
  CachingResolver cache(up, CacheOptions{});
  asio::io_context io;
  DnsAnswer leader, cancelled;
  // The order in which things finish, not how long they took: the cancelled waiter must be done while
  // the upstream question is still out, and the leader only once the upstream has answered.
  std::vector<std::string> finished;
  const auto deadline = Clock::now() + 5s;
  asio::cancellation_signal signal;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    leader = co_await cache.query("example.com", RrType::TXT, deadline);
    finished.push_back("leader:calls=" + std::to_string(up.answered));
  }, asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    cancelled = co_await cache.query("example.com", RrType::TXT, deadline + 1s);
    finished.push_back("cancelled:calls=" + std::to_string(up.answered));
  }, asio::bind_cancellation_slot(signal.slot(), asio::detached));
  asio::steady_timer t(io, 20ms);
  t.async_wait([&](boost::system::error_code) { signal.emit(asio::cancellation_type::terminal); });
  io.run();
  EXPECT_EQ(cancelled.status, DnsStatus::Timeout);
  EXPECT_EQ(cancelled.why, "cancelled");
  EXPECT_EQ(leader.status, DnsStatus::Ok);
  EXPECT_EQ(finished, (std::vector<std::string>{"cancelled:calls=0", "leader:calls=1"}))
      << "the cancelled waiter did not wait for the upstream answer; the leader did";
  EXPECT_EQ(up.calls, 1);
}

TEST(CachingResolver, StaysWithinMaxEntriesEvictingTheLeastRecentlyUsed) {
  FakeClock clock;
  MemoryResolver zone;
  for (int i = 0; i < 6; ++i) zone.add_txt("d" + std::to_string(i) + ".example", {"v=spf1 -all"});
  CacheOptions o = options_with(clock);
  o.max_entries = 3;
  CachingResolver cache(zone, o);
  ask(cache, "d0.example", RrType::TXT);
  ask(cache, "d1.example", RrType::TXT);
  ask(cache, "d2.example", RrType::TXT);
  ask(cache, "d0.example", RrType::TXT);  // d0 used again: d1 is now the least recently used
  ask(cache, "d3.example", RrType::TXT);  // evicts d1
  EXPECT_EQ(cache.stats().entries, 3u);
  EXPECT_EQ(cache.stats().evicted, 1u);
  zone.clear_queries();
  ask(cache, "d0.example", RrType::TXT);
  ask(cache, "d2.example", RrType::TXT);
  ask(cache, "d3.example", RrType::TXT);
  EXPECT_EQ(zone.query_count(), 0u);
  ask(cache, "d1.example", RrType::TXT);
  EXPECT_EQ(zone.query_count(), 1u) << "d1 was evicted";
}

TEST(CachingResolver, StaysWithinMaxBytesAndPassesHugeAnswersThrough) {
  FakeClock clock;
  MemoryResolver zone;
  for (int i = 0; i < 200; ++i) zone.add_txt("d" + std::to_string(i) + ".example", {std::string(200, 'x')});
  zone.add_txt("huge.example", {std::string(4000, 'y')});
  CacheOptions o = options_with(clock);
  o.max_bytes = 16 * 1024;
  CachingResolver cache(zone, o);
  for (int i = 0; i < 200; ++i) ask(cache, "d" + std::to_string(i) + ".example", RrType::TXT);
  const auto s = cache.stats();
  EXPECT_LE(s.bytes, o.max_bytes);
  EXPECT_GT(s.entries, 10u);
  EXPECT_LT(s.entries, 200u);
  EXPECT_EQ(s.evicted, 200u - s.entries);
  // An answer over an eighth of the bound is returned but not kept.
  EXPECT_EQ(ask(cache, "huge.example", RrType::TXT).txt.front().front().size(), 4000u);
  EXPECT_EQ(ask(cache, "huge.example", RrType::TXT).status, DnsStatus::Ok);
  EXPECT_EQ(zone.query_count(), 202u);
}

TEST(CachingResolver, ZeroEntriesTurnsTheCacheOff) {
  MemoryResolver zone;
  zone.add_txt("example.com", {"v=spf1 -all"});
  CacheOptions o;
  o.max_entries = 0;
  CachingResolver cache(zone, o);
  ask(cache, "example.com", RrType::TXT);
  ask(cache, "example.com", RrType::TXT);
  EXPECT_EQ(zone.query_count(), 2u);
}
