#include "config/access_table.hpp"

#include "common/ip.hpp"
#include "common/text.hpp"
#include "config/error.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <regex.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <limits>
#include <unordered_map>
#include <utility>
#include <variant>

namespace spfgate::config {
namespace {

// Postfix's ISSPACE/ISALNUM/ISDIGIT are the C-locale ctype tests on ASCII; <cctype> would depend on the
// locale and is undefined for negative chars.
bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alnum(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::string_view skip_space(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}
std::string_view trim_trailing_space(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}
bool all_digits(std::string_view s) noexcept {  // Postfix alldig(): false for ""
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}
// atoi() for an all-digit string, saturating instead of overflowing.
unsigned long to_number(std::string_view digits) noexcept {
  unsigned long n = 0;
  for (char c : digits) {
    const unsigned long d = static_cast<unsigned long>(c - '0');
    if (n > (std::numeric_limits<unsigned long>::max() - d) / 10) return std::numeric_limits<unsigned long>::max();
    n = n * 10 + d;
  }
  return n;
}
// Postfix's strncasecmp(p, "IF", 2) == 0 && !ISALNUM(p[2]) test for the if/endif keywords.
bool starts_with_keyword(std::string_view line, std::string_view keyword) noexcept {
  return line.size() >= keyword.size() && iequals(line.substr(0, keyword.size()), keyword) &&
         (line.size() == keyword.size() || !is_alnum(line[keyword.size()]));
}
std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// UTF-8 validity alone: control characters such as TAB are fine in a table, so blank them out before
// asking is_clean(), which also refuses those.
bool valid_utf8(std::string_view s) {
  std::string copy(s);
  for (char& c : copy)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  return is_clean(copy);
}

// valid_hostaddr() from Postfix util/valid_hostname.c: it decides which HELO names get no parent-domain
// lookups. It is not inet_pton(): it accepts leading zeros ("01.2.3.4") and refuses "0.1.2.3".
bool valid_ipv4_hostaddr(std::string_view addr) noexcept {
  bool in_byte = false;
  int byte_count = 0;
  int byte_val = 0;
  for (std::size_t i = 0; i < addr.size(); ++i) {
    const char ch = addr[i];
    if (is_digit(ch)) {
      if (!in_byte) {
        in_byte = true;
        byte_val = 0;
        ++byte_count;
      }
      byte_val = byte_val * 10 + (ch - '0');
      if (byte_val > 255) return false;
    } else if (ch == '.') {
      if (!in_byte || i + 1 == addr.size()) return false;
      // Allow 0.0.0.0 but not 0.1.2.3.
      if (byte_count == 1 && byte_val == 0 && addr.find_first_not_of("0.") != std::string_view::npos) return false;
      in_byte = false;
    } else {
      return false;
    }
  }
  return byte_count == 4;
}

bool valid_ipv6_hostaddr(std::string_view addr) noexcept {
  int null_field = 0;
  int field = 0;
  std::size_t len = 0;
  std::size_t i = 0;
  const auto at = [&](std::size_t k) { return k < addr.size() ? addr[k] : '\0'; };
  for (;;) {
    const char c = at(i);
    if (c == '\0') {
      if (field < 2) return false;
      if (len == 0 && null_field != field - 1) return false;
      return true;
    }
    if (c == '.') {
      if (field < 2 || field > 6) return false;
      return valid_ipv4_hostaddr(addr.substr(i - len));
    }
    if (c == ':') {
      if (field == 0 && len == 0 && is_alnum(at(i + 1))) return false;
      if (++field > 7) return false;
      ++i;
      len = 0;
      if (at(i) == ':') {
        if (null_field > 0) return false;
        null_field = field;
      }
      continue;
    }
    len = 0;
    while (is_hex(at(i + len))) ++len;
    if (len == 0 || len > 4) return false;
    i += len;
  }
}

bool valid_hostaddr(std::string_view addr) noexcept {
  if (addr.empty()) return false;
  return addr.find(':') != std::string_view::npos ? valid_ipv6_hostaddr(addr) : valid_ipv4_hostaddr(addr);
}

// ---------------------------------------------------------------------------------------------------------
// Table specs and source files.

struct Spec {
  AccessTableType type = AccessTableType::Indexed;
  std::string path;
};

Spec parse_spec(std::string_view spec) {
  const auto fail = [&](const std::string& why) -> Error {
    return Error("access table " + quoted(spec) + ": " + why);
  };
  std::string_view s = trim(spec);
  if (s.empty()) throw fail("empty table name");
  // proxy:type:name reads the same table through proxymap(8); the content is what matters here.
  if (s.substr(0, 6) == "proxy:") s.remove_prefix(6);
  const auto colon = s.find(':');
  if (colon == std::string_view::npos) return {AccessTableType::Indexed, std::string(s)};
  const std::string_view type = s.substr(0, colon);
  const std::string_view path = s.substr(colon + 1);
  Spec out;
  out.path = std::string(path);
  if (type == "hash" || type == "btree" || type == "lmdb" || type == "cdb" || type == "dbm" || type == "sdbm" ||
      type == "texthash")
    out.type = AccessTableType::Indexed;
  else if (type == "cidr")
    out.type = AccessTableType::Cidr;
  else if (type == "pcre")
    out.type = AccessTableType::Pcre;
  else if (type == "regexp")
    out.type = AccessTableType::Regexp;
  else if (type == "inline" || type == "static" || type == "ldap" || type == "mysql" || type == "pgsql" ||
           type == "sqlite" || type == "memcache" || type == "tcp" || type == "socketmap" || type == "nis" ||
           type == "nisplus" || type == "netinfo" || type == "unionmap" || type == "pipemap" ||
           type == "randmap" || type == "environ" || type == "fail" || type == "internal" || type == "unix" ||
           type == "proxy" || type == "mongodb")
    throw fail("table type '" + std::string(type) +
               "' is not supported; spfgate reads the source files of hash, btree, lmdb, cdb, dbm, sdbm, "
               "texthash, cidr, pcre and regexp tables");
  else
    throw fail("unknown table type '" + std::string(type) + "'");
  if (path.empty()) throw fail("no file name after '" + std::string(type) + ":'");
  if (path.front() == '{')
    throw fail("inline tables are not supported; put the rules in a file and name that file");
  return out;
}

std::string read_source(const std::string& path, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path, 0, {}, std::string("cannot open access table: ") + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error(path, 0, {}, std::string("cannot stat access table: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw Error(path, 0, {}, "access table is not a regular file");
  if (static_cast<unsigned long long>(st.st_size) > max_bytes)
    throw Error(path, 0, {}, "access table is larger than " + std::to_string(max_bytes) + " bytes");
  std::string data;
  std::array<char, 65536> buf{};
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(path, 0, {}, std::string("cannot read access table: ") + std::strerror(errno));
    }
    if (n == 0) break;
    data.append(buf.data(), static_cast<std::size_t>(n));
    // The file may grow between fstat() and read().
    if (data.size() > max_bytes)
      throw Error(path, 0, {}, "access table is larger than " + std::to_string(max_bytes) + " bytes");
  }
  return data;
}

struct Entry {
  std::string text;        // one logical line, continuation lines appended as they are (readlline() does so)
  int line = 0;            // its first physical line
  bool continued = false;  // continuation lines were appended
};

// readlline() from Postfix util/readlline.c, stricter: NUL, a CR inside a line and invalid UTF-8 are errors, and so is a
// continuation line with nothing to continue (readlline() warns and drops it).
std::vector<Entry> logical_lines(const std::string& path, std::string_view data) {
  std::vector<Entry> out;
  int lineno = 0;
  std::size_t pos = 0;
  while (pos < data.size()) {
    const auto nl = data.find('\n', pos);
    std::string_view line = data.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? data.size() : nl + 1;
    ++lineno;
    // A CRLF line ending (a table edited on Windows) reads as Postfix reads it: the CR is line-end space.
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    // Checked on every line, comments too: a CR or NUL anywhere else means the file is not what it seems.
    if (line.find('\0') != std::string_view::npos) throw Error(path, lineno, {}, "NUL character in line");
    if (line.find('\r') != std::string_view::npos)
      throw Error(path, lineno, {}, "carriage return (CR) inside a line");
    const std::string_view content = skip_space(line);
    if (content.empty() || content.front() == '#') continue;  // a comment or blank line ends no entry
    if (!valid_utf8(line))
      throw Error(path, lineno, {},
                  "line is not valid UTF-8 (Postfix with smtputf8_enable=yes ignores such an entry); convert the "
                  "file to UTF-8");
    if (is_space(line.front())) {
      if (out.empty())
        throw Error(path, lineno, {},
                    "line starts with whitespace, which continues the entry before it, but there is none");
      out.back().text.append(line);
      out.back().continued = true;
    } else {
      out.push_back({std::string(line), lineno, false});
    }
  }
  return out;
}

std::string where(const std::string& file, int line) { return file + ":" + std::to_string(line) + ": "; }

// ---------------------------------------------------------------------------------------------------------
// $number substitution: mac_parse() from Postfix util/mac_parse.c plus the dict_pcre/dict_regexp pre-scan.

struct Piece {
  bool group = false;
  std::string text;   // literal text ($$ already turned into $)
  std::size_t n = 0;  // group number
};

struct Replacement {
  std::vector<Piece> pieces;
  std::size_t max_sub = 0;
  std::string literal;  // the whole result when max_sub == 0
};

// Parses an action for $number references; on bad syntax returns nullopt and sets why (Postfix skips the
// rule).
std::optional<Replacement> parse_replacement(std::string_view value, std::string& why) {
  Replacement r;
  std::string buf;
  const auto bad = [&](std::string reason) -> std::optional<Replacement> {
    why = std::move(reason);
    return std::nullopt;
  };
  std::size_t i = 0;
  while (i < value.size()) {
    if (value[i] != '$') {
      buf.push_back(value[i++]);
      continue;
    }
    if (i + 1 < value.size() && value[i + 1] == '$') {
      buf.push_back('$');
      i += 2;
      continue;
    }
    if (!buf.empty()) r.pieces.push_back({false, std::exchange(buf, {}), 0});
    ++i;
    std::string name;
    if (i < value.size() && (value[i] == '{' || value[i] == '(')) {
      const char open = value[i];
      const char close = open == '{' ? '}' : ')';
      int level = 1;
      std::size_t j = ++i;
      for (; level > 0; ++j) {
        if (j == value.size()) return bad("bad replacement syntax: truncated macro reference in " + quoted(value));
        if (value[j] == open) ++level;
        if (value[j] == close) --level;
      }
      name = std::string(value.substr(i, j - 1 - i));
      i = j;
    } else {
      std::size_t j = i;
      while (j < value.size() && (is_alnum(value[j]) || value[j] == '_')) ++j;
      name = std::string(value.substr(i, j - i));
      i = j;
    }
    if (name.empty()) return bad("bad replacement syntax: empty macro name in " + quoted(value));
    if (!all_digits(name)) return bad("non-numeric replacement index " + quoted(name));
    const unsigned long n = to_number(name);
    if (n < 1) return bad("out of range replacement index " + quoted(name));
    // Anything this large is out of range for every pattern; cap it so that it fits.
    const std::size_t group = n > 100000 ? 100000 : static_cast<std::size_t>(n);
    r.max_sub = std::max(r.max_sub, group);
    r.pieces.push_back({true, {}, group});
  }
  if (!buf.empty()) r.pieces.push_back({false, std::move(buf), 0});
  if (r.max_sub == 0)
    for (const Piece& p : r.pieces) r.literal += p.text;
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// Compiled patterns.

struct PcreCodeFree {
  void operator()(pcre2_code* code) const noexcept { pcre2_code_free(code); }
};
struct PcreContextFree {
  void operator()(pcre2_match_context* ctx) const noexcept { pcre2_match_context_free(ctx); }
};
struct PcreDataFree {
  void operator()(pcre2_match_data* md) const noexcept { pcre2_match_data_free(md); }
};
struct RegexFree {
  void operator()(regex_t* re) const noexcept {
    regfree(re);
    delete re;
  }
};
using PcreCode = std::unique_ptr<pcre2_code, PcreCodeFree>;
// PCRE2_UNSET, without the C-style cast of its macro.
constexpr PCRE2_SIZE kPcreUnset = std::numeric_limits<PCRE2_SIZE>::max();
using PosixRegex = std::unique_ptr<regex_t, RegexFree>;

struct CidrPattern {
  IpAddress network;
  unsigned prefix = 0;
};
struct PcrePattern {
  PcreCode code;
};
struct PosixPattern {
  PosixRegex first;
  PosixRegex second;  // "/pattern1/!/pattern2/": must also (not) match
  bool second_match = true;
};

enum class Op { Match, If, Endif };

struct Rule {
  Op op = Op::Match;
  int line = 0;
  bool positive = true;  // false after '!': the rule fires when the pattern does not match
  std::string key;       // the pattern as written
  std::variant<std::monostate, CidrPattern, PcrePattern, PosixPattern> pattern;
  Replacement result;
  std::size_t block_end = 0;  // If: index of its Endif
};

struct IndexedEntry {
  std::string key;  // as written
  std::string value;
  int line = 0;
};

}  // namespace

struct AccessTable::Impl {
  std::string spec;
  std::string path;
  AccessTableType type = AccessTableType::Indexed;
  AccessTableOptions options;
  std::vector<std::string> warnings;
  std::unordered_map<std::string, IndexedEntry> entries;  // indexed: by lower-cased key
  std::vector<Rule> rules;                                // cidr, pcre, regexp: in file order
  std::uint32_t max_pairs = 1;                            // largest capture count + 1 over the pcre rules
  std::unique_ptr<pcre2_match_context, PcreContextFree> match_context;
};

namespace {

using Impl = AccessTable::Impl;

void warn_about_action(Impl& t, int line, std::string_view action) {
  const std::string why = AccessAction::parse(action).problem();
  if (!why.empty()) t.warnings.push_back(where(t.path, line) + "action " + quoted(action) + ": " + why);
}

// postmap(1) and dict_thash.c: "key whitespace value", key folded, first of duplicate keys kept.
void load_indexed(Impl& t, const std::vector<Entry>& lines) {
  for (const Entry& e : lines) {
    std::string_view text = e.text;
    const auto key_end = text.find_first_of(" \t\r\n");
    const std::string_view key = trim_trailing_space(text.substr(0, key_end));
    const std::string_view value =
        key_end == std::string_view::npos ? std::string_view{} : trim_trailing_space(skip_space(text.substr(key_end)));
    if (value.empty())
      throw Error(t.path, e.line, {}, "no action for " + quoted(key) + " (expected format: key whitespace action)");
    if (key.back() == ':')
      t.warnings.push_back(where(t.path, e.line) + "record is in \"key: value\" format; is this an alias file?");
    std::string folded = ascii_lower(key);
    const auto found = t.entries.find(folded);
    if (found != t.entries.end()) {
      t.warnings.push_back(where(t.path, e.line) + "duplicate entry " + quoted(key) +
                           ": ignored, postmap keeps the first one (line " + std::to_string(found->second.line) +
                           ")");
      continue;
    }
    warn_about_action(t, e.line, value);
    t.entries.emplace(std::move(folded), IndexedEntry{std::string(key), std::string(value), e.line});
  }
}

// Rule-by-rule tables share the if/endif bookkeeping (a stack of open IFs, as dict_pcre.c keeps).
struct BlockTracker {
  std::vector<std::size_t> open;  // indices of If rules without their Endif yet

  void add(Impl& t, Rule rule) {
    if (rule.op == Op::Endif) {
      t.rules[open.back()].block_end = t.rules.size();
      open.pop_back();
    } else if (rule.op == Op::If) {
      open.push_back(t.rules.size());
    }
    t.rules.push_back(std::move(rule));
  }
  void finish(const Impl& t) const {
    if (!open.empty()) throw Error(t.path, t.rules[open.back()].line, {}, "IF has no matching ENDIF");
  }
};

// cidr_match.c cidr_match_parse(): "addr", "addr/len", "[addr]", "[addr]/len", "[addr/len]".
CidrPattern parse_cidr_pattern(std::string_view text, const std::string& path, int line) {
  std::string_view addr = text;
  std::string_view mask;
  bool has_mask = false;
  if (!addr.empty() && addr.front() == '[') {
    addr.remove_prefix(1);
    const auto close = addr.find(']');
    if (close == std::string_view::npos)
      throw Error(path, line, {}, "missing ']' character after \"[" + std::string(addr) + "\"");
    const std::string_view rest = addr.substr(close + 1);
    addr = addr.substr(0, close);
    if (!rest.empty()) {
      if (rest.front() != '/') throw Error(path, line, {}, "garbage after \"[" + std::string(addr) + "]\"");
      mask = rest.substr(1);
      has_mask = true;
    }
  }
  if (!has_mask) {
    const auto slash = addr.find('/');
    if (slash != std::string_view::npos) {
      mask = addr.substr(slash + 1);
      addr = addr.substr(0, slash);
      has_mask = true;
    }
  }
  if (!has_mask) {
    auto ip = parse_ip(addr);
    if (!ip) throw Error(path, line, {}, "bad address pattern: " + quoted(addr));
    return {*ip, ip->is_v4() ? 32u : 128u};
  }
  const std::string shown = "\"" + std::string(addr) + "/" + std::string(mask) + "\"";
  const unsigned bits = addr.find(':') != std::string_view::npos ? 128 : 32;
  if (!all_digits(mask)) throw Error(path, line, {}, "bad mask value in " + shown);
  const unsigned long prefix = to_number(mask);
  if (prefix > bits) throw Error(path, line, {}, "bad mask length in " + shown);
  auto ip = parse_ip(addr);
  if (!ip) throw Error(path, line, {}, "bad network value in " + shown);
  const auto plen = static_cast<unsigned>(prefix);
  // Host bits set: "1.2.3.4/24". Cidr::parse() spots it; the network Postfix suggests is ours to compute.
  if (!Cidr::parse(ip->to_string() + "/" + std::to_string(plen))) {
    IpAddress network;
    if (ip->is_v4()) {
      const std::uint32_t m = plen == 0 ? 0 : ~std::uint32_t{0} << (32 - plen);
      network = boost::asio::ip::address_v4(ip->to_v4().to_uint() & m);
    } else {
      auto bytes = ip->to_v6().to_bytes();
      for (unsigned bit = plen; bit < 128; ++bit)
        bytes[bit / 8] = static_cast<unsigned char>(bytes[bit / 8] & ~(0x80u >> (bit % 8)));
      network = boost::asio::ip::address_v6(bytes);
    }
    throw Error(path, line, {},
                "non-null host address bits in " + shown + ", perhaps you should use \"" + network.to_string() + "/" +
                    std::to_string(plen) + "\" instead");
  }
  return {*ip, plen};
}

// dict_cidr.c, Postfix 3.2 and later.
void load_cidr(Impl& t, const std::vector<Entry>& lines) {
  BlockTracker blocks;
  for (const Entry& e : lines) {
    std::string_view p = trim_trailing_space(e.text);
    Rule rule;
    rule.line = e.line;
    const auto negations = [&rule](std::string_view s) {
      for (; !s.empty(); s.remove_prefix(1)) {
        if (s.front() == '!')
          rule.positive = !rule.positive;
        else if (!is_space(s.front()))
          break;
      }
      return s;
    };
    if (starts_with_keyword(p, "if")) {
      rule.op = Op::If;
      p = negations(p.substr(2));
      if (p.empty()) throw Error(t.path, e.line, {}, "no address pattern after IF");
      // The whole rest is the pattern, as in Postfix: "if 10.0.0.0/8 OK" is a bad mask value.
      rule.pattern = parse_cidr_pattern(p, t.path, e.line);
      rule.key = std::string(trim(e.text));
    } else if (starts_with_keyword(p, "endif")) {
      rule.op = Op::Endif;
      if (!skip_space(p.substr(5)).empty()) throw Error(t.path, e.line, {}, "garbage after ENDIF");
      if (blocks.open.empty()) throw Error(t.path, e.line, {}, "ENDIF without IF");
      rule.key = "endif";
    } else {
      const std::string_view start = p;
      p = negations(p);
      const auto end = std::find_if(p.begin(), p.end(), is_space);
      const std::string_view pattern = p.substr(0, static_cast<std::size_t>(end - p.begin()));
      const std::string_view value = skip_space(p.substr(pattern.size()));
      if (pattern.empty()) throw Error(t.path, e.line, {}, "no address pattern");
      if (value.empty()) throw Error(t.path, e.line, {}, "no action after " + quoted(pattern));
      rule.pattern = parse_cidr_pattern(pattern, t.path, e.line);
      rule.key = std::string(start.substr(0, static_cast<std::size_t>(pattern.data() + pattern.size() - start.data())));
      rule.result.literal = std::string(value);
      warn_about_action(t, e.line, value);
    }
    blocks.add(t, std::move(rule));
  }
  blocks.finish(t);
}

// ---------------------------------------------------------------------------------------------------------
// pcre: and regexp: rules (dict_pcre.c, dict_regexp.c).

struct RawPattern {
  std::string regex;
  bool positive = true;
  std::uint32_t pcre_options = PCRE2_CASELESS | PCRE2_DOTALL;  // pcre_table(5) defaults
  int posix_flags = REG_EXTENDED | REG_ICASE;                  // regexp_table(5) defaults
};

// Reads "[!...]<delim>regex<delim>flags" from the front of p and advances p past it.
RawPattern take_pattern(Impl& t, int line, std::string_view& p) {
  RawPattern pat;
  const bool pcre = t.type == AccessTableType::Pcre;
  if (pcre) {
    // dict_pcre_get_pattern(): '!' and whitespace may mix.
    for (; !p.empty(); p.remove_prefix(1)) {
      if (p.front() == '!')
        pat.positive = !pat.positive;
      else if (!is_space(p.front()))
        break;
    }
  } else {
    // dict_regexp_get_pat(): the '!'s, then whitespace.
    for (; !p.empty() && p.front() == '!'; p.remove_prefix(1)) pat.positive = !pat.positive;
    p = skip_space(p);
  }
  if (p.empty()) throw Error(t.path, line, {}, "no regexp");
  const char delim = p.front();
  p.remove_prefix(1);
  std::size_t i = 0;
  for (; i < p.size(); ++i) {
    if (p[i] == '\\') {
      if (i + 1 == p.size()) break;
      ++i;  // the escaped character stays in the regex
    } else if (p[i] == delim) {
      break;
    }
  }
  if (i >= p.size()) throw Error(t.path, line, {}, "no closing regexp delimiter \"" + std::string(1, delim) + "\"");
  pat.regex = std::string(p.substr(0, i));
  p.remove_prefix(i + 1);
  // Flags run up to whitespace (and, for regexp:, up to the '!' of a second pattern).
  while (!p.empty() && !is_space(p.front()) && (pcre || p.front() != '!')) {
    const char f = p.front();
    if (pcre) {
      switch (f) {
        case 'i': pat.pcre_options ^= PCRE2_CASELESS; break;
        case 'm': pat.pcre_options ^= PCRE2_MULTILINE; break;
        case 's': pat.pcre_options ^= PCRE2_DOTALL; break;
        case 'x': pat.pcre_options ^= PCRE2_EXTENDED; break;
        case 'A': pat.pcre_options ^= PCRE2_ANCHORED; break;
        case 'E': pat.pcre_options ^= PCRE2_DOLLAR_ENDONLY; break;
        case 'U': pat.pcre_options ^= PCRE2_UNGREEDY; break;
        case 'X':
          // PCRE_EXTRA has no PCRE2 equivalent; Postfix built with PCRE2 ignores it the same way.
          t.warnings.push_back(where(t.path, line) + "ignoring obsolete regexp option \"X\"");
          break;
        default:
          throw Error(t.path, line, {}, "unknown regexp option \"" + std::string(1, f) + "\"");
      }
    } else {
      switch (f) {
        case 'i': pat.posix_flags ^= REG_ICASE; break;
        case 'm': pat.posix_flags ^= REG_NEWLINE; break;
        case 'x': pat.posix_flags ^= REG_EXTENDED; break;
        default:
          throw Error(t.path, line, {}, "unknown regexp option \"" + std::string(1, f) + "\"");
      }
    }
    p.remove_prefix(1);
  }
  return pat;
}

std::size_t compile_pcre(Impl& t, int line, const RawPattern& raw, PcrePattern& out) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  out.code.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(raw.regex.data()), raw.regex.size(), raw.pcre_options,
                               &error, &offset, nullptr));
  if (!out.code) {
    std::array<PCRE2_UCHAR, 256> msg{};
    const int len = pcre2_get_error_message(error, msg.data(), msg.size());
    const std::string text = len > 0 ? std::string(reinterpret_cast<const char*>(msg.data()), static_cast<std::size_t>(len))
                                     : "unexpected pcre2 error code " + std::to_string(error);
    throw Error(t.path, line, {}, "error in regex at offset " + std::to_string(offset) + ": " + text);
  }
  std::uint32_t captures = 0;
  pcre2_pattern_info(out.code.get(), PCRE2_INFO_CAPTURECOUNT, &captures);
  t.max_pairs = std::max(t.max_pairs, captures + 1);
  return captures;
}

// glibc's regcomp() builds a tree in which a repetition copies what it repeats ("a+" is "aa*", "a{100}" is a
// hundred copies), so stacked or nested repetitions multiply: "l+++...+" (100 signs) or
// "((a{99}){99}){99}" want gigabytes (found by fuzz_access_table). Postfix would try all the same; spfgate
// refuses such a pattern at load instead of exhausting memory at start-up or on a reload.
constexpr std::uint64_t kMaxRegexCopies = 100'000;

// An upper bound on the number of nodes regcomp() builds for `re` (ERE, or BRE when !extended): every atom
// costs 1, a repetition doubles (*, +, ?) or multiplies by its largest count ({n,m}) what it applies to, a
// group costs the sum of its parts. Saturates above kMaxRegexCopies.
std::uint64_t regex_copies(std::string_view re, bool extended) {
  constexpr std::uint64_t cap = kMaxRegexCopies + 1;
  const auto sat_mul = [&](std::uint64_t a, std::uint64_t b) { return a > cap / std::max<std::uint64_t>(b, 1) ? cap : a * b; };
  const auto sat_add = [&](std::uint64_t a, std::uint64_t b) { return std::min(cap, a + b); };
  struct Frame {
    std::uint64_t total = 0;  // completed parts
    std::uint64_t last = 0;   // the last atom, which a repetition applies to
  };
  std::vector<Frame> stack(1);
  const auto atom = [&](std::uint64_t cost) {
    Frame& f = stack.back();
    f.total = sat_add(f.total, f.last);
    f.last = cost;
  };
  for (std::size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    bool op = extended;  // whether ( ) { } + ? | are operators here (ERE) or need a backslash (BRE)
    if (c == '\\' && i + 1 < re.size()) {
      c = re[++i];
      op = !extended;
      if (std::string_view("(){}+?|").find(c) == std::string_view::npos) {
        atom(1);
        continue;
      }
    }
    if (c == '[') {  // a bracket expression is one atom: skip to its end ("[]...]", "[^]...]", "[:alpha:]")
      std::size_t j = i + 1;
      if (j < re.size() && re[j] == '^') ++j;
      if (j < re.size() && re[j] == ']') ++j;
      while (j < re.size() && re[j] != ']') {
        if (re[j] == '[' && j + 1 < re.size() && std::string_view(":.=").find(re[j + 1]) != std::string_view::npos) {
          const auto close = re.find(std::string{re[j + 1], ']'}, j + 2);
          j = close == std::string_view::npos ? re.size() : close + 2;
        } else {
          ++j;
        }
      }
      i = j;
      atom(1);
      continue;
    }
    if (c == '*') {
      stack.back().last = sat_mul(stack.back().last, 2);
    } else if (op && (c == '+' || c == '?')) {
      stack.back().last = sat_mul(stack.back().last, 2);
    } else if (op && c == '{') {
      // {n}, {n,}, {n,m}: the largest count (at most 0x7fff in glibc; more is an error there).
      std::uint64_t n = 0, m = 0;
      std::size_t j = i + 1;
      while (j < re.size() && re[j] >= '0' && re[j] <= '9') n = std::min<std::uint64_t>(n * 10 + (re[j++] - '0'), cap);
      m = n;
      if (j < re.size() && re[j] == ',') {
        ++j;
        while (j < re.size() && re[j] >= '0' && re[j] <= '9') m = std::min<std::uint64_t>(m * 10 + (re[j++] - '0'), cap);
        m = std::max(m, n);
      }
      stack.back().last = sat_mul(stack.back().last, m + 1);
      while (j < re.size() && re[j] != '}') ++j;
      i = j;
    } else if (op && c == '(') {
      stack.emplace_back();
    } else if (op && c == ')' && stack.size() > 1) {
      const std::uint64_t group = sat_add(stack.back().total, stack.back().last);
      stack.pop_back();
      atom(sat_add(group, 1));
    } else if (op && c == '|') {
      Frame& f = stack.back();
      f.total = sat_add(f.total, f.last);
      f.last = 0;
    } else {
      atom(1);
    }
  }
  std::uint64_t total = 0;
  for (const Frame& f : stack) total = sat_add(total, sat_add(f.total, f.last));
  return total;
}

PosixRegex compile_posix(Impl& t, int line, const RawPattern& raw) {
  if (regex_copies(raw.regex, (raw.posix_flags & REG_EXTENDED) != 0) > kMaxRegexCopies)
    throw Error(t.path, line, {},
                "regex too large: its repetitions (stacked, or nested with large counts) would make regcomp() build "
                "more than " + std::to_string(kMaxRegexCopies) + " nodes; simplify it or use a pcre: table");
  PosixRegex re(new regex_t{});
  const int rc = regcomp(re.get(), raw.regex.c_str(), raw.posix_flags);
  if (rc != 0) {
    std::array<char, 256> msg{};
    regerror(rc, re.get(), msg.data(), msg.size());
    delete re.release();  // regcomp() failed: there is nothing for regfree()
    throw Error(t.path, line, {}, std::string("error in regex: ") + msg.data());
  }
  return re;
}

// Text after an IF pattern or an ENDIF: Postfix ignores it with a warning, which is harmless on the same
// line ("endif  # mail servers") but swallows a rule when it came from an indented line below.
void extra_text(Impl& t, const Entry& e, std::string_view what, std::string_view extra) {
  if (extra.empty()) return;
  if (e.continued)
    throw Error(t.path, e.line, {},
                "text after the " + std::string(what) + ": " + quoted(extra) +
                    " (a line that starts with whitespace continues the line before it; do not indent the rules "
                    "inside if..endif)");
  t.warnings.push_back(where(t.path, e.line) + "ignoring extra text after " + std::string(what) + ": " +
                       quoted(extra));
}

void load_regex(Impl& t, const std::vector<Entry>& lines) {
  const bool pcre = t.type == AccessTableType::Pcre;
  BlockTracker blocks;
  for (const Entry& e : lines) {
    const std::string_view text = trim_trailing_space(e.text);
    std::string_view p = text;
    Rule rule;
    rule.line = e.line;
    if (!is_alnum(p.front())) {
      const RawPattern first = take_pattern(t, e.line, p);
      std::optional<RawPattern> second;
      if (!pcre && !p.empty() && p.front() == '!') second = take_pattern(t, e.line, p);
      rule.key = std::string(text.substr(0, text.size() - p.size()));
      rule.positive = first.positive;
      const std::string_view value = skip_space(p);
      if (value.empty()) throw Error(t.path, e.line, {}, "no action after " + quoted(rule.key));
      std::string why;
      auto replacement = parse_replacement(value, why);
      if (!replacement) throw Error(t.path, e.line, {}, why);
      rule.result = std::move(*replacement);
      if (rule.result.max_sub > 0 && !rule.positive)
        throw Error(t.path, e.line, {}, "$number found in negative match replacement text");
      std::size_t groups = 0;
      if (pcre) {
        PcrePattern compiled;
        groups = compile_pcre(t, e.line, first, compiled);
        rule.pattern = std::move(compiled);
      } else {
        PosixPattern compiled;
        compiled.first = compile_posix(t, e.line, first);
        groups = compiled.first->re_nsub;
        if (second) {
          compiled.second = compile_posix(t, e.line, *second);
          compiled.second_match = second->positive;
        }
        rule.pattern = std::move(compiled);
      }
      if (rule.result.max_sub > groups)
        throw Error(t.path, e.line, {},
                    "out of range replacement index \"" + std::to_string(rule.result.max_sub) + "\" (the pattern has " +
                        std::to_string(groups) + (groups == 1 ? " group)" : " groups)"));
      if (rule.result.max_sub == 0) warn_about_action(t, e.line, rule.result.literal);
    } else if (starts_with_keyword(p, "if")) {
      rule.op = Op::If;
      p = skip_space(p.substr(2));
      const RawPattern pattern = take_pattern(t, e.line, p);
      rule.key = std::string(text.substr(0, text.size() - p.size()));
      rule.positive = pattern.positive;
      extra_text(t, e, "IF statement", skip_space(p));
      if (pcre) {
        PcrePattern compiled;
        compile_pcre(t, e.line, pattern, compiled);
        rule.pattern = std::move(compiled);
      } else {
        PosixPattern compiled;
        compiled.first = compile_posix(t, e.line, pattern);
        rule.pattern = std::move(compiled);
      }
    } else if (starts_with_keyword(p, "endif")) {
      rule.op = Op::Endif;
      rule.key = "endif";
      if (blocks.open.empty()) throw Error(t.path, e.line, {}, "ENDIF without matching IF");
      extra_text(t, e, "ENDIF", skip_space(p.substr(5)));
    } else {
      throw Error(t.path, e.line, {}, "unrecognized line (expected /pattern/flags action, if /pattern/, or endif)");
    }
    blocks.add(t, std::move(rule));
  }
  blocks.finish(t);
}

// ---------------------------------------------------------------------------------------------------------
// Lookups.

bool lookup_safe(std::string_view key) noexcept {
  // No Postfix HELO holds these; refusing them keeps $1 from carrying them into an action.
  return !key.empty() && key.find_first_of(std::string_view("\0\r\n", 3)) == std::string_view::npos;
}

AccessMatch make_match(const Impl& t, const std::string& key, int line, std::string_view query, std::string action) {
  return AccessMatch{std::move(action), key, std::string(query), t.spec, t.path, line};
}

struct Captures {
  // [start, end) per group; npos for a group that took no part.
  std::vector<std::pair<std::size_t, std::size_t>> spans;
};

std::string expand(const Replacement& r, std::string_view subject, const Captures& caps) {
  if (r.max_sub == 0) return r.literal;
  std::string out;
  for (const Piece& p : r.pieces) {
    if (!p.group) {
      out += p.text;
    } else if (p.n < caps.spans.size()) {
      const auto [start, end] = caps.spans[p.n];
      // An unset or empty group adds nothing (dict_pcre_expand(), dict_regexp_expand()).
      if (start != std::string_view::npos && end != std::string_view::npos && end > start && end <= subject.size())
        out.append(subject.substr(start, end - start));
    }
  }
  return out;
}

class RuleMatcher {
 public:
  RuleMatcher(const Impl& t, std::string_view subject) : t_(t), subject_(subject) {
    if (t.type == AccessTableType::Cidr) {
      address_ = parse_ip(subject);  // inet_pton(): "[1.2.3.4]" and names are no address
    } else if (t.type == AccessTableType::Pcre) {
      data_.reset(pcre2_match_data_create(t.max_pairs, nullptr));
      if (!data_) throw std::bad_alloc();
    } else {
      cstr_ = std::string(subject);
    }
  }

