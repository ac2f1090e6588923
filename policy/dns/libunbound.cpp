#include "policy/dns/libunbound.hpp"

#include "common/shared_library.hpp"

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>

namespace spfgate::dns {

namespace {

constexpr const char* kSoname = "libunbound.so.8";  // Debian 12's libunbound8

}  // namespace

const Libunbound& libunbound() {
  // Loaded by the first caller that can; a failure is thrown again at the next call, so a process that
  // never resolves never needs the library. Once loaded, a call is one atomic load.
  static std::atomic<const Libunbound*> ready{nullptr};
  if (const Libunbound* table = ready.load(std::memory_order_acquire)) return *table;
  static std::mutex mutex;
  const std::lock_guard lock(mutex);
  if (const Libunbound* table = ready.load(std::memory_order_relaxed)) return *table;
  SharedLibrary lib(kSoname);
  Libunbound loaded;
#define SPFGATE_LIBUNBOUND_RESOLVE(name) lib.resolve(loaded.name, #name);
  SPFGATE_LIBUNBOUND_FUNCTIONS(SPFGATE_LIBUNBOUND_RESOLVE)
#undef SPFGATE_LIBUNBOUND_RESOLVE
  if (!lib.ok()) throw std::runtime_error("libunbound: cannot load it: " + lib.error());
  static const Libunbound table = loaded;
  ready.store(&table, std::memory_order_release);
  return table;
}

}  // namespace spfgate::dns
