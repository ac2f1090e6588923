// config/access_table.hpp: Postfix access(5) tables for HELO checks, read from their source files.
//
//   auto tables = config::AccessTables::load({"hash:/etc/postfix/helo_access", "pcre:/etc/postfix/helo.pcre"});
//   for (const auto& w : tables.warnings()) log.warn(w);               // "file:line: duplicate entry ..."
//   if (auto m = tables.lookup_helo(helo)) {
//     auto action = config::AccessAction::parse(m->action);             // REJECT, OK, 550 ..., DUNNO, ...
//     log.info("{}:{}: {} matched {}", m->file, m->line, m->key, to_string(action.kind));
//   }
//
// What: admins already have check_helo_access tables; spfgate reads the same files and answers exactly as
// Postfix 3.7 looks them up (smtpd_check.c check_domain_access(), dict_*.c), without postmap:
// - hash:, btree:, lmdb:, cdb:, dbm:, sdbm:, texthash: or a bare path: the postmap(1) source text at that
//   path (not the .db): "key whitespace action"; keys and lookups are folded to lower case; a later
//   duplicate key is ignored with a warning, as postmap does. A bare path is read as postmap(1) reads it;
//   Postfix's check_helo_access itself insists on type:name. "proxy:" in front is accepted and ignored.
// - cidr: network/prefix or address patterns, "!pattern", "if pattern" ... "endif" (cidr_table(5)).
// - pcre: (PCRE2) and regexp: (POSIX regcomp, REG_EXTENDED) with /pattern/flags, "!", if/endif, any
//   non-alphanumeric delimiter, and $1..$99 / ${n} / $(n) / $$ substitution (pcre_table(5), regexp_table(5)).
//   regexp: also keeps the old "/pattern1/!/pattern2/ action" form.
// All types: '#' comment lines and blank lines are skipped (also inside a multi-line entry); a line that
// starts with whitespace continues the entry before it; line numbers are those of an entry's first line.
//
// Lookup (lookup_helo) follows check_helo_access: an empty HELO is never looked up. Indexed tables: the
// lower-cased HELO as is (a trailing dot is kept), then its parent domains one label at a time down to the
// TLD ("example.com" matches "a.b.example.com"); with parent_domain_matches_subdomains = false, the
// ".example.com" forms instead. A HELO that is an IPv4/IPv6 address (Postfix's valid_hostaddr()) gets only
// the one lookup. "[1.2.3.4]" is an ordinary string: Postfix looks it up with its brackets, and its parent
// forms ("2.3.4]", ...) too, so do we. The first key found wins, whatever its action: a found DUNNO stops
// the search in that table. Pattern tables see only the whole HELO, not case-folded; rules are tried in
// file order and the first match wins. cidr tables match only a bare IP address: Postfix hands them the
// literal HELO text and inet_pton() refuses "[1.2.3.4]" and "[IPv6:...]", so a bracketed literal never
// matches a cidr table; an IPv4-mapped IPv6 HELO matches only IPv6 patterns, as in cidr_match.c.
// AccessTables tries its tables in the admin's order and returns the first table's match. Postfix runs each
// check_helo_access as a separate restriction, so a match whose action does not end the restriction list
// (DUNNO, WARN, INFO, PREPEND, ...) lets the next table speak there; lookup_helo_all() gives every table's
// match for a caller that wants that.
//
// Failure: load() throws config::Error naming file:line and the fault: an unreadable file, NUL or CR in a
// line, invalid UTF-8, a missing action, a bad CIDR pattern, a bad regex (with the PCRE2 or regerror()
// message and offset), bad $ substitution, unbalanced if/endif, an indented rule swallowed by the if/endif
// line above it, and every other line that Postfix would skip with a warning, because a silently skipped
// line changes the answers. Issues that Postfix accepts are collected in warnings() as "file:line: message":
// a duplicate key, "key:" format, text after an if pattern or endif on the same line, the pcre X flag, an
// action Postfix would refuse when it fires (an unknown restriction, FILTER without transport:destination,
// PREPEND without a header, ...). Lookups never throw (except std::bad_alloc); a HELO containing NUL, CR or
// LF matches nothing; a pattern whose matching fails (PCRE2 match limit) does not match, as in Postfix.
//
// Limits: case folding is ASCII-only (Postfix also folds non-ASCII letters when smtputf8_enable=yes); a
// table file is at most AccessTableOptions::max_file_bytes; PCRE2 matching stops at pcre_match_limit.
// Inline tables ("cidr:{...}") and network tables (ldap:, mysql:, tcp:, ...) are refused at load.
// A loaded table is immutable: copies share it, and lookups may run from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spfgate::config {

struct AccessTableOptions {
  // Postfix's parent_domain_matches_subdomains lists smtpd_access_maps by default, so "example.com" also
  // matches subdomains. false: Postfix without smtpd_access_maps in that list (".example.com" form).
  bool parent_domain_matches_subdomains = true;
  // A larger file is refused at load (postmap has no bound; this keeps a mistaken path from eating memory).
  std::size_t max_file_bytes = 64 * 1024 * 1024;
  // PCRE2 match limit per pattern and lookup; far above what a HELO pattern needs, low enough that a
  // backtracking pattern cannot stall the event loop.
  std::uint32_t pcre_match_limit = 1'000'000;
};

