// fuzz_wire: DNS data as libunbound hands it over (policy/dns/unbound_result.hpp, policy/dns/wire.hpp) —
// the rdata of every record of an answer is untrusted bytes from the network.
//
// Input: a flags byte (secure, bogus, nxdomain, havedata, a libunbound error, no length array), an rcode
// byte, a type byte (A, AAAA, TXT, MX, PTR, CNAME, NS, SOA), then the records' rdata separated by "\n%%\n".
// The first section is also given to wire::query_name() as a name in text form.
// Invariants: every input maps to an answer without reading outside the given bytes; Bogus never carries
// data; an Ok answer holds only what its type allows, names are lower case, without a trailing dot, at most
// 253 octets of printable ASCII without '\', addresses have the asked family, TXT character-strings are at
// most 255 octets and together no longer than the rdata; a failure (other than Bogus, whose text is
// libunbound's) has a printable reason; query_name() gives a name ending in '.' made of printable ASCII.
#include "fuzz_common.hpp"

#include "policy/dns/unbound_result.hpp"
#include "policy/dns/wire.hpp"

#include <unbound.h>

#include <array>

namespace dns = spfgate::dns;

namespace {

constexpr std::array<dns::RrType, 8> kTypes = {dns::RrType::A,   dns::RrType::AAAA,  dns::RrType::TXT,
                                               dns::RrType::MX,  dns::RrType::PTR,   dns::RrType::CNAME,
                                               dns::RrType::NS,  dns::RrType::SOA};

void check_name(const std::string& name) {
  FUZZ_CHECK(name.size() <= 253, name);
  FUZZ_CHECK(name.empty() || name.back() != '.', name);
  for (char c : name) {
    FUZZ_CHECK(c > 0x20 && c < 0x7F && c != '\\', name);
    FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const std::uint8_t flags = in.byte();
  const int rcode = in.byte() % 24;
  const dns::RrType type = kTypes[in.byte() % kTypes.size()];

  // Each record in its own allocation, so ASan sees any read past its end.
  std::vector<std::string> records;
  std::size_t total = 0;
  while (!in.empty() && records.size() < 64) {
    records.emplace_back(in.section());
    total += records.back().size();
  }
  std::vector<char*> pointers;
  std::vector<int> lengths;
  for (auto& r : records) {
    pointers.push_back(r.data());
    lengths.push_back(static_cast<int>(r.size()));
  }
  pointers.push_back(nullptr);
  lengths.push_back(0);

  std::string why_bogus = "validation failure <x.example. TXT IN>: signature expired";
  std::string qname = "x.example.";
  ub_result result{};
  result.qname = qname.data();
  result.qtype = static_cast<int>(type);
  result.qclass = 1;
  result.data = pointers.data();
  result.len = (flags & 0x20) ? nullptr : lengths.data();
  result.rcode = rcode;
  result.havedata = (flags & 0x08) ? 1 : 0;
  result.nxdomain = (flags & 0x04) ? 1 : 0;
  result.secure = (flags & 0x01) ? 1 : 0;
  result.bogus = (flags & 0x02) ? 1 : 0;
  result.why_bogus = (flags & 0x80) ? nullptr : why_bogus.data();
  result.ttl = static_cast<int>(flags) * 37 - 2000;
  const int err = (flags & 0x40) ? -2 : 0;  // UB_NOMEM

  const dns::DnsAnswer a = dns::answer_from_unbound(err, &result, type);
  if (a.status == dns::DnsStatus::Bogus) {
    FUZZ_CHECK(a.addresses.empty() && a.txt.empty() && a.mx.empty() && a.names.empty(), a.why);
  } else if (a.status != dns::DnsStatus::Ok) {
    FUZZ_CHECK(fuzz::is_printable_ascii(a.why) && a.why.size() <= 300, a.why);
    FUZZ_CHECK(a.addresses.empty() && a.txt.empty() && a.mx.empty() && a.names.empty(), a.why);
  } else {
    std::size_t txt_bytes = 0;
    for (const auto& strings : a.txt) {
      FUZZ_CHECK(type == dns::RrType::TXT, a.why);
      for (const auto& s : strings) {
        FUZZ_CHECK(s.size() <= 255, s);
        txt_bytes += s.size() + 1;  // with its length octet
      }
    }
    FUZZ_CHECK(txt_bytes <= total, std::to_string(txt_bytes));
    for (const auto& ip : a.addresses) {
      FUZZ_CHECK(type == dns::RrType::A || type == dns::RrType::AAAA, ip.to_string());
      FUZZ_CHECK(ip.is_v4() == (type == dns::RrType::A), ip.to_string());
    }
    for (const auto& mx : a.mx) {
      FUZZ_CHECK(type == dns::RrType::MX, mx.exchange);
      check_name(mx.exchange);
    }
    for (const auto& name : a.names) {
      FUZZ_CHECK(type == dns::RrType::PTR || type == dns::RrType::CNAME || type == dns::RrType::NS, name);
      check_name(name);
    }
  }

  if (!records.empty()) {
    std::string why;
    const auto q = dns::wire::query_name(records.front(), why);
    if (q) {
      FUZZ_CHECK(!q->empty() && q->back() == '.', *q);
      FUZZ_CHECK(fuzz::is_printable_ascii(*q), *q);
    } else {
      FUZZ_CHECK(!why.empty() && fuzz::is_printable_ascii(why), why);
    }
  }
  return 0;
}
