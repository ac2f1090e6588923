#include "common/text.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

using spfgate::is_clean;
using spfgate::sanitize;
using spfgate::utf8_replacing_invalid;

TEST(Sanitize, KeepsPlainText) { EXPECT_EQ(sanitize("Pass (mailfrom) identity=mailfrom"), "Pass (mailfrom) identity=mailfrom"); }

TEST(Sanitize, ReplacesLineBreaksNulAndControls) {
  EXPECT_EQ(sanitize(std::string("a\r\nb\0c\td\x7f", 9)), "a??b?c?d?");
}

TEST(Sanitize, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(sanitize("j\xc3\xb6rg"), "j\xc3\xb6rg");
  EXPECT_EQ(sanitize("j\xffrg"), "j?rg");
  EXPECT_EQ(sanitize("\xc0\xaf"), "??");          // overlong '/'
  EXPECT_EQ(sanitize("\xed\xa0\x80"), "???");     // UTF-16 surrogate
  EXPECT_EQ(sanitize("\xe2\x82"), "??");          // truncated sequence
}

TEST(Sanitize, BoundsLengthWithoutSplittingUtf8) {
  const std::string s = sanitize(std::string(1000, 'x'), 20);
  EXPECT_EQ(s.size(), 20u);
  EXPECT_EQ(s.substr(17), "...");
  std::string umlauts;
  for (int i = 0; i < 20; ++i) umlauts += "\xc3\xb6";
  const std::string cut = sanitize(umlauts, 10);
  EXPECT_LE(cut.size(), 10u);
  EXPECT_TRUE(is_clean(cut));
  EXPECT_EQ(cut, "\xc3\xb6\xc3\xb6\xc3\xb6...");
}

TEST(Sanitize, ExactFitIsNotCut) { EXPECT_EQ(sanitize("abcdef", 6), "abcdef"); }

TEST(Utf8ReplacingInvalid, AsPythonDecodesWithReplace) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(utf8_replacing_invalid("plain"), "plain");
  EXPECT_EQ(utf8_replacing_invalid("j\xC3\xB8rn\r\n"), "j\xC3\xB8rn\r\n");  // valid UTF-8 and controls kept
  EXPECT_EQ(utf8_replacing_invalid("j\xF6rn"), "j" + r + "rn");                   // ISO-8859-1
  // b"\xe2\x82" (truncated) is one U+FFFD, b"\xe0\x80" (overlong) two, b"\xed\xa0\x80" (surrogate) three,
  // b"\xf0\x9f\x98" one; a lone continuation byte one each.
  EXPECT_EQ(utf8_replacing_invalid("a\xE2\x82"), "a" + r);
  EXPECT_EQ(utf8_replacing_invalid("\xE0\x80x"), r + r + "x");
  EXPECT_EQ(utf8_replacing_invalid("\xED\xA0\x80"), r + r + r);
  EXPECT_EQ(utf8_replacing_invalid("\xF0\x9F\x98!"), r + "!");
  EXPECT_EQ(utf8_replacing_invalid("\x80\x80"), r + r);
  EXPECT_EQ(utf8_replacing_invalid("\xFF"), r);
  EXPECT_EQ(utf8_replacing_invalid("\xC0\xAF\xF5\x80\xE1\x80"), r + r + r + r + r);
}

TEST(IsClean, DetectsControlsAndBadUtf8) {
  EXPECT_TRUE(is_clean("hello w\xc3\xb6rld"));
  EXPECT_FALSE(is_clean("a\nb"));
  EXPECT_FALSE(is_clean("\x80"));
}

TEST(Text, LowerAndCompare) {
  EXPECT_EQ(spfgate::ascii_lower("MiXeD.Example.ORG"), "mixed.example.org");
  EXPECT_TRUE(spfgate::iequals("Pass", "pASS"));
  EXPECT_FALSE(spfgate::iequals("Pass", "Passe"));
  EXPECT_EQ(spfgate::trim("  x y \t\r\n"), "x y");
}

