// spf::OutcomeCache: check_host() results reused while every answer they came from is valid, and only then;
// and the ExpiringLru underneath it.
#include "common/expiring_lru.hpp"
#include "common/metrics.hpp"
#include "policy/spf/outcome_cache.hpp"
#include "spf_test_util.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace spfgate;
using namespace spfgate::spf;
using spfgate::dns::Clock;
using spfgate::dns::DnsAnswer;
using spfgate::dns::DnsStatus;
using spfgate::dns::MemoryResolver;
using spfgate::dns::RrType;
using spfgate::spf::test::request;

namespace {

// MemoryResolver answers with one TTL; this gives chosen names their own.
class TtlResolver final : public dns::Resolver {
 public:
  explicit TtlResolver(MemoryResolver& inner) : inner_(inner) {}
  void set_ttl(const std::string& name, std::uint32_t ttl) { ttls_[name] = ttl; }
  boost::asio::awaitable<DnsAnswer> query(std::string name, RrType type, dns::Deadline deadline) override {
    const std::string key = dns::normalize_name(name);
    DnsAnswer a = co_await inner_.query(std::move(name), type, deadline);
    if (auto it = ttls_.find(key); it != ttls_.end()) a.ttl = it->second;
    co_return a;
  }

 private:
  MemoryResolver& inner_;
  std::map<std::string, std::uint32_t> ttls_;
};

struct Fixture {
  MemoryResolver dns;
  Clock::time_point now = Clock::now();
  OutcomeCache cache{100, OutcomeCache::kDefaultMaxAge, [this] { return now; }};

  Fixture() {
    dns.set_ttl(300);
    dns.add_txt("example.com", {"v=spf1 include:_spf.example.com -all"});
    dns.add_txt("_spf.example.com", {"v=spf1 ip4:192.0.2.0/24 ~all"});
    dns.add_txt("macro.example", {"v=spf1 exists:%{l}.allow.macro.example -all"});
    dns.add_a("alice.allow.macro.example", "127.0.0.2");
  }

  Outcome check(dns::Resolver& resolver, Request r, Options options = {}) {
    boost::asio::io_context io;
    auto f = boost::asio::co_spawn(io, cache.check_host(resolver, std::move(r), std::move(options),
                                                        Clock::now() + std::chrono::seconds(30)),
                                   boost::asio::use_future);
    io.run();
    return f.get();
  }
  Outcome check(Request r, Options options = {}) { return check(dns, std::move(r), std::move(options)); }
};

}  // namespace

TEST(OutcomeCache, ReusesTheResultForTheSameClientAndDomain) {
  Fixture t;
  const Outcome first = t.check(request("192.0.2.10", "alice@example.com"));
  EXPECT_EQ(first.result, Result::Pass);
  EXPECT_FALSE(first.from_cache);
  const std::size_t asked = t.dns.query_count();
  EXPECT_EQ(asked, 2u);
  // Another local part, HELO and receiver: the record reads none of them.
  const Outcome again = t.check(request("192.0.2.10", "bob@Example.COM", "other.example.net", "elsewhere.example"));
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(again.dns_queries, 0u);
  EXPECT_EQ(t.dns.query_count(), asked);
  EXPECT_EQ(again.result, first.result);
  EXPECT_EQ(again.mechanism, first.mechanism);
  EXPECT_EQ(again.record, first.record);
  EXPECT_EQ(again.domain, "example.com");
  // Another client, or the other identity for the same domain: evaluated afresh.
  EXPECT_EQ(t.check(request("198.51.100.7", "alice@example.com")).result, Result::Fail);
  EXPECT_EQ(t.dns.query_count(), asked + 2);
  Request helo = test::helo_request("192.0.2.10", "example.com");
  EXPECT_FALSE(t.check(helo).from_cache);
  EXPECT_EQ(t.dns.query_count(), asked + 4);
  EXPECT_EQ(t.cache.stats().hits, 1u);
}

TEST(OutcomeCache, HitsAndMissesAreCounted) {
  Fixture t;
  Metrics& m = metrics();
  const auto count = [&m](std::string_view outcome) { return m.get(m.ids().result_cache, {"spf", outcome}); };
  const double hits = count("hit"), misses = count("miss");
  t.check(request("192.0.2.10", "alice@example.com"));
  t.check(request("192.0.2.10", "bob@example.com"));
  t.check(request("192.0.2.10", "carol@example.com"));
  EXPECT_EQ(count("miss"), misses + 1);
  EXPECT_EQ(count("hit"), hits + 2);
}

