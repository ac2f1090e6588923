#include "policy/spf/record.hpp"

#include "policy/spf/excerpt.hpp"
#include "policy/spf/macro.hpp"

#include <array>
#include <list>
#include <unordered_map>

namespace spfgate::spf {
namespace {

constexpr std::string_view kVersion = "v=spf1";
constexpr unsigned kMaxCidr4 = 32;   // RFC 7208 §5.6: ip4-cidr-length 0..32
constexpr unsigned kMaxCidr6 = 128;  // ip6-cidr-length 0..128

bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

struct Known {
  std::string_view name;
  MechanismType type;
};
constexpr std::array<Known, 8> kMechanisms{{{"all", MechanismType::All},
                                            {"include", MechanismType::Include},
                                            {"a", MechanismType::A},
                                            {"mx", MechanismType::Mx},
                                            {"ptr", MechanismType::Ptr},
                                            {"ip4", MechanismType::Ip4},
                                            {"ip6", MechanismType::Ip6},
                                            {"exists", MechanismType::Exists}}};

// ASCII case-insensitive equality; `word` is lower case. Inline here: it runs for every term.
bool is_word(std::string_view text, std::string_view word) noexcept {
  if (text.size() != word.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != word[i]) return false;
  }
  return true;
}

std::optional<MechanismType> mechanism_type(std::string_view name) noexcept {
  for (const Known& k : kMechanisms)
    if (is_word(name, k.name)) return k.type;
  return std::nullopt;
}

// Removes a trailing "/N" (N = "0" or a number without leading zero, as pyspf's RE_CIDR) and returns N, or
// -1 if there is none. N is read with saturation so "/99999999999" is "too large", not an overflow.
long strip_cidr(std::string_view& s) noexcept {
  std::size_t i = s.size();
  while (i > 0 && is_digit(s[i - 1])) --i;
  if (i == s.size() || i == 0 || s[i - 1] != '/') return -1;
  const std::string_view digits = s.substr(i);
  if (digits.size() > 1 && digits[0] == '0') return -1;
  long value = 0;
  for (char c : digits) value = value > 1000 ? value : value * 10 + (c - '0');
  s = s.substr(0, i - 1);
  return value;
}

// ip4-network = qnum "." qnum "." qnum "." qnum, qnum = 0..255 without leading zeros (§5.6).
std::optional<IpAddress> parse_ip4_network(std::string_view s) {
  boost::asio::ip::address_v4::bytes_type bytes{};
  std::size_t i = 0;
  for (std::size_t part = 0; part < bytes.size(); ++part) {
    if (part > 0) {
      if (i >= s.size() || s[i] != '.') return std::nullopt;
      ++i;
    }
    const std::size_t begin = i;
    unsigned value = 0;
    while (i < s.size() && is_digit(s[i]) && i - begin < 3) value = value * 10 + static_cast<unsigned>(s[i++] - '0');
    const std::size_t len = i - begin;
    if (len == 0 || value > 255 || (len > 1 && s[begin] == '0')) return std::nullopt;
    bytes[part] = static_cast<unsigned char>(value);
  }
  if (i != s.size()) return std::nullopt;
  return IpAddress(boost::asio::ip::address_v4(bytes));
}

class TermParser {
 public:
  TermParser(Record& record, std::string* error) : record_(record), error_(error) {}

  bool term(std::string_view t) {
    if (is_modifier(t)) return modifier(t);
    return mechanism(t);
  }

 private:
  bool fail(std::string message) {
    if (error_) *error_ = std::move(message);
    return false;
  }
  bool fail(std::string_view what, std::string_view term) { return fail(std::string(what) + ": " + excerpt(term)); }

  // modifier = name "=" ...; name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ). The "=" must come before any
  // ":" or "/", which the name characters already guarantee.
  static bool is_modifier(std::string_view t) noexcept {
    if (t.empty() || !is_alpha(t[0])) return false;
    std::size_t i = 1;
    while (i < t.size() && (is_alpha(t[i]) || is_digit(t[i]) || t[i] == '-' || t[i] == '_' || t[i] == '.')) ++i;
    return i < t.size() && t[i] == '=';
  }

  bool modifier(std::string_view t) {
    const auto eq = t.find('=');
    const std::string_view name = t.substr(0, eq);
    const std::string_view value = t.substr(eq + 1);
    const bool is_redirect = is_word(name, "redirect");
    if (is_redirect || is_word(name, "exp")) {
      auto& slot = is_redirect ? record_.redirect : record_.exp;
      // §6: "These two modifiers MUST NOT appear in a record more than once each."
      if (slot) return fail(std::string(is_redirect ? "redirect" : "exp") + "= MUST appear at most once", t);
      if (value.empty())
        return fail(is_redirect ? "redirect has empty domain" : "exp has empty domain-spec", t);
      if (auto why = check_domain_spec(value)) return fail(std::move(*why));
      slot = value;
      (is_redirect ? record_.redirect_term : record_.exp_term) = t;
      return true;
    }
    // §6: unknown modifiers are ignored, however often they appear, but must be well-formed (unknown-modifier
    // = name "=" macro-string).
    if (auto why = check_macro_string(value, MacroUse::DomainSpec)) return fail(std::move(*why));
    return true;
  }