  // Whether the rule fires; fills caps for a firing Match rule that substitutes.
  bool fires(const Rule& rule, Captures* caps) {
    if (const auto* cidr = std::get_if<CidrPattern>(&rule.pattern)) {
      // cidr_match_execute(): an entry of the other address family never fires, negated or not.
      if (!address_ || address_->is_v4() != cidr->network.is_v4()) return false;
      return prefix_match(cidr->network, *address_, cidr->prefix) == rule.positive;
    }
    if (const auto* pcre = std::get_if<PcrePattern>(&rule.pattern)) {
      const int rc = pcre2_match(pcre->code.get(), reinterpret_cast<PCRE2_SPTR>(subject_.data()), subject_.size(), 0,
                                 0, data_.get(), t_.match_context.get());
      if (rc != PCRE2_ERROR_NOMATCH && rc <= 0) return false;  // a matching error: Postfix skips the rule
      const bool matched = rc > 0;
      if (matched != rule.positive) return false;
      if (caps && matched) {
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data_.get());
        const std::uint32_t pairs = pcre2_get_ovector_count(data_.get());
        caps->spans.assign(pairs, {std::string_view::npos, std::string_view::npos});
        for (std::uint32_t g = 0; g < pairs && g < static_cast<std::uint32_t>(rc); ++g)
          if (ov[2 * g] != kPcreUnset) caps->spans[g] = {ov[2 * g], ov[2 * g + 1]};
      }
      return true;
    }
    const auto& posix = std::get<PosixPattern>(rule.pattern);
    const std::size_t nsub = caps && rule.result.max_sub > 0 ? rule.result.max_sub + 1 : 0;
    std::vector<regmatch_t> m(nsub);
    const int rc = regexec(posix.first.get(), cstr_.c_str(), nsub, nsub ? m.data() : nullptr, 0);
    if (rc != 0 && rc != REG_NOMATCH) return false;
    if ((rc == 0) != rule.positive) return false;
    if (posix.second) {
      const int rc2 = regexec(posix.second.get(), cstr_.c_str(), 0, nullptr, 0);
      if (rc2 != 0 && rc2 != REG_NOMATCH) return false;
      if ((rc2 == 0) != posix.second_match) return false;
    }
    if (caps && nsub) {
      caps->spans.assign(nsub, {std::string_view::npos, std::string_view::npos});
      for (std::size_t g = 0; g < nsub; ++g)
        if (m[g].rm_so >= 0)
          caps->spans[g] = {static_cast<std::size_t>(m[g].rm_so), static_cast<std::size_t>(m[g].rm_eo)};
    }
    return true;
  }

