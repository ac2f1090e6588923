#include "common/text.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace spfgate {
namespace {

// Length of the valid UTF-8 sequence starting at text[i] (1..4), or 0 if the bytes there are not one.
// Follows RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return len;
}

bool is_control(unsigned char c) noexcept { return c < 0x20 || c == 0x7F; }

// Printable ASCII: kept as it is, so runs of it are copied whole.
bool is_plain(char c) noexcept { return c >= 0x20 && c < 0x7F; }

constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHighs = 0x8080808080808080ULL;

// Whether any byte of w is below n (0 < n <= 128; "Bit Twiddling Hacks", hasless): exact for the word as a
// whole, though not byte by byte.
constexpr std::uint64_t has_less(std::uint64_t w, unsigned n) noexcept { return (w - kOnes * n) & ~w & kHighs; }

std::uint64_t word_at(std::string_view text, std::size_t i) noexcept {
  std::uint64_t w;
  std::memcpy(&w, text.data() + i, sizeof w);
  return w;
}

// Length of the run of printable ASCII at text[i]: eight bytes at a time (nearly every reply, header and log
// line is one such run), then byte by byte.
std::size_t plain_run(std::string_view text, std::size_t i) noexcept {
  const std::size_t start = i;
  while (i + 8 <= text.size()) {
    const std::uint64_t w = word_at(text, i);
    if ((w & kHighs) | has_less(w, 0x20) | has_less(w ^ (kOnes * 0x7F), 1)) break;
    i += 8;
  }
  while (i < text.size() && is_plain(text[i])) ++i;
  return i - start;
}

// Length of the run of ASCII (below 0x80) at the start of text, eight bytes at a time.
std::size_t ascii_run(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i + 8 <= text.size() && (word_at(text, i) & kHighs) == 0) i += 8;
  while (i < text.size() && static_cast<unsigned char>(text[i]) < 0x80) ++i;
  return i;
}

}  // namespace

std::string sanitize(std::string_view text, std::size_t max_bytes) {
  // Each invalid byte becomes one '?', so the sanitised text is exactly as long as the input: it needs
  // cutting only if the input is longer than the bound.
  constexpr std::string_view ellipsis = "...";
  const bool cut = text.size() > max_bytes;
  const std::size_t budget = cut ? (max_bytes >= ellipsis.size() ? max_bytes - ellipsis.size() : max_bytes)
                                 : text.size();
  std::string out;
  out.reserve(cut ? max_bytes : text.size());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t run = plain_run(text, i);  // the common case: printable ASCII, copied at once
    if (run > 0) {
      const std::size_t room = budget - std::min(budget, out.size());
      out.append(text.substr(i, std::min(run, room)));
      if (run > room) break;
      i += run;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const std::size_t len = is_control(c) ? 0 : utf8_sequence_length(text, i);
    if (out.size() + (len == 0 ? 1 : len) > budget) break;
    if (len == 0) {
      out.push_back('?');
      i += 1;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  if (cut && max_bytes >= ellipsis.size()) out.append(ellipsis);
  return out;
}

std::string utf8_replacing_invalid(std::string_view text) {
  constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD
  // Nearly every value Postfix sends is ASCII: copy it whole, without decoding it sequence by sequence.
  std::size_t i = ascii_run(text);
  if (i == text.size()) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  out.append(text.substr(0, i));
  while (i < text.size()) {
    if (const std::size_t len = utf8_sequence_length(text, i); len > 0) {
      out.append(text.substr(i, len));
      i += len;
      continue;
    }
    // The maximal subpart (Unicode §3.9, what Python replaces as one): a lead byte and the continuation
    // bytes that could still have completed it.
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char b0 = byte(i);
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) need = 1;
    else if (b0 >= 0xE0 && b0 <= 0xEF) need = 2, lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
    else if (b0 >= 0xF0 && b0 <= 0xF4) need = 3, lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
    std::size_t sub = 1;
    for (std::size_t k = 0; k < need && i + sub < text.size(); ++k) {
      const unsigned char c = byte(i + sub);
      if (k == 0 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
      ++sub;
    }
    out.append(replacement);
    i += sub;
  }
  return out;
}

bool is_clean(std::string_view text) noexcept {
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (is_control(c)) return false;
    const std::size_t len = utf8_sequence_length(text, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string header_value(std::string_view value, std::size_t max_bytes) {
  std::string clean = sanitize(value, max_bytes);
  bool token = true;  // an empty value stays empty (pypolicyd-spf writes "envelope-from=;")
  for (char c : clean)
    if (c == ' ' || c == ';' || c == '"' || c == '\\' || c == '(' || c == ')') token = false;
  if (token) return clean;
  std::string out = "\"";
  for (char c : clean) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

bool valid_hostname(std::string_view name) noexcept {
  if (name.empty() || name.size() > 255) return false;
  bool all_numeric = true;
  std::size_t label = 0;
  char prev = '.';
  for (char c : name) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else {
      const bool digit = c >= '0' && c <= '9';
      const bool ok = digit || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
      if (!ok || (c == '-' && label == 0) || ++label > 63) return false;
      if (!digit) all_numeric = false;
    }
    prev = c;
  }
  return label > 0 && prev != '-' && !all_numeric;
}

void ascii_lower_in_place(std::string& text) noexcept {
  std::size_t i = 0;
  // Eight bytes at a time. A byte's low seven bits plus 0x3F reach its high bit when they are at least 'A',
  // plus 0x25 when they are above 'Z' (neither carries into the next byte: at most 0x7F + 0x3F); the two
  // differ for 'A' to 'Z', and the byte is ASCII when its own high bit is clear.
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t w = word_at(text, i);
    const std::uint64_t low7 = w & ~kHighs;
    const std::uint64_t at_least_a = low7 + kOnes * (0x80 - 'A');
    const std::uint64_t above_z = low7 + kOnes * (0x7F - 'Z');
    const std::uint64_t upper = (at_least_a ^ above_z) & ~w & kHighs;
    if (upper == 0) continue;
    w ^= upper >> 2;  // 0x80 >> 2 is 0x20, the case bit
    std::memcpy(text.data() + i, &w, sizeof w);
  }
  for (; i < text.size(); ++i)
    if (text[i] >= 'A' && text[i] <= 'Z') text[i] = static_cast<char>(text[i] - 'A' + 'a');
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  ascii_lower_in_place(out);
  return out;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::string_view trim(std::string_view text) noexcept {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace spfgate
