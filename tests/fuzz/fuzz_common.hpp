// tests/fuzz/fuzz_common.hpp: what every fuzz target shares — splitting the input, and the invariants.
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
//     fuzz::Input in(data, size);
//     std::string_view text = in.section();          // up to the next "\n%%\n" (or the end)
//     FUZZ_CHECK(fuzz::is_one_clean_line(reply), reply);
//   }
//
// The targets are built two ways (tests/fuzz/CMakeLists.txt): with clang and -fsanitize=fuzzer as libFuzzer
// targets, or with any compiler against replay_main.cpp, which runs the seed corpus once (a regression test).
// A broken invariant prints what broke and the offending value (escaped), then aborts, so libFuzzer keeps
// the input as a crash artifact and a replay run fails.
//
// The checks here are written independently of common/text.hpp on purpose: a target must not judge
// sanitize() with sanitize().
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <stdlib.h>  // mkdtemp

namespace fuzz {

// Printable rendering of any bytes for failure messages (\xNN for everything outside 0x20..0x7E).
inline std::string escaped(std::string_view s, std::size_t max = 600) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F && c != '\\') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 0xF]);
    }
  }
  return out;
}

[[noreturn]] inline void fail(const char* file, int line, const char* what, std::string_view value) {
  std::fprintf(stderr, "\n%s:%d: invariant broken: %s\n  value (%zu bytes): \"%s\"\n", file, line, what,
               value.size(), escaped(value).c_str());
  std::fflush(stderr);
  std::abort();
}

#define FUZZ_CHECK(cond, value)                                     \
  do {                                                              \
    if (!(cond)) ::fuzz::fail(__FILE__, __LINE__, #cond, (value)); \
  } while (0)

// Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
inline bool is_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      n = 2, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      n = 3, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      n = 4, cp = b & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    const std::uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

// No C0 control (CR, LF, NUL, TAB, ...) and no DEL.
inline bool has_no_controls(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return false;
  }
  return true;
}

// What may go into a reply, a header or a log line: valid UTF-8 without control characters.
inline bool is_clean_text(std::string_view s) { return is_utf8(s) && has_no_controls(s); }

// Printable ASCII only (problem texts, excerpts).
inline bool is_printable_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) return false;
  return true;
}

// A policy reply as written to Postfix: "action=<text>\n\n", <text> clean and at most `max_text` octets
// (an SMTP reply line is at most 512 octets with its CRLF, RFC 5321 §4.5.3.1.5).
inline void check_reply(std::string_view reply, std::size_t max_text = 510) {
  constexpr std::string_view prefix = "action=";
  FUZZ_CHECK(reply.size() >= prefix.size() + 2, reply);
  FUZZ_CHECK(reply.substr(0, prefix.size()) == prefix, reply);
  FUZZ_CHECK(reply.substr(reply.size() - 2) == "\n\n", reply);
  const std::string_view text = reply.substr(prefix.size(), reply.size() - prefix.size() - 2);
  FUZZ_CHECK(is_clean_text(text), reply);  // so exactly one line, then the empty line
  FUZZ_CHECK(text.size() <= max_text, reply);
}

// The top-level structure of a header field value: ';'-separated parts, with quoted-strings ("..." with
// backslash escapes) and comments ((...), nested, backslash escapes) skipped. Returns false if a quote or a
// comment is left open or a backslash ends the text: then a value could run into what follows it.
struct HeaderParts {
  std::vector<std::string> parts;  // top-level text of each ';'-separated part, quoted/comment text removed
};
inline bool split_header(std::string_view v, HeaderParts& out) {
  std::string cur;
  int depth = 0;
  bool quoted = false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (quoted || depth > 0) {
      if (c == '\\') {
        if (++i >= v.size()) return false;
        continue;
      }
      if (quoted) {
        if (c == '"') quoted = false;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        --depth;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
      cur += "\"\"";  // keep a marker where a quoted value was
    } else if (c == '(') {
      depth = 1;
    } else if (c == ')') {
      return false;  // a comment closed that was never opened
    } else if (c == ';') {
      out.parts.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (quoted || depth != 0) return false;
  out.parts.push_back(cur);
  return true;
}

// The "key=" names at the top level of one part ("identity=mailfrom" -> "identity").
inline std::vector<std::string> keys_of(std::string_view part) {
  std::vector<std::string> keys;
  std::size_t i = 0;
  while (i < part.size()) {
    while (i < part.size() && part[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < part.size() && part[i] != ' ' && part[i] != '=') ++i;
    if (i < part.size() && part[i] == '=') keys.emplace_back(part.substr(start, i - start));
    while (i < part.size() && part[i] != ' ') ++i;  // the value
  }
  return keys;
}

// Splits the fuzz input into pieces. Sections end at "\n%%\n"; lines at '\n'.
class Input {
 public:
  Input(const std::uint8_t* data, std::size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}
  explicit Input(std::string_view text) : rest_(text) {}

  bool empty() const noexcept { return rest_.empty(); }
  std::string_view rest() const noexcept { return rest_; }

  // One byte (0 when exhausted).
  std::uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // The text up to the next "\n%%\n" (excluded; the separator is consumed) or the end.
  std::string_view section() {
    constexpr std::string_view sep = "\n%%\n";
    const auto at = rest_.find(sep);
    std::string_view out = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + sep.size());
    return out;
  }
  // The text up to the next '\n' (excluded; consumed) or the end.
  std::string_view line() {
    const auto at = rest_.find('\n');
    std::string_view out = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return out;
  }

 private:
  std::string_view rest_;
};

// Splits off the first space-separated word.
inline std::string_view word(std::string_view& s) {
  const auto sp = s.find(' ');
  std::string_view w = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view{} : s.substr(sp + 1);
  return w;
}

// All lines of a text ('\n'-separated; a last line without '\n' counts).
inline std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  Input in(text);
  while (!in.empty()) out.push_back(in.line());
  return out;
}

// A scratch file holding `content`, for parsers that only read files: one private directory per process
// (removed at exit), the same file name rewritten for every input.
inline std::string write_scratch_file(std::string_view content, std::string_view name = "input") {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/spfgate-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      std::perror("mkdtemp");
      std::abort();
    }
    static std::string path = tmpl;
    std::atexit([] { std::filesystem::remove_all(path); });
    return path;
  }();
  std::string path = dir + "/" + std::string(name);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(content.data(), 1, content.size(), f) != content.size() || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace fuzz