  bool can_match() const noexcept { return t_.type != AccessTableType::Cidr || address_.has_value(); }

 private:
  const Impl& t_;
  std::string_view subject_;
  std::optional<IpAddress> address_;
  std::unique_ptr<pcre2_match_data, PcreDataFree> data_;
  std::string cstr_;
};

std::optional<AccessMatch> lookup_rules(const Impl& t, std::string_view subject) {
  RuleMatcher matcher(t, subject);
  if (!matcher.can_match()) return std::nullopt;
  for (std::size_t i = 0; i < t.rules.size(); ++i) {
    const Rule& rule = t.rules[i];
    switch (rule.op) {
      case Op::Endif:
        break;
      case Op::If:
        // A failed IF skips its block: continue after the matching ENDIF.
        if (!matcher.fires(rule, nullptr)) i = rule.block_end;
        break;
      case Op::Match: {
        Captures caps;
        if (matcher.fires(rule, &caps))
          return make_match(t, rule.key, rule.line, subject, expand(rule.result, subject, caps));
        break;
      }
    }
  }
  return std::nullopt;
}

std::optional<AccessMatch> lookup_indexed(const Impl& t, std::string_view folded_key) {
  const auto found = t.entries.find(std::string(folded_key));
  if (found == t.entries.end()) return std::nullopt;
  return make_match(t, found->second.key, found->second.line, folded_key, found->second.value);
}