TEST(OutcomeCache, AMacroReadingTheSenderMakesTheSenderPartOfTheMatch) {
  Fixture t;
  EXPECT_EQ(t.check(request("192.0.2.10", "alice@macro.example")).result, Result::Pass);
  const Outcome bob = t.check(request("192.0.2.10", "bob@macro.example"));
  EXPECT_FALSE(bob.from_cache);
  EXPECT_EQ(bob.result, Result::Fail);
  // bob's result replaced alice's; bob again is a hit, alice again is not.
  EXPECT_TRUE(t.check(request("192.0.2.10", "bob@macro.example")).from_cache);
  const Outcome alice = t.check(request("192.0.2.10", "alice@macro.example"));
  EXPECT_FALSE(alice.from_cache);
  EXPECT_EQ(alice.result, Result::Pass);
}

TEST(OutcomeCache, ExpiresWithTheShortestLivedAnswer) {
  Fixture t;
  TtlResolver ttl(t.dns);
  ttl.set_ttl("_spf.example.com", 60);  // the include; the top record keeps 300 s
  const Clock::time_point start = t.now;
  t.check(ttl, request("192.0.2.10", "alice@example.com"));
  t.now = start + std::chrono::seconds(59);
  EXPECT_TRUE(t.check(ttl, request("192.0.2.10", "alice@example.com")).from_cache);
  t.now = start + std::chrono::seconds(61);
  EXPECT_FALSE(t.check(ttl, request("192.0.2.10", "alice@example.com")).from_cache);
  // An answer with TTL 0 may not be reused at all.
  ttl.set_ttl("_spf.example.com", 0);
  t.cache.clear();
  t.check(ttl, request("192.0.2.10", "alice@example.com"));
  EXPECT_FALSE(t.check(ttl, request("192.0.2.10", "alice@example.com")).from_cache);
  EXPECT_EQ(t.cache.size(), 0u);
}

TEST(OutcomeCache, NeverKeepsResultsThatMetTemporaryTrouble) {
  Fixture t;
  t.dns.add_txt("flaky.example", {"v=spf1 include:down.example -all"});
  t.dns.add_name_failure("down.example", DnsStatus::Timeout);
  // A ptr mechanism whose PTR lookup fails is "no match" and evaluation goes on to a definite result; the
  // next request may get the PTR answer, so that result is not kept either.
  t.dns.add_txt("ptr.example", {"v=spf1 ptr -all"});
  t.dns.add_name_failure("10.2.0.192.in-addr.arpa", DnsStatus::ServFail);
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(t.check(request("192.0.2.10", "a@flaky.example")).result, Result::TempError);
    const Outcome ptr = t.check(request("192.0.2.10", "a@ptr.example"));
    EXPECT_EQ(ptr.result, Result::Fail);
    EXPECT_FALSE(ptr.from_cache);
  }
  EXPECT_EQ(t.cache.size(), 0u);
  EXPECT_EQ(t.cache.stats().misses, 4u);
}

TEST(OutcomeCache, HugeRecordsAreEvaluatedEachTime) {
  Fixture t;
  std::string huge = "v=spf1";
  while (huge.size() <= OutcomeCache::kMaxEntryBytes) huge += " ip4:198.51.100.1";
  huge += " ip4:192.0.2.0/24 -all";
  t.dns.add_txt("huge.example", {huge});
  EXPECT_EQ(t.check(request("192.0.2.10", "a@huge.example")).result, Result::Pass);
  EXPECT_FALSE(t.check(request("192.0.2.10", "a@huge.example")).from_cache);
  EXPECT_EQ(t.cache.size(), 0u);
}

TEST(OutcomeCache, TracingAlwaysEvaluates) {
  Fixture t;
  Options traced;
  traced.trace = true;
  t.check(request("192.0.2.10", "alice@example.com"));
  const Outcome o = t.check(request("192.0.2.10", "alice@example.com"), traced);
  EXPECT_FALSE(o.from_cache);
  EXPECT_FALSE(o.trace.empty());
}

TEST(OutcomeCache, ZeroEntriesKeepsNothing) {
  MemoryResolver dns;
  dns.set_ttl(300);
  dns.add_txt("example.com", {"v=spf1 -all"});
  OutcomeCache cache(0);
  for (int round = 0; round < 2; ++round) {
    boost::asio::io_context io;
    auto f = boost::asio::co_spawn(io, cache.check_host(dns, request("192.0.2.10", "a@example.com"), {},
                                                        Clock::now() + std::chrono::seconds(5)),
                                   boost::asio::use_future);
    io.run();
    EXPECT_FALSE(f.get().from_cache);
  }
  EXPECT_EQ(dns.query_count(), 2u);
}

