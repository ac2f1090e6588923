// policy/spf/header.hpp: Received-SPF and Authentication-Results header fields for an SPF outcome.
//
//   spf::HeaderInputs in{.client = ip, .helo = "mail.example.org", .sender = "user@example.org",
//                        .receiver = "example.net"};
//   spf::HeaderField h = spf::received_spf_pypolicyd(outcome, spf::Identity::MailFrom, in);
//   reply = "PREPEND " + h.line();   // "Received-SPF: Pass (mailfrom) identity=mailfrom; ... "
//
//   spf::AuthenticationResults ar("mx.example.net");
//   ar.add_spf(outcome, spf::Identity::MailFrom, in);
//   ar.add_iprev("pass", ip);          // one AR header: "mx.example.net; spf=pass (...) ...; iprev=pass ..."
//
// Design. Pure functions of their arguments (no DNS, no clock, no config). Three layouts:
//  - pypolicyd-spf 3.0.4, byte for byte where the values are ordinary (the compatibility target; see
//    ../shared/reference/pypolicyd-spf.md §4.6): Received-SPF with the capitalised result, the literal
//    "(mailfrom)" comment for MAIL FROM or the reason for HELO, the fixed field order and ONE trailing space;
//    envelope-from=<> for the null sender; and the AR layout with no trailing space.
//  - RFC 7208 §9.1 Received-SPF: lower-case result, "(receiver: domain of X designates IP as permitted
//    sender)" comment, then key=value pairs.
//  - RFC 8601 Authentication-Results with any number of resinfo (spf in the pypolicyd layout, iprev, ...).
// Deliberate difference from pypolicyd-spf: it never quotes, so a sender like `a;identity=helo@x` injects a
// key. Here a value that is not a safe token becomes a quoted-string ("..." with \" and \\ escaped), and
// text inside a comment has "(", ")" and "\" escaped, so untrusted text cannot end a value or a comment.
// Every request- or DNS-derived value first goes through sanitize() (no CR, LF, NUL or other controls,
// valid UTF-8) and is bounded, so a field is one line that fits a policy reply ("PREPEND <field>" within the
// codec's 510 octets, so that it reaches Postfix whole, never cut in the middle of a quoted value).
//
// Failure: never throws (except std::bad_alloc). AuthenticationResults::add*() return false and leave the
// header unchanged when a resinfo would push it past kMaxHeaderLine.
// Limits: the per-value bounds below; values are cut with "..." beyond them. Ordinary values fit as they
// are; when hostile or unusually long values would make a field longer than its budget, the field is built
// again with smaller bounds (down to about a quarter), so it always fits.
#pragma once