// ---------------------------------------------------------------------------------------------------------
// Actions.

// Restrictions of Postfix 3.7 smtpd that take the next word as their argument (postconf(5)).
constexpr std::string_view kRestrictionsWithArgument[] = {
    "check_address_map", "check_ccert_access", "check_client_a_access", "check_client_access",
    "check_client_mx_access", "check_client_ns_access", "check_etrn_access", "check_helo_a_access",
    "check_helo_access", "check_helo_mx_access", "check_helo_ns_access", "check_policy_service",
    "check_recipient_a_access", "check_recipient_access", "check_recipient_mx_access",
    "check_recipient_ns_access", "check_reverse_client_hostname_a_access", "check_reverse_client_hostname_access",
    "check_reverse_client_hostname_mx_access", "check_reverse_client_hostname_ns_access", "check_sasl_access",
    "check_sender_a_access", "check_sender_access", "check_sender_mx_access", "check_sender_ns_access",
    "permit_dnswl_client", "permit_rhswl_client", "reject_rbl", "reject_rbl_client", "reject_rhsbl_client",
    "reject_rhsbl_helo", "reject_rhsbl_recipient", "reject_rhsbl_reverse_client", "reject_rhsbl_sender", "sleep"};

// Restrictions of Postfix 3.7 smtpd without an argument, the pre-2.3 names included.
constexpr std::string_view kRestrictions[] = {
    "check_recipient_maps", "check_relay_domains", "defer", "defer_if_permit", "defer_if_reject",
    "defer_unauth_destination", "permit", "permit_auth_destination", "permit_inet_interfaces", "permit_mx_backup",
    "permit_mynetworks", "permit_naked_ip_address", "permit_sasl_authenticated", "permit_tls_all_clientcerts",
    "permit_tls_clientcerts", "reject", "reject_authenticated_sender_login_mismatch", "reject_invalid_helo_hostname",
    "reject_invalid_hostname", "reject_known_sender_login_mismatch", "reject_maps_rbl",
    "reject_multi_recipient_bounce", "reject_non_fqdn_address", "reject_non_fqdn_helo_hostname",
    "reject_non_fqdn_hostname", "reject_non_fqdn_recipient", "reject_non_fqdn_sender", "reject_plaintext_session",
    "reject_sender_login_mismatch", "reject_unauth_destination", "reject_unauth_pipelining",
    "reject_unauthenticated_sender_login_mismatch", "reject_unknown_address", "reject_unknown_client",
    "reject_unknown_client_hostname", "reject_unknown_helo_hostname", "reject_unknown_hostname",
    "reject_unknown_recipient_domain", "reject_unknown_reverse_client_hostname", "reject_unknown_sender_domain",
    "reject_unlisted_recipient", "reject_unlisted_sender", "reject_unverified_address", "reject_unverified_recipient",
    "reject_unverified_sender", "warn_if_reject"};