TEST(ExpiringLru, BoundedLeastRecentlyUsedFirstAndExpiring) {
  ExpiringLru<int> lru(2);
  const auto now = std::chrono::steady_clock::now();
  lru.store("a", 1, now + std::chrono::seconds(10));
  lru.store("b", 2, now + std::chrono::seconds(10));
  ASSERT_NE(lru.find("a", now), nullptr);  // a is now the most recently used
  lru.store("c", 3, now + std::chrono::seconds(10));
  EXPECT_EQ(lru.size(), 2u);
  EXPECT_EQ(lru.find("b", now), nullptr);
  EXPECT_EQ(*lru.find("a", now), 1);
  lru.store("a", 4, now + std::chrono::seconds(1));  // replaces value and expiry
  EXPECT_EQ(*lru.find("a", now + std::chrono::seconds(1)), 4);
  EXPECT_EQ(lru.find("a", now + std::chrono::seconds(2)), nullptr);
  EXPECT_EQ(lru.size(), 1u);
  ExpiringLru<int> none(0);
  none.store("a", 1, now + std::chrono::seconds(10));
  EXPECT_EQ(none.find("a", now), nullptr);
}

TEST(ExpiringLru, StoringAPresentKeyKeepsOneEntryAndMakesItTheMostRecent) {
  ExpiringLru<std::string> lru(2);
  const auto now = std::chrono::steady_clock::now();
  lru.store("a", "1", now + std::chrono::seconds(10));
  lru.store("b", "2", now + std::chrono::seconds(10));
  lru.store("a", "3", now + std::chrono::seconds(10));  // a is now the most recently used, b the least
  EXPECT_EQ(lru.size(), 2u);
  lru.store("c", "4", now + std::chrono::seconds(10));
  EXPECT_EQ(lru.find("b", now), nullptr);
  ASSERT_NE(lru.find("a", now), nullptr);
  EXPECT_EQ(*lru.find("a", now), "3");
  EXPECT_EQ(*lru.find("c", now), "4");
  EXPECT_EQ(lru.size(), 2u);
}

TEST(OutcomeCache, AllCachedIsAllOrNothingAndCheckHostsKeepsTheOrder) {
  Fixture t;
  const Request known = request("192.0.2.10", "alice@example.com");
  const Request unknown = request("198.51.100.1", "alice@example.com");  // outside the include: fail
  t.check(known);
  const auto before = t.cache.stats();
  // One of the two not cached: nothing, and nothing counted (the caller goes on with check_hosts()).
  EXPECT_FALSE(t.cache.all_cached({known, unknown}, {}));
  EXPECT_EQ(t.cache.stats().hits, before.hits);
  EXPECT_EQ(t.cache.stats().misses, before.misses);
  // check_hosts(): the hit without a lookup, the miss looked up; outcomes in the order asked.
  boost::asio::io_context io;
  auto f = boost::asio::co_spawn(io, t.cache.check_hosts(t.dns, {unknown, known}, {}, Clock::now() + std::chrono::seconds(30)),
                                 boost::asio::use_future);
  io.run();
  const std::vector<Outcome> both = f.get();
  ASSERT_EQ(both.size(), 2u);
  EXPECT_FALSE(both[0].from_cache);
  EXPECT_TRUE(both[1].from_cache);
  EXPECT_EQ(both[0].result, Result::Fail);
  EXPECT_EQ(both[1].result, Result::Pass);
  EXPECT_EQ(t.cache.stats().hits, before.hits + 1);
  EXPECT_EQ(t.cache.stats().misses, before.misses + 1);
  // Both cached now: every outcome, counted as hits, in order.
  const auto all = t.cache.all_cached({known, unknown}, {});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_TRUE((*all)[0].from_cache && (*all)[1].from_cache);
  EXPECT_EQ((*all)[0].result, Result::Pass);
  EXPECT_EQ((*all)[1].result, Result::Fail);
  EXPECT_EQ((*all)[0].dns_queries, 0u);
  EXPECT_EQ(t.cache.stats().hits, before.hits + 3);
  // Tracing (spfgate check) never takes results from the cache.
  Options traced;
  traced.trace = true;
  EXPECT_FALSE(t.cache.all_cached({known}, traced));
}
