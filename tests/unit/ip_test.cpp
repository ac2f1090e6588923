#include "common/ip.hpp"

#include <gtest/gtest.h>

#include <array>

using spfgate::Cidr;
using spfgate::append_octets;
using spfgate::parse_ip;

TEST(ParseIp, AcceptsPostfixForms) {
  ASSERT_TRUE(parse_ip("192.0.2.1"));
  ASSERT_TRUE(parse_ip("2001:db8::1"));
  ASSERT_TRUE(parse_ip("::ffff:192.0.2.1"));
  EXPECT_TRUE(parse_ip("::1")->is_v6());
}

TEST(ParseIp, RefusesEverythingElse) {
  for (const char* bad : {"", " 192.0.2.1", "192.0.2.1 ", "bogus", "192.0.2", "192.0.2.256", "[192.0.2.1]",
                          "fe80::1%eth0", "1.2.3.4.5", "2001:db8::1::2"})
    EXPECT_FALSE(parse_ip(bad)) << bad;
}

TEST(Cidr, ParsesAndMatches) {
  auto net = Cidr::parse("192.0.2.0/24");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->contains(*parse_ip("192.0.2.77")));
  EXPECT_FALSE(net->contains(*parse_ip("192.0.3.1")));
  EXPECT_TRUE(net->contains(*parse_ip("::ffff:192.0.2.9")));  // mapped address counts as IPv4
  auto host = Cidr::parse("::1");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->prefix, 128u);
  EXPECT_TRUE(host->contains(*parse_ip("::1")));
  auto mapped = Cidr::parse("::ffff:127.0.0.0/104");
  ASSERT_TRUE(mapped);
  EXPECT_TRUE(mapped->contains(*parse_ip("::ffff:127.0.0.1")));
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(*parse_ip("203.0.113.5")));
  EXPECT_FALSE(Cidr::parse("0.0.0.0/0")->contains(*parse_ip("2001:db8::5")));
}

TEST(Cidr, RefusesHostBitsAndBadLengths) {
  std::string why;
  EXPECT_FALSE(Cidr::parse("198.51.100.1/24", &why));
  EXPECT_NE(why.find("host bits"), std::string::npos);
  EXPECT_FALSE(Cidr::parse("192.0.2.0/33", &why));
  EXPECT_FALSE(Cidr::parse("192.0.2.0/", &why));
  EXPECT_FALSE(Cidr::parse("192.0.2.0/024", &why));
  EXPECT_FALSE(Cidr::parse("2001:db8::1/32", &why));
  EXPECT_FALSE(Cidr::parse(" 203.0.113.99", &why));
}

TEST(AppendOctets, FourOrSixteenOctetsAndMappedIsIpv4) {
  std::string v4, mapped, v6;
  append_octets(v4, *parse_ip("192.0.2.1"));
  append_octets(mapped, *parse_ip("::ffff:192.0.2.1"));
  append_octets(v6, *parse_ip("2001:db8::1"));
  EXPECT_EQ(v4, std::string("\xc0\x00\x02\x01", 4));
  EXPECT_EQ(mapped, v4);
  EXPECT_EQ(v6.size(), 16u);
  EXPECT_EQ(static_cast<unsigned char>(v6[0]), 0x20u);
  EXPECT_EQ(static_cast<unsigned char>(v6[15]), 0x01u);
}

TEST(IpToString, Ipv4PrintedByHandAsBoostAndInetNtopPrintIt) {
  // Every octet value in each position, and the forms with leading digits that a slip would drop.
  for (unsigned v = 0; v < 256; ++v) {
    const std::array<unsigned char, 4> shapes[] = {{static_cast<unsigned char>(v), 0, 0, 0},
                                                   {1, static_cast<unsigned char>(v), 10, 100},
                                                   {255, 99, static_cast<unsigned char>(v), 9},
                                                   {192, 0, 2, static_cast<unsigned char>(v)}};
    for (const auto& b : shapes) {
      const boost::asio::ip::address ip{boost::asio::ip::address_v4(b)};
      EXPECT_EQ(spfgate::to_string(ip), ip.to_string());
    }
  }
  EXPECT_EQ(spfgate::to_string(*parse_ip("2001:db8::1")), "2001:db8::1");
  EXPECT_EQ(spfgate::to_string(*parse_ip("::ffff:192.0.2.1")), "::ffff:192.0.2.1") << "a mapped address stays IPv6";
}

TEST(CidrToString, NetworkAndPrefix) {
  EXPECT_EQ(Cidr::parse("127.0.0.1")->to_string(), "127.0.0.1/32");
  EXPECT_EQ(Cidr::parse("10.100.0.0/16")->to_string(), "10.100.0.0/16");
  EXPECT_EQ(Cidr::parse("2001:db8::/32")->to_string(), "2001:db8::/32");
}
