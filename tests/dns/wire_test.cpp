// wire::: rdata parsing and query names, with malformed input (no network).
#include "policy/dns/wire.hpp"

#include <gtest/gtest.h>

#include <initializer_list>

using namespace spfgate::dns;
using namespace spfgate::dns::wire;

namespace {

std::vector<std::uint8_t> bytes(std::initializer_list<int> list) {
  std::vector<std::uint8_t> out;
  for (int b : list) out.push_back(static_cast<std::uint8_t>(b));
  return out;
}

std::vector<std::uint8_t> text(std::string_view s) { return {s.begin(), s.end()}; }

// Wire form of a name given as labels.
std::vector<std::uint8_t> name(std::initializer_list<std::string_view> labels) {
  std::vector<std::uint8_t> out;
  for (auto l : labels) {
    out.push_back(static_cast<std::uint8_t>(l.size()));
    out.insert(out.end(), l.begin(), l.end());
  }
  out.push_back(0);
  return out;
}

std::vector<std::uint8_t> operator+(std::vector<std::uint8_t> a, const std::vector<std::uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

TEST(DnsWire, ParsesAddresses) {
  spfgate::IpAddress ip;
  std::string why;
  ASSERT_TRUE(parse_a(bytes({127, 0, 0, 10}), ip, why));
  EXPECT_EQ(ip.to_string(), "127.0.0.10");
  ASSERT_TRUE(parse_aaaa(bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}), ip, why));
  EXPECT_EQ(ip.to_string(), "2001:db8::10");
  EXPECT_FALSE(parse_a(bytes({127, 0, 0}), ip, why));
  EXPECT_NE(why.find("not 4"), std::string::npos);
  EXPECT_FALSE(parse_a(bytes({127, 0, 0, 1, 1}), ip, why));
  EXPECT_FALSE(parse_aaaa(bytes({127, 0, 0, 1}), ip, why));
  EXPECT_FALSE(parse_a({}, ip, why));
}

TEST(DnsWire, KeepsTxtCharacterStringsSeparate) {
  std::vector<std::string> strings;
  std::string why;
  ASSERT_TRUE(parse_txt(bytes({3}) + text("v=s") + bytes({0}) + bytes({2}) + text("ab"), strings, why));
  EXPECT_EQ(strings, (std::vector<std::string>{"v=s", "", "ab"}));
  ASSERT_TRUE(parse_txt(bytes({0}), strings, why));  // one empty string
  EXPECT_EQ(strings, (std::vector<std::string>{""}));
  // Bytes are kept as they are (sanitising is the caller's job when text reaches a log or a reply).
  ASSERT_TRUE(parse_txt(bytes({3, 0, '\n', 0xff}), strings, why));
  EXPECT_EQ(strings.at(0), std::string("\0\n\xff", 3));
}

TEST(DnsWire, RefusesTruncatedTxt) {
  std::vector<std::string> strings{"untouched"};
  std::string why;
  EXPECT_FALSE(parse_txt(bytes({5}) + text("abc"), strings, why));  // length byte promises more than there is
  EXPECT_NE(why.find("past the end"), std::string::npos);
  EXPECT_FALSE(parse_txt(bytes({2}) + text("ab") + bytes({1}), strings, why));  // second string cut off
  EXPECT_FALSE(parse_txt({}, strings, why));                                    // no string at all
  EXPECT_EQ(strings, (std::vector<std::string>{"untouched"}));
}

TEST(DnsWire, ParsesNamesLowerCaseWithoutTrailingDot) {
  std::string out, why;
  ASSERT_TRUE(parse_name_rdata(name({"Mail", "EXAMPLE", "test"}), out, why));
  EXPECT_EQ(out, "mail.example.test");
  ASSERT_TRUE(parse_name_rdata(name({}), out, why));  // the root
  EXPECT_EQ(out, "");
  ASSERT_TRUE(parse_name_rdata(name({"_spf", "0/25", "example"}), out, why));  // '_' and RFC 2317 '/'
  EXPECT_EQ(out, "_spf.0/25.example");
  MxRecord mx;
  ASSERT_TRUE(parse_mx(bytes({0, 10}) + name({"mx", "example", "test"}), mx, why));
  EXPECT_EQ(mx, (MxRecord{10, "mx.example.test"}));
  ASSERT_TRUE(parse_mx(bytes({0, 0}) + name({}), mx, why));  // RFC 7505 null MX
  EXPECT_EQ(mx, (MxRecord{0, ""}));
}

TEST(DnsWire, RefusesCompressionPointers) {
  std::string out, why;
  EXPECT_FALSE(parse_name_rdata(bytes({4}) + text("mail") + bytes({0xc0, 0x0c}), out, why));
  EXPECT_NE(why.find("compressed"), std::string::npos) << why;
  MxRecord mx;
  EXPECT_FALSE(parse_mx(bytes({0, 10, 0xc0, 0x0c}), mx, why));
  EXPECT_NE(why.find("MX"), std::string::npos) << why;
}

