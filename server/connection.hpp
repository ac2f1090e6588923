// server/connection.hpp: one policy connection — read requests, answer each in order, enforce timeouts.
//
//   start_connection(state, std::move(socket), "127.0.0.1:41234", on_close);
//
// The connection owns its stream and a bounded RequestParser. For every complete request it asks the
// current Engine (taken at the start of the request, so a reload never changes an answer half way) and
// writes exactly one "action=...\n\n". A watchdog enforces, at a granularity of at most one second:
// idle-timeout between requests, request-read-timeout from a request's first byte to its end (so a peer
// cannot trickle bytes), and write-timeout for a reply (a peer that never reads). A request that breaks the
// protocol limits is answered with malformed-reply when its end can still be found, otherwise the
// connection is closed; either way one rate-limited warning names the peer and the fault. If the Engine
// has not answered by request-timeout plus a grace period (which would be a bug: every lookup has its
// own deadline) the request is answered DUNNO and an error is logged.
// Failure: nothing escapes; a connection ends by closing its stream and calling on_close.
#pragma once

#include "server/server.hpp"

#include <functional>
#include <memory>
#include <string>

namespace spfgate::server {

template <class Stream>
void start_connection(std::shared_ptr<ServerState> state, Stream stream, std::string peer,
                      std::function<void()> on_close = {});

}  // namespace spfgate::server