#include "common/ip.hpp"
#include "common/text.hpp"
#include "policy/spf/evaluator.hpp"

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace spfgate::spf {

inline constexpr std::string_view kReceivedSpf = "Received-SPF";
inline constexpr std::string_view kAuthenticationResults = "Authentication-Results";

// RFC 5322 §2.1.1 allows 998 octets per line, but a header reaches Postfix inside a policy reply,
// "PREPEND " + the field, which is one reply line of at most kMaxReplyLine (510) octets: every header built
// here, name included, stays within this (tests and tests/fuzz check it with hostile input).
inline constexpr std::size_t kMaxHeaderLine = kMaxReplyLine - std::string_view("PREPEND ").size();
// The most an iprev resinfo takes: "iprev=temperror (<comment, kMaxCommentName>) policy.iprev=<quoted IPv6>".
inline constexpr std::size_t kMaxIprevResinfo = 144;
// The most an spf resinfo may take when the authserv-id is at its bound (kMaxHostValue), so that the spf and
// an iprev resinfo at their bounds still fit kMaxHeaderLine. A shorter authserv-id leaves more room
// (AuthenticationResults::spf_budget()), so that ordinary values stand uncut, as pypolicyd-spf writes them.
inline constexpr std::size_t kMaxSpfResinfo = 250;
// Bounds per value (octets, after escaping and quoting) when the field fits with them; otherwise smaller
// ones are used (see above).
inline constexpr std::size_t kMaxHostValue = 80;      // helo, receiver, authserv-id, domain names
inline constexpr std::size_t kMaxMailboxValue = 100;  // envelope-from
inline constexpr std::size_t kMaxTextValue = 160;     // reason, explanation, problem, mechanism
inline constexpr std::size_t kMaxCommentName = 64;    // names inside the RFC 7208 comment; add()'s comment

struct HeaderField {
  std::string_view name;  // kReceivedSpf or kAuthenticationResults
  std::string value;      // one line, no CR/LF
  std::string line() const { return std::string(name) + ": " + value; }
};

// The request values a header shows (the pipeline decides them: pypolicyd-spf lower-cases them, uses the
// effective HELO, and the recipient's domain as the receiver).
struct HeaderInputs {
  IpAddress client;             // printed as given: an IPv4-mapped client stays ::ffff:a.b.c.d (pypolicyd)
  std::string_view helo;        // the HELO identity
  std::string_view sender;      // MAIL FROM; empty means the null sender
  std::string_view receiver;    // empty: left out (RFC 7208 layout) or shown empty (pypolicyd layout)
};

// pypolicyd-spf's reason text for a result: "sender SPF authorized", the fail explanation, "domain owner
// discourages use of this host", "access neither permitted nor denied", "no SPF record",
// "SPF Permanent Error: <problem>", "SPF Temporary Error: <problem>".
std::string pypolicyd_reason(const Outcome& outcome);

// "<Result> (<comment>) identity=<id>; client-ip=<ip>; helo=<helo>; envelope-from=<from>; receiver=<r> "
// The comment is "mailfrom" for the MAIL FROM identity and `reason` for HELO, as pypolicyd-spf writes it.
HeaderField received_spf_pypolicyd(Result result, Identity identity, std::string_view reason,
                                   const HeaderInputs& in);
HeaderField received_spf_pypolicyd(const Outcome& outcome, Identity identity, const HeaderInputs& in);

// RFC 7208 §9.1: "<result> (<receiver>: <comment>) receiver=..; client-ip=..; envelope-from=".."; helo=..;
// identity=..; mechanism=.." (problem=.. instead of mechanism= for permerror/temperror). Values that are not
// a dot-atom are quoted-strings, as the RFC's key-value-pair grammar requires.
HeaderField received_spf_rfc7208(const Outcome& outcome, Identity identity, const HeaderInputs& in);

// One property of a resinfo: "<ptype>.<property>=<value>", e.g. {"smtp.mailfrom", "example.org"}.
struct AuthProperty {
  std::string_view name;
  std::string_view value;
};

// RFC 8601 Authentication-Results: "<authserv-id>; <resinfo>; <resinfo>" ("<authserv-id>; none" if empty).
class AuthenticationResults {
 public:
  explicit AuthenticationResults(std::string_view authserv_id);

  // pypolicyd-spf layout: "spf=<result> (<reason>) smtp.mailfrom=<sender domain> (client-ip=<ip>;
  // helo=<helo>; envelope-from=<from>; receiver=<r>)", smtp.helo=<helo> for the HELO identity.
  bool add_spf(Result result, Identity identity, std::string_view reason, const HeaderInputs& in);
  bool add_spf(const Outcome& outcome, Identity identity, const HeaderInputs& in);
  // RFC 8601 §2.7.3: "iprev=<result> [(<comment>)] policy.iprev=<client address>".
  bool add_iprev(std::string_view result, const IpAddress& client, std::string_view comment = {});
  // Any method: "<method>=<result> [(<comment>)] <name>=<value> ...". Values are quoted where RFC 8601
  // needs it; method, result and property names keep only [A-Za-z0-9._-].
  bool add(std::string_view method, std::string_view result, std::string_view comment,
           std::initializer_list<AuthProperty> properties);

  // A resinfo built by one of the resinfo_*() functions below (or by another check the same way).
  bool add_resinfo(std::string resinfo);

  bool empty() const noexcept { return resinfos_.empty(); }
  // The room for an spf resinfo in this header that still leaves room for an iprev one at its bound.
  std::size_t spf_budget() const noexcept;
  HeaderField field() const;

 private:
  bool append(std::string resinfo);

  std::string authserv_id_;
  std::vector<std::string> resinfos_;
  std::size_t size_ = 0;
};

// The resinfo strings the methods above append, for callers that gather them before building one header
// (the pipeline joins spf and iprev results of different checks into one Authentication-Results).
// `budget`: the most the resinfo may take (values are cut shorter until it fits); for the header it will
// join, AuthenticationResults(authserv_id).spf_budget().
std::string resinfo_spf_pypolicyd(Result result, Identity identity, std::string_view reason, const HeaderInputs& in,
                                  std::size_t budget = kMaxSpfResinfo);
std::string resinfo_iprev(std::string_view result, const IpAddress& client, std::string_view comment = {});
std::string resinfo(std::string_view method, std::string_view result, std::string_view comment,
                    std::initializer_list<AuthProperty> properties);

}  // namespace spfgate::spf
