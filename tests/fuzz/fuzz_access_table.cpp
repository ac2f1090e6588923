// fuzz_access_table: the Postfix access-table parsers and lookups (config/access_table.hpp).
//
// Input: a first line naming the table type (hash, texthash, cidr, pcre or regexp; "nosub" after it turns
// parent_domain_matches_subdomains off), the table's source text, "\n%%\n", then one HELO per line to look
// up (the HELO is what the SMTP client sends: hostile).
// Invariants: loading throws only config::Error, with a file:line message of one line; a loaded table
// answers every lookup without throwing; a match names this file and a line of it, and its action (after
// $n substitution of HELO text) holds no NUL, CR or LF for a HELO that holds none; a HELO holding NUL, CR
// or LF matches nothing; AccessAction::parse() takes any action; lookup_helo() of an indexed table finds
// only keys that are the HELO or one of its parent domains.
#include "fuzz_common.hpp"

#include "config/access_table.hpp"
#include "config/error.hpp"

namespace config = spfgate::config;

namespace {

void check_action(std::string_view text) {
  const config::AccessAction a = config::AccessAction::parse(text);
  (void)a.problem();
  (void)a.reply_text();
  if (a.kind == config::ActionKind::SmtpReply) FUZZ_CHECK(a.code >= 400 && a.code <= 599, std::string(text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  std::string_view head = in.line();
  const std::string_view type = fuzz::word(head);
  if (type != "hash" && type != "texthash" && type != "cidr" && type != "pcre" && type != "regexp") return 0;
  config::AccessTableOptions options;
  options.parent_domain_matches_subdomains = head != "nosub";
  options.pcre_match_limit = 100'000;  // the daemon's is 1,000,000; a tenth keeps each fuzz run short
  const std::string path = fuzz::write_scratch_file(in.section(), "table");
  const std::vector<std::string_view> helos = fuzz::lines_of(in.rest());

  std::optional<config::AccessTable> table;
  try {
    table = config::AccessTable::load(std::string(type) + ":" + path, options);
  } catch (const config::Error& e) {
    const std::string what = e.what();
    FUZZ_CHECK(fuzz::is_clean_text(what), what);
    FUZZ_CHECK(what.rfind(path, 0) == 0 || what.rfind("access table", 0) == 0, what);
  }
  for (std::string_view helo : helos) check_action(helo);
  if (!table) return 0;
  for (const std::string& w : table->warnings()) FUZZ_CHECK(w.find('\n') == std::string::npos, w);

  std::vector<std::string> subjects(helos.begin(), helos.end());
  for (std::string_view helo : helos) subjects.push_back(std::string(helo) + "\r\n" + std::string(helo));
  for (const std::string& helo : subjects) {
    const bool unsafe = helo.find_first_of(std::string_view("\0\r\n", 3)) != std::string::npos;
    for (const auto& m : {table->lookup_helo(helo), table->lookup(helo)}) {
      if (!m) continue;
      FUZZ_CHECK(!unsafe, helo);
      FUZZ_CHECK(m->file == path && m->line >= 1, m->file);
      FUZZ_CHECK(m->action.find_first_of(std::string_view("\0\r\n", 3)) == std::string::npos, m->action);
      check_action(m->action);
      if (table->type() == config::AccessTableType::Indexed && !m->query.empty()) {
        // The key found is the folded HELO or a parent domain of it (with or without the leading dot).
        std::string folded;
        for (char c : helo) folded += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        FUZZ_CHECK(folded.size() >= m->query.size() &&
                       folded.compare(folded.size() - m->query.size(), m->query.size(), m->query) == 0,
                   m->query);
      }
    }
  }
  return 0;
}