template <std::size_t N>
bool in_list(std::string_view word, const std::string_view (&list)[N]) {
  return std::any_of(std::begin(list), std::end(list), [&](std::string_view r) { return iequals(word, r); });
}

std::vector<std::string_view> restriction_words(std::string_view s) {
  std::vector<std::string_view> words;
  constexpr std::string_view seps = ", \t\r\n";  // RESTRICTION_SEPARATORS
  std::size_t i = 0;
  while (i < s.size()) {
    i = s.find_first_not_of(seps, i);
    if (i == std::string_view::npos) break;
    const auto j = s.find_first_of(seps, i);
    words.push_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    i = j == std::string_view::npos ? s.size() : j;
  }
  return words;
}

// dsn_valid() from Postfix global/dsn_util.c: length of the RFC 3463 code that starts text, or 0.
std::size_t dsn_length(std::string_view text) noexcept {
  if (text.size() < 2 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') return 0;
  std::size_t i = 2;
  std::size_t n = 0;
  while (i + n < text.size() && is_digit(text[i + n])) ++n;
  if (n < 1 || n > 3 || i + n >= text.size() || text[i + n] != '.') return 0;
  i += n + 1;
  n = 0;
  while (i + n < text.size() && is_digit(text[i + n])) ++n;
  if (n < 1 || n > 3 || (i + n < text.size() && !is_space(text[i + n]))) return 0;
  return i + n;
}

// is_header() from Postfix global/is_header.c: a name of printable ASCII, optional blanks, then ':'.
bool is_header(std::string_view s) noexcept {
  bool in_name = false;
  bool after_name = false;
  for (char c : s) {
    if (c == ':') return in_name;
    if (c == ' ' || c == '\t') {
      if (!in_name) return false;
      after_name = true;
      continue;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || after_name) return false;
    in_name = true;
  }
  return false;
}

}  // namespace

