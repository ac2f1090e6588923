// server/systemd.hpp: what spfgate takes from libsystemd — socket activation and the journal — with the
// library loaded only when one of them is used.
//
//   int n = systemd::listen_fds();                     // sd_listen_fds(1); 0 without LISTEN_FDS
//   auto sink = systemd::journal_sink("spfgate");      // --log journald
//
// Why not link it: libsystemd and the six libraries it pulls in (libgcrypt, libgpg-error, liblzma, libzstd,
// liblz4, libcap) cost about 1.5 ms of dynamic loading at every exec, and spawn mode starts a process per
// SMTP session that needs none of it. The library is Debian's libsystemd0 (libsystemd.so.0), loaded with
// dlopen() at the first use; its header (libsystemd-dev) gives the function types.
//
// Failure: listen_fds() throws std::runtime_error when LISTEN_FDS is set but the library cannot be loaded
// (socket activation cannot work without it); journal_sink() likewise. The journal sink writes like
// spdlog's systemd_sink (MESSAGE, PRIORITY, SYSLOG_IDENTIFIER); a failed send is spdlog's error.
#pragma once

#include <spdlog/sinks/sink.h>

#include <memory>
#include <string>

namespace spfgate::server::systemd {

int listen_fds();
std::shared_ptr<spdlog::sinks::sink> journal_sink(std::string ident);

}  // namespace spfgate::server::systemd
