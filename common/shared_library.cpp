#include "common/shared_library.hpp"

#include <dlfcn.h>

namespace spfgate {

SharedLibrary::SharedLibrary(const char* soname) : soname_(soname) {
  handle_ = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    const char* why = ::dlerror();
    error_ = why ? why : soname_ + ": cannot be loaded";
  }
}

void* SharedLibrary::symbol(const char* name) {
  if (!handle_) return nullptr;
  void* address = ::dlsym(handle_, name);
  if (!address) error_ += (error_.empty() ? soname_ + " lacks " : ", ") + std::string(name);
  return address;
}

}  // namespace spfgate
