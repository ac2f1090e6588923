// common/spdlog_compiled.cpp: spdlog's own code, compiled once for the whole program.
//
// Why: spfgate is linked with spdlog rather than with Debian's libspdlog.so, whose 1,193 symbols a spawned
// process had to bind at every exec (tests/bench/README.md, "Spawn mode"). Used header-only, spdlog's code
// (the registry, the logger, the pattern formatter, the sinks' bodies) is compiled again in every file that
// logs, which doubled the build (CI's time doubled with it). Here it is compiled once, from Debian's
// own headers: every other file sees SPDLOG_COMPILED_LIB (the spfgate_spdlog target) and only declarations.
//
// The explicit instantiations are the templates spdlog keeps in its -inl.h files that spfgate uses; a sink
// or logger type added elsewhere that is missing here fails at link time, never at run time.
#ifndef SPDLOG_COMPILED_LIB
#error "common/spdlog_compiled.cpp is built with SPDLOG_COMPILED_LIB (the spfgate_spdlog target)"
#endif

#include <mutex>

#include <spdlog/common-inl.h>
#include <spdlog/details/backtracer-inl.h>
#include <spdlog/details/log_msg-inl.h>
#include <spdlog/details/log_msg_buffer-inl.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/details/os-inl.h>
#include <spdlog/details/periodic_worker-inl.h>
#include <spdlog/details/registry-inl.h>
#include <spdlog/logger-inl.h>
#include <spdlog/pattern_formatter-inl.h>
#include <spdlog/sinks/ansicolor_sink-inl.h>
#include <spdlog/sinks/base_sink-inl.h>
#include <spdlog/sinks/sink-inl.h>
#include <spdlog/sinks/stdout_sinks-inl.h>
#include <spdlog/spdlog-inl.h>

template class spdlog::sinks::base_sink<std::mutex>;
template class spdlog::sinks::base_sink<spdlog::details::null_mutex>;
// The registry's default logger, until logging is set up (server/logging.cpp), writes to a colour sink.
template class spdlog::sinks::ansicolor_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::ansicolor_stdout_sink<spdlog::details::console_mutex>;
template class spdlog::sinks::stdout_sink_base<spdlog::details::console_nullmutex>;
template class spdlog::sinks::stderr_sink<spdlog::details::console_nullmutex>;
template class spdlog::sinks::stdout_sink_base<spdlog::details::console_mutex>;
template class spdlog::sinks::stderr_sink<spdlog::details::console_mutex>;
