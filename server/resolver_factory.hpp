// server/resolver_factory.hpp: the daemon's Resolver, built from the DNS settings.
//
// One libunbound context (validating with the root trust anchor unless dnssec = no), shared by every
// connection so the cache is shared, behind spfgate's own answer cache (dns-cache-entries, dns-cache-memory;
// policy/dns/caching_resolver.hpp) unless that is turned off. Failure: throws std::runtime_error when libunbound rejects the
// settings (bad resolver-config file, unreadable trust anchor).
#pragma once

#include "config/settings.hpp"
#include "policy/dns/resolver.hpp"

#include <boost/asio/io_context.hpp>

#include <memory>

namespace spfgate::server {

std::unique_ptr<dns::Resolver> make_resolver(boost::asio::io_context& io, const config::Settings& settings);

}  // namespace spfgate::server
