// config/per_user.hpp: pypolicyd-spf's per-recipient settings file (Per_User = text,<path>).
//
//   PerUserTable t = PerUserTable::load(path, base);   // throws config::Error with file:line
//   if (const Settings* s = t.find("alice@example.net")) ...
//
// File format (policyd-spf.peruser(5)): one line per recipient, "<recipient>,<Name>=<Value>|<Name>=<Value>",
// '#' starts a comment, blank lines are ignored. The recipient is compared exactly with the lower-cased
// full recipient address; the first line for a recipient wins. Allowed names are pypolicyd-spf's list
// (HELO_reject, Mail_From_reject, PermError_reject, TempError_Defer, the pass restrictions, Prospective,
// the bypass lists, No_Mail, Reject_Not_Pass_Domains, SPF_Enhanced_Status_Codes, Header_Type,
// Hide_Receiver, Authserv-Id, Lookup_Time, Whitelist_Lookup_Time, Void_Limit, Reason_Message, debugLevel,
// defaultSeedOnly) plus TestOnly, which pypolicyd-spf documents but refuses. Values are validated like the
// main file's. Unlike pypolicyd-spf (which re-reads the file for every request and crashes on a bad line),
// the table is loaded once, reloaded when the file changes, and a bad line is an error naming it.
#pragma once

#include "config/settings.hpp"

#include <chrono>
#include <map>
#include <string>

namespace spfgate::config {

class PerUserTable {
 public:
  static PerUserTable load(const std::string& path, const Settings& base);
  // The settings for this recipient (lower-cased full address), or nullptr.
  const Settings* find(const std::string& recipient) const;
  std::size_t size() const noexcept { return users_.size(); }
  const std::map<std::string, Settings, std::less<>>& entries() const noexcept { return users_; }

 private:
  std::map<std::string, Settings, std::less<>> users_;
};

// "text,<path>" → "<path>"; throws config::Error for another form.
std::string per_user_path(const std::string& per_user_option);

}  // namespace spfgate::config
