// policy/lint/lint.hpp: what a domain publishes for mail authentication, audited as a receiver sees it.
//
//   lint::Report r = co_await lint::lint_domain(resolver, "example.org", {"selector1"}, deadline);
//   std::cout << lint::format_text(r);     // or format_json(r)
//
// The questions behind every "Gmail rejected our mail" thread, answered before other servers ask them:
//   SPF    exactly one v=spf1 record; its syntax; the DNS-querying terms of the whole include tree against
//          RFC 7208's limit of 10 (the tree is shown); void lookups; +all, ?all, no all; ptr; a string
//          boundary cutting a term; what an RFC 7208 receiver would conclude (permerror...);
//   DMARC  a _dmarc record, v=DMARC1 first, p / sp / pct / adkim / aspf / rua / ruf syntax;
//   DKIM   per selector: v=DKIM1, k, a decodable p and its key size, revoked keys, sha1-only h=;
//   MX     the MX hosts, null MX, and forward-confirmed reverse DNS of their addresses.
// Each finding has a severity, a code, a message and a one-line fix. DNS trouble during the audit is a
// finding too (the report says what could not be checked); lint_domain() does not throw for DNS faults.
// This unit knows DNS and SPF, not requests, sockets or configuration.
#pragma once

#include "policy/dns/resolver.hpp"

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <vector>

namespace spfgate::lint {

enum class Severity { Error, Warning, Info };
std::string_view to_string(Severity severity) noexcept;

struct Finding {
  Severity severity = Severity::Info;
  std::string area;     // "spf", "dmarc", "dkim", "mx", "dns"
  std::string code;     // stable identifier, e.g. "spf.too-many-lookups"
  std::string message;  // what is wrong (sanitised DNS text quoted where useful)
  std::string fix;      // one line: what to change
};

// One node of the SPF include/redirect tree.
struct SpfNode {
  std::string domain;
  std::string via;         // "include" / "redirect" / "" (the top)
  std::string record;      // the record text ("" if none)
  unsigned own_terms = 0;  // DNS-querying terms in this record (RFC 7208 §4.6.4)
  unsigned total_terms = 0;  // own + every child's total
  std::string problem;     // what is wrong at this node, if anything
  std::vector<SpfNode> children;
};

struct DkimKey {
  std::string selector;
  std::string record;
  std::string key_type;    // "rsa", "ed25519"
  unsigned key_bits = 0;   // 0 if unknown
  bool revoked = false;
};

struct MxHost {
  unsigned preference = 0;
  std::string host;
  std::vector<std::string> addresses;
  std::vector<std::string> iprev;  // per address: "pass (name)", "fail", "permerror", "temperror"
};

struct Report {
  std::string domain;
  std::optional<SpfNode> spf;
  unsigned spf_lookups = 0;   // total DNS-querying terms of the tree
  unsigned spf_voids = 0;     // void lookups found in the tree
  std::string receiver_view;  // check_host() result for an unlisted client, e.g. "permerror (Too many DNS lookups)"
  std::string dmarc;          // the _dmarc record, if one
  std::vector<DkimKey> dkim;
  std::vector<MxHost> mx;
  std::vector<Finding> findings;

  bool has_errors() const noexcept;
};

boost::asio::awaitable<Report> lint_domain(dns::Resolver& resolver, std::string domain,
                                           std::vector<std::string> dkim_selectors, dns::Deadline deadline);

// The pure parts, for tests: one record's text (or its TXT strings) to findings.
std::vector<Finding> check_dmarc_record(std::string_view record);
std::vector<Finding> check_dkim_record(std::string_view selector, std::string_view record, DkimKey& key);
// Bits of an RSA modulus in a DER SubjectPublicKeyInfo or RSAPublicKey; 0 if it is neither.
unsigned rsa_key_bits(const std::string& der);
// RFC 4648 base64 (whitespace ignored); nullopt if invalid.
std::optional<std::string> base64_decode(std::string_view text);

std::string format_text(const Report& report);
std::string format_json(const Report& report);

}  // namespace spfgate::lint
