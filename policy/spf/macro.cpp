#include "policy/spf/macro.hpp"

#include "policy/spf/excerpt.hpp"

#include <array>
#include <charconv>
#include <limits>

namespace spfgate::spf {
namespace {

// RFC 7208 §7.1: macro-letter and delimiter.
constexpr std::string_view kLetters = "slodiphcrtv";
constexpr std::string_view kDelimiters = ".-+,/_=";

bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alnum(char c) noexcept { return is_alpha(c) || is_digit(c); }
char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// macro-literal = %x21-24 / %x26-7E; the explanation string also allows SP (§6.2: *( macro-string / SP )).
bool is_literal(char c, MacroUse use) noexcept {
  const auto u = static_cast<unsigned char>(c);
  if (c == '%') return false;
  if (use == MacroUse::Explanation && c == ' ') return true;
  return u >= 0x21 && u <= 0x7E;
}

// The end of the run of literal characters starting at text[i]: the next '%', the end, or the first
// character that is not a macro-literal (the caller tells the last two apart).
std::size_t literal_run(std::string_view text, std::size_t i, MacroUse use) noexcept {
  while (i < text.size() && is_literal(text[i], use)) ++i;
  return i;
}

// One parsed "%{...}".
struct MacroSpec {
  char letter = 0;           // lower case
  bool escape = false;       // written in upper case: URL-escape the result (§7.3)
  bool reverse = false;
  std::size_t keep = 0;      // right-hand parts to keep; 0 = all
  std::uint8_t delimiters = 0;  // bit i set = kDelimiters[i] splits; 0 = the default "."
};

enum class TokenKind { Literal, Percent, Space, UrlSpace, Macro, Error };

struct Token {
  TokenKind kind = TokenKind::Literal;
  std::size_t end = 0;  // one past the token
  MacroSpec macro;
};

// The dot-separated piece of `text` around position `at`, for pyspf's "invalid-macro-char : <label>".
std::string_view label_around(std::string_view text, std::size_t at) {
  std::size_t begin = text.rfind('.', at);
  begin = begin == std::string_view::npos ? 0 : begin + 1;
  std::size_t end = text.find('.', at);
  if (end == std::string_view::npos) end = text.size();
  return text.substr(begin, end - begin);
}

// Reads the token at text[i] (a '%' or a literal). Never reads past the end; O(token length). On a syntax
// error returns kind Error and sets *error (the only case that builds a string).
Token next_token(std::string_view text, std::size_t i, MacroUse use, std::string* error) {
  Token t;
  const auto fail = [&](std::string message) {
    t.kind = TokenKind::Error;
    if (error) *error = std::move(message);
    return t;
  };
  const auto bad_char = [&] { return fail("invalid-macro-char : " + excerpt(label_around(text, i))); };
  if (text[i] != '%') {
    if (!is_literal(text[i], use)) return fail("Invalid character in macro string: " + excerpt(text));
    t.end = i + 1;
    return t;
  }
  if (i + 1 >= text.size()) return bad_char();
  switch (text[i + 1]) {
    case '%': t.kind = TokenKind::Percent; t.end = i + 2; return t;
    case '_': t.kind = TokenKind::Space; t.end = i + 2; return t;
    case '-': t.kind = TokenKind::UrlSpace; t.end = i + 2; return t;
    case '{': break;
    default: return bad_char();
  }
  std::size_t j = i + 2;
  if (j >= text.size() || !is_alpha(text[j])) return bad_char();
  MacroSpec& m = t.macro;
  m.letter = lower(text[j]);
  m.escape = text[j] != m.letter;
  if (kLetters.find(m.letter) == std::string_view::npos) {
    const std::size_t close = text.find('}', j);
    if (close == std::string_view::npos) return bad_char();
    return fail("Unknown Macro Encountered: " + excerpt(text.substr(i, close + 1 - i)));
  }
  ++j;
  bool digits = false;
  for (; j < text.size() && is_digit(text[j]); ++j) {
    digits = true;
    const std::size_t d = static_cast<std::size_t>(text[j] - '0');
    constexpr std::size_t max = std::numeric_limits<std::size_t>::max();
    m.keep = m.keep > (max - d) / 10 ? max : m.keep * 10 + d;  // saturate: "more parts than exist" = all
  }
  if (j < text.size() && (text[j] == 'r' || text[j] == 'R')) {
    m.reverse = true;
    ++j;
  }
  for (; j < text.size(); ++j) {
    const auto pos = kDelimiters.find(text[j]);
    if (pos == std::string_view::npos) break;
    m.delimiters = static_cast<std::uint8_t>(m.delimiters | (1u << pos));
  }
  if (j >= text.size() || text[j] != '}') return bad_char();
  t.end = j + 1;
  // §7.3: "If a DIGIT is specified, the value MUST be nonzero."
  if (digits && m.keep == 0)
    return fail("Invalid macro transformer: " + excerpt(text.substr(i, t.end - i)));
  // §7.3: c, r and t are allowed only in the explanation text.
  if (use == MacroUse::DomainSpec && (m.letter == 'c' || m.letter == 'r' || m.letter == 't'))
    return fail("c,r,t macros allowed in exp= text only: " + excerpt(text.substr(i, t.end - i)));
  t.kind = TokenKind::Macro;
  return t;
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool is_toplabel(std::string_view label) noexcept {
  if (label.empty()) return false;
  bool alpha = false, dash = false;
  for (char c : label) {
    if (c == '-') dash = true;
    else if (is_alpha(c)) alpha = true;
    else if (!is_digit(c)) return false;
  }
  if (!dash) return alpha;
  return is_alnum(label.front()) && is_alnum(label.back());
}

bool is_unreserved(char c) noexcept {  // RFC 3986 unreserved, what §7.3 leaves unescaped
  return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Appends expansion output while enforcing kMaxExpansion.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  bool put(char c, bool escape) {
    if (escape && !is_unreserved(c)) {
      static constexpr char hex[] = "0123456789ABCDEF";
      if (out_.size() + 3 > kMaxExpansion) return false;
      const auto u = static_cast<unsigned char>(c);
      out_.push_back('%');
      out_.push_back(hex[u >> 4]);
      out_.push_back(hex[u & 0xF]);
      return true;
    }
    if (out_.size() + 1 > kMaxExpansion) return false;
    out_.push_back(c);
    return true;
  }
  bool put(std::string_view s) {
    if (out_.size() + s.size() > kMaxExpansion) return false;
    out_.append(s);
    return true;
  }

 private:
  std::string& out_;
};

// §7.3: split on the delimiters, optionally reverse, keep the right-most `keep` parts, join with ".".
// Works on offsets only, so its cost is proportional to what it writes (plus one scan for `keep`).
bool append_transformed(Writer& w, std::string_view value, const MacroSpec& m) {
  const auto split_here = [&](char c) {
    if (m.delimiters == 0) return c == '.';
    const auto pos = kDelimiters.find(c);
    return pos != std::string_view::npos && (m.delimiters & (1u << pos)) != 0;
  };
  if (!m.reverse) {
    std::size_t start = 0;
    if (m.keep != 0) {
      std::size_t seen = 0;
      for (std::size_t i = value.size(); i-- > 0;) {
        if (split_here(value[i]) && ++seen == m.keep) {
          start = i + 1;
          break;
        }
      }
    }
    for (std::size_t i = start; i < value.size(); ++i)
      if (!w.put(split_here(value[i]) ? '.' : value[i], m.escape)) return false;
    return true;
  }
  // Reversed: the right-most `keep` parts of the reversed list are the first `keep` parts of the value.
  std::size_t end = value.size();
  if (m.keep != 0) {
    std::size_t seen = 0;
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (split_here(value[i]) && ++seen == m.keep) {
        end = i;
        break;
      }
    }
  }
  std::size_t part_end = end;
  for (bool first = true;; first = false) {
    std::size_t part_begin = part_end;
    while (part_begin > 0 && !split_here(value[part_begin - 1])) --part_begin;
    if (!first && !w.put('.', m.escape)) return false;
    for (std::size_t i = part_begin; i < part_end; ++i)
      if (!w.put(value[i], m.escape)) return false;
    if (part_begin == 0) break;
    part_end = part_begin - 1;
  }
  return true;
}

}  // namespace

std::string ip_macro_text(const IpAddress& address) {
  if (address.is_v4()) return address.to_string();
  static constexpr char hex[] = "0123456789ABCDEF";
  const auto bytes = address.to_v6().to_bytes();
  std::string out;
  out.reserve(63);
  for (unsigned char b : bytes) {
    if (!out.empty()) out.push_back('.');
    out.push_back(hex[b >> 4]);
    out.push_back('.');
    out.push_back(hex[b & 0xF]);
  }
  return out;
}

std::optional<std::string> check_macro_string(std::string_view text, MacroUse use) {
  std::string error;
  for (std::size_t i = 0; i < text.size();) {
    if (const std::size_t end = literal_run(text, i, use); end != i) {
      i = end;
      continue;
    }
    const Token t = next_token(text, i, use, &error);
    if (t.kind == TokenKind::Error) return error;
    i = t.end;
  }
  return std::nullopt;
}

std::optional<std::string> check_domain_spec(std::string_view text) {
  const auto invalid = [&] { return "Invalid domain found (use FQDN): " + excerpt(text); };
  if (text.empty()) return invalid();
  bool ends_with_macro = false;
  std::string error;
  for (std::size_t i = 0; i < text.size();) {
    if (const std::size_t end = literal_run(text, i, MacroUse::DomainSpec); end != i) {
      ends_with_macro = false;
      i = end;
      continue;
    }
    const Token t = next_token(text, i, MacroUse::DomainSpec, &error);
    if (t.kind == TokenKind::Error)
      return text[i] == '%' ? error : invalid();  // a bad literal is a bad domain
    ends_with_macro = t.kind != TokenKind::Literal;
    i = t.end;
  }
  if (ends_with_macro) return std::nullopt;  // domain-end = macro-expand
  // domain-end = "." toplabel [ "." ]. Every character after the last "." is a literal here (a macro would
  // have put a '%' or '}' into the label), so a plain search finds the toplabel.
  std::string_view rest = text;
  if (rest.back() == '.') rest.remove_suffix(1);
  const auto dot = rest.rfind('.');
  if (dot == std::string_view::npos || !is_toplabel(rest.substr(dot + 1))) return invalid();
  return std::nullopt;
}

bool uses_ptr_macro(std::string_view text) noexcept {
  for (std::size_t i = 0; i + 2 < text.size(); ++i) {
    if (text[i] != '%') continue;
    if (text[i + 1] == '{' && (text[i + 2] == 'p' || text[i + 2] == 'P')) return true;
    ++i;  // "%%", "%_", "%-": the next character is part of this escape
  }
  return false;
}

bool expand_macros(std::string_view text, MacroUse use, const MacroValues& v, std::string& out,
                   std::string* error) {
  out.clear();
  Writer w(out);
  const auto too_long = [&] {
    if (error) {
      *error = "Macro expansion exceeds ";
      *error += std::to_string(kMaxExpansion);
      *error += " octets";
    }
    return false;
  };
  for (std::size_t i = 0; i < text.size();) {
    if (const std::size_t end = literal_run(text, i, use); end != i) {
      if (!w.put(text.substr(i, end - i))) return too_long();
      i = end;
      continue;
    }
    const Token t = next_token(text, i, use, error);
    switch (t.kind) {
      case TokenKind::Error: return false;
      case TokenKind::Literal:
        if (!w.put(text[i], false)) return too_long();
        break;
      case TokenKind::Percent:
        if (!w.put('%', false)) return too_long();
        break;
      case TokenKind::Space:
        if (!w.put(' ', false)) return too_long();
        break;
      case TokenKind::UrlSpace:
        if (!w.put("%20")) return too_long();
        break;
      case TokenKind::Macro: {
        std::string scratch;  // for the letters whose value is computed
        std::string_view value;
        switch (t.macro.letter) {
          case 's': value = v.sender; break;
          case 'l': value = v.local_part; break;
          case 'o': value = v.sender_domain; break;
          case 'd': value = v.domain; break;
          case 'h': value = v.helo; break;
          case 'p': value = v.ptr_name.empty() ? std::string_view("unknown") : v.ptr_name; break;
          case 'r': value = v.receiver.empty() ? std::string_view("unknown") : v.receiver; break;
          case 'v': value = v.client.is_v4() ? "in-addr" : "ip6"; break;
          case 'i': value = scratch = ip_macro_text(v.client); break;
          case 'c': value = scratch = v.client.to_string(); break;
          case 't': value = scratch = std::to_string(v.timestamp); break;
          default: break;  // next_token() accepts only kLetters
        }
        if (!append_transformed(w, value, t.macro)) return too_long();
        break;
      }
    }
    i = t.end;
  }
  return true;
}

bool expand_domain_spec(std::string_view text, const MacroValues& values, std::string& out, std::string* error) {
  if (!expand_macros(text, MacroUse::DomainSpec, values, out, error)) return false;
  if (!out.empty() && out.back() == '.') out.pop_back();
  if (out.size() > kMaxDomainLength) {
    // Remove whole labels from the left until the rest fits: the first "." at or after size - 254.
    const auto dot = out.find('.', out.size() - kMaxDomainLength - 1);
    if (dot != std::string::npos) out.erase(0, dot + 1);
  }
  return true;
}

bool is_valid_dns_name(std::string_view name) noexcept {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > kMaxDomainLength) return false;
  std::size_t label = 0;
  for (char c : name) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (++label > kMaxLabelLength) {
      return false;
    }
  }
  return label != 0;
}

}  // namespace spfgate::spf
