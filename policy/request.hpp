// policy/request.hpp: one Postfix policy request, as attributes and as the typed fields the checks use.
//
//   PolicyRequest r = PolicyRequest::from(attributes);   // attributes as the codec read them
//   if (r.client) ... r.helo ... r.sender ...
//
// Postfix's attributes (reference postfix-and-peers §1.2) are kept verbatim in `attributes` (when an
// attribute repeats, the last value wins, as in pypolicyd-spf). The typed fields are derived once:
// values are lower-cased like pypolicyd-spf does (all but protocol_state, protocol_name and queue_id),
// and client_address is parsed strictly. A missing or malformed attribute is never an error here: the
// field stays empty (or nullopt) and the checks decide what that means.
#pragma once

#include "common/ip.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spfgate::policy {

using Attribute = std::pair<std::string, std::string>;

struct PolicyRequest {
  std::vector<Attribute> attributes;

  // Typed views (lower-cased unless noted).
  std::string request;               // "smtpd_access_policy"
  std::string protocol_state;        // as sent: RCPT, MAIL, DATA, ... (not lower-cased)
  std::string queue_id;              // as sent
  std::string client_address;        // the text as sent (lower-cased)
  std::optional<IpAddress> client;   // parsed client_address; nullopt if missing or invalid
  std::string client_name;           // Postfix's verified name, or "unknown"
  std::string reverse_client_name;   // Postfix's unverified PTR name, or "unknown"
  bool has_helo = false;             // the helo_name attribute was present
  std::string helo;                  // HELO/EHLO argument
  std::string helo_as_sent;          // the same, not lower-cased: for reply texts ("<Mail.Example.ORG>: ...",
                                     // as Postfix shows it) and pattern tables (matched as Postfix does)
  bool has_sender = false;           // the sender attribute was present
  std::string sender;                // MAIL FROM without <>; empty for the null sender (and before MAIL)
  std::string recipient;
  std::string instance;              // correlates the requests of one message
  std::string sasl_username;

  static PolicyRequest from(std::vector<Attribute> attributes);

  // The attribute's value as sent (not lower-cased), or nullopt.
  std::optional<std::string_view> get(std::string_view name) const;

  // The sender's domain (after the last '@'), or the whole sender when it has no '@'.
  std::string_view sender_domain() const;
  // The recipient's domain, or the whole recipient when it has no '@'.
  std::string_view recipient_domain() const;
  // A PREPEND is only honoured by Postfix inside a mail transaction (MAIL, RCPT, DATA); outside it
  // (CONNECT, EHLO, VRFY, ETRN, END-OF-MESSAGE) Postfix ignores it with a warning.
  bool can_prepend() const;
};

}  // namespace spfgate::policy
