#include "common/ip.hpp"

#include <charconv>

namespace spfgate {
namespace {

bool plain_address_chars(std::string_view text) {
  if (text.empty() || text.size() > 45) return false;
  for (char c : text) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' ||
                    c == ':';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::optional<IpAddress> parse_ip(std::string_view text) {
  if (!plain_address_chars(text)) return std::nullopt;
  boost::system::error_code ec;
  const std::string s(text);
  if (s.find(':') == std::string::npos) {
    // Boost accepts only the dotted-quad form here, but double-check the shape: four parts, no leading
    // zeros that inet_pton would treat differently elsewhere.
    auto v4 = boost::asio::ip::make_address_v4(s, ec);
    if (ec) return std::nullopt;
    return IpAddress(v4);
  }
  auto v6 = boost::asio::ip::make_address_v6(s, ec);
  if (ec || v6.scope_id() != 0) return std::nullopt;
  return IpAddress(v6);
}

IpAddress unmap(const IpAddress& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped())
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  return address;
}

std::string to_string(const IpAddress& address) {
  if (!address.is_v4()) return address.to_string();
  // IPv4 by hand: Boost's goes through inet_ntop, which prints each octet with sprintf (2,000 of a warm
  // request's 63,000 instructions for the client-ip of its headers).
  const auto octets = address.to_v4().to_bytes();
  std::string out;
  out.reserve(15);
  for (std::size_t i = 0; i < octets.size(); ++i) {
    const unsigned v = octets[i];
    if (i > 0) out += '.';
    if (v >= 100) out += static_cast<char>('0' + v / 100);
    if (v >= 10) out += static_cast<char>('0' + v / 10 % 10);
    out += static_cast<char>('0' + v % 10);
  }
  return out;
}

void append_octets(std::string& key, const IpAddress& address) {
  const IpAddress ip = unmap(address);
  if (ip.is_v4()) {
    const auto b = ip.to_v4().to_bytes();
    key.append(reinterpret_cast<const char*>(b.data()), b.size());
  } else {
    const auto b = ip.to_v6().to_bytes();
    key.append(reinterpret_cast<const char*>(b.data()), b.size());
  }
}

bool prefix_match(const IpAddress& a, const IpAddress& b, unsigned bits) noexcept {
  if (a.is_v4() != b.is_v4()) return false;
  if (a.is_v4()) {
    if (bits == 0) return true;
    if (bits > 32) bits = 32;
    const std::uint32_t mask = bits == 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> bits);
    return (a.to_v4().to_uint() & mask) == (b.to_v4().to_uint() & mask);
  }
  if (bits > 128) bits = 128;
  const auto x = a.to_v6().to_bytes();
  const auto y = b.to_v6().to_bytes();
  unsigned i = 0;
  for (; bits >= 8; bits -= 8, ++i)
    if (x[i] != y[i]) return false;
  if (bits == 0) return true;
  const unsigned char mask = static_cast<unsigned char>(0xFF << (8 - bits));
  return (x[i] & mask) == (y[i] & mask);
}

std::optional<Cidr> Cidr::parse(std::string_view text, std::string* why) {
  const auto fail = [&](std::string reason) -> std::optional<Cidr> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  const auto slash = text.find('/');
  const std::string_view addr_text = text.substr(0, slash);
  auto addr = parse_ip(addr_text);
  if (!addr) return fail("'" + std::string(addr_text) + "' is not an IP address");
  const unsigned max_prefix = addr->is_v4() ? 32 : 128;
  unsigned prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view len_text = text.substr(slash + 1);
    if (len_text.empty() || len_text.size() > 3 || (len_text.size() > 1 && len_text[0] == '0'))
      return fail("bad prefix length '" + std::string(len_text) + "'");
    auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), prefix);
    if (ec != std::errc() || ptr != len_text.data() + len_text.size() || prefix > max_prefix)
      return fail("bad prefix length '" + std::string(len_text) + "'");
  }
  // Host bits set beyond the prefix is almost always a typo (192.0.2.1/24 for 192.0.2.0/24).
  Cidr c{*addr, prefix};
  if (addr->is_v4()) {
    const std::uint32_t mask = prefix == 0 ? 0 : (prefix == 32 ? 0xFFFFFFFFu : ~(0xFFFFFFFFu >> prefix));
    if ((addr->to_v4().to_uint() & ~mask) != 0)
      return fail(std::string(text) + " has host bits set");
  } else {
    auto bytes = addr->to_v6().to_bytes();
    for (unsigned bit = prefix; bit < 128; ++bit)
      if (bytes[bit / 8] & (0x80 >> (bit % 8))) return fail(std::string(text) + " has host bits set");
  }
  return c;
}

bool Cidr::contains(const IpAddress& address) const noexcept {
  if (prefix_match(network, address, prefix) && network.is_v4() == address.is_v4()) return true;
  const IpAddress plain = unmap(address);
  return plain != address && network.is_v4() == plain.is_v4() && prefix_match(network, plain, prefix);
}

std::string Cidr::to_string() const { return spfgate::to_string(network) + "/" + std::to_string(prefix); }

}  // namespace spfgate