std::string_view to_string(AccessTableType type) noexcept {
  switch (type) {
    case AccessTableType::Indexed: return "indexed";
    case AccessTableType::Cidr: return "cidr";
    case AccessTableType::Pcre: return "pcre";
    case AccessTableType::Regexp: return "regexp";
  }
  return "unknown";
}

AccessTable AccessTable::load(std::string_view spec, const AccessTableOptions& options) {
  const Spec parsed = parse_spec(spec);
  auto t = std::make_shared<Impl>();
  t->spec = std::string(trim(spec));
  t->path = parsed.path;
  t->type = parsed.type;
  t->options = options;
  const std::string data = read_source(t->path, options.max_file_bytes);
  const std::vector<Entry> lines = logical_lines(t->path, data);
  switch (t->type) {
    case AccessTableType::Indexed: load_indexed(*t, lines); break;
    case AccessTableType::Cidr: load_cidr(*t, lines); break;
    case AccessTableType::Pcre:
      t->match_context.reset(pcre2_match_context_create(nullptr));
      if (!t->match_context) throw std::bad_alloc();
      pcre2_set_match_limit(t->match_context.get(), options.pcre_match_limit);
      load_regex(*t, lines);
      break;
    case AccessTableType::Regexp: load_regex(*t, lines); break;
  }
  return AccessTable(std::move(t));
}

