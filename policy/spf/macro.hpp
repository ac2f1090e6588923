// policy/spf/macro.hpp: RFC 7208 §7 macro strings: syntax checks and expansion.
//
//   if (auto err = spf::check_domain_spec("%{ir}.%{v}._spf.%{d2}")) ...;          // permerror text
//   spf::MacroValues v{.sender = "strong-bad@email.example.com", ...};
//   std::string name;
//   if (!spf::expand_domain_spec("%{ir}.%{v}._spf.%{d2}", v, name, &why)) ...;
//
// Two uses: a domain-spec (mechanism targets, redirect=, exp=) where the letters c, r and t are errors and
// the result names a DNS owner (one trailing dot dropped, shortened from the left to 253 octets, §7.3), and
// the explanation text fetched for exp= (§6.2), where c, r, t and spaces are allowed and nothing is cut.
// Upper-case letters expand like lower-case ones and are then URL-escaped (§7.3). %{i} of an IPv6 client is
// the 32 nibbles, dot-separated, upper case (what the RFC 7208 test suite expects; DNS ignores case).
// %{p} needs DNS: the caller resolves it beforehand (uses_ptr_macro() says when) and passes the validated
// name in MacroValues::ptr_name.
//
// Failure: the check functions return the pyspf-style permerror text; the expand functions return false
// and set *error (syntax error, or output over kMaxExpansion). Nothing throws except std::bad_alloc.
// Limits: one pass over the input, each macro costs O(its output), output capped at kMaxExpansion octets,
// so a hostile record (CVE-2023-42118-style runs of macros or transformers) costs linear time and bounded
// memory. Transformer digits saturate instead of overflowing.
#pragma once

#include "common/ip.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spfgate::spf {

// RFC 7208 §7.3: an expanded domain name longer than this is shortened from the left, label by label.
inline constexpr std::size_t kMaxDomainLength = 253;
// RFC 1035 §2.3.4: a label is at most 63 octets.
inline constexpr std::size_t kMaxLabelLength = 63;
// Not in the RFC: the most one expansion may produce. A real domain-spec expands to a few hundred octets
// and an explanation to a line; this bound keeps a hostile record from making us build megabytes.
inline constexpr std::size_t kMaxExpansion = 8192;

enum class MacroUse {
  DomainSpec,   // mechanism target, redirect=, exp=, unknown modifier value: c, r, t are errors
  Explanation,  // the TXT text of exp=: c, r, t and SP allowed
};

// The values macros expand to. Views must outlive the call.
struct MacroValues {
  std::string_view sender;         // s: <sender>
  std::string_view local_part;     // l
  std::string_view sender_domain;  // o
  std::string_view domain;         // d: the current <domain>
  std::string_view helo;           // h
  std::string_view ptr_name;       // p: validated name of the client, empty means "unknown"
  std::string_view receiver;       // r: empty means "unknown"
  IpAddress client;                // i, c, v (an IPv4-mapped address must already be unmapped)
  std::int64_t timestamp = 0;      // t: seconds since the epoch
};

// Syntax of a macro-string (§7.1). Returns the permerror text, or nullopt if well-formed.
std::optional<std::string> check_macro_string(std::string_view text, MacroUse use);

// Syntax of a domain-spec: macro-string domain-end, where domain-end is "." toplabel ["."] or a
// macro-expand (§7.1). Empty is an error. Returns the permerror text, or nullopt.
std::optional<std::string> check_domain_spec(std::string_view text);

// True if the text contains a %{p} (or %{P}) macro, so the caller has to resolve the validated name first.
bool uses_ptr_macro(std::string_view text) noexcept;

// Expands `text` into `out` (replacing its contents).
bool expand_macros(std::string_view text, MacroUse use, const MacroValues& values, std::string& out,
                   std::string* error = nullptr);

// Expands a domain-spec and turns it into a DNS owner name: one trailing dot removed, then, if longer than
// kMaxDomainLength, leading labels removed until it fits (§7.3).
bool expand_domain_spec(std::string_view text, const MacroValues& values, std::string& out,
                        std::string* error = nullptr);

// True if `name` can be sent as a DNS query: not empty, at most 253 octets, every label 1..63 octets
// (one trailing dot allowed). Names that fail this are treated as non-existent without a query (§4.3).
bool is_valid_dns_name(std::string_view name) noexcept;

// The %{i} text of an address: dotted quad, or 32 dot-separated upper-case nibbles for IPv6.
std::string ip_macro_text(const IpAddress& address);

}  // namespace spfgate::spf
