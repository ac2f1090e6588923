// parse_record_cached(): the same result as parse_record(), shared between evaluations of the same text.
#include "policy/spf/record.hpp"

#include <gtest/gtest.h>

using namespace spfgate::spf;

TEST(ParsedRecordCache, SharesOneParseOfTheSameText) {
  const std::string text = "v=spf1 ip4:192.0.2.0/24 include:_spf.example.com mx -all";
  auto a = parse_record_cached(text);
  auto b = parse_record_cached(std::string(text));  // another buffer, same text
  ASSERT_TRUE(a->ok);
  EXPECT_EQ(a.get(), b.get());
  ASSERT_EQ(a->record.mechanisms.size(), 4u);
  EXPECT_EQ(a->record.mechanisms[1].domain_spec, "_spf.example.com");
  // The views point into the entry's own text, not into the caller's buffer.
  EXPECT_GE(a->record.mechanisms[1].text.data(), a->text.data());
  EXPECT_LE(a->record.mechanisms[1].text.data() + a->record.mechanisms[1].text.size(), a->text.data() + a->text.size());
  EXPECT_NE(parse_record_cached("v=spf1 -all").get(), a.get());
}

TEST(ParsedRecordCache, KeepsSyntaxErrorsLikeParseRecord) {
  const std::string text = "v=spf1 ip4:192.0.2.0/24 frobnicate:example.com -all";
  Record direct;
  std::string why;
  std::string_view bad;
  ASSERT_FALSE(parse_record(text, direct, &why, &bad));
  for (int round = 0; round < 2; ++round) {
    auto cached = parse_record_cached(text);
    EXPECT_FALSE(cached->ok);
    EXPECT_EQ(cached->error, why);
    EXPECT_EQ(cached->bad_term, bad);
  }
}

TEST(ParsedRecordCache, StaysBoundedAndDoesNotKeepHugeRecords) {
  auto first = parse_record_cached("v=spf1 ip4:198.51.100.1 -all");
  for (std::size_t i = 0; i < kParsedRecordCacheEntries; ++i)
    parse_record_cached("v=spf1 ip4:192.0.2." + std::to_string(i % 256) + " a:h" + std::to_string(i) + ".example -all");
  // The first entry was the least recently used: evicted, so a new parse gives a new object (the old one
  // stays valid for whoever holds it).
  auto again = parse_record_cached("v=spf1 ip4:198.51.100.1 -all");
  EXPECT_NE(first.get(), again.get());
  EXPECT_TRUE(first->ok);
  std::string huge = "v=spf1";
  while (huge.size() <= kMaxCachedRecordBytes) huge += " ip4:192.0.2.1";
  huge += " -all";
  auto h1 = parse_record_cached(huge);
  auto h2 = parse_record_cached(huge);
  EXPECT_TRUE(h1->ok);
  EXPECT_NE(h1.get(), h2.get());
}
