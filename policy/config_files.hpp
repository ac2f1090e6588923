// policy/config_files.hpp: the files one reading of the configuration names, read once for every Engine
// built from it.
//
//   auto files = std::make_shared<ConfigFiles>();
//   auto first = Engine::build(settings, files);          // reads the helo_access tables, the Per_User file
//   auto second = Engine::build(settings, files);         // the same tables, the same Per_User file
//
// Each worker thread has an Engine of its own (its result caches are its thread's), and each Per_User
// recipient one more; all of them built from one configuration must see one reading of its files: read
// once, their warnings logged once, the same table for every worker (so an answer never depends on which
// worker took the connection, even when a table was rewritten between two builds), and held in memory
// once. The next reload makes a new ConfigFiles, so SIGHUP reads every file again.
// Thread-safe: Per_User engines are rebuilt on the workers' threads when the Per_User file changes.
// What it hands out is immutable (AccessTable) or thread-safe itself (PerUserFile).
#pragma once

#include "config/access_table.hpp"
#include "config/settings.hpp"
#include "policy/per_user_file.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace spfgate::policy {

class ConfigFiles {
 public:
  // The tables of these specs, read at the first call for them (warnings logged then, as
  // "<what>: <warning>"), the same tables at every later one. Throws config::Error.
  config::AccessTables access_tables(std::string_view what, const std::vector<std::string>& specs,
                                     const config::AccessTableOptions& options);
  // The Per_User file at this path, read at the first call (throws config::Error), then followed. Its
  // recipients' settings are made from `base` of that first call: every Engine sharing a ConfigFiles is
  // built from the same settings.
  std::shared_ptr<PerUserFile> per_user_file(const std::string& path, std::shared_ptr<const config::Settings> base);

 private:
  std::mutex mutex_;  // guards what follows
  // by everything a reading depends on: the specs and every option
  std::map<std::tuple<std::vector<std::string>, bool, std::size_t, std::uint32_t>, config::AccessTables> tables_;
  std::map<std::string, std::shared_ptr<PerUserFile>> per_user_files_;
};

}  // namespace spfgate::policy
