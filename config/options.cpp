#include "config/options.hpp"

#include "common/text.hpp"
#include "config/error.hpp"
#include "config/lines.hpp"

#include <boost/program_options.hpp>

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits.h>
#include <map>
#include <sstream>

namespace po = boost::program_options;

namespace spfgate::config {

std::string_view to_string(RejectPolicy policy) noexcept {
  switch (policy) {
    case RejectPolicy::SpfNotPass: return "SPF_Not_Pass";
    case RejectPolicy::Softfail: return "Softfail";
    case RejectPolicy::Fail: return "Fail";
    case RejectPolicy::Null: return "Null";
    case RejectPolicy::False: return "False";
    case RejectPolicy::NoCheck: return "No_Check";
  }
  return "?";
}

std::string_view to_string(CheckMode mode) noexcept {
  switch (mode) {
    case CheckMode::Off: return "off";
    case CheckMode::Warn: return "warn";
    case CheckMode::Reject: return "reject";
    case CheckMode::Defer: return "defer";
  }
  return "?";
}

std::string_view to_string(LogTarget target) noexcept {
  switch (target) {
    case LogTarget::Stderr: return "stderr";
    case LogTarget::Syslog: return "syslog";
    case LogTarget::Journald: return "journald";
  }
  return "?";
}

Settings defaults() {
  Settings s;
  for (const char* net : {"127.0.0.0/8", "::ffff:127.0.0.0/104", "::1"}) s.skip_addresses.push_back(*Cidr::parse(net));
  return s;
}

// ---------------------------------------------------------------------------------------------------------
// Value types with their validators (found by Program_options through argument-dependent lookup).
namespace values {

struct BadValue : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Flag {
  bool value = false;
};
struct Duration {
  std::chrono::milliseconds value{0};
};
struct WholeSeconds {
  std::chrono::seconds value{0};
};
struct Count {
  std::size_t value = 0;
};
struct CidrList {
  std::vector<Cidr> value;
};
struct NameList {
  std::vector<std::string> value;
};
struct Policy {
  RejectPolicy value = RejectPolicy::Fail;
};
struct Headers {
  HeaderType value;
};
struct Facility {
  std::string value;
};
struct Address {
  IpAddress value;
};
struct Mode {
  CheckMode value = CheckMode::Off;
};
struct StringList {
  std::vector<std::string> value;
};

// The longest duration any option takes: 10^9 seconds (about 31 years), so that now() + a duration (+ the
// grace periods) always fits steady_clock's 64-bit nanosecond count.
constexpr std::uint64_t kMaxDurationMs = 1'000'000'000'000;

const std::string& single(const std::vector<std::string>& values) {
  if (values.size() != 1) throw BadValue("expects exactly one value");
  return values.front();
}

bool parse_flag(std::string_view text, bool& out) {
  const std::string v = ascii_lower(trim(text));
  if (v == "true" || v == "yes" || v == "on" || v == "1") return out = true, true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return out = false, true;
  return false;
}

void validate(boost::any& v, const std::vector<std::string>& values, Flag*, int) {
  const std::string& s = single(values);
  Flag f;
  if (!parse_flag(s, f.value)) throw BadValue("'" + s + "' is not a boolean (use True or False)");
  v = f;
}

void validate(boost::any& v, const std::vector<std::string>& values, Duration*, int) {
  const std::string s(trim(single(values)));
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || ptr == s.data()) throw BadValue("'" + s + "' is not a duration (e.g. 30s, 500ms, 2m)");
  const std::string_view unit(ptr, static_cast<std::size_t>(s.data() + s.size() - ptr));
  std::uint64_t per_unit = 0;
  if (unit.empty() || unit == "s") per_unit = 1000;
  else if (unit == "ms") per_unit = 1;
  else if (unit == "m") per_unit = 60'000;
  else if (unit == "h") per_unit = 3'600'000;
  else throw BadValue("'" + s + "' has an unknown unit (use ms, s, m or h)");
  // Bounded in milliseconds, not in the unit written: "1000000000h" would overflow the clock when added to
  // now() (found by fuzz_config).
  if (n > kMaxDurationMs / per_unit) throw BadValue("'" + s + "' is too large");
  v = Duration{std::chrono::milliseconds(n * per_unit)};
}

void validate(boost::any& v, const std::vector<std::string>& values, WholeSeconds*, int) {
  const std::string s(trim(single(values)));
  unsigned n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty())
    throw BadValue("'" + s + "' is not a whole number of seconds");
  if (n > kMaxDurationMs / 1000) throw BadValue("'" + s + "' is too large");
  v = WholeSeconds{std::chrono::seconds(n)};
}

