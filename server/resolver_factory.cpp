#include "server/resolver_factory.hpp"

#include "policy/dns/memory_resolver.hpp"

namespace spfgate::server {

std::unique_ptr<dns::Resolver> make_resolver(boost::asio::io_context&, const config::Settings&) {
  return std::make_unique<dns::MemoryResolver>();  // INTERIM until the libunbound resolver lands
}

}  // namespace spfgate::server
