#include "policy/dns/memory_resolver.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <stdexcept>

namespace spfgate::dns {

namespace asio = boost::asio;

void MemoryResolver::add(std::string_view name, RrType type, std::variant<Data, Failure> value) {
  zone_[normalize_name(name)].push_back(Entry{type, std::move(value)});
}

void MemoryResolver::add_a(std::string_view name, std::string_view address) {
  auto ip = parse_ip(address);
  if (!ip) throw std::invalid_argument("MemoryResolver: bad address " + std::string(address));
  add(name, ip->is_v4() ? RrType::A : RrType::AAAA, Data{*ip});
}

void MemoryResolver::add_txt(std::string_view name, std::vector<std::string> strings) {
  add(name, RrType::TXT, Data{std::move(strings)});
}

void MemoryResolver::add_mx(std::string_view name, std::uint16_t preference, std::string_view exchange) {
  add(name, RrType::MX, Data{MxRecord{preference, normalize_name(exchange)}});
}

void MemoryResolver::add_ptr(std::string_view name, std::string_view target) {
  add(name, RrType::PTR, Data{normalize_name(target)});
}

void MemoryResolver::add_cname(std::string_view name, std::string_view target) {
  add(name, RrType::CNAME, Data{normalize_name(target)});
}

void MemoryResolver::add_ns(std::string_view name, std::string_view target) {
  add(name, RrType::NS, Data{normalize_name(target)});
}

void MemoryResolver::add_reverse(const IpAddress& address, std::string_view target) {
  add_ptr(reverse_name(address), target);
}

void MemoryResolver::add_name_failure(std::string_view name, DnsStatus status, std::string why) {
  add(name, RrType::A, Failure{status, std::move(why), true});
}

void MemoryResolver::add_type_failure(std::string_view name, RrType type, DnsStatus status, std::string why) {
  add(name, type, Failure{status, std::move(why), false});
}

void MemoryResolver::add_empty_name(std::string_view name) { zone_[normalize_name(name)]; }

void MemoryResolver::set_dnssec(std::string_view name, Dnssec state) { dnssec_[normalize_name(name)] = state; }

void MemoryResolver::clear() {
  zone_.clear();
  dnssec_.clear();
  queries_.clear();
}

DnsAnswer MemoryResolver::lookup(std::string_view name, RrType type) const {
  return lookup_one(normalize_name(name), type, 0);
}

DnsAnswer MemoryResolver::lookup_one(const std::string& name, RrType type, int depth) const {
  DnsAnswer answer;
  answer.ttl = ttl_;
  if (auto s = dnssec_.find(name); s != dnssec_.end()) {
    if (s->second == Dnssec::Bogus)
      return DnsAnswer::failure(DnsStatus::Bogus, "validation failure <" + name + ">: signature crypto failed");
    answer.dnssec = s->second;
  }
  auto it = zone_.find(name);
  if (it == zone_.end()) {
    answer.status = DnsStatus::NxDomain;
    return answer;
  }
  const std::string* cname = nullptr;
  bool have = false;
  for (const Entry& e : it->second) {
    if (const auto* f = std::get_if<Failure>(&e.value)) {
      if (f->whole_name) {
        if (have) break;  // records of this type came first: answer with them
        return DnsAnswer::failure(f->status, f->why.empty() ? std::string(to_string(f->status)) : f->why);
      }
      if (e.type == type)
        return DnsAnswer::failure(f->status, f->why.empty() ? std::string(to_string(f->status)) : f->why);
      continue;
    }
    const Data& d = std::get<Data>(e.value);
    if (e.type == RrType::CNAME) cname = &std::get<std::string>(d);
    if (e.type != type) continue;
    have = true;
    switch (type) {
      case RrType::A:
      case RrType::AAAA: answer.addresses.push_back(std::get<IpAddress>(d)); break;
      case RrType::TXT: answer.txt.push_back(std::get<std::vector<std::string>>(d)); break;
      case RrType::MX: answer.mx.push_back(std::get<MxRecord>(d)); break;
      default: answer.names.push_back(std::get<std::string>(d)); break;
    }
  }
  if (have) {
    answer.status = DnsStatus::Ok;
    return answer;
  }
  if (cname && type != RrType::CNAME) {
    if (depth >= kMaxCnameChain)
      return DnsAnswer::failure(DnsStatus::ServFail, "CNAME chain too long or looping at " + name);
    return lookup_one(*cname, type, depth + 1);
  }
  answer.status = DnsStatus::NoData;
  return answer;
}

asio::awaitable<DnsAnswer> MemoryResolver::query(std::string name, RrType type, Deadline deadline) {
  queries_.emplace_back(normalize_name(name), type);
  DnsAnswer answer = lookup(name, type);
  const bool wait_for_deadline = answer.status == DnsStatus::Timeout && real_timeouts_;
  if (latency_.count() > 0 || wait_for_deadline) {
    auto when = Clock::now() + latency_;
    if (wait_for_deadline || when > deadline) when = deadline;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_at(when);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (Clock::now() >= deadline && answer.status != DnsStatus::Timeout)
    answer = DnsAnswer::failure(DnsStatus::Timeout, "deadline passed");
  co_return answer;
}

}  // namespace spfgate::dns
