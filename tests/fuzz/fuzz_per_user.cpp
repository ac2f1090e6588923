// fuzz_per_user: pypolicyd-spf's per-recipient settings file (config/per_user.hpp), and the Per_User option.
//
// Input: the file ("<recipient>,<Name>=<Value>|<Name>=<Value>" lines).
// Invariants: the only exception is config::Error; every recipient of a loaded table is a non-empty,
// lower-case key that find() returns, and its settings pass the same validation as the main file's
// (timeouts that cannot overflow the clock, printable Reason_Message, ...); loading twice gives the same
// table; per_user_path() accepts exactly "text,<path>".
#include "fuzz_common.hpp"

#include "config/error.hpp"
#include "config/options.hpp"
#include "config/per_user.hpp"

namespace config = spfgate::config;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const std::string path = fuzz::write_scratch_file(body, "peruser");
  static const config::Settings base = config::defaults();
  constexpr auto kMaxDuration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::duration::max() / 4);
  try {
    const config::PerUserTable table = config::PerUserTable::load(path, base);
    const config::PerUserTable again = config::PerUserTable::load(path, base);
    FUZZ_CHECK(table.size() == again.size(), body);
    for (const auto& [user, s] : table.entries()) {
      FUZZ_CHECK(!user.empty(), body);
      for (char c : user) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'), user);
      FUZZ_CHECK(table.find(user) == &s, user);
      FUZZ_CHECK(fuzz::is_clean_text(s.reason_message), s.reason_message);
      FUZZ_CHECK(fuzz::is_clean_text(s.authserv_id), s.authserv_id);
      FUZZ_CHECK(s.lookup_time.count() > 0 && s.lookup_time <= kMaxDuration, std::to_string(s.lookup_time.count()));
      FUZZ_CHECK(s.whitelist_lookup_time.count() > 0 && s.whitelist_lookup_time <= kMaxDuration,
                 std::to_string(s.whitelist_lookup_time.count()));
      // Daemon settings cannot be changed per user.
      FUZZ_CHECK(s.max_request_bytes == base.max_request_bytes && s.listen == base.listen, user);
    }
  } catch (const config::Error& e) {
    FUZZ_CHECK(fuzz::is_clean_text(e.what()), std::string(e.what()));
  }
  // The option itself.
  const std::string option(body.substr(0, 300));
  try {
    const std::string p = config::per_user_path(option);
    FUZZ_CHECK(option.rfind("text,", 0) == 0, option);
    (void)p;
  } catch (const config::Error&) {
    FUZZ_CHECK(option.rfind("text,", 0) != 0 || option.size() <= 5, option);
  }
  return 0;
}
