#include "policy/dns/wire.hpp"

#include <array>

namespace spfgate::dns::wire {

namespace {

// A length octet with the top two bits set is a compression pointer (RFC 1035 §4.1.4).
constexpr std::uint8_t kPointerBits = 0xC0;

bool valid_label_byte(std::uint8_t c) noexcept { return c > 0x20 && c < 0x7F && c != '.' && c != '\\'; }

char lower(std::uint8_t c) noexcept {
  return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

bool fail(std::string& why, std::string text) {
  why = std::move(text);
  return false;
}

}  // namespace

std::optional<std::string> read_name(Bytes data, std::size_t& offset, std::string& why) {
  std::string name;
  std::size_t pos = offset;
  std::size_t wire_length = 0;
  for (;;) {
    if (pos >= data.size()) {
      why = "name runs past the end of the record";
      return std::nullopt;
    }
    const std::uint8_t length = data[pos];
    if ((length & kPointerBits) == kPointerBits) {
      why = "compressed name in uncompressed record data";
      return std::nullopt;
    }
    if (length > kMaxLabelLength) {  // 64..191: type bits 01 or 10, RFC 6891 §5 deprecated those
      why = "label longer than 63 octets";
      return std::nullopt;
    }
    wire_length += 1u + length;
    if (wire_length > kMaxNameWireLength) {
      why = "name longer than 255 octets";
      return std::nullopt;
    }
    ++pos;
    if (length == 0) break;
    if (data.size() - pos < length) {
      why = "label runs past the end of the record";
      return std::nullopt;
    }
    if (!name.empty()) name += '.';
    for (std::size_t i = 0; i < length; ++i) {
      const std::uint8_t c = data[pos + i];
      if (!valid_label_byte(c)) {
        why = "name label holds a byte that is not printable ASCII (or is '.' or '\\')";
        return std::nullopt;
      }
      name += lower(c);
    }
    pos += length;
  }
  offset = pos;
  return name;
}

bool parse_a(Bytes rdata, IpAddress& out, std::string& why) {
  if (rdata.size() != 4) return fail(why, "A record of " + std::to_string(rdata.size()) + " octets, not 4");
  boost::asio::ip::address_v4::bytes_type b;
  std::copy(rdata.begin(), rdata.end(), b.begin());
  out = boost::asio::ip::address_v4(b);
  return true;
}

bool parse_aaaa(Bytes rdata, IpAddress& out, std::string& why) {
  if (rdata.size() != 16)
    return fail(why, "AAAA record of " + std::to_string(rdata.size()) + " octets, not 16");
  boost::asio::ip::address_v6::bytes_type b;
  std::copy(rdata.begin(), rdata.end(), b.begin());
  out = boost::asio::ip::address_v6(b);
  return true;
}

bool parse_txt(Bytes rdata, std::vector<std::string>& strings, std::string& why) {
  // RFC 1035 §3.3.14: TXT-DATA is one or more <character-string>s, each a length octet and that many octets.
  if (rdata.empty()) return fail(why, "TXT record without a character-string");
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < rdata.size()) {
    const std::size_t length = rdata[pos++];
    if (rdata.size() - pos < length) return fail(why, "TXT character-string runs past the end of the record");
    out.emplace_back(reinterpret_cast<const char*>(rdata.data() + pos), length);
    pos += length;
  }
  strings = std::move(out);
  return true;
}

bool parse_mx(Bytes rdata, MxRecord& out, std::string& why) {
  if (rdata.size() < 3) return fail(why, "MX record too short");
  std::size_t pos = 2;
  auto name = read_name(rdata, pos, why);
  if (!name) return fail(why, "MX exchange: " + why);
  if (pos != rdata.size()) return fail(why, "MX record has bytes after the exchange name");
  out.preference = static_cast<std::uint16_t>((rdata[0] << 8) | rdata[1]);
  out.exchange = std::move(*name);
  return true;
}

bool parse_name_rdata(Bytes rdata, std::string& name, std::string& why) {
  std::size_t pos = 0;
  auto parsed = read_name(rdata, pos, why);
  if (!parsed) return false;
  if (pos != rdata.size()) return fail(why, "record has bytes after the name");
  name = std::move(*parsed);
  return true;
}

bool append_rdata(RrType type, Bytes rdata, DnsAnswer& answer, std::string& why) {
  switch (type) {
    case RrType::A:
    case RrType::AAAA: {
      IpAddress address;
      if (!(type == RrType::A ? parse_a(rdata, address, why) : parse_aaaa(rdata, address, why))) return false;
      answer.addresses.push_back(address);
      return true;
    }
    case RrType::TXT: {
      std::vector<std::string> strings;
      if (!parse_txt(rdata, strings, why)) return false;
      answer.txt.push_back(std::move(strings));
      return true;
    }
    case RrType::MX: {
      MxRecord mx;
      if (!parse_mx(rdata, mx, why)) return false;
      answer.mx.push_back(std::move(mx));
      return true;
    }
    case RrType::PTR:
    case RrType::CNAME:
    case RrType::NS: {
      std::string name;
      if (!parse_name_rdata(rdata, name, why)) return false;
      answer.names.push_back(std::move(name));
      return true;
    }
    case RrType::SOA: return true;
  }
  return true;
}

std::optional<std::string> query_name(std::string_view name, std::string& why) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return std::string(".");
  std::string out;
  out.reserve(name.size() + 1);
  std::size_t wire_length = 1;  // the root label
  std::size_t label_start = 0;
  while (label_start <= name.size()) {
    std::size_t end = name.find('.', label_start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view label = name.substr(label_start, end - label_start);
    if (label.empty()) {
      why = "empty label in query name";
      return std::nullopt;
    }
    if (label.size() > kMaxLabelLength) {
      why = "label longer than 63 octets in query name";
      return std::nullopt;
    }
    wire_length += 1 + label.size();
    if (wire_length > kMaxNameWireLength) {
      why = "query name longer than 255 octets";
      return std::nullopt;
    }
    for (const char ch : label) {
      const auto c = static_cast<std::uint8_t>(ch);
      const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                         c == '_';
      if (plain) {
        out += lower(c);
      } else {
        const std::array<char, 4> escape{'\\', static_cast<char>('0' + c / 100), static_cast<char>('0' + c / 10 % 10),
                                         static_cast<char>('0' + c % 10)};
        out.append(escape.data(), escape.size());
      }
    }
    out += '.';
    label_start = end + 1;
  }
  return out;
}

}  // namespace spfgate::dns::wire