std::optional<AccessMatch> AccessTable::lookup(std::string_view key) const {
  if (!lookup_safe(key)) return std::nullopt;
  if (impl_->type == AccessTableType::Indexed) return lookup_indexed(*impl_, ascii_lower(key));
  return lookup_rules(*impl_, key);
}

std::optional<AccessMatch> AccessTable::lookup_helo(std::string_view helo) const {
  if (!lookup_safe(helo)) return std::nullopt;
  // Pattern tables lack DICT_FLAG_FIXED, so check_domain_access() gives them only the first, full lookup.
  if (impl_->type != AccessTableType::Indexed) return lookup_rules(*impl_, helo);
  // check_domain_access(): the name, then parents down to the TLD; never the empty key; no parents for
  // a numerical address.
  const std::string folded = ascii_lower(helo);
  const bool numerical = valid_hostaddr(helo);
  std::size_t pos = 0;
  while (pos < folded.size()) {
    if (auto m = lookup_indexed(*impl_, std::string_view(folded).substr(pos))) return m;
    if (numerical) break;
    auto next = folded.find('.', pos + 1);
    if (next == std::string::npos) break;
    if (impl_->options.parent_domain_matches_subdomains) ++next;
    pos = next;
  }
  return std::nullopt;
}

const std::string& AccessTable::spec() const noexcept { return impl_->spec; }
const std::string& AccessTable::path() const noexcept { return impl_->path; }
AccessTableType AccessTable::type() const noexcept { return impl_->type; }
const std::vector<std::string>& AccessTable::warnings() const noexcept { return impl_->warnings; }
std::size_t AccessTable::size() const noexcept {
  return impl_->type == AccessTableType::Indexed ? impl_->entries.size() : impl_->rules.size();
}

AccessTables AccessTables::load(const std::vector<std::string>& specs, const AccessTableOptions& options) {
  AccessTables out;
  for (const std::string& spec : specs) out.add(AccessTable::load(spec, options));
  return out;
}

