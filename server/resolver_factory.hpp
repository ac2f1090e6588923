// server/resolver_factory.hpp: the daemon's Resolvers, built from the DNS settings.
//
//   auto shared = make_shared_resolver(io, settings);          // once per process, on the main io_context
//   auto mine = make_thread_resolver(*shared, settings);       // once per worker thread, used by it alone
//   auto both = make_resolver(io, settings);                   // a single-threaded program (spfgate check)
//
// The shared one is one libunbound context (validating with the root trust anchor unless dnssec = no), so
// every connection of every thread shares its cache; it may be asked from any thread, and answers on the
// asker's own executor (policy/dns/unbound_resolver.hpp). In spawn mode it is built at the first lookup.
// In front of it each thread has spfgate's own answer cache (dns-cache-entries, dns-cache-memory;
// policy/dns/caching_resolver.hpp, not thread-safe) unless that is turned off, and the query counters.
// Failure: throws std::runtime_error when libunbound rejects the settings (bad resolver-config file,
// unreadable trust anchor).
#pragma once

#include "config/settings.hpp"
#include "policy/dns/resolver.hpp"

#include <boost/asio/io_context.hpp>

#include <memory>

namespace spfgate::server {

std::unique_ptr<dns::Resolver> make_shared_resolver(boost::asio::io_context& io, const config::Settings& settings);
// `shared` must outlive the result.
std::unique_ptr<dns::Resolver> make_thread_resolver(dns::Resolver& shared, const config::Settings& settings);
std::unique_ptr<dns::Resolver> make_resolver(boost::asio::io_context& io, const config::Settings& settings);

}  // namespace spfgate::server