void validate(boost::any& v, const std::vector<std::string>& values, Count*, int) {
  const std::string s(trim(single(values)));
  std::size_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty())
    throw BadValue("'" + s + "' is not a non-negative whole number");
  v = Count{n};
}

// "8m", "512k", "1g", "65536": a number of bytes.
std::optional<std::size_t> parse_byte_size(std::string_view text) {
  const std::string size = ascii_lower(trim(text));
  std::size_t n = 0;
  auto [ptr, ec] = std::from_chars(size.data(), size.data() + size.size(), n);
  if (ec != std::errc() || ptr == size.data() || n > (std::size_t{1} << 40)) return std::nullopt;
  const std::string_view unit(ptr, static_cast<std::size_t>(size.data() + size.size() - ptr));
  if (unit.empty()) return n;
  if (unit == "k") return n << 10;
  if (unit == "m") return n << 20;
  if (unit == "g") return n << 30;
  return std::nullopt;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::string item;
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!item.empty()) out.push_back(std::move(item));
      item.clear();
    } else {
      item.push_back(c);
    }
  }
  if (!item.empty()) out.push_back(std::move(item));
  return out;
}

void validate(boost::any& v, const std::vector<std::string>& values, CidrList*, int) {
  CidrList list;
  for (const auto& s : values)
    for (const auto& item : split_list(s)) {
      std::string why;
      auto c = Cidr::parse(item, &why);
      if (!c) throw BadValue("'" + item + "' is not an IP network: " + why);
      list.value.push_back(*c);
    }
  v = list;
}

bool valid_domain_like(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

void validate(boost::any& v, const std::vector<std::string>& values, NameList*, int) {
  NameList list;
  for (const auto& s : values)
    for (auto& item : split_list(s)) {
      if (!valid_domain_like(item)) throw BadValue("'" + item + "' is not a domain name");
      std::string name = ascii_lower(item);
      if (name.size() > 1 && name.back() == '.') name.pop_back();
      list.value.push_back(std::move(name));
    }
  v = list;
}

void validate(boost::any& v, const std::vector<std::string>& values, Policy*, int) {
  const std::string s(trim(single(values)));
  static const std::pair<const char*, RejectPolicy> names[] = {
      {"spf_not_pass", RejectPolicy::SpfNotPass}, {"softfail", RejectPolicy::Softfail},
      {"fail", RejectPolicy::Fail},               {"null", RejectPolicy::Null},
      {"false", RejectPolicy::False},             {"no_check", RejectPolicy::NoCheck}};
  const std::string l = ascii_lower(s);
  for (const auto& [name, policy] : names)
    if (l == name) {
      v = Policy{policy};
      return;
    }
  throw BadValue("'" + s + "' is not one of SPF_Not_Pass, Softfail, Fail, Null, False, No_Check");
}

// Checked when read, whatever the log target: a reload must fail before it touches logging.
void validate(boost::any& v, const std::vector<std::string>& values, Facility*, int) {
  const std::string s(trim(single(values)));
  static const char* const facilities[] = {"mail",   "daemon", "user",   "local0", "local1", "local2",
                                           "local3", "local4", "local5", "local6", "local7"};
  for (const char* f : facilities)
    if (s == f) {
      v = Facility{s};
      return;
    }
  throw BadValue("'" + s + "' is not mail, daemon, user or local0 to local7");
}

void validate(boost::any& v, const std::vector<std::string>& values, Headers*, int) {
  const std::string s(trim(single(values)));
  Headers h;
  h.value = HeaderType{false, false};
  const auto items = split_list(s);
  for (const auto& item : items) {
    const std::string l = ascii_lower(item);
    if (l == "spf") h.value.spf = true;
    else if (l == "ar") h.value.ar = true;
    else if (l == "none" && items.size() == 1) {
    } else throw BadValue("'" + s + "' is not SPF, AR, None or SPF,AR");
  }
  if (items.empty()) throw BadValue("empty value (use SPF, AR, None or SPF,AR)");
  v = h;
}

void validate(boost::any& v, const std::vector<std::string>& values, Mode*, int) {
  const std::string s = ascii_lower(trim(single(values)));
  if (s == "off" || s == "none" || s == "no") v = Mode{CheckMode::Off};
  else if (s == "warn") v = Mode{CheckMode::Warn};
  else if (s == "reject") v = Mode{CheckMode::Reject};
  else if (s == "defer") v = Mode{CheckMode::Defer};
  else throw BadValue("'" + single(values) + "' is not off, warn, reject or defer");
}

void validate(boost::any& v, const std::vector<std::string>& values, StringList*, int) {
  StringList list;
  for (const auto& s : values)
    for (auto& item : split_list(s)) list.value.push_back(std::move(item));
  v = list;
}

void validate(boost::any& v, const std::vector<std::string>& values, Address*, int) {
  const std::string s(trim(single(values)));
  auto ip = parse_ip(s);
  if (!ip) throw BadValue("'" + s + "' is not an IP address");
  v = Address{*ip};
}

}  // namespace values