  bool mechanism(std::string_view t) {
    Mechanism m;
    m.text = t;
    std::string_view body = t;
    bool explicit_qualifier = true;
    switch (body.empty() ? '\0' : body[0]) {
      case '+': m.qualifier = Qualifier::Pass; break;
      case '-': m.qualifier = Qualifier::Fail; break;
      case '~': m.qualifier = Qualifier::SoftFail; break;
      case '?': m.qualifier = Qualifier::Neutral; break;
      default: explicit_qualifier = false; break;
    }
    if (explicit_qualifier) body.remove_prefix(1);
    std::size_t name_end = 0;
    while (name_end < body.size() && body[name_end] != ':' && body[name_end] != '/') ++name_end;
    const std::string_view name = body.substr(0, name_end);
    const auto type = mechanism_type(name);
    if (!type) {
      // pyspf tells "=all" or "!a" apart from an unknown name.
      // (A term that starts with ':' or '/' has an empty name: nothing to strip.)
      if (!explicit_qualifier && !name.empty() && !is_alpha(name[0]) && mechanism_type(name.substr(1)))
        return fail("Unknown qualifier, RFC 4408 para 4.6.1, found in", t);
      return fail("Unknown mechanism found", t);
    }
    m.type = *type;
    std::string_view rest = body.substr(name.size());  // ":..." and/or "/..." or empty
    switch (m.type) {
      case MechanismType::All:
        if (rest.empty()) break;
        if (strip_cidr(rest) >= 0 && rest.empty()) return fail("CIDR not allowed", t);
        return fail("Invalid all mechanism format - only qualifier allowed with all", t);
      case MechanismType::Include:
      case MechanismType::Exists:
      case MechanismType::Ptr:
        if (!target_without_cidr(m, rest, t)) return false;
        break;
      case MechanismType::A:
      case MechanismType::Mx:
        if (!target_with_dual_cidr(m, rest, t)) return false;
        break;
      case MechanismType::Ip4:
      case MechanismType::Ip6:
        if (!network(m, rest, t)) return false;
        break;
    }
    if (m.type == MechanismType::All) record_.has_all = true;
    record_.mechanisms.push_back(m);
    return true;
  }

  // include = "include" ":" domain-spec; exists = "exists" ":" domain-spec; ptr = "ptr" [ ":" domain-spec ]
  bool target_without_cidr(Mechanism& m, std::string_view rest, std::string_view t) {
    std::string_view probe = rest;
    if (strip_cidr(probe) >= 0) return fail("CIDR not allowed", t);
    if (rest.empty()) {
      if (m.type == MechanismType::Include) return fail("include mechanism missing domain", t);
      if (m.type == MechanismType::Exists) return fail("implicit exists not allowed", t);
      return true;
    }
    if (rest[0] != ':') return fail("Unknown mechanism found", t);
    return domain_spec(m, rest.substr(1), t);
  }

  // a / mx = name [ ":" domain-spec ] [ dual-cidr-length ]; dual-cidr-length = [ "/" N4 ] [ "//" N6 ]
  bool target_with_dual_cidr(Mechanism& m, std::string_view rest, std::string_view t) {
    long cidr6 = -1;
    if (rest.size() >= 2) {
      std::string_view probe = rest;
      const long n = strip_cidr(probe);
      if (n >= 0 && !probe.empty() && probe.back() == '/') {
        cidr6 = n;
        rest = probe.substr(0, probe.size() - 1);
      }
    }
    const long cidr4 = strip_cidr(rest);
    if (cidr4 > static_cast<long>(kMaxCidr4)) return fail("Invalid IP4 CIDR length", t);
    if (cidr6 > static_cast<long>(kMaxCidr6)) return fail("Invalid IP6 CIDR length", t);
    if (cidr4 >= 0) m.cidr4 = static_cast<std::uint8_t>(cidr4);
    if (cidr6 >= 0) m.cidr6 = static_cast<std::uint8_t>(cidr6);
    if (rest.empty()) return true;
    if (rest[0] != ':') return fail("Unknown mechanism found", t);
    return domain_spec(m, rest.substr(1), t);
  }

  bool domain_spec(Mechanism& m, std::string_view spec, std::string_view t) {
    if (spec.empty()) return fail("empty domain", t);
    // A common publishing mistake gets pyspf's own diagnostic.
    if (m.type == MechanismType::A && parse_ip4_network(spec))
      return fail("Use the ip4 mechanism for ip4 addresses", t);
    if (auto why = check_domain_spec(spec)) return fail(std::move(*why));
    m.domain_spec = spec;
    return true;
  }