// sanitize() and utf8_replacing_invalid() look at eight bytes at a time: the same output as byte by byte, whatever the alignment and
// wherever a byte to replace falls (against a byte-by-byte model, over an alphabet with every boundary).
TEST(Sanitize, WordAtATimeScanMatchesByteByByte) {
  const std::vector<std::string> alphabet = {std::string(1, '\0'), "\x1f", " ", "a", "~", "\x7f", "\r", "\n",
                                             "\x80", "\xff", "\xc3\xa9", "\xe2\x82\xac"};
  auto model = [](const std::string& pieces) {
    std::string out;
    for (std::size_t i = 0; i < pieces.size();) {
      const unsigned char c = static_cast<unsigned char>(pieces[i]);
      if (c >= 0x20 && c < 0x7F) out += pieces[i++];
      else if (pieces.compare(i, 2, "\xc3\xa9") == 0) out += pieces.substr(i, 2), i += 2;
      else if (pieces.compare(i, 3, "\xe2\x82\xac") == 0) out += pieces.substr(i, 3), i += 3;
      else out += '?', i += 1;
    }
    return out;
  };
  // utf8_replacing_invalid() keeps ASCII, controls included, and replaces each stray byte with U+FFFD.
  auto model_utf8 = [](const std::string& pieces) {
    std::string out;
    for (std::size_t i = 0; i < pieces.size();) {
      const unsigned char c = static_cast<unsigned char>(pieces[i]);
      if (c < 0x80) out += pieces[i++];
      else if (pieces.compare(i, 2, "\xc3\xa9") == 0) out += pieces.substr(i, 2), i += 2;
      else if (pieces.compare(i, 3, "\xe2\x82\xac") == 0) out += pieces.substr(i, 3), i += 3;
      else out += "\xef\xbf\xbd", i += 1;
    }
    return out;
  };
  std::uint32_t seed = 12345;
  auto next = [&seed] { return seed = seed * 1664525u + 1013904223u; };
  for (int round = 0; round < 20000; ++round) {
    std::string text;
    const std::size_t length = next() % 40;
    const bool mostly_plain = next() % 2 == 0;
    for (std::size_t k = 0; k < length; ++k)
      text += mostly_plain && next() % 8 != 0 ? std::string(1, static_cast<char>('A' + next() % 26))
                                              : alphabet[next() % alphabet.size()];
    ASSERT_EQ(sanitize(text, 1000), model(text)) << "round " << round;
    ASSERT_EQ(spfgate::utf8_replacing_invalid(text), model_utf8(text)) << "round " << round;
  }
}

// ascii_lower() changes eight bytes at a time: every byte value at every position of texts of 1 to 24
// bytes (so in the word-at-a-time part and in the byte-by-byte tail) against the byte-by-byte rule, with
// the other bytes 'A', 'Z', their neighbours '@', '[', '`', '{', the same with the high bit set, and 'a', 'z'.
TEST(Text, LowerCasesEightBytesAtATimeExactlyAsByteByByte) {
  auto model = [](std::string s) {
    for (char& c : s)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
    return s;
  };
  const std::string fillers = "AZ@[`{\xc1\xda\x80\xff" "az";
  for (std::size_t length = 1; length <= 24; ++length)
    for (std::size_t at = 0; at < length; ++at)
      for (int byte = 0; byte < 256; ++byte) {
        std::string text(length, '\0');
        for (std::size_t k = 0; k < length; ++k) text[k] = fillers[(k + length + byte) % fillers.size()];
        text[at] = static_cast<char>(byte);
        ASSERT_EQ(spfgate::ascii_lower(text), model(text)) << "length " << length << " at " << at << " byte " << byte;
        std::string in_place = text;
        spfgate::ascii_lower_in_place(in_place);
        ASSERT_EQ(in_place, model(text));
      }
}
