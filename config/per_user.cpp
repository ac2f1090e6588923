#include "config/per_user.hpp"

#include "common/text.hpp"
#include "config/error.hpp"
#include "config/lines.hpp"
#include "config/options.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace spfgate::config {

namespace {

// pypolicyd-spf's policydspfuser.py list, plus TestOnly.
constexpr std::array<std::string_view, 26> kAllowed = {
    "debugLevel",       "HELO_reject",          "Mail_From_reject",          "PermError_reject",
    "TempError_Defer",  "Mail_From_pass_restriction", "HELO_pass_restriction", "Prospective",
    "Whitelist",        "skip_addresses",       "Domain_Whitelist",          "Domain_Whitelist_PTR",
    "HELO_Whitelist",   "No_Mail",              "Reject_Not_Pass_Domains",   "defaultSeedOnly",
    "SPF_Enhanced_Status_Codes", "Header_Type", "Hide_Receiver",             "Authserv-Id",
    "Authserv_Id",      "Lookup_Time",          "Whitelist_Lookup_Time",     "Void_Limit",
    "Reason_Message",   "TestOnly"};

}  // namespace

std::string per_user_path(const std::string& option) {
  if (option.rfind("text,", 0) != 0 || option.size() <= 5) throw Error({}, 0, "Per_User", "expected text,<path>");
  return std::string(trim(std::string_view(option).substr(5)));
}

PerUserTable PerUserTable::load(const std::string& path, const Settings& base) {
  PerUserTable table;
  for (const ConfigLine& l : read_config_lines(path, "per-user file")) {
    const std::string_view text = l.text;
    const int line = l.number;
    const auto comma = text.find(',');
    if (comma == std::string_view::npos)
      throw Error(path, line, {}, "expected <recipient>,<Name>=<Value>|..., found \"" + loggable(text) + "\"");
    const std::string user = ascii_lower(trim(text.substr(0, comma)));
    if (user.empty()) throw Error(path, line, {}, "missing recipient before ','");
    std::vector<std::pair<std::string, std::string>> options;
    std::string_view rest = text.substr(comma + 1);
    while (!rest.empty()) {
      const auto bar = rest.find('|');
      const std::string_view item = trim(rest.substr(0, bar));
      rest = bar == std::string_view::npos ? std::string_view{} : rest.substr(bar + 1);
      if (item.empty()) continue;
      const auto eq = item.find('=');
      if (eq == std::string_view::npos)
        throw Error(path, line, {}, "expected Name=Value, found \"" + loggable(item) + "\"");
      std::string name(trim(item.substr(0, eq)));
      if (std::find(kAllowed.begin(), kAllowed.end(), name) == kAllowed.end())
        throw Error(path, line, name, "not allowed in per-user settings");
      if (name == "Authserv-Id") name = "Authserv_Id";
      options.emplace_back(std::move(name), std::string(trim(item.substr(eq + 1))));
    }
    if (table.users_.count(user)) continue;  // the first line for a recipient wins
    try {
      table.users_.emplace(user, with_overrides(base, options));
    } catch (const Error& e) {
      throw Error(path, line, e.option(), e.message());
    }
  }
  return table;
}

const Settings* PerUserTable::find(const std::string& recipient) const {
  auto it = users_.find(recipient);
  return it == users_.end() ? nullptr : &it->second;
}

}  // namespace spfgate::config
