// common/shared_library.hpp: a shared library loaded with dlopen() at its first use rather than linked, and
// the functions taken from it.
//
//   SharedLibrary lib("libsystemd.so.0");             // RTLD_NOW | RTLD_LOCAL, never closed
//   lib.resolve(listen_fds, "sd_listen_fds");          // a null pointer and an error when it is missing
//   if (!lib.ok()) ... lib.error() ...                 // "libsystemd.so.0: cannot open shared object file ..."
//
// Why: every library linked is loaded, relocated and initialised at every exec, and spawn mode starts a
// process per SMTP session; a library only some processes need (the journal, socket activation, the
// resolver for a request that needs no DNS) is loaded by those that use it. The process keeps it until it
// ends, so the functions taken from it stay valid.
#pragma once

#include <string>

namespace spfgate {

class SharedLibrary {
 public:
  explicit SharedLibrary(const char* soname);

  bool ok() const noexcept { return error_.empty(); }
  // Why it cannot be used: dlopen()'s message, or the functions it lacks. Empty when ok().
  const std::string& error() const noexcept { return error_; }

  // Sets fn to the library's function `name` (declared in its header, so the type is checked there), or
  // to nullptr and records the error.
  template <class Function>
  void resolve(Function*& fn, const char* name) {
    fn = reinterpret_cast<Function*>(symbol(name));
  }

 private:
  void* symbol(const char* name);

  std::string soname_;
  void* handle_ = nullptr;
  std::string error_;
};

}  // namespace spfgate
