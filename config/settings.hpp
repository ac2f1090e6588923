// config/settings.hpp: every setting spfgate has, as plain typed values.
//
// A Settings object is built by config::load() (config/options.hpp) from the command line and the
// configuration file, validated as a whole, and then never changed: a reload builds a new one. Defaults
// here are the built-in defaults; for pypolicyd-spf's options they are pypolicyd-spf 3.0.4's own code
// defaults (reference §3.2), except where noted as a deliberate difference.
// This header knows nothing of listeners, sockets or checks.
#pragma once

#include "common/ip.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace spfgate::config {

using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;

// pypolicyd-spf's HELO_reject / Mail_From_reject values (reference §3.2, §4.3).
enum class RejectPolicy { SpfNotPass, Softfail, Fail, Null, False, NoCheck };
std::string_view to_string(RejectPolicy policy) noexcept;

// What a HELO or iprev check does when it finds a problem.
enum class CheckMode {
  Off,     // not checked (iprev: still looked up when a header or a whitelist needs it)
  Warn,    // log only; the answer is not changed
  Reject,  // answer with the check's reject reply
  Defer,   // answer with a temporary (4xx) reply
};
std::string_view to_string(CheckMode mode) noexcept;

enum class LogTarget { Stderr, Syslog, Journald };
std::string_view to_string(LogTarget target) noexcept;

struct HeaderType {
  bool spf = true;  // Received-SPF
  bool ar = false;  // Authentication-Results
  bool none() const noexcept { return !spf && !ar; }
  bool operator==(const HeaderType&) const = default;
};

// How a Received-SPF header is written: as pypolicyd-spf does (default, byte-compatible), or the full
// RFC 7208 §9.1 form (lower-case result, explanatory comment, mechanism=/problem=, quoted values).
enum class HeaderStyle { Pypolicyd, Rfc7208 };

struct Settings {
  // ----- where the settings came from (for log lines) -----
  std::vector<std::string> config_files;

  // ----- pypolicyd-spf options (reference §3.2) -----
  int debug_level = 1;                       // debugLevel
  bool test_only = false;                    // TestOnly = 0 turns test mode on (pypolicyd-spf's inverted int)
  RejectPolicy helo_reject = RejectPolicy::Fail;        // HELO_reject
  RejectPolicy mail_from_reject = RejectPolicy::Fail;   // Mail_From_reject
  bool permerror_reject = false;             // PermError_reject
  bool temperror_defer = false;              // TempError_Defer
  std::vector<Cidr> skip_addresses;          // skip_addresses (default set by defaults())
  std::vector<Cidr> whitelist;               // Whitelist
  std::vector<std::string> helo_whitelist;          // HELO_Whitelist
  std::vector<std::string> domain_whitelist;        // Domain_Whitelist
  std::vector<std::string> domain_whitelist_ptr;    // Domain_Whitelist_PTR
  std::vector<std::string> reject_not_pass_domains; // Reject_Not_Pass_Domains
  Seconds whitelist_lookup_time{10};         // Whitelist_Lookup_Time
  bool no_mail = false;                      // No_Mail
  std::string helo_pass_restriction;         // HELO_pass_restriction (empty = unset)
  std::string mail_from_pass_restriction;    // Mail_From_pass_restriction
  std::optional<IpAddress> prospective;      // Prospective
  bool enhanced_status_codes = true;         // SPF_Enhanced_Status_Codes
  HeaderType header_type;                    // Header_Type: SPF, AR, None, or both ("SPF,AR")
  bool hide_receiver = false;                // Hide_Receiver
  std::string authserv_id = "HOSTNAME";      // Authserv_Id ("HOSTNAME" = this host's name)
  Seconds lookup_time{20};                   // Lookup_Time: budget of one SPF evaluation
  unsigned void_limit = 2;                   // Void_Limit
  std::string reason_message;                // Reason_Message (empty = built-in, see policy)
  bool mock = false;                         // Mock (only an explicit true value turns it on)
  std::string per_user;                      // Per_User ("text,<path>")
  bool queue_id_prefix = true;               // QueueID: prefix decision lines with the queue id

  // ----- spfgate: SPF and headers -----
  HeaderStyle header_style = HeaderStyle::Pypolicyd;  // Header_Style
  std::string why_url;                       // Why_URL: base of {url} in Reason_Message; empty = no URL
  std::string receiver_name;                 // Receiver_Name: fixed receiver= value (empty = pypolicyd rule)

