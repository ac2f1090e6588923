// fuzz_config: the configuration file parser and option validators (config/options.hpp load_file() and
// with_overrides()).
//
// Input: the first line says what the rest is — "file": a configuration file in pypolicyd-spf's format,
// loaded with load_file(); "overrides": "Name=Value" lines applied with with_overrides() to the defaults,
// as Per_User lines are.
// Invariants: the only exception is config::Error, with a message naming the fault in one clean line (it
// goes to the log); an accepted configuration satisfies what the daemon relies on: timeouts positive and
// small enough that now() + timeout + grace cannot overflow the clock, protocol limits consistent,
// malformed-reply, Reason_Message and Authserv_Id printable single lines, restriction class names plain
// words; loading the same file twice gives the same result.
#include "fuzz_common.hpp"

#include "config/error.hpp"
#include "config/options.hpp"

#include <chrono>

namespace config = spfgate::config;

namespace {

// The longest duration that can be added to steady_clock::now() (plus the daemon's grace periods) without
// overflowing its 64-bit nanosecond count, with a wide margin: about 73 years.
constexpr auto kMaxDuration = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::duration::max() / 4);

void check_duration(std::chrono::milliseconds d, const char* name) {
  FUZZ_CHECK(d.count() > 0, std::string(name));
  FUZZ_CHECK(d <= kMaxDuration, std::string(name) + " = " + std::to_string(d.count()) + " ms");
}

void check_settings(const config::Settings& s) {
  check_duration(s.idle_timeout, "idle-timeout");
  check_duration(s.request_read_timeout, "request-read-timeout");
  check_duration(s.request_timeout, "request-timeout");
  check_duration(s.write_timeout, "write-timeout");
  check_duration(s.dns_query_timeout, "dns-query-timeout");
  FUZZ_CHECK(s.shutdown_timeout <= kMaxDuration, std::string("shutdown-timeout"));
  check_duration(std::chrono::duration_cast<std::chrono::milliseconds>(s.lookup_time), "Lookup_Time");
  check_duration(std::chrono::duration_cast<std::chrono::milliseconds>(s.whitelist_lookup_time),
                 "Whitelist_Lookup_Time");
  FUZZ_CHECK(s.max_connections >= 1, std::string("max-connections"));
  FUZZ_CHECK(s.max_line_length >= 64 && s.max_attributes >= 1 && s.max_request_bytes >= s.max_line_length,
             std::string("protocol limits"));
  FUZZ_CHECK(fuzz::is_clean_text(s.malformed_reply) && !s.malformed_reply.empty(), s.malformed_reply);
  FUZZ_CHECK(fuzz::is_clean_text(s.reason_message), s.reason_message);
  FUZZ_CHECK(fuzz::is_clean_text(s.authserv_id), s.authserv_id);
  FUZZ_CHECK(s.authserv_id.find_first_of(" ;()\"") == std::string::npos, s.authserv_id);
  for (const std::string* r : {&s.helo_pass_restriction, &s.mail_from_pass_restriction})
    for (char c : *r)
      FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                     c == '-' || c == '.',
                 *r);
  FUZZ_CHECK(s.iprev_temperror != config::CheckMode::Reject, std::string("iprev-temperror"));
  FUZZ_CHECK(s.helo_reject_code >= 400 && s.helo_reject_code <= 599, std::to_string(s.helo_reject_code));
  FUZZ_CHECK(s.iprev_reject_code >= 400 && s.iprev_reject_code <= 599, std::to_string(s.iprev_reject_code));
  FUZZ_CHECK(s.dns_cache_bytes >= (64u << 10) && s.dns_cache_bytes <= (4ull << 30), std::to_string(s.dns_cache_bytes));
  for (const auto& name : s.domain_whitelist) FUZZ_CHECK(!name.empty() && fuzz::is_clean_text(name), name);
}

void check_error(const config::Error& e) {
  const std::string what = e.what();
  FUZZ_CHECK(!what.empty(), what);
  // Configuration errors are logged (and reloads log them while serving): one clean line.
  FUZZ_CHECK(fuzz::is_clean_text(what), what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const std::string_view mode = in.line();
  const std::string_view body = in.rest();
  if (mode == "overrides") {
    std::vector<std::pair<std::string, std::string>> options;
    for (std::string_view line : fuzz::lines_of(body)) {
      const auto eq = line.find('=');
      if (eq == std::string_view::npos) continue;
      options.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    }
    try {
      check_settings(config::with_overrides(config::defaults(), options));
    } catch (const config::Error& e) {
      check_error(e);
    }
    return 0;
  }
  const std::string path = fuzz::write_scratch_file(body, "spfgate.conf");
  std::string first;
  try {
    const config::Loaded l = config::load_file(path);
    check_settings(l.settings);
    for (const auto& n : l.notices) FUZZ_CHECK(n.find('\n') == std::string::npos, n);
    first = "ok";
  } catch (const config::Error& e) {
    check_error(e);
    first = e.what();
  }
  std::string second;
  try {
    config::load_file(path);
    second = "ok";
  } catch (const config::Error& e) {
    second = e.what();
  }
  FUZZ_CHECK(first == second, second);
  return 0;
}
