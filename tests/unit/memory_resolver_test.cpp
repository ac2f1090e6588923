#include "policy/dns/memory_resolver.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

namespace asio = boost::asio;
using namespace spfgate;
using namespace spfgate::dns;

namespace {
DnsAnswer run(MemoryResolver& r, std::string name, RrType type,
              std::chrono::milliseconds budget = std::chrono::seconds(5)) {
  asio::io_context io;
  auto f = asio::co_spawn(io, r.query(std::move(name), type, Clock::now() + budget), asio::use_future);
  io.run();
  return f.get();
}
}  // namespace

TEST(MemoryResolver, DistinguishesNxdomainNodataAndData) {
  MemoryResolver r;
  r.add_txt("Example.COM.", {"v=spf1 ", "-all"});
  r.add_a("mail.example.com", "192.0.2.1");
  r.add_a("mail.example.com", "2001:db8::1");
  auto txt = run(r, "example.com", RrType::TXT);
  ASSERT_EQ(txt.status, DnsStatus::Ok);
  ASSERT_EQ(txt.txt.size(), 1u);
  EXPECT_EQ(txt.txt[0], (std::vector<std::string>{"v=spf1 ", "-all"}));
  EXPECT_EQ(run(r, "example.com", RrType::A).status, DnsStatus::NoData);
  EXPECT_EQ(run(r, "nope.example.com", RrType::A).status, DnsStatus::NxDomain);
  auto aaaa = run(r, "mail.example.com", RrType::AAAA);
  ASSERT_EQ(aaaa.addresses.size(), 1u);
  EXPECT_EQ(aaaa.addresses[0].to_string(), "2001:db8::1");
  EXPECT_EQ(r.query_count(), 4u);
}

TEST(MemoryResolver, FollowsCnamesAndStopsLoops) {
  MemoryResolver r;
  r.add_cname("alias.example.com", "real.example.com");
  r.add_a("real.example.com", "192.0.2.2");
  r.add_cname("loop1.example.com", "loop2.example.com");
  r.add_cname("loop2.example.com", "loop1.example.com");
  EXPECT_EQ(run(r, "alias.example.com", RrType::A).addresses.at(0).to_string(), "192.0.2.2");
  EXPECT_EQ(run(r, "loop1.example.com", RrType::A).status, DnsStatus::ServFail);
}

TEST(MemoryResolver, FailuresFollowEntryOrder) {
  MemoryResolver r;
  r.add_txt("t.example.com", {"v=spf1 -all"});
  r.add_name_failure("t.example.com", DnsStatus::Timeout);
  r.add_type_failure("s.example.com", RrType::MX, DnsStatus::ServFail);
  EXPECT_EQ(run(r, "t.example.com", RrType::TXT).status, DnsStatus::Ok);       // record came first
  EXPECT_EQ(run(r, "t.example.com", RrType::A).status, DnsStatus::Timeout);
  EXPECT_EQ(run(r, "s.example.com", RrType::MX).status, DnsStatus::ServFail);
  EXPECT_TRUE(run(r, "s.example.com", RrType::MX).is_temporary());
}

TEST(MemoryResolver, BogusCarriesNoData) {
  MemoryResolver r;
  r.add_txt("bogus.example", {"v=spf1 +all"});
  r.set_dnssec("bogus.example", Dnssec::Bogus);
  auto a = run(r, "bogus.example", RrType::TXT);
  EXPECT_EQ(a.status, DnsStatus::Bogus);
  EXPECT_EQ(a.dnssec, Dnssec::Bogus);
  EXPECT_TRUE(a.txt.empty());
  EXPECT_TRUE(a.is_temporary());
}

TEST(MemoryResolver, RealTimeoutWaitsForTheDeadline) {
  MemoryResolver r;
  r.real_timeouts(true);
  r.add_name_failure("slow.example", DnsStatus::Timeout);
  const auto start = Clock::now();
  auto a = run(r, "slow.example", RrType::TXT, std::chrono::milliseconds(50));
  EXPECT_EQ(a.status, DnsStatus::Timeout);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(45));
}

TEST(ReverseName, Ipv4AndIpv6) {
  EXPECT_EQ(reverse_name(*parse_ip("192.0.2.10")), "10.2.0.192.in-addr.arpa");
  EXPECT_EQ(reverse_name(*parse_ip("::ffff:192.0.2.10")), "10.2.0.192.in-addr.arpa");
  EXPECT_EQ(reverse_name(*parse_ip("2001:db8::1")),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}