namespace {

using namespace values;

// Options pypolicyd-spf's milter reads; the policy server (and so spfgate) has no use for them.
constexpr const char* kMilterOnly[] = {"Socket", "PidFile", "UserID", "UMask", "InternalHosts", "IntHosts",
                                       "MacroList"};

struct Table {
  po::options_description all{"spfgate options"};
  po::options_description cli_only{"Command line"};
  po::options_description policy{"SPF policy (pypolicyd-spf compatible)"};
  po::options_description daemon{"Daemon"};
  po::options_description limits{"Limits"};
  po::options_description logging{"Logging"};
  po::options_description checks{"HELO and client checks"};
  po::options_description dns{"DNS"};
  po::options_description milter{"Accepted for pypolicyd-spf compatibility, ignored"};
  std::vector<std::string> notices;
};

// Builds the table, binding each option to its field of `s`.
void build(Table& t, Settings& s) {
  auto flag = [](bool& field) {
    return po::value<Flag>()->notifier([&field](const Flag& f) { field = f.value; });
  };
  auto secs = [](std::chrono::seconds& field) {
    return po::value<WholeSeconds>()->notifier([&field](const WholeSeconds& d) { field = d.value; });
  };
  auto dur = [](Millis& field) {
    return po::value<Duration>()->notifier([&field](const Duration& d) { field = d.value; });
  };
  auto str = [](std::string& field) { return po::value<std::string>(&field); };
  auto names = [](std::vector<std::string>& field) {
    return po::value<NameList>()->notifier([&field](const NameList& l) { field = l.value; });
  };
  auto cidrs = [](std::vector<Cidr>& field) {
    return po::value<CidrList>()->notifier([&field](const CidrList& l) { field = l.value; });
  };
  auto count = [](std::size_t& field) {
    return po::value<Count>()->notifier([&field](const Count& c) { field = c.value; });
  };

  t.cli_only.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the version and exit")
      ("check-config", "validate the configuration, report it, and exit (0 if valid)")
      ("config,c", po::value<std::vector<std::string>>(), "configuration file (pypolicyd-spf format); "
       "also accepted as the only positional argument");

  t.policy.add_options()
      ("debugLevel", po::value<int>(&s.debug_level), "-1..5: -1 silent, 0 errors, 1 one line per decision, "
       "2 details per check, 3+ traces (default 1)")
      ("TestOnly", po::value<int>()->notifier([&s](int v) { s.test_only = (v == 0); }),
       "0 = test mode: never reject or defer, only add headers; any other number = normal (default 1)")
      ("defaultSeedOnly", po::value<int>()->notifier([&t](int) {
         t.notices.push_back("defaultSeedOnly is deprecated and has no effect (as in pypolicyd-spf); use TestOnly");
       }), "deprecated; no effect")
      ("HELO_reject", po::value<Policy>()->notifier([&s](const Policy& p) { s.helo_reject = p.value; }),
       "SPF_Not_Pass, Softfail, Fail, Null, False or No_Check (default Fail)")
      ("Mail_From_reject", po::value<Policy>()->notifier([&s](const Policy& p) {
         if (p.value == RejectPolicy::Null)
           throw BadValue("Null applies to HELO_reject only");
         s.mail_from_reject = p.value;
       }), "SPF_Not_Pass, Softfail, Fail, False or No_Check (default Fail)")
      ("PermError_reject", flag(s.permerror_reject), "reject on permerror (default False)")
      ("TempError_Defer", flag(s.temperror_defer), "defer (DEFER_IF_PERMIT) on temperror (default False)")
      ("skip_addresses", cidrs(s.skip_addresses),
       "client networks never checked (default 127.0.0.0/8,::ffff:127.0.0.0/104,::1)")
      ("Whitelist", cidrs(s.whitelist), "client networks whose SPF is not checked")
      ("HELO_Whitelist", names(s.helo_whitelist), "HELO names that bypass checks when they resolve to the client")
      ("Domain_Whitelist", names(s.domain_whitelist), "domains whose SPF pass for the client bypasses checks")
      ("Domain_Whitelist_PTR", names(s.domain_whitelist_ptr),
       "domains whose forward-confirmed client host names bypass checks")
      ("Reject_Not_Pass_Domains", names(s.reject_not_pass_domains),
       "domains (and their subdomains) treated as SPF_Not_Pass")
      ("Whitelist_Lookup_Time", secs(s.whitelist_lookup_time), "seconds for each whitelist lookup (default 10)")
      ("No_Mail", flag(s.no_mail), "reject only domains publishing exactly \"v=spf1 -all\" (default False)")
      ("HELO_pass_restriction", str(s.helo_pass_restriction), "restriction class answered on HELO pass")
      ("Mail_From_pass_restriction", str(s.mail_from_pass_restriction),
       "restriction class answered on MAIL FROM pass")
      ("Prospective", po::value<Address>()->notifier([&s](const Address& a) { s.prospective = a.value; }),
       "check as if the client had this address (outbound use)")
      ("SPF_Enhanced_Status_Codes", flag(s.enhanced_status_codes),
       "RFC 7372 codes 5.7.23/5.7.24/4.7.24 in replies (default Yes)")
      ("Header_Type", po::value<Headers>()->notifier([&s](const Headers& h) { s.header_type = h.value; }),
       "SPF (Received-SPF), AR (Authentication-Results), SPF,AR (both) or None (default SPF)")
      ("Hide_Receiver", flag(s.hide_receiver), "write receiver=<UNKNOWN> (default No)")
      ("Authserv_Id", str(s.authserv_id), "authserv-id of Authentication-Results (default HOSTNAME: this host)")
      ("Lookup_Time", secs(s.lookup_time), "seconds one SPF evaluation may take (default 20)")
      ("Void_Limit", po::value<unsigned>(&s.void_limit), "void DNS lookups allowed per evaluation (default 2)")
      ("Reason_Message", str(s.reason_message),
       "reject/defer text template: {rejectdefer}, {spf}, {url} (default \"Message {rejectdefer} due to: {spf}.\")")
      ("Mock", flag(s.mock), "answer every request with a mock DUNNO (only an explicit True enables it)")
      ("Per_User", str(s.per_user), "text,<path>: per-recipient settings file")
      ("QueueID", flag(s.queue_id_prefix), "prefix decision log lines with the queue id (default True)")
      ("Header_Style", po::value<std::string>()->notifier([&s](const std::string& v) {
         const std::string l = ascii_lower(trim(v));
         if (l == "pypolicyd") s.header_style = HeaderStyle::Pypolicyd;
         else if (l == "rfc7208") s.header_style = HeaderStyle::Rfc7208;
         else throw BadValue("'" + v + "' is not pypolicyd or rfc7208");
       }), "Received-SPF layout: pypolicyd (default, byte-compatible) or rfc7208")
      ("Why_URL", str(s.why_url), "base URL for {url} in Reason_Message (default none)")
      ("Receiver_Name", str(s.receiver_name), "fixed receiver= value instead of the recipient's domain");

  auto mode = [](CheckMode& field) {
    return po::value<Mode>()->notifier([&field](const Mode& m) { field = m.value; });
  };
  auto code = [](unsigned& field) {
    return po::value<unsigned>()->notifier([&field](unsigned c) {
      if (c < 400 || c > 599) throw BadValue("'" + std::to_string(c) + "' is not an SMTP reply code 4xx or 5xx");
      field = c;
    });
  };
  t.checks.add_options()
      ("helo-access", po::value<StringList>()->notifier([&s](const StringList& l) { s.helo_access = l.value; }),
       "Postfix check_helo_access tables read from their source files: hash:/etc/postfix/helo_access, "
       "cidr:..., pcre:..., regexp:... (comma separated, in order)")
      ("helo-access-parent-matches-subdomains", flag(s.helo_access_parent_matches_subdomains),
       "look up parent domains as \"example.com\" (yes, Postfix's default) or \".example.com\" (no)")
      ("helo-syntax", mode(s.helo_syntax), "invalid HELO: off, warn, reject (501 5.5.2) or defer (default off)")
      ("helo-fqdn", mode(s.helo_fqdn), "HELO not fully qualified: off, warn, reject (504 5.5.2) or defer (default off)")
      ("helo-dns", mode(s.helo_dns), "HELO without A, AAAA or MX: off, warn, reject or defer (default off)")
      ("helo-literal", mode(s.helo_literal),
       "HELO address literal that is not the client's address: off, warn, reject or defer (default off)")
      ("helo-local", mode(s.helo_local), "HELO claims one of helo-local-names: off, warn, reject or defer (default off)")
      ("helo-local-names", po::value<StringList>()->notifier([&s](const StringList& l) {
         s.helo_local_names.clear();
         for (const auto& n : l.value) s.helo_local_names.push_back(ascii_lower(n));
       }), "this server's own host names and addresses")
      ("helo-reject-code", code(s.helo_reject_code), "reply code of helo-dns rejects (default 450, as Postfix)")
      ("iprev-fail", mode(s.iprev_fail),
       "client's PTR names do not resolve back to it: off, warn, reject or defer (default off)")
      ("iprev-permerror", mode(s.iprev_permerror), "client has no PTR record: off, warn, reject or defer (default off)")
      ("iprev-temperror", mode(s.iprev_temperror),
       "client's reverse DNS failed temporarily: off, warn or defer (default off)")
      ("iprev-reject-code", code(s.iprev_reject_code), "reply code of iprev rejects (default 450, as Postfix)")
      ("iprev-header", flag(s.iprev_header),
       "look up iprev for every client and show it in Authentication-Results even when no iprev-* action is set "
       "(default no)");

  t.daemon.add_options()
      ("listen,l", po::value<std::vector<std::string>>(&s.listen)->composing(),
       "unix:PATH[,mode=0660,owner=USER,group=GROUP] or tcp:HOST:PORT; repeatable "
       "(default unix:/run/spfgate/spfgate.sock unless --spawn or systemd sockets are used)")
      ("spawn", po::bool_switch(&s.spawn), "serve one connection on stdin/stdout (master.cf spawn entry)")
      ("threads", po::value<unsigned>(&s.threads),
       "threads serving connections (each its own caches, one resolver); 0: one per core (default 1)")
      ("user", str(s.user), "user to run as after binding the listeners")
      ("group", str(s.group), "group to run as after binding the listeners")
      ("idle-timeout", dur(s.idle_timeout), "close a connection idle this long (default 600s)")
      ("request-read-timeout", dur(s.request_read_timeout),
       "time from a request's first byte to its end (default 10s)")
      ("request-timeout", dur(s.request_timeout),
       "time to answer a complete request, DNS included; keep below Postfix's "
       "smtpd_policy_service_timeout (default 30s)")
      ("write-timeout", dur(s.write_timeout), "time to send one reply (default 10s)")
      ("shutdown-timeout", dur(s.shutdown_timeout), "on SIGTERM, time in-flight requests may still take (default 10s)")
      ("metrics", str(s.metrics_listen), "serve Prometheus metrics over HTTP on tcp:HOST:PORT (e.g. tcp:127.0.0.1:9153)")
      ("stats-interval", po::value<Duration>()->notifier([&s](const Duration& d) { s.stats_interval = d.value; }),
       "log a one-line summary of the counters this often, e.g. 1h (default 0: never)");

  t.limits.add_options()
      ("max-connections", po::value<unsigned>(&s.max_connections), "concurrent connections (default 1000)")
      ("max-line-length", count(s.max_line_length), "bytes per request line (default 16384)")
      ("max-attributes", count(s.max_attributes), "attributes per request (default 128)")
      ("max-request-bytes", count(s.max_request_bytes), "bytes per request (default 65536)")
      ("malformed-reply", str(s.malformed_reply), "answer to a malformed request (default DUNNO)");

  t.logging.add_options()
      ("log", po::value<std::string>()->notifier([&s](const std::string& v) {
         const std::string l = ascii_lower(trim(v));
         if (l == "stderr") s.log_target = LogTarget::Stderr;
         else if (l == "syslog") s.log_target = LogTarget::Syslog;
         else if (l == "journald") s.log_target = LogTarget::Journald;
         else throw BadValue("'" + v + "' is not stderr, syslog or journald");
       }), "stderr, syslog or journald (default stderr; syslog in spawn mode)")
      ("log-level", po::value<std::string>()->notifier([&s](const std::string& v) {
         const std::string l = ascii_lower(trim(v));
         for (const char* ok : {"off", "error", "warning", "info", "debug", "trace"})
           if (l == ok) {
             s.log_level = l;
             return;
           }
         throw BadValue("'" + v + "' is not off, error, warning, info, debug or trace");
       }), "off, error, warning, info, debug or trace (default from debugLevel)")
      ("syslog-ident", str(s.syslog_ident), "syslog identifier (default spfgate; policyd-spf keeps old log rules)")
      ("syslog-facility", po::value<Facility>()->notifier([&s](const Facility& f) { s.syslog_facility = f.value; }),
       "syslog facility (default mail)");

  t.dns.add_options()
      ("dns-forwarders", po::value<std::string>()->notifier([&s](const std::string& v) {
         s.dns_forwarders.clear();
         for (auto& item : split_list(v)) {
           const auto at = item.find('@');
           if (!parse_ip(item.substr(0, at))) throw BadValue("'" + item + "' is not an IP address[@port]");
           s.dns_forwarders.push_back(item);
         }
       }), "resolvers to forward to, IP[@port] list (default: full recursion)")
      ("resolver-config", str(s.resolver_config), "unbound.conf-style file for anything else (stub zones, ...)")
      ("trust-anchor-file", po::value<std::string>()->notifier([&s](const std::string& v) {
         s.trust_anchor_file = ascii_lower(trim(v)) == "none" ? std::string() : std::string(trim(v));
       }), "DNSSEC root trust anchor; none when resolver-config brings its own (default /usr/share/dns/root.key)")
      ("dnssec", flag(s.dnssec), "validate DNSSEC (default yes)")
      ("dns-query-timeout", dur(s.dns_query_timeout), "time one DNS query may take (default 10s)")
      ("dns-max-outstanding", count(s.dns_max_outstanding),
       "DNS queries with libunbound at once, 1-1000; more wait their turn (default 256)")
      ("dns-cache-size", po::value<std::string>()->notifier([&s](const std::string& v) {
         const std::string size = ascii_lower(trim(v));
         std::size_t n = 0;
         auto [ptr, ec] = std::from_chars(size.data(), size.data() + size.size(), n);
         const std::string_view unit(ptr, static_cast<std::size_t>(size.data() + size.size() - ptr));
         std::size_t mult = 1;
         if (unit == "k") mult = 1u << 10;
         else if (unit == "m") mult = 1u << 20;
         else if (unit == "g") mult = 1u << 30;
         else if (!unit.empty()) ec = std::errc::invalid_argument;
         if (ec != std::errc() || ptr == size.data() || n * mult < (64u << 10) || n * mult > (4ull << 30))
           throw BadValue("'" + v + "' is not a cache size between 64k and 4g (e.g. 4m)");
         s.dns_cache_bytes = n * mult;
       }), "DNS message cache size; the RRset cache gets twice this (default 4m)")
      ("dns-cache-entries", count(s.dns_cache_entries),
       "answers kept in spfgate's own cache in front of libunbound's; 0 turns it off (default 20000)")
      ("dns-cache-memory", po::value<std::string>()->notifier([&s](const std::string& v) {
         const auto bytes = parse_byte_size(v);
         if (!bytes || *bytes < (64u << 10) || *bytes > (1ull << 30))
           throw BadValue("'" + v + "' is not a size between 64k and 1g (e.g. 8m)");
         s.dns_cache_memory = *bytes;
       }), "memory bound of that cache (default 8m)")
      ("result-cache-entries", count(s.result_cache_entries),
       "SPF and iprev results kept (each cache) while every DNS answer they came from is valid; 0 turns "
       "them off (default 5000)");

  for (const char* name : kMilterOnly) t.milter.add_options()(name, po::value<std::string>(), "milter only");

  t.all.add(t.cli_only).add(t.policy).add(t.daemon).add(t.limits).add(t.checks).add(t.logging).add(t.dns).add(t.milter);
}

// Program_options fills "%value%", "%canonical_option%" and the like into its messages by replacing each
// until none is left, which never ends when the text put in contains the placeholder itself: what() of
// the error for "TestOnly = %value%" loops forever (found by fuzz_per_user; a per-user file is re-read while
// serving, so that hung the daemon). Its message is used only when the offending text cannot do that.
const char* placeholder_in(std::string_view text) {
  for (const char* token : {"%value%", "%canonical_option%", "%option%", "%original_token%", "%prefix%"})
    if (text.find(token) != std::string_view::npos) return token;
  return nullptr;
}

std::string po_message(const po::error& e, std::string_view offending) {
  if (const char* token = placeholder_in(offending))
    return "'" + std::string(offending) + "' is not a valid value (it contains " + token + ")";
  return e.what();
}

struct FileOption {
  std::string name;
  std::string value;
  int line;
};

// Reads "Name = Value" lines, pypolicyd-spf style. Returns the options in file order.
std::vector<FileOption> read_config_file(const std::string& path) {
  std::vector<FileOption> out;
  for (const ConfigLine& l : read_config_lines(path, "configuration file")) {
    const std::string_view text = l.text;
    const auto eq = text.find('=');
    if (eq == std::string_view::npos)
      throw Error(path, l.number, {}, "expected \"Name = Value\", found \"" + loggable(text) + "\"");
    const std::string name(trim(text.substr(0, eq)));
    if (name.empty()) throw Error(path, l.number, {}, "missing option name before '='");
    out.push_back({name, std::string(trim(text.substr(eq + 1))), l.number});
  }
  return out;
}

const po::option_description* find_option(const po::options_description& desc, std::string& name) {
  // find_nothrow() throws ambiguous_option for an empty name (found by fuzz_config): no option has one.
  if (name.empty()) return nullptr;
  if (const auto* d = desc.find_nothrow(name, false, false, false)) return d;
  std::string hyphenated = name;
  for (char& c : hyphenated)
    if (c == '_') c = '-';
  if (const auto* d = desc.find_nothrow(hyphenated, false, false, false)) {
    name = hyphenated;
    return d;
  }
  return nullptr;
}

std::string suggestion(const po::options_description& desc, const std::string& name) {
  for (const auto& opt : desc.options())
    if (iequals(opt->long_name(), name)) return " (did you mean " + opt->long_name() + "?)";
  return {};
}

void store_file(const std::string& path, const Table& t, po::variables_map& vm) {
  const auto options = read_config_file(path);
  // Last occurrence wins for single-valued options (pypolicyd-spf keeps the last); repeatable ones
  // (listen) collect every line. Options given on the command line are not overridden.
  // Each option is looked up once: find_nothrow() scans the whole table, and a spawned process reads the
  // file at every start.
  struct Occurrences {
    const po::option_description* desc;
    std::vector<const FileOption*> lines;
  };
  std::map<std::string, Occurrences> by_name;
  std::vector<std::string> order;
  for (const auto& o : options) {
    std::string name = o.name;
    if (name == "config" || name == "help" || name == "version" || name == "check-config")
      throw Error(path, o.line, o.name, "only valid on the command line");
    const auto* desc = find_option(t.all, name);
    if (!desc) throw Error(path, o.line, o.name, "unknown option" + suggestion(t.all, o.name));
    auto [it, first] = by_name.try_emplace(name, Occurrences{desc, {}});
    if (first) order.push_back(name);
    it->second.lines.push_back(&o);
  }
  for (const auto& name : order) {
    if (vm.count(name) && !vm[name].defaulted()) continue;
    const auto& [desc, lines] = by_name.at(name);
    const bool repeatable = desc->semantic()->max_tokens() > 1 || desc->semantic()->is_composing();
    po::parsed_options parsed(&t.all);
    po::option opt;
    opt.string_key = name;
    int where = lines.back()->line;
    if (repeatable) {
      for (const auto* l : lines) opt.value.push_back(l->value);
      where = lines.front()->line;
    } else {
      opt.value.push_back(lines.back()->value);
    }
    opt.original_tokens = opt.value;
    parsed.options.push_back(opt);
    try {
      po::store(parsed, vm);
    } catch (const BadValue& e) {
      throw Error(path, where, lines.back()->name, e.what());
    } catch (const po::error& e) {
      std::string values;
      for (const auto& v : opt.value) values += v;
      throw Error(path, where, lines.back()->name, po_message(e, values));
    }
  }
}

std::string host_name() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

void check_whole(Loaded& l) {
  Settings& s = l.settings;
  if (s.spawn && s.log_target == LogTarget::Stderr)
    throw Error("log = stderr is not possible with --spawn: stderr is the Postfix socket (use syslog or journald)");
  if (s.lookup_time.count() <= 0) throw Error("Lookup_Time must be at least 1 second");
  if (s.whitelist_lookup_time.count() <= 0) throw Error("Whitelist_Lookup_Time must be at least 1 second");
  if (s.request_timeout <= Millis(0) || s.idle_timeout <= Millis(0) || s.request_read_timeout <= Millis(0) ||
      s.write_timeout <= Millis(0) || s.dns_query_timeout <= Millis(0))
    throw Error("timeouts must be greater than zero");
  if (s.max_connections == 0) throw Error("max-connections must be at least 1");
  if (s.dns_max_outstanding < 1 || s.dns_max_outstanding > Settings::kMaxDnsOutstanding)
    throw Error("dns-max-outstanding must be between 1 and " + std::to_string(Settings::kMaxDnsOutstanding));
  if (s.threads > Settings::kMaxThreads)
    throw Error("threads must be at most " + std::to_string(Settings::kMaxThreads) + " (0: one per core)");
  if (s.max_line_length < 64 || s.max_attributes < 1 || s.max_request_bytes < s.max_line_length)
    throw Error("max-line-length must be at least 64, max-attributes at least 1, and max-request-bytes at "
                "least max-line-length");
  if (!is_clean(s.malformed_reply) || trim(s.malformed_reply).empty())
    throw Error("malformed-reply must be one printable line");
  if (!is_clean(s.reason_message)) throw Error("Reason_Message must be one printable line");
  for (const std::string* r : {&s.helo_pass_restriction, &s.mail_from_pass_restriction})
    for (char c : *r)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
        throw Error("HELO_pass_restriction / Mail_From_pass_restriction must name a Postfix restriction class");
  if (s.authserv_id == "HOSTNAME") s.authserv_id = host_name();
  if (s.header_type.ar && trim(s.authserv_id).empty())
    throw Error("Authserv_Id must not be empty when Header_Type includes AR");
  if (!is_clean(s.authserv_id) || s.authserv_id.find_first_of(" ;()\"") != std::string::npos)
    throw Error("Authserv_Id must be a host name or similar token");
  if (s.iprev_temperror == CheckMode::Reject)
    throw Error("iprev-temperror cannot be reject: a temporary DNS failure must never reject mail (use defer)");
  if (!s.per_user.empty() && s.per_user.rfind("text,", 0) != 0)
    throw Error("Per_User must be text,<path>");
  if (s.request_timeout < std::chrono::duration_cast<Millis>(s.lookup_time))
    l.notices.push_back("request-timeout is shorter than Lookup_Time: slow SPF evaluations end at request-timeout");
  if (s.why_url.empty() && s.reason_message.find("{url}") != std::string::npos)
    l.notices.push_back("Reason_Message uses {url} but Why_URL is not set: {url} is left empty (set Why_URL, "
                        "e.g. to pypolicyd-spf's http://www.openspf.net/Why, or drop {url} from the text)");
  if (s.request_timeout >= Millis(100'000))
    l.notices.push_back("request-timeout is not below Postfix's default smtpd_policy_service_timeout (100s)");
}

void finish(Table& t, Loaded& l, po::variables_map& vm) {
  try {
    po::notify(vm);
  } catch (const BadValue& e) {
    throw Error(e.what());
  } catch (const po::error& e) {
    throw Error(e.what());
  }
  for (const char* name : kMilterOnly)
    if (vm.count(name))
      l.notices.push_back(std::string(name) + " is a pypolicyd-spf milter option; spfgate ignores it");
  l.notices.insert(l.notices.end(), t.notices.begin(), t.notices.end());
  check_whole(l);
}

}  // namespace

Loaded load(const std::vector<std::string>& args) {
  Loaded l;
  l.settings = defaults();
  Table t;
  build(t, l.settings);
  po::positional_options_description positional;
  positional.add("config", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(t.all).positional(positional).run(), vm);
  } catch (const BadValue& e) {
    throw Error("command line: " + std::string(e.what()));
  } catch (const po::error& e) {
    std::string_view offending;
    for (const auto& a : args)
      if (placeholder_in(a)) offending = a;
    throw Error("command line: " + po_message(e, offending));
  }
  l.help = vm.count("help") > 0;
  l.version = vm.count("version") > 0;
  l.check_config = vm.count("check-config") > 0;
  if (vm.count("config")) {
    for (const auto& file : vm["config"].as<std::vector<std::string>>()) {
      l.settings.config_files.push_back(file);
      store_file(file, t, vm);
    }
  }
  finish(t, l, vm);
  return l;
}

Loaded load_file(const std::string& path) { return load({"--config", path}); }

Settings with_overrides(const Settings& base, const std::vector<std::pair<std::string, std::string>>& options) {
  Loaded l;
  l.settings = base;
  Table t;
  build(t, l.settings);
  po::variables_map vm;
  for (const auto& [name, value] : options) {
    std::string key = name;
    const auto* desc = find_option(t.all, key);
    if (!desc) throw Error({}, 0, name, "unknown option" + suggestion(t.all, name));
    po::parsed_options parsed(&t.all);
    po::option opt;
    opt.string_key = key;
    opt.value.push_back(value);
    opt.original_tokens = opt.value;
    parsed.options.push_back(opt);
    try {
      po::store(parsed, vm);
    } catch (const BadValue& e) {
      throw Error({}, 0, name, e.what());
    } catch (const po::error& e) {
      throw Error({}, 0, name, po_message(e, value));
    }
  }
  finish(t, l, vm);
  return l.settings;
}

std::string help_text() {
  Settings s = defaults();
  Table t;
  build(t, s);
  std::ostringstream out;
  out << "Usage: spfgate [options] [CONFIG_FILE]\n"
         "       spfgate --spawn [options] [CONFIG_FILE]   (master.cf spawn entry)\n\n"
         "A Postfix SMTP access policy server: SPF (RFC 7208), iprev and HELO checks.\n"
         "Options work on the command line (--name=value) and in the configuration file (Name = Value).\n\n"
      << t.cli_only << '\n'
      << t.policy << '\n'
      << t.checks << '\n'
      << t.daemon << '\n'
      << t.limits << '\n'
      << t.logging << '\n'
      << t.dns << '\n';
  return out.str();
}

}  // namespace spfgate::config