TEST(DnsWire, RefusesOverlongLabelsAndNames) {
  std::string out, why;
  const std::string label63(63, 'a');
  ASSERT_TRUE(parse_name_rdata(name({label63, "test"}), out, why));
  EXPECT_FALSE(parse_name_rdata(bytes({64}) + text(std::string(64, 'a')) + bytes({0}), out, why));
  EXPECT_NE(why.find("63"), std::string::npos) << why;
  EXPECT_FALSE(parse_name_rdata(bytes({0x80}) + text(std::string(0x80, 'a')) + bytes({0}), out, why));
  // 4 labels of 63 + root = 257 octets > 255
  EXPECT_FALSE(parse_name_rdata(name({label63, label63, label63, label63}), out, why));
  EXPECT_NE(why.find("255"), std::string::npos) << why;
  // 3 x 63 + 61 + 5 length octets = 255: the longest legal name
  ASSERT_TRUE(parse_name_rdata(name({label63, label63, label63, std::string(61, 'b')}), out, why));
  EXPECT_EQ(out.size(), 253u);
}

TEST(DnsWire, RefusesNamesRunningPastTheEnd) {
  std::string out, why;
  EXPECT_FALSE(parse_name_rdata(bytes({4}) + text("mail"), out, why));         // no root label
  EXPECT_FALSE(parse_name_rdata(bytes({10}) + text("mail") + bytes({0}), out, why));  // label too long for data
  EXPECT_FALSE(parse_name_rdata({}, out, why));
  EXPECT_FALSE(parse_name_rdata(name({"a"}) + bytes({0}), out, why));  // trailing byte
  MxRecord mx;
  EXPECT_FALSE(parse_mx(bytes({0, 10}), mx, why));
  EXPECT_FALSE(parse_mx(bytes({0}), mx, why));
}

TEST(DnsWire, RefusesLabelBytesWithoutPlainTextForm) {
  std::string out, why;
  for (std::string bad : {std::string("a b"), std::string("a.b"), std::string("a\\b"), std::string("a\0b", 3),
                          std::string("a\x7f"), std::string("caf\xc3\xa9"), std::string("a\nb")}) {
    EXPECT_FALSE(parse_name_rdata(name({bad, "test"}), out, why)) << bad;
  }
}

TEST(DnsWire, AppendsToTheMatchingField) {
  DnsAnswer answer;
  std::string why;
  ASSERT_TRUE(append_rdata(RrType::A, bytes({192, 0, 2, 1}), answer, why));
  ASSERT_TRUE(append_rdata(RrType::TXT, bytes({2}) + text("hi"), answer, why));
  ASSERT_TRUE(append_rdata(RrType::MX, bytes({0, 5}) + name({"mx", "test"}), answer, why));
  ASSERT_TRUE(append_rdata(RrType::PTR, name({"host", "test"}), answer, why));
  ASSERT_TRUE(append_rdata(RrType::SOA, bytes({1, 2, 3}), answer, why));  // not parsed, ignored
  EXPECT_EQ(answer.addresses.size(), 1u);
  EXPECT_EQ(answer.txt, (std::vector<std::vector<std::string>>{{"hi"}}));
  EXPECT_EQ(answer.mx, (std::vector<MxRecord>{{5, "mx.test"}}));
  EXPECT_EQ(answer.names, (std::vector<std::string>{"host.test"}));
  EXPECT_FALSE(append_rdata(RrType::AAAA, bytes({1, 2, 3, 4}), answer, why));
  EXPECT_FALSE(append_rdata(RrType::CNAME, bytes({0xc0, 0}), answer, why));
}

TEST(DnsWire, BuildsQueryNamesForLibunbound) {
  std::string why;
  EXPECT_EQ(query_name("Example.COM", why), "example.com.");
  EXPECT_EQ(query_name("example.com.", why), "example.com.");
  EXPECT_EQ(query_name("", why), ".");
  EXPECT_EQ(query_name(".", why), ".");
  EXPECT_EQ(query_name("_spf.x-y.test", why), "_spf.x-y.test.");
  // Everything but letters, digits, '-' and '_' is escaped, so unbound reads the same labels back.
  EXPECT_EQ(query_name("a b\\c.test", why), "a\\032b\\092c.test.");
  EXPECT_EQ(query_name(std::string("a\0b.test", 8), why), "a\\000b.test.");
  EXPECT_EQ(query_name("10.0.0.127.in-addr.arpa", why), "10.0.0.127.in-addr.arpa.");
  EXPECT_EQ(query_name("*.test", why), "\\042.test.");
}

TEST(DnsWire, RefusesInvalidQueryNames) {
  std::string why;
  EXPECT_FALSE(query_name("a..b", why));
  EXPECT_NE(why.find("empty label"), std::string::npos);
  EXPECT_FALSE(query_name(".a", why));
  EXPECT_FALSE(query_name("..", why));
  EXPECT_FALSE(query_name(std::string(64, 'a') + ".test", why));
  EXPECT_NE(why.find("63"), std::string::npos);
  const std::string label(63, 'a');
  EXPECT_TRUE(query_name(label + "." + label + "." + label + "." + std::string(61, 'b'), why));
  EXPECT_FALSE(query_name(label + "." + label + "." + label + "." + std::string(62, 'b'), why));
  EXPECT_NE(why.find("255"), std::string::npos);
}
