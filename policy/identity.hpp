// policy/identity.hpp: the values that go into headers and reply texts for one request, computed once
// with pypolicyd-spf's rules (reference pypolicyd-spf.md §4.2 and §4.5).
//
//   HeaderFields f = header_fields(request, settings);
//   f.client_ip   "client_address" as received (or Prospective)
//   f.helo        HELO identity: helo_name, else the sender's domain, else "unknown"
//   f.raw_helo    helo_name as received, "<UNKNOWN>" without the attribute (bypass comments use it)
//   f.sender      the envelope sender; empty for the null sender
//   f.raw_sender  the sender as received, "<UNKNOWN>" without the attribute (bypass comments use it)
//   f.receiver    the recipient's domain, "<UNKNOWN>" (Hide_Receiver), "none" (no recipient), the full
//                 recipient (Per_User), or Receiver_Name when set
//
// The values are raw (lower-cased) request text; builders quote and sanitise them (common/text.hpp).
#pragma once

#include "config/settings.hpp"
#include "policy/request.hpp"

#include <string>
#include <vector>

namespace spfgate::policy {

struct HeaderFields {
  std::string client_ip;
  std::string helo;
  std::string raw_helo;
  std::string sender;
  std::string raw_sender;
  std::string receiver;
};

HeaderFields header_fields(const PolicyRequest& request, const config::Settings& settings);

// The X-Comment (or Authentication-Results "none") headers of a bypassed request, for the header types
// configured, e.g. "X-Comment: SPF check N/A for local connections - client-ip=127.0.0.1; helo=localhost;
// envelope-from=user@example.org; receiver=example.net " (pypolicyd-spf §4.6 (d), trailing space kept).
std::vector<std::string> bypass_headers(std::string_view comment, const HeaderFields& fields,
                                        const config::Settings& settings);

}  // namespace spfgate::policy