  // ip4 = "ip4" ":" ip4-network [ "/" N4 ]; ip6 = "ip6" ":" ip6-network [ "/" N6 ]
  bool network(Mechanism& m, std::string_view rest, std::string_view t) {
    const bool v4 = m.type == MechanismType::Ip4;
    std::string_view probe = rest;
    const long last = strip_cidr(probe);
    if (last >= 0 && !probe.empty() && probe.back() == '/') return fail("Dual CIDR not allowed", t);
    const std::string_view bad_address = v4 ? "Invalid IP4 address" : "Invalid IP6 address";
    if (rest.empty() || rest[0] != ':') return fail(bad_address, t);
    std::string_view addr = rest.substr(1);
    const long cidr = strip_cidr(addr);
    if (cidr > static_cast<long>(v4 ? kMaxCidr4 : kMaxCidr6))
      return fail(v4 ? "Invalid IP4 CIDR length" : "Invalid IP6 CIDR length", t);
    std::optional<IpAddress> ip;
    if (v4) ip = parse_ip4_network(addr);
    else if (addr.find(':') != std::string_view::npos) ip = parse_ip(addr);
    if (!ip || ip->is_v4() != v4) return fail(bad_address, t);
    m.network = *ip;
    if (cidr >= 0) (v4 ? m.cidr4 : m.cidr6) = static_cast<std::uint8_t>(cidr);
    return true;
  }

  Record& record_;
  std::string* error_;
};

}  // namespace

Result to_result(Qualifier qualifier) noexcept {
  switch (qualifier) {
    case Qualifier::Pass: return Result::Pass;
    case Qualifier::Fail: return Result::Fail;
    case Qualifier::SoftFail: return Result::SoftFail;
    case Qualifier::Neutral: return Result::Neutral;
  }
  return Result::Neutral;
}

std::string_view to_string(MechanismType type) noexcept {
  for (const Known& k : kMechanisms)
    if (k.type == type) return k.name;
  return "unknown";
}

bool is_spf_record(std::string_view text) noexcept {
  if (text.size() < kVersion.size() || !is_word(text.substr(0, kVersion.size()), kVersion)) return false;
  return text.size() == kVersion.size() || text[kVersion.size()] == ' ';
}

bool is_spf_record(const std::vector<std::string>& strings) noexcept {
  // Look at the first seven octets of the concatenation without building it.
  char head[kVersion.size() + 1];
  std::size_t n = 0;
  for (const std::string& s : strings) {
    for (char c : s) {
      head[n++] = c;
      if (n == sizeof head) return is_spf_record(std::string_view(head, n));
    }
  }
  return is_spf_record(std::string_view(head, n));
}

bool parse_record(std::string_view text, Record& record, std::string* error, std::string_view* bad_term) {
  record = Record{};
  if (bad_term) *bad_term = {};
  if (!is_spf_record(text)) {
    if (error) *error = "Not an SPF record: " + excerpt(text);
    return false;
  }
  // pyspf rejects any non-ASCII record up front with this text (the ABNF would reject it term by term).
  for (char c : text) {
    if (static_cast<unsigned char>(c) > 0x7F) {
      if (error) *error = "Non-ascii characters found: " + excerpt(text);
      return false;
    }
  }
  std::size_t terms = 0;
  for (char c : text) terms += c == ' ';
  record.mechanisms.reserve(terms);
  TermParser parser(record, error);
  // terms = *( 1*SP ( directive / modifier ) ); record = version terms *SP
  for (std::size_t i = kVersion.size(); i < text.size();) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    std::size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view term = text.substr(i, end - i);
    if (!parser.term(term)) {
      if (bad_term) *bad_term = term;
      return false;
    }
    i = end;
  }
  return true;
}

namespace {

// Most recently used first; the index's keys are views into the entries' own text.
class ParsedRecordCache {
 public:
  std::shared_ptr<const ParsedRecord> get(std::string_view text) {
    if (const auto it = index_.find(text); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return *it->second;
    }
    auto parsed = std::make_shared<ParsedRecord>();
    parsed->text.assign(text);
    std::string_view bad;
    parsed->ok = parse_record(parsed->text, parsed->record, &parsed->error, &bad);
    parsed->bad_term = bad;
    if (text.size() > kMaxCachedRecordBytes) return parsed;
    lru_.push_front(parsed);
    index_.emplace(std::string_view(parsed->text), lru_.begin());
    if (lru_.size() > kParsedRecordCacheEntries) {
      index_.erase(std::string_view(lru_.back()->text));
      lru_.pop_back();
    }
    return parsed;
  }

 private:
  using Lru = std::list<std::shared_ptr<const ParsedRecord>>;
  Lru lru_;
  std::unordered_map<std::string_view, Lru::iterator> index_;
};

}  // namespace

std::shared_ptr<const ParsedRecord> parse_record_cached(std::string_view text) {
  thread_local ParsedRecordCache cache;
  return cache.get(text);
}

}  // namespace spfgate::spf
