// answer_from_unbound(): libunbound results, built by hand, mapped to DnsAnswer (no network).
#include "policy/dns/unbound_result.hpp"

#include <gtest/gtest.h>
#include <unbound.h>

#include <cstring>

using namespace spfgate::dns;

namespace {

// A ub_result over test-owned storage (never passed to ub_resolve_free).
class FakeResult {
 public:
  FakeResult() {
    std::memset(&r_, 0, sizeof r_);
    r_.qname = qname_;
    r_.qtype = 1;
    r_.qclass = 1;
    r_.ttl = 300;
  }
  FakeResult& record(std::string bytes) {
    records_.push_back(std::move(bytes));
    return *this;
  }
  ub_result* get() {
    data_.clear();
    len_.clear();
    for (auto& rec : records_) {
      data_.push_back(rec.data());
      len_.push_back(static_cast<int>(rec.size()));
    }
    data_.push_back(nullptr);
    len_.push_back(0);
    r_.data = data_.data();
    r_.len = len_.data();
    r_.havedata = records_.empty() ? 0 : 1;
    return &r_;
  }
  ub_result r_;

 private:
  char qname_[16] = "example.test.";
  std::vector<std::string> records_;
  std::vector<char*> data_;
  std::vector<int> len_;
};

}  // namespace

TEST(UnboundResult, ErrorsCarryLibunboundsMessage) {
  const DnsAnswer a = answer_from_unbound(UB_SERVFAIL, nullptr, RrType::A);
  EXPECT_EQ(a.status, DnsStatus::Error);
  EXPECT_NE(a.why.find("server failure"), std::string::npos) << a.why;
  EXPECT_EQ(answer_from_unbound(0, nullptr, RrType::A).status, DnsStatus::Error);
}

TEST(UnboundResult, BogusDropsTheUnvalidatedData) {
  FakeResult f;
  f.record(std::string("\x7f\0\0\x0e", 4));
  ub_result* r = f.get();
  r->bogus = 1;  // libunbound: rcode NOERROR, havedata, and the forged record
  char why[] = "validation failure <host.bogus.test. A IN>: signature crypto failed from 127.0.0.1";
  r->why_bogus = why;
  const DnsAnswer a = answer_from_unbound(0, r, RrType::A);
  EXPECT_EQ(a.status, DnsStatus::Bogus);
  EXPECT_EQ(a.dnssec, Dnssec::Bogus);
  EXPECT_EQ(a.why, why);
  EXPECT_TRUE(a.addresses.empty());
  EXPECT_TRUE(a.is_temporary());
  r->why_bogus = nullptr;
  EXPECT_FALSE(answer_from_unbound(0, r, RrType::A).why.empty());
}

TEST(UnboundResult, MapsRcodes) {
  FakeResult f;
  ub_result* r = f.get();
  r->rcode = 2;
  EXPECT_EQ(answer_from_unbound(0, r, RrType::A).status, DnsStatus::ServFail);
  r->rcode = 3;
  r->nxdomain = 1;
  r->secure = 1;
  const DnsAnswer nx = answer_from_unbound(0, r, RrType::A);
  EXPECT_EQ(nx.status, DnsStatus::NxDomain);
  EXPECT_EQ(nx.dnssec, Dnssec::Secure);
  r->rcode = 5;
  r->nxdomain = 0;
  const DnsAnswer refused = answer_from_unbound(0, r, RrType::A);
  EXPECT_EQ(refused.status, DnsStatus::Error);
  EXPECT_EQ(refused.why, "REFUSED");
  r->rcode = 23;
  EXPECT_EQ(answer_from_unbound(0, r, RrType::A).why, "RCODE23");
  r->rcode = 0;
  EXPECT_EQ(answer_from_unbound(0, r, RrType::A).status, DnsStatus::NoData);
}

TEST(UnboundResult, ParsesEveryRecord) {
  FakeResult f;
  f.record(std::string("\x7f\0\0\x0a", 4)).record(std::string("\xc0\0\x02\x0a", 4));
  ub_result* r = f.get();
  r->secure = 1;
  r->ttl = 42;
  const DnsAnswer a = answer_from_unbound(0, r, RrType::A);
  ASSERT_EQ(a.status, DnsStatus::Ok);
  ASSERT_EQ(a.addresses.size(), 2u);
  EXPECT_EQ(a.addresses[0].to_string(), "127.0.0.10");
  EXPECT_EQ(a.addresses[1].to_string(), "192.0.2.10");
  EXPECT_EQ(a.dnssec, Dnssec::Secure);
  EXPECT_EQ(a.ttl, 42u);
  r->ttl = -5;
  EXPECT_EQ(answer_from_unbound(0, r, RrType::A).ttl, 0u);
}

TEST(UnboundResult, OneMalformedRecordSpoilsTheAnswer) {
  FakeResult f;
  f.record(std::string("\x7f\0\0\x0a", 4)).record(std::string("\x7f\0\0", 3));
  const DnsAnswer a = answer_from_unbound(0, f.get(), RrType::A);
  EXPECT_EQ(a.status, DnsStatus::Error);
  EXPECT_NE(a.why.find("malformed answer"), std::string::npos) << a.why;
  EXPECT_TRUE(a.addresses.empty());

  FakeResult txt;
  txt.record("\x09v=spf1");  // length byte 9, 6 bytes follow
  const DnsAnswer t = answer_from_unbound(0, txt.get(), RrType::TXT);
  EXPECT_EQ(t.status, DnsStatus::Error);
  EXPECT_TRUE(t.txt.empty());

  FakeResult negative;
  negative.record("abcd");
  ub_result* r = negative.get();
  r->len[0] = -1;
  EXPECT_EQ(answer_from_unbound(0, r, RrType::A).status, DnsStatus::Error);
}

TEST(UnboundResult, NamesRcodes) {
  EXPECT_EQ(rcode_name(0), "NOERROR");
  EXPECT_EQ(rcode_name(1), "FORMERR");
  EXPECT_EQ(rcode_name(4), "NOTIMP");
  EXPECT_EQ(rcode_name(-1), "RCODE-1");
}