std::optional<AccessMatch> AccessTables::lookup_helo(std::string_view helo) const {
  for (const AccessTable& table : tables_)
    if (auto m = table.lookup_helo(helo)) return m;
  return std::nullopt;
}

std::vector<AccessMatch> AccessTables::lookup_helo_all(std::string_view helo) const {
  std::vector<AccessMatch> out;
  for (const AccessTable& table : tables_)
    if (auto m = table.lookup_helo(helo)) out.push_back(std::move(*m));
  return out;
}

std::vector<std::string> AccessTables::warnings() const {
  std::vector<std::string> out;
  for (const AccessTable& table : tables_) out.insert(out.end(), table.warnings().begin(), table.warnings().end());
  return out;
}

std::string_view to_string(ActionKind kind) noexcept {
  switch (kind) {
    case ActionKind::Ok: return "OK";
    case ActionKind::Dunno: return "DUNNO";
    case ActionKind::Reject: return "REJECT";
    case ActionKind::Defer: return "DEFER";
    case ActionKind::DeferIfReject: return "DEFER_IF_REJECT";
    case ActionKind::DeferIfPermit: return "DEFER_IF_PERMIT";
    case ActionKind::SmtpReply: return "SMTP_REPLY";
    case ActionKind::Prepend: return "PREPEND";
    case ActionKind::Warn: return "WARN";
    case ActionKind::Info: return "INFO";
    case ActionKind::Hold: return "HOLD";
    case ActionKind::Discard: return "DISCARD";
    case ActionKind::Filter: return "FILTER";
    case ActionKind::Redirect: return "REDIRECT";
    case ActionKind::Bcc: return "BCC";
    case ActionKind::Hangup: return "HANGUP";
    case ActionKind::Restriction: return "RESTRICTION";
  }
  return "UNKNOWN";
}

AccessAction AccessAction::parse(std::string_view action) {
  AccessAction a;
  // check_table_result(): the command ends at the first space or tab; the text starts after whitespace.
  const auto cmd_len = std::min(action.find_first_of(" \t"), action.size());
  a.command = std::string(action.substr(0, cmd_len));
  const std::string_view rest = skip_space(action.substr(cmd_len));
  const auto is = [&](std::string_view keyword) { return iequals(a.command, keyword); };
  // DSN and free text, as dsn_split() takes them apart.
  const auto split_dsn = [&](std::string_view default_dsn) {
    const std::size_t len = dsn_length(rest);
    a.dsn = std::string(len ? rest.substr(0, len) : default_dsn);
    a.text = std::string(skip_space(rest.substr(len)));
  };
  struct Keyword {
    std::string_view name;
    ActionKind kind;
    std::string_view default_dsn;  // empty: no DSN
  };
  static constexpr std::array<Keyword, 14> keywords = {{
      {"DUNNO", ActionKind::Dunno, ""},
      {"REJECT", ActionKind::Reject, "5.7.1"},
      {"DEFER", ActionKind::Defer, "4.7.1"},
      {"HANGUP", ActionKind::Hangup, ""},
      {"INFO", ActionKind::Info, ""},
      {"WARN", ActionKind::Warn, ""},
      {"FILTER", ActionKind::Filter, ""},
      {"HOLD", ActionKind::Hold, ""},
      {"DISCARD", ActionKind::Discard, ""},
      {"REDIRECT", ActionKind::Redirect, ""},
      {"BCC", ActionKind::Bcc, ""},
      {"DEFER_IF_PERMIT", ActionKind::DeferIfPermit, "4.7.1"},
      {"DEFER_IF_REJECT", ActionKind::DeferIfReject, "4.7.1"},
      {"PREPEND", ActionKind::Prepend, ""},
  }};
  for (const Keyword& k : keywords) {
    if (!is(k.name)) continue;
    a.kind = k.kind;
    if (k.default_dsn.empty())
      a.text = std::string(rest);
    else
      split_dsn(k.default_dsn);
    return a;
  }
  // An all-numerical result is OK (pop-before-smtp time stamps); this comes before the 4NN/5NN test.
  if (all_digits(action)) {
    a.kind = ActionKind::Ok;
    return a;
  }
  if (cmd_len == 3 && !rest.empty() && (action[0] == '4' || action[0] == '5') && is_digit(action[1]) &&
      is_digit(action[2])) {
    a.kind = ActionKind::SmtpReply;
    a.code = (action[0] - '0') * 100 + (action[1] - '0') * 10 + (action[2] - '0');
    split_dsn(action[0] == '4' ? "4.7.1" : "5.7.1");
    return a;
  }
  if (is("OK") || is("RELAY")) {
    a.kind = ActionKind::Ok;
    a.text = std::string(rest);
    return a;
  }
  const auto words = restriction_words(action);
  // "In the dark ages, an empty right-hand side meant OK" (smtpd_check.c); and a list that starts with the
  // permit restriction permits.
  if (words.empty() || iequals(words.front(), "permit")) {
    a.kind = ActionKind::Ok;
    a.text = std::string(rest);
    return a;
  }
  a.kind = ActionKind::Restriction;
  a.text = std::string(action);
  return a;
}

std::string_view AccessAction::reply_text() const noexcept {
  if (!text.empty()) return text;
  switch (kind) {
    case ActionKind::Reject:
    case ActionKind::Defer:
    case ActionKind::SmtpReply: return "Access denied";
    case ActionKind::DeferIfReject:
    case ActionKind::DeferIfPermit: return "Service unavailable";
    default: return text;
  }
}

std::string AccessAction::problem() const {
  switch (kind) {
    case ActionKind::Filter:
      if (text.find(':') == std::string::npos)
        return "FILTER requires transport:destination; Postfix logs a warning and ignores it";
      return {};
    case ActionKind::Redirect:
    case ActionKind::Bcc:
      if (text.find('@') == std::string::npos)
        return std::string(to_string(kind)) + " requires user@domain; Postfix logs a warning and ignores it";
      return {};
    case ActionKind::Prepend:
      if (!is_header(text)) return "PREPEND requires header: text; Postfix logs a warning and ignores it";
      return {};
    case ActionKind::Restriction: break;
    default: return {};
  }
  if (text.find(':') != std::string::npos)
    return "Postfix refuses a lookup table in an access table result and answers 451 4.3.5 Server "
           "configuration error";
  const auto words = restriction_words(text);
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (in_list(words[i], kRestrictionsWithArgument)) {
      ++i;
      continue;
    }
    if (in_list(words[i], kRestrictions)) continue;
    return "Postfix treats " + quoted(words[i]) +
           " as an smtpd restriction name; unless it is a restriction class (smtpd_restriction_classes), "
           "Postfix logs \"unknown smtpd restriction\" and answers 451 4.3.5 Server configuration error";
  }
  return {};
}

}  // namespace spfgate::config
