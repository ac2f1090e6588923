// policy/spf/evaluator.hpp: RFC 7208 check_host() as a coroutine over the async Resolver.
//
//   spf::Request req{.client = ip, .sender = "alice@example.org", .helo = "mx.example.org",
//                    .identity = spf::Identity::MailFrom};
//   spf::Outcome out = co_await spf::check_host(resolver, req, limits, deadline);
//
// The evaluation follows RFC 7208 §4-§7: TXT lookup only (no type 99), exactly one "v=spf1" record, terms
// left to right, redirect= applied last, exp= fetched only for a fail. One budget object counts the
// DNS-querying terms (include, a, mx, ptr, exists, redirect, and the one PTR lookup of %{p}) across the
// whole evaluation, includes and redirect included (§4.6.4), and the void lookups; the MX and PTR name
// limits apply per mechanism. An IPv4-mapped IPv6 client is evaluated as the IPv4 address it carries.
// The address lookups of one mx or ptr mechanism run concurrently on the calling coroutine's executor (if
// the io_context runs on several threads, call check_host() on a strand); results do not depend on timing.
// Record parsing, macros and header fields: policy/spf/record.hpp, macro.hpp, header.hpp.
//
// Failure: never throws for DNS or record faults. Temporary DNS trouble (SERVFAIL, timeout, DNSSEC bogus,
// the time budget running out) gives TempError; record faults and exceeded limits give PermError; each
// with `problem` saying what went wrong (printable ASCII). `trace` records every term evaluated when tracing
// is on. The explanation is sanitised (no control bytes).
// Limits: the RFC's (Limits below); records of any length are parsed (no fixed buffers); one macro
// expansion may produce at most spf::kMaxExpansion (8 KB) octets, beyond which the term is permerror.
#pragma once

#include "policy/dns/resolver.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace spfgate::spf {

enum class Result { None, Neutral, Pass, Fail, SoftFail, TempError, PermError };
// RFC 7208 spelling, lower case: "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror".
std::string_view to_string(Result result) noexcept;
// pypolicyd-spf spelling (Python capitalize()): "None", "Neutral", "Pass", "Fail", "Softfail", "Temperror",
// "Permerror".
std::string_view to_capitalized(Result result) noexcept;

enum class Identity { Helo, MailFrom };
std::string_view to_string(Identity identity) noexcept;  // "helo" / "mailfrom"

// RFC 7208 §4.6.4 and §11.1: the processing limits, all configurable; defaults are the RFC's.
struct Limits {
  unsigned max_dns_terms = 10;       // include, a, mx, ptr, exists, redirect — across the whole evaluation
  unsigned max_void_lookups = 2;     // RCODE 3 or NOERROR without answers (pypolicyd-spf: Void_Limit)
  unsigned max_mx_names = 10;        // address lookups per "mx" mechanism; more is permerror
  unsigned max_ptr_names = 10;       // PTR names validated per "ptr" mechanism / %{p}; the rest ignored
  std::chrono::milliseconds time_budget{20000};  // whole check_host(); pypolicyd-spf: Lookup_Time
};

struct Request {
  IpAddress client;          // the SMTP client's address
  std::string sender;        // <sender>: "local@domain"; "postmaster@helo" for the HELO identity
  std::string helo;          // HELO/EHLO argument as given (for %{h})
  std::string receiver;      // for %{r} in exp=; empty means "unknown"
  Identity identity = Identity::MailFrom;
  // The <domain> argument; empty means "the domain part of sender".
  std::string domain;
};

// One step of an evaluation, for `spfgate check` and debug logs.
struct TraceStep {
  unsigned depth = 0;         // 0 = the top record, 1 = inside the first include/redirect, ...
  std::string domain;         // the domain whose record holds the term
  std::string term;           // the term as written (or "record", "redirect=...", "exp=...")
  std::string outcome;        // "match", "no match", "void", "temperror: ...", ...
};

struct Outcome {
  Result result = Result::None;
  std::string domain;         // the <domain> checked (lower case)
  std::string mechanism;      // the term that decided ("ip4:192.0.2.0/24", "-all"); "default" if none
  std::string explanation;    // fail: the exp= text (macro-expanded) or the default explanation
  std::string problem;        // permerror/temperror: what went wrong (pyspf-compatible wording)
  std::string record;         // the v=spf1 record of <domain> as published (first string for No_Mail)
  std::vector<std::string> record_strings;  // its character-strings as published
  unsigned dns_terms = 0;     // DNS-querying terms used, of max_dns_terms
  unsigned void_lookups = 0;  // of max_void_lookups
  unsigned dns_queries = 0;   // queries sent to the resolver
  // What the result depends on besides the client address, <domain> and DNS data, for a cache of results
  // (policy/spf/outcome_cache.hpp): a macro read the sender, HELO or receiver (reads_request); or the result
  // cannot be reused at all (reusable false): %{t} read the clock, or the time budget ran out.
  bool reads_request = false;
  bool reusable = true;
  bool from_cache = false;    // answered by an OutcomeCache, without DNS
  std::vector<TraceStep> trace;
};

struct Options {
  Limits limits;
  // The explanation for a fail without exp= (pyspf: "SPF fail - not authorized"). Never a URL by default.
  std::string default_explanation = "SPF fail - not authorized";
  bool trace = false;         // fill Outcome::trace
};

boost::asio::awaitable<Outcome> check_host(dns::Resolver& resolver, Request request, Options options,
                                           dns::Deadline deadline);

// The <domain> check_host() evaluates for `request` (Outcome::domain): Request::domain if set, else the
// domain part of the sender (of postmaster@helo for an empty sender), lower case, without a trailing dot.
std::string evaluated_domain(const Request& request);

}  // namespace spfgate::spf
