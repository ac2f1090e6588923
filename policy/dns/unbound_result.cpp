#include "policy/dns/unbound_result.hpp"

#include "policy/dns/libunbound.hpp"
#include "policy/dns/wire.hpp"

#include <array>

namespace spfgate::dns {

namespace {

// RFC 1035 §4.1.1 and RFC 2136 §2.2 response codes.
constexpr int kRcodeServFail = 2;
constexpr int kRcodeNxDomain = 3;

// Upper bound on the records of one answer that are parsed; libunbound's own message limits keep real
// answers far below it, so reaching it means a broken result rather than a big RRset.
constexpr std::size_t kMaxRecords = 65535;

}  // namespace

std::string rcode_name(int rcode) {
  static constexpr std::array<std::string_view, 11> names{"NOERROR", "FORMERR",  "SERVFAIL", "NXDOMAIN",
                                                           "NOTIMP",  "REFUSED",  "YXDOMAIN", "YXRRSET",
                                                           "NXRRSET", "NOTAUTH", "NOTZONE"};
  if (rcode >= 0 && static_cast<std::size_t>(rcode) < names.size())
    return std::string(names[static_cast<std::size_t>(rcode)]);
  return "RCODE" + std::to_string(rcode);
}

DnsAnswer answer_from_unbound(int err, const ub_result* result, RrType type) {
  if (err != 0)
    return DnsAnswer::failure(DnsStatus::Error, std::string("libunbound: ") + libunbound().ub_strerror(err));
  if (result == nullptr) return DnsAnswer::failure(DnsStatus::Error, "libunbound: no result");

  if (result->bogus) {
    return DnsAnswer::failure(DnsStatus::Bogus,
                              result->why_bogus ? std::string(result->why_bogus) : "DNSSEC validation failed");
  }
  DnsAnswer answer;
  answer.dnssec = result->secure ? Dnssec::Secure : Dnssec::Insecure;
  answer.ttl = result->ttl > 0 ? static_cast<std::uint32_t>(result->ttl) : 0;
  if (result->rcode == kRcodeServFail) {
    answer.status = DnsStatus::ServFail;
    answer.why = "SERVFAIL";
    return answer;
  }
  if (result->nxdomain || result->rcode == kRcodeNxDomain) {
    answer.status = DnsStatus::NxDomain;
    return answer;
  }
  if (result->rcode != 0) {
    answer.status = DnsStatus::Error;
    answer.why = rcode_name(result->rcode);
    return answer;
  }
  if (!result->havedata || result->data == nullptr || result->data[0] == nullptr) {
    answer.status = DnsStatus::NoData;
    return answer;
  }
  if (result->len == nullptr) return DnsAnswer::failure(DnsStatus::Error, "malformed answer: no record lengths");
  for (std::size_t i = 0; result->data[i] != nullptr; ++i) {
    if (i >= kMaxRecords) return DnsAnswer::failure(DnsStatus::Error, "malformed answer: too many records");
    if (result->len[i] < 0) return DnsAnswer::failure(DnsStatus::Error, "malformed answer: negative length");
    const wire::Bytes rdata(reinterpret_cast<const std::uint8_t*>(result->data[i]),
                            static_cast<std::size_t>(result->len[i]));
    std::string why;
    if (!wire::append_rdata(type, rdata, answer, why)) {
      DnsAnswer malformed = DnsAnswer::failure(DnsStatus::Error, "malformed answer: " + why);
      malformed.dnssec = answer.dnssec;
      return malformed;
    }
  }
  answer.status = DnsStatus::Ok;
  return answer;
}

}  // namespace spfgate::dns