enum class AccessTableType { Indexed, Cidr, Pcre, Regexp };
std::string_view to_string(AccessTableType type) noexcept;

struct AccessMatch {
  std::string action;  // the table's result, after $n substitution for pcre:/regexp:; otherwise as written
  std::string key;     // the entry as written: indexed key, cidr pattern, or /regex/flags (with any '!')
  std::string query;   // the string that was looked up: the HELO, or the parent domain that matched
  std::string table;   // the spec the table was loaded from ("hash:/etc/postfix/helo_access")
  std::string file;    // the source file
  int line = 0;        // first line of the entry in that file
};

class AccessTable {
 public:
  // spec as in main.cf: "type:/path" or a bare path. Throws config::Error.
  static AccessTable load(std::string_view spec, const AccessTableOptions& options = {});

  // check_helo_access: see the lookup rules above.
  std::optional<AccessMatch> lookup_helo(std::string_view helo) const;
  // One table lookup of exactly this string, like "postmap -q key type:file" (indexed tables fold it).
  std::optional<AccessMatch> lookup(std::string_view key) const;

  const std::string& spec() const noexcept;
  const std::string& path() const noexcept;
  AccessTableType type() const noexcept;
  const std::vector<std::string>& warnings() const noexcept;
  std::size_t size() const noexcept;  // entries (indexed) or rules (pattern tables, if/endif included)

  struct Impl;

 private:
  explicit AccessTable(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

class AccessTables {
 public:
  // Loads each spec in order; throws config::Error for the first table that fails.
  static AccessTables load(const std::vector<std::string>& specs, const AccessTableOptions& options = {});
  void add(AccessTable table) { tables_.push_back(std::move(table)); }

  // The first table, in the admin's order, with a match.
  std::optional<AccessMatch> lookup_helo(std::string_view helo) const;
  // Every table's match, in order.
  std::vector<AccessMatch> lookup_helo_all(std::string_view helo) const;

  const std::vector<AccessTable>& tables() const noexcept { return tables_; }
  std::vector<std::string> warnings() const;
  bool empty() const noexcept { return tables_.empty(); }

 private:
  std::vector<AccessTable> tables_;
};

// What a table result tells Postfix to do (check_table_result() in smtpd_check.c). Keywords are
// case-insensitive and only the first word counts; the order of the tests below is Postfix's.
enum class ActionKind {
  Ok,             // OK, RELAY, an all-numerical result ("550" alone too), an empty result, or a restriction
                  // list that starts with "permit" (PERMIT is not an access(5) keyword but that restriction)
  Dunno,          // DUNNO: as if not found; stops the search in this table
  Reject,         // REJECT [dsn] [text]: $access_map_reject_code (554), 5.7.1, "Access denied"
  Defer,          // DEFER [dsn] [text]: $access_map_defer_code (450), 4.7.1, "Access denied"
  DeferIfReject,  // DEFER_IF_REJECT [dsn] [text]: 4.7.1, "Service unavailable"
  DeferIfPermit,  // DEFER_IF_PERMIT [dsn] [text]: 4.7.1, "Service unavailable"
  SmtpReply,      // 4NN/5NN text: this code; the text is required ("550" alone is all-numerical, so Ok)
  Prepend,        // PREPEND header: value
  Warn,           // WARN [text]: log, continue
  Info,           // INFO [text]: log, continue
  Hold,           // HOLD [text]
  Discard,        // DISCARD [text]
  Filter,         // FILTER transport:destination
  Redirect,       // REDIRECT user@domain
  Bcc,            // BCC user@domain
  Hangup,         // HANGUP [text]: drop the connection
  Restriction,    // anything else: restriction names (or a restriction class) that Postfix evaluates
};
std::string_view to_string(ActionKind kind) noexcept;

struct AccessAction {
  ActionKind kind = ActionKind::Ok;
  std::string command;  // the first word as written ("reject", "550"); empty for an empty result
  int code = 0;         // SmtpReply: 400..599; 0 otherwise
  std::string dsn;      // Reject, Defer, DeferIf*, SmtpReply: the RFC 3463 code that starts the text, else
                        // Postfix's default (first digit 4 or 5 as listed above); empty for other kinds.
                        // Postfix forces its first digit to the reply code's when it replies.
  std::string text;     // what follows the command (and the DSN), as written; for Restriction, the whole
                        // result; for SmtpReply "550 5.7.1 go away" it is "go away"

  static AccessAction parse(std::string_view action);

  // text, or Postfix's default when text is empty for a rejecting kind ("Access denied", "Service
  // unavailable").
  std::string_view reply_text() const noexcept;
  // Why Postfix would refuse this action when it fires (unknown restriction name, a lookup table in the
  // result, FILTER without transport:destination, REDIRECT/BCC without user@domain, PREPEND without a
  // header); empty when Postfix accepts it.
  std::string problem() const;
};

}  // namespace spfgate::config
