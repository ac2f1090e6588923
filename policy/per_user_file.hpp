// policy/per_user_file.hpp: the Per_User file, read once for every worker thread's Engine.
//
//   auto file = std::make_shared<PerUserFile>(path, settings);    // reads it; throws config::Error
//   PerUserFile::Snapshot now = file->current();                  // re-read first if it changed
//   if (now.generation != mine) rebuild_from(*now.table);
//
// Each worker has an Engine of its own (its result caches are its thread's), but the file they follow
// must be one: read once per change, logged once, and the same table for every worker — so that a
// recipient's answer never depends on which worker took the connection, even when the file was caught
// half-written (then every worker keeps the previous table until the file changes again).
// Thread-safe; the file's modification time is checked at most once a second.
#pragma once

#include "config/per_user.hpp"
#include "config/settings.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace spfgate::policy {

class PerUserFile {
 public:
  struct Snapshot {
    std::uint64_t generation = 0;  // changes with every table read successfully
    std::shared_ptr<const config::PerUserTable> table;
  };

  // Reads the file now: throws config::Error (start-up and reload fail with it).
  PerUserFile(std::string path, std::shared_ptr<const config::Settings> base);

  Snapshot current();
  const std::string& path() const noexcept { return path_; }

 private:
  const std::string path_;
  const std::shared_ptr<const config::Settings> base_;
  std::mutex mutex_;  // guards what follows
  std::int64_t mtime_ = 0;
  std::chrono::steady_clock::time_point checked_;
  Snapshot snapshot_;
};

}  // namespace spfgate::policy
