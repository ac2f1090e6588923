// policy/spf/record.hpp: parsing one SPF record (RFC 7208 §4.5, §4.6, §5, §6, §12 ABNF).
//
//   spf::Record rec;
//   std::string why;
//   if (!spf::parse_record("v=spf1 ip4:192.0.2.0/24 mx -all", rec, &why)) ...;   // why: pyspf wording
//
// The whole record is checked before anything is evaluated (§4.6: syntax errors anywhere are permerror):
// every mechanism and qualifier, ip4/ip6 networks and CIDR lengths (incl. /0 and dual-cidr), domain-spec
// and macro syntax, redirect=/exp= at most once each, unknown modifiers (dotted names too) checked for macro
// syntax and otherwise ignored. Terms are separated by one or more spaces only; any other byte (TAB, CR,
// NUL, non-ASCII) inside a term is a syntax error. Records may be of any length.
// A Record holds views into the text it was parsed from: keep that text alive while using it.
//
// Failure: parse_record() returns false and sets *error to a pyspf-style permerror text ("Unknown mechanism
// found: foo:bar"). Nothing throws except std::bad_alloc.
// Limits: none; one pass over the text, one allocation for the mechanism list.
// parse_record_cached() keeps recent results per thread (see there).
#pragma once

#include "common/ip.hpp"
#include "policy/spf/evaluator.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spfgate::spf {

enum class Qualifier : std::uint8_t { Pass, Fail, SoftFail, Neutral };
Result to_result(Qualifier qualifier) noexcept;

enum class MechanismType : std::uint8_t { All, Include, A, Mx, Ptr, Ip4, Ip6, Exists };
std::string_view to_string(MechanismType type) noexcept;  // "all", "include", ...

struct Mechanism {
  Qualifier qualifier = Qualifier::Pass;
  MechanismType type = MechanismType::All;
  std::string_view text;         // the term as written, qualifier included
  std::string_view domain_spec;  // include, a, mx, ptr, exists: unexpanded; empty means <domain>
  IpAddress network;             // ip4, ip6
  std::uint8_t cidr4 = 32;       // a, mx, ip4
  std::uint8_t cidr6 = 128;      // a, mx, ip6

  // §4.6.4: the terms that cost a DNS lookup and count against the limit of 10.
  bool queries_dns() const noexcept {
    return type == MechanismType::Include || type == MechanismType::A || type == MechanismType::Mx ||
           type == MechanismType::Ptr || type == MechanismType::Exists;
  }
};

struct Record {
  std::vector<Mechanism> mechanisms;
  std::optional<std::string_view> redirect;  // domain-spec of redirect=
  std::optional<std::string_view> exp;       // domain-spec of exp=
  std::string_view redirect_term;            // "redirect=..." as written
  std::string_view exp_term;
  // §6.1: "any redirect modifier MUST be ignored if there is an all mechanism anywhere in the record".
  bool has_all = false;
};

// RFC 7208 §4.5: "v=spf1" (any case) followed by a space or the end of the record.
bool is_spf_record(std::string_view text) noexcept;
// The same test across character-strings, without joining them (§3.3: strings concatenate with no
// separator).
bool is_spf_record(const std::vector<std::string>& strings) noexcept;

// Parses a record that passed is_spf_record(). On failure returns false, sets *error and points *bad_term
// at the offending term (empty if the record as a whole is at fault).
bool parse_record(std::string_view text, Record& record, std::string* error = nullptr,
                  std::string_view* bad_term = nullptr);

// parse_record()'s outcome for a text, owning that text (the Record's views point into `text`).
struct ParsedRecord {
  std::string text;
  Record record;
  bool ok = false;
  std::string error;           // when !ok
  std::string_view bad_term;   // when !ok: the offending term within `text` (may be empty)
};

// parse_record() through a small per-thread cache: the same few thousand records are evaluated over and
// over (every message from a domain, every domain including a provider). The result is shared and
// immutable; hold it while using the Record. Bounded (kParsedRecordCacheEntries, records over
// kMaxCachedRecordBytes are parsed but not kept); the least recently used entry goes first.
inline constexpr std::size_t kParsedRecordCacheEntries = 2048;
inline constexpr std::size_t kMaxCachedRecordBytes = 4096;
std::shared_ptr<const ParsedRecord> parse_record_cached(std::string_view text);

}  // namespace spfgate::spf