  // ----- spfgate: HELO and client checks -----
  std::vector<std::string> helo_access;      // helo-access: Postfix table specs, e.g. hash:/etc/postfix/helo_access
  bool helo_access_parent_matches_subdomains = true;  // Postfix's parent_domain_matches_subdomains default
  CheckMode helo_syntax = CheckMode::Off;    // helo-syntax: invalid HELO (501 5.5.2 ... Invalid name)
  CheckMode helo_fqdn = CheckMode::Off;      // helo-fqdn: not fully qualified (504 5.5.2 ...)
  CheckMode helo_dns = CheckMode::Off;       // helo-dns: no A/AAAA/MX (450 4.7.1 ... Host not found)
  CheckMode helo_literal = CheckMode::Off;   // helo-literal: [address] that is not the client's
  CheckMode helo_local = CheckMode::Off;     // helo-local: HELO claims one of helo-local-names
  std::vector<std::string> helo_local_names; // our own host names and addresses
  CheckMode iprev_fail = CheckMode::Off;       // iprev-fail: PTR names exist, none resolves back
  CheckMode iprev_permerror = CheckMode::Off;  // iprev-permerror: no PTR record
  CheckMode iprev_temperror = CheckMode::Off;  // iprev-temperror: SERVFAIL, timeout, DNSSEC bogus
  unsigned iprev_reject_code = 450;          // Postfix's unknown_client_reject_code
  bool iprev_header = false;                 // iprev-header: look iprev up for the header alone
  unsigned helo_reject_code = 450;           // Postfix's unknown_hostname_reject_code (helo-dns)

  // ----- spfgate: listeners and process -----
  std::vector<std::string> listen;           // --listen unix:PATH[,mode=..,owner=..,group=..] | tcp:HOST:PORT
  bool spawn = false;                        // --spawn: one connection on stdin/stdout
  std::string user, group;                   // drop privileges after binding
  unsigned max_connections = 1000;
  // Threads serving connections, each with its own event loop and result caches, all sharing one resolver
  // (one libunbound cache) and the per-message cache; 0: one per core. Spawn mode serves one connection
  // with one thread whatever this says.
  unsigned threads = 1;                      // threads
  // More worker threads than this buy nothing a policy server needs (each has its own caches).
  static constexpr unsigned kMaxThreads = 64;
  Millis idle_timeout{600'000};              // between requests (Postfix closes idle ones after 300 s)
  Millis request_read_timeout{10'000};       // from a request's first byte to its empty line
  Millis request_timeout{30'000};            // from a complete request to its answer (DNS included)
  Millis write_timeout{10'000};              // to hand one reply to the kernel
  Millis shutdown_timeout{10'000};           // SIGTERM: how long in-flight requests may still finish

  std::string metrics_listen;                // --metrics tcp:127.0.0.1:PORT (empty: no endpoint)
  Millis stats_interval{0};                  // a summary line in the log this often (0: never)

  // ----- spfgate: protocol limits -----
  std::size_t max_line_length = 16384;
  std::size_t max_attributes = 128;
  std::size_t max_request_bytes = 65536;
  std::string malformed_reply = "DUNNO";     // answer to a request that breaks the limits or the syntax

  // ----- spfgate: logging -----
  std::optional<LogTarget> log_target;       // default: stderr, but syslog in spawn mode
  std::string log_level;                     // empty: derived from debugLevel
  std::string syslog_ident = "spfgate";
  std::string syslog_facility = "mail";

  // ----- spfgate: DNS -----
  std::vector<std::string> dns_forwarders;   // empty: full recursion
  std::string resolver_config;               // unbound.conf-style file for ub_ctx_config
  std::string trust_anchor_file = "/usr/share/dns/root.key";  // empty: none (resolver-config has anchors)
  bool dnssec = true;
  Millis dns_query_timeout{10'000};
  // Queries with libunbound at once (policy/dns/unbound_resolver.hpp); more wait their turn, FIFO, their
  // deadlines running. Under libunbound's num-queries-per-thread (1024), which would drop queries instead.
  static constexpr std::size_t kMaxDnsOutstanding = 1000;
  std::size_t dns_max_outstanding = 256;     // dns-max-outstanding
  std::size_t dns_cache_bytes = 4u << 20;    // libunbound msg-cache-size; the RRset cache gets twice this
  // In-process answer cache in front of libunbound (policy/dns/caching_resolver.hpp): 0 entries turns it off.
  std::size_t dns_cache_entries = 20000;     // dns-cache-entries
  std::size_t dns_cache_memory = 8u << 20;   // dns-cache-memory: its bound in bytes
  // SPF and iprev results reused while their answers are valid (policy/spf/outcome_cache.hpp): entries
  // of each cache; 0 turns them off.
  std::size_t result_cache_entries = 5000;   // result-cache-entries
};

// The built-in defaults (the constructor leaves the list defaults empty; this fills them).
Settings defaults();

}  // namespace spfgate::config
