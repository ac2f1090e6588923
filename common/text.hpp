// common/text.hpp: making untrusted text safe to log or to send back to Postfix.
//
// Request attributes come from SMTP clients and DNS data from whoever owns a domain. Before any such text
// reaches a reply, a header or a log line it goes through sanitize(): control characters (CR, LF, NUL, the
// rest of C0, DEL) and bytes that are not valid UTF-8 become '?', and the result is cut to a byte bound
// without splitting a UTF-8 sequence. Postfix rejects a policy reply that is not valid UTF-8 and a reply or
// header cannot carry a line break, so this is the one place that guarantees both.
//
// Failure: never throws (except std::bad_alloc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace spfgate {

// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including CRLF.
inline constexpr std::size_t kMaxReplyLine = 510;
// What a log line shows of one peer-supplied value (Postfix cuts such text to %.100s).
inline constexpr std::size_t kMaxLoggedValue = 100;

// Replaces control characters and invalid UTF-8 with '?', then cuts to at most max_bytes bytes; when text
// was cut, the result ends with "..." (within max_bytes).
std::string sanitize(std::string_view text, std::size_t max_bytes = kMaxReplyLine);

// sanitize() bounded for a log line.
inline std::string loggable(std::string_view text) { return sanitize(text, kMaxLoggedValue); }

// True if text holds no control character and is valid UTF-8 (what sanitize() would leave unchanged).
bool is_clean(std::string_view text) noexcept;

// A header key=value value: returned as is when it is a safe token (printable, no space, none of ;"\()),
// otherwise as an RFC 5322 quoted-string with '"' and '\\' escaped. Sanitises first; empty stays empty.
std::string header_value(std::string_view value, std::size_t max_bytes = 256);

// Postfix's valid_hostname(): labels of letters, digits, '-' and '_', none empty, none over 63 octets,
// no label starting or ending with '-', at most 255 octets, and not all-numeric (not an IPv4 address).
bool valid_hostname(std::string_view name) noexcept;
// Decodes text as UTF-8 the way Python's bytes.decode("utf-8", errors="replace") does (pypolicyd-spf reads
// requests so): each maximal ill-formed subsequence becomes one U+FFFD; valid UTF-8 and controls are kept.
std::string utf8_replacing_invalid(std::string_view text);

// ASCII lower-casing (DNS names, keywords); other bytes are left alone.
std::string ascii_lower(std::string_view text);
void ascii_lower_in_place(std::string& text) noexcept;
bool iequals(std::string_view a, std::string_view b) noexcept;
std::string_view trim(std::string_view text) noexcept;

}  // namespace spfgate
