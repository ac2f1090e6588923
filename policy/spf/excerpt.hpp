// policy/spf/excerpt.hpp: quoting record and DNS text inside permerror/temperror messages.
//
//   problem = "Unknown mechanism found: " + excerpt(term);
//
// Records are published by whoever owns a domain and may hold any byte. Problem texts end up in headers,
// replies and logs, so the excerpt is printable ASCII only: bytes outside 0x20-0x7E are written as \xNN (as
// Python's repr() does, which pyspf shows), and the result is cut to a bound with "...".
// Failure: never throws (except std::bad_alloc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace spfgate::spf {

// The most of one record-derived value a problem text quotes (pyspf quotes whole terms; terms are short).
inline constexpr std::size_t kMaxExcerpt = 120;

std::string excerpt(std::string_view text, std::size_t max = kMaxExcerpt);

}  // namespace spfgate::spf
