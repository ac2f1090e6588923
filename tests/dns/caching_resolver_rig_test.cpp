// CachingResolver over the real UnboundResolver and the test DNS: what libunbound reports is what the cache
// keeps (TTLs, the SOA-derived negative TTL, the DNSSEC state), and what must not be kept is asked again
// (bogus, timeouts). Zone data: tests/dns/zones/, tests/dns/README.md (zone TTL 300 s, SOA minimum 60 s).
#include "policy/dns/caching_resolver.hpp"
#include "policy/dns/unbound_resolver.hpp"
#include "tests/dns/testdns_rig.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using spfgate::test::TestDns;
using namespace spfgate::dns;

namespace {

class CacheOverUnbound : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    rig_ = TestDns::load(why);
    if (!rig_) GTEST_FAIL() << why;
    auto unbound = std::make_unique<UnboundResolver>(io_.get_executor(), rig_->options());
    cache_ = std::make_unique<CachingResolver>(std::move(unbound), CacheOptions{});
  }
  void TearDown() override {
    cache_.reset();  // destroys the UnboundResolver on this thread, with no query in flight
  }

  DnsAnswer ask(std::string name, RrType type, std::chrono::milliseconds budget = 5s) {
    auto f = asio::co_spawn(io_, cache_->query(std::move(name), type, Clock::now() + budget), asio::use_future);
    io_.restart();
    io_.run();
    return f.get();
  }

  asio::io_context io_;
  std::optional<TestDns> rig_;
  std::unique_ptr<CachingResolver> cache_;
};

}  // namespace

TEST_F(CacheOverUnbound, KeepsASecureAnswerWithItsTtlAndState) {
  const DnsAnswer first = ask("example.test", RrType::TXT);
  ASSERT_EQ(first.status, DnsStatus::Ok) << first.why;
  EXPECT_EQ(first.dnssec, Dnssec::Secure);
  EXPECT_GT(first.ttl, 0u);
  EXPECT_LE(first.ttl, 300u);
  const DnsAnswer second = ask("EXAMPLE.test.", RrType::TXT);
  EXPECT_EQ(second.status, DnsStatus::Ok);
  EXPECT_EQ(second.dnssec, Dnssec::Secure) << "the DNSSEC state survives the cache";
  EXPECT_EQ(second.txt, first.txt);
  EXPECT_LE(second.ttl, first.ttl);
  EXPECT_EQ(cache_->stats().misses, 1u);
  EXPECT_EQ(cache_->stats().hits, 1u);
}

TEST_F(CacheOverUnbound, KeepsAProvenNxdomainForTheSoaDerivedTtl) {
  const DnsAnswer first = ask("nohelo.example.test", RrType::A);
  ASSERT_EQ(first.status, DnsStatus::NxDomain) << first.why;
  EXPECT_EQ(first.dnssec, Dnssec::Secure) << "NSEC-proven";
  // RFC 2308: the negative TTL is the SOA's minimum (60 s in the rig), not the zone's 300 s.
  EXPECT_GT(first.ttl, 0u);
  EXPECT_LE(first.ttl, 60u);
  const DnsAnswer second = ask("nohelo.example.test", RrType::A);
  EXPECT_EQ(second.status, DnsStatus::NxDomain);
  EXPECT_EQ(second.dnssec, Dnssec::Secure);
  EXPECT_EQ(cache_->stats().misses, 1u);
  EXPECT_EQ(cache_->stats().stored, 1u);
}

TEST_F(CacheOverUnbound, NeverKeepsABogusAnswer) {
  for (int round = 0; round < 2; ++round) {
    const DnsAnswer a = ask("bogus.test", RrType::TXT);
    EXPECT_EQ(a.status, DnsStatus::Bogus) << round;
    EXPECT_TRUE(a.txt.empty()) << "a bogus answer carries no data";
  }
  EXPECT_EQ(cache_->stats().misses, 2u) << "asked libunbound again (it applies its own val-bogus-ttl)";
  EXPECT_EQ(cache_->stats().entries, 0u);
}

TEST_F(CacheOverUnbound, NeverKeepsATimeout) {
  // drop.test never answers; a short deadline makes the query time out.
  for (int round = 0; round < 2; ++round) EXPECT_EQ(ask("x.drop.test", RrType::TXT, 300ms).status, DnsStatus::Timeout);
  EXPECT_EQ(cache_->stats().misses, 2u);
  EXPECT_EQ(cache_->stats().entries, 0u);
}

TEST_F(CacheOverUnbound, MergesABurstOfIdenticalQuestionsIntoOneUpstreamQuery) {
  std::vector<DnsAnswer> answers(50);
  const auto deadline = Clock::now() + 5s;
  for (std::size_t i = 0; i < answers.size(); ++i)
    asio::co_spawn(
        io_, [&, i]() -> asio::awaitable<void> { answers[i] = co_await cache_->query("mx.example.test", RrType::MX, deadline); },
        asio::detached);
  io_.run();
  for (const auto& a : answers) {
    ASSERT_EQ(a.status, DnsStatus::Ok) << a.why;
    ASSERT_EQ(a.mx.size(), 1u);
    EXPECT_EQ(a.mx[0].exchange, "mail.example.test");
  }
  EXPECT_EQ(cache_->stats().misses, 1u);
  EXPECT_EQ(cache_->stats().joined, 49u);
}
