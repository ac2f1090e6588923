// policy/dns/libunbound.hpp: the libunbound functions spfgate calls, taken from Debian's libunbound.so.8
// with dlopen() when the first resolver is built, instead of linked.
//
//   const Libunbound& ub = libunbound();   // loads it once; throws std::runtime_error when it cannot
//   ub_ctx* ctx = ub.ub_ctx_create();
//
// Why: libunbound and the four libraries it brings (libevent, libhogweed, libnettle, libgmp) cost about
// 1 ms of every exec on the development VM (tests/bench/README.md, "Spawn mode"), and spawn
// mode starts a process per SMTP session, which builds its resolver only at its first lookup
// (server/resolver_factory.cpp): a request that needs no DNS is answered without loading any of them. The
// daemon builds its resolver at start, so it loads the library there and fails at start without it.
// unbound.h (libunbound-dev) declares the functions, so every call is type-checked as if linked.
//
// Failure: "libunbound: cannot load it: libunbound.so.8: cannot open shared object file: ..." (or the
// functions it lacks), thrown by libunbound() at every call until it can be loaded.
#pragma once

#include <unbound.h>

namespace spfgate::dns {

// X(name) for every function used: the table's members and their loading come from this one list.
#define SPFGATE_LIBUNBOUND_FUNCTIONS(X)                                                                       \
  X(ub_ctx_create) X(ub_ctx_delete) X(ub_ctx_async) X(ub_ctx_set_option) X(ub_ctx_config)                   \
  X(ub_ctx_add_ta_file) X(ub_ctx_set_fwd) X(ub_ctx_zone_remove) X(ub_fd) X(ub_process) X(ub_resolve_async) \
  X(ub_resolve_free) X(ub_cancel) X(ub_strerror)

struct Libunbound {
#define SPFGATE_LIBUNBOUND_MEMBER(name) decltype(&::name) name = nullptr;
  SPFGATE_LIBUNBOUND_FUNCTIONS(SPFGATE_LIBUNBOUND_MEMBER)
#undef SPFGATE_LIBUNBOUND_MEMBER
};

const Libunbound& libunbound();

}  // namespace spfgate::dns
