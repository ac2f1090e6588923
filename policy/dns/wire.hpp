// policy/dns/wire.hpp: DNS rdata in wire format to DnsAnswer fields, and query names for libunbound.
//
//   std::string why;
//   if (!wire::append_rdata(RrType::MX, rdata_bytes, answer, why)) { /* malformed: `why` says how */ }
//   std::optional<std::string> q = wire::query_name("Example.COM", why);   // "example.com."
//
// libunbound hands over each record of an answer as its rdata in uncompressed wire format
// (ub_result->data[i], len[i]). append_rdata() checks every length against the buffer and accepts A
// (4 bytes), AAAA (16), TXT (one or more length-prefixed character-strings, kept separately and byte for
// byte), MX (preference + name) and PTR/CNAME/NS (one name). Names come out lower case without the trailing
// dot ("" is the root, e.g. a null MX): labels of 1..63 bytes, at most 255 bytes in wire form, and label
// bytes printable ASCII other than '.' and '\' (a name with other bytes has no plain text form and is no
// host name; treating it as malformed follows Postfix's valid_hostname() on DNS replies). Compression
// pointers are refused: libunbound's rdata is uncompressed, so one means a broken answer.
// query_name() turns a name in text form (dots separate labels; every other byte is literal, no escapes)
// into what libunbound's parser reads as the same labels: bytes other than letters, digits, '-' and '_'
// become \DDD escapes.
//
// Failure: the functions return false / std::nullopt and set `why`; they never read outside the given
// bytes and never throw (except std::bad_alloc). A malformed answer is a temporary error for the caller.
// Limits: rdata of other types (SOA, ...) is not parsed: append_rdata() accepts and ignores it.
#pragma once

#include "policy/dns/resolver.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace spfgate::dns::wire {

using Bytes = std::span<const std::uint8_t>;

// RFC 1035 §2.3.4: a label is at most 63 octets, a name at most 255 octets in wire form.
inline constexpr std::size_t kMaxLabelLength = 63;
inline constexpr std::size_t kMaxNameWireLength = 255;

// Reads the name starting at `offset` and advances `offset` past it.
std::optional<std::string> read_name(Bytes data, std::size_t& offset, std::string& why);

bool parse_a(Bytes rdata, IpAddress& out, std::string& why);
bool parse_aaaa(Bytes rdata, IpAddress& out, std::string& why);
bool parse_txt(Bytes rdata, std::vector<std::string>& strings, std::string& why);
bool parse_mx(Bytes rdata, MxRecord& out, std::string& why);
// PTR, CNAME, NS: the rdata is exactly one name.
bool parse_name_rdata(Bytes rdata, std::string& name, std::string& why);

// Parses one rdata of `type` and appends it to the matching field of `answer`.
bool append_rdata(RrType type, Bytes rdata, DnsAnswer& answer, std::string& why);

// "example.com", "example.com." -> "example.com."; "" and "." -> "." (the root).
std::optional<std::string> query_name(std::string_view name, std::string& why);

}  // namespace spfgate::dns::wire
