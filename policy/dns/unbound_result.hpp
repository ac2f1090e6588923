// policy/dns/unbound_result.hpp: one libunbound result (err, ub_result) as a DnsAnswer. Internal to
// policy/dns (UnboundResolver and its tests); everything else sees DnsAnswer only.
//
//   DnsAnswer a = answer_from_unbound(err, result, RrType::TXT);   // result may be null when err != 0
//
// Mapping, first match wins:
//   err != 0              Error, why = ub_strerror(err)
//   bogus                 Bogus (dnssec Bogus), why = why_bogus, and NO data: libunbound hands back the
//                         unvalidated records with rcode NOERROR for a bogus answer; they are dropped here
//   rcode SERVFAIL        ServFail
//   rcode NXDOMAIN        NxDomain (also when only `nxdomain` is set)
//   other rcode != 0      Error, why = the rcode's name (REFUSED, FORMERR, ...)
//   !havedata             NoData
//   otherwise             Ok, every rdata parsed by wire::append_rdata(); one malformed record makes the
//                         whole answer Error "malformed answer: ..." (never partial data)
// dnssec is Secure when libunbound says `secure`, Bogus for bogus, else Insecure; ttl is the result's
// (negative answers: the SOA minimum), clamped to >= 0.
//
// Failure: never throws except std::bad_alloc; every input, however broken, maps to some answer.
#pragma once

#include "policy/dns/resolver.hpp"

#include <string_view>

struct ub_result;

namespace spfgate::dns {

DnsAnswer answer_from_unbound(int err, const ub_result* result, RrType type);

// "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", ..., "RCODE<n>" otherwise.
std::string rcode_name(int rcode);

}  // namespace spfgate::dns
