#include "policy/per_user_file.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

namespace spfgate::policy {

namespace {

std::int64_t mtime_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

PerUserFile::PerUserFile(std::string path, std::shared_ptr<const config::Settings> base)
    : path_(std::move(path)), base_(std::move(base)) {
  mtime_ = mtime_of(path_);
  snapshot_ = Snapshot{1, std::make_shared<const config::PerUserTable>(config::PerUserTable::load(path_, *base_))};
  checked_ = std::chrono::steady_clock::now();
}

PerUserFile::Snapshot PerUserFile::current() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now - checked_ < std::chrono::seconds(1)) return snapshot_;
  checked_ = now;
  const std::int64_t mtime = mtime_of(path_);
  if (mtime == mtime_) return snapshot_;
  mtime_ = mtime;  // a broken file is not retried until it changes again
  try {
    auto table = std::make_shared<const config::PerUserTable>(config::PerUserTable::load(path_, *base_));
    snapshot_ = Snapshot{snapshot_.generation + 1, std::move(table)};
    spdlog::info("Per_User: reloaded {} ({} recipients)", path_, snapshot_.table->size());
  } catch (const std::exception& e) {
    spdlog::error("Per_User: keeping the previous table: {}", e.what());
  }
  return snapshot_;
}

}  // namespace spfgate::policy
