// common/ip.hpp: IP addresses and CIDR networks, parsed strictly.
//
// parse_ip() accepts exactly what Postfix sends in client_address (dotted quad, or RFC 4291 text) and
// nothing else: no surrounding space, no zone id, no brackets. Cidr::parse() accepts "addr" or "addr/len"
// and refuses host bits set beyond the prefix, as pypolicyd-spf's lists do, but says why instead of
// silently dropping the list. contains() treats an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4
// address it carries, and also matches it against IPv6 networks such as ::ffff:127.0.0.0/104.
//
// Failure: the parse functions return std::nullopt (parse_cidr fills `why`); nothing throws.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spfgate {

using IpAddress = boost::asio::ip::address;

std::optional<IpAddress> parse_ip(std::string_view text);

// ::ffff:a.b.c.d becomes a.b.c.d; every other address is returned unchanged.
IpAddress unmap(const IpAddress& address);

// Text form of an address (IPv6 compressed per RFC 5952, as Boost prints it).
std::string to_string(const IpAddress& address);

// Appends the address's octets, unmapped (4 for IPv4, 16 for IPv6): a compact cache key.
void append_octets(std::string& key, const IpAddress& address);

struct Cidr {
  IpAddress network;
  unsigned prefix = 0;

  // "192.0.2.0/24", "2001:db8::/32", "192.0.2.1" (a /32). On failure returns nullopt and sets *why.
  static std::optional<Cidr> parse(std::string_view text, std::string* why = nullptr);

  bool contains(const IpAddress& address) const noexcept;
  std::string to_string() const;
};

// True if the first `bits` bits of a and b are equal (both of the same family).
bool prefix_match(const IpAddress& a, const IpAddress& b, unsigned bits) noexcept;

}  // namespace spfgate
