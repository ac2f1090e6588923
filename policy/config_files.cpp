#include "policy/config_files.hpp"

#include <spdlog/spdlog.h>

namespace spfgate::policy {

config::AccessTables ConfigFiles::access_tables(std::string_view what, const std::vector<std::string>& specs,
                                                const config::AccessTableOptions& options) {
  // Read under the lock: a second caller waits for the first reading instead of making its own.
  std::lock_guard lock(mutex_);
  auto key = std::make_tuple(specs, options.parent_domain_matches_subdomains, options.max_file_bytes,
                             options.pcre_match_limit);
  if (auto it = tables_.find(key); it != tables_.end()) return it->second;
  auto tables = config::AccessTables::load(specs, options);  // throws config::Error
  for (const auto& w : tables.warnings()) spdlog::warn("{}: {}", what, w);
  return tables_.emplace(std::move(key), std::move(tables)).first->second;
}

std::shared_ptr<PerUserFile> ConfigFiles::per_user_file(const std::string& path,
                                                        std::shared_ptr<const config::Settings> base) {
  std::lock_guard lock(mutex_);
  auto& file = per_user_files_[path];
  if (!file) {
    try {
      file = std::make_shared<PerUserFile>(path, std::move(base));  // throws config::Error
    } catch (...) {
      per_user_files_.erase(path);
      throw;
    }
  }
  return file;
}

}  // namespace spfgate::policy
