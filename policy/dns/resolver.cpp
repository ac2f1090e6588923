#include "policy/dns/resolver.hpp"

#include "common/text.hpp"

namespace spfgate::dns {

std::string_view to_string(RrType type) noexcept {
  switch (type) {
    case RrType::A: return "A";
    case RrType::NS: return "NS";
    case RrType::CNAME: return "CNAME";
    case RrType::SOA: return "SOA";
    case RrType::PTR: return "PTR";
    case RrType::MX: return "MX";
    case RrType::TXT: return "TXT";
    case RrType::AAAA: return "AAAA";
  }
  return "TYPE?";
}

std::string_view to_string(DnsStatus status) noexcept {
  switch (status) {
    case DnsStatus::Ok: return "ok";
    case DnsStatus::NoData: return "nodata";
    case DnsStatus::NxDomain: return "nxdomain";
    case DnsStatus::ServFail: return "servfail";
    case DnsStatus::Timeout: return "timeout";
    case DnsStatus::Bogus: return "bogus";
    case DnsStatus::Error: return "error";
  }
  return "unknown";
}

std::string_view to_string(Dnssec state) noexcept {
  switch (state) {
    case Dnssec::Insecure: return "insecure";
    case Dnssec::Secure: return "secure";
    case Dnssec::Bogus: return "bogus";
  }
  return "unknown";
}

DnsAnswer DnsAnswer::failure(DnsStatus status, std::string why) {
  DnsAnswer a;
  a.status = status;
  a.why = std::move(why);
  if (status == DnsStatus::Bogus) a.dnssec = Dnssec::Bogus;
  return a;
}

std::string normalize_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return ascii_lower(name);
}

std::string reverse_name(const IpAddress& address) {
  const IpAddress a = unmap(address);
  std::string out;
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    for (int i = 3; i >= 0; --i) {
      out += std::to_string(b[static_cast<std::size_t>(i)]);
      out += '.';
    }
    out += "in-addr.arpa";
    return out;
  }
  static constexpr char hex[] = "0123456789abcdef";
  const auto b = a.to_v6().to_bytes();
  out.reserve(72);
  for (int i = 15; i >= 0; --i) {
    out += hex[b[static_cast<std::size_t>(i)] & 0xF];
    out += '.';
    out += hex[b[static_cast<std::size_t>(i)] >> 4];
    out += '.';
  }
  out += "ip6.arpa";
  return out;
}

}  // namespace spfgate::dns
