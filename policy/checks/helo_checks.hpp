// policy/checks/helo_checks.hpp: HELO checks in the order and with the texts Postfix admins know.
//
//   helo_access   Postfix check_helo_access tables, read from their source files (config/access_table);
//                 one check per table, in the admin's order, each acting as one Postfix restriction.
//                 OK/PERMIT, DISCARD, a restriction class, REJECT, DEFER and 4xx/5xx end the restriction
//                 list and decide before every later check (rejects and deferrals get Postfix's "<helo>:
//                 Helo command rejected: " context, with the HELO as sent). HOLD, FILTER, REDIRECT, BCC
//                 and DEFER_IF_PERMIT are answered unless a later check rejects (or defers); DEFER_IF_REJECT
//                 turns a later reject into its deferral; DUNNO, WARN/INFO (logged) and PREPEND (a
//                 header) let the next table and the other checks decide.
//   helo          local sanity checks, the first problem found decides (each off/warn/reject/defer):
//                 syntax  (reject_invalid_helo_hostname)   501 5.5.2 <helo>: Helo command rejected: Invalid name
//                 fqdn    (reject_non_fqdn_helo_hostname)  504 5.5.2 <helo>: Helo command rejected: need
//                                                          fully-qualified hostname
//                 literal an [address] that is not the client's address
//                 local   a HELO naming one of this server's own names or addresses
//   helo-dns      no A, AAAA or MX (reject_unknown_helo_hostname): 450 4.7.1 <helo>: Helo command rejected:
//                 Host not found; a temporary DNS failure answers DEFER_IF_PERMIT (Postfix's
//                 unknown_helo_hostname_tempfail_action).
// A client that sent no HELO is not checked (Postfix: smtpd_helo_required decides that).
#pragma once

#include "policy/check.hpp"
#include "policy/config_files.hpp"

#include <memory>
#include <vector>

namespace spfgate::policy {

// The helo-access tables come from `files` (read there once for every Engine of this configuration).
// Throws config::Error when a table cannot be loaded.
std::vector<std::unique_ptr<Check>> make_helo_checks(std::shared_ptr<const config::Settings> settings,
                                                     ConfigFiles& files);

// "[192.0.2.1]" or "[IPv6:2001:db8::1]" → the address; nullopt for anything else.
std::optional<IpAddress> address_literal(std::string_view helo);

// A reply text of an SMTP code with its enhanced status code forced to the same class (as Postfix does):
// reply(450, "5.7.25", "text") = "450 4.7.25 text".
std::string smtp_reply(unsigned code, std::string_view dsn, std::string_view text);

}  // namespace spfgate::policy
