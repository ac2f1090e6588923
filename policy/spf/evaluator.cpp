#include "policy/spf/evaluator.hpp"

#include "common/async.hpp"
#include "common/text.hpp"
#include "policy/spf/excerpt.hpp"
#include "policy/spf/macro.hpp"
#include "policy/spf/record.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <exception>
#include <optional>

namespace spfgate::spf {

namespace asio = boost::asio;
using dns::DnsAnswer;
using dns::DnsStatus;
using dns::RrType;

std::string_view to_string(Result result) noexcept {
  switch (result) {
    case Result::None: return "none";
    case Result::Neutral: return "neutral";
    case Result::Pass: return "pass";
    case Result::Fail: return "fail";
    case Result::SoftFail: return "softfail";
    case Result::TempError: return "temperror";
    case Result::PermError: return "permerror";
  }
  return "unknown";
}

std::string_view to_capitalized(Result result) noexcept {
  switch (result) {
    case Result::None: return "None";
    case Result::Neutral: return "Neutral";
    case Result::Pass: return "Pass";
    case Result::Fail: return "Fail";
    case Result::SoftFail: return "Softfail";
    case Result::TempError: return "Temperror";
    case Result::PermError: return "Permerror";
  }
  return "Unknown";
}

std::string_view to_string(Identity identity) noexcept {
  return identity == Identity::Helo ? "helo" : "mailfrom";
}

namespace {

// How much of a record a trace step quotes.
constexpr std::size_t kMaxTracedRecord = 512;

// Temporary DNS trouble in pyspf's words where it has them ("DNS Timeout" is what pypolicyd-spf users see).
std::string dns_problem(const DnsAnswer& answer) {
  switch (answer.status) {
    case DnsStatus::Timeout: return "DNS Timeout";
    case DnsStatus::ServFail: return "DNS Error: SERVFAIL";
    case DnsStatus::Bogus: return "DNS Error: DNSSEC validation failed";
    default: return "DNS Error: " + (answer.why.empty() ? std::string("error") : excerpt(answer.why));
  }
}

std::string join(const std::vector<std::string>& strings) {
  std::size_t size = 0;
  for (const auto& s : strings) size += s.size();
  std::string out;
  out.reserve(size);
  for (const auto& s : strings) out += s;
  return out;
}

// "name" equals "domain" or is a subdomain of it, ignoring case (§5.5).
bool is_within(std::string_view name, std::string_view domain) noexcept {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  if (name.size() == domain.size()) return iequals(name, domain);
  return name.size() > domain.size() && name[name.size() - domain.size() - 1] == '.' &&
         iequals(name.substr(name.size() - domain.size()), domain);
}

// Prefix length that compares whole addresses: 32 for IPv4, 128 for IPv6.
unsigned full_length(const IpAddress& address) noexcept { return address.is_v4() ? 32 : 128; }

bool contains(const DnsAnswer& answer, const IpAddress& client, unsigned bits) noexcept {
  for (const IpAddress& a : answer.addresses)
    if (a.is_v4() == client.is_v4() && prefix_match(a, client, bits)) return true;
  return false;
}

enum class Match { No, Yes, Stop };  // Stop: the evaluation ended with temperror/permerror

// Where in the include/redirect tree a record is being evaluated.
struct Frame {
  std::string_view domain;
  unsigned depth = 0;
  bool top = false;  // the top record or a redirect reached from it: decides the mechanism and exp=
};

struct RecordFetch {
  enum class Status { Found, None, TempError, PermError } status = Status::None;
  std::string text;
  std::vector<std::string> strings;
};

class Evaluation {
 public:
  // `request` and `options` must outlive the evaluation (check_host() keeps them in its coroutine frame).
  Evaluation(dns::Resolver& resolver, const Request& request, const Options& options, dns::Deadline deadline,
             Outcome& out)
      : resolver_(resolver), options_(options), limits_(options.limits), out_(out) {
    deadline_ = std::min(deadline, dns::Clock::now() + options.limits.time_budget);
    client_ = unmap(request.client);  // §5: an IPv4-mapped client is an IPv4 client
    helo_ = request.helo;
    receiver_ = request.receiver;
    // §4.3: <sender> without a local-part gets "postmaster"; the HELO identity is postmaster@helo.
    sender_ = request.sender;
    if (sender_.empty()) sender_ = sender_storage_ = "postmaster@" + request.helo;
    const auto at = sender_.rfind('@');
    if (at == std::string_view::npos) {
      local_ = kPostmaster;
      sender_domain_ = dns::normalize_name(sender_);
    } else {
      local_ = sender_.substr(0, at);
      sender_domain_ = dns::normalize_name(sender_.substr(at + 1));
      if (local_.empty()) {
        local_ = kPostmaster;
        sender_storage_ = std::string(kPostmaster) + std::string(sender_);
        sender_ = sender_storage_;
      }
    }
    out_.domain = evaluated_domain(request);
  }

  asio::awaitable<void> run() {
    const std::string_view domain = out_.domain;
    const Frame frame{domain, 0, true};
    // §4.3: a malformed or single-label <domain> (or an address literal) gives "none" without a lookup.
    if (!is_valid_dns_name(domain) || domain.find('.') == std::string_view::npos || domain.front() == '[') {
      step(frame, "record", "none: malformed domain");
      out_.result = Result::None;
      co_return;
    }
    RecordFetch fetch = select_record(frame, co_await lookup(std::string(domain), RrType::TXT), {}, Fetch::Top);
    switch (fetch.status) {
      case RecordFetch::Status::TempError: out_.result = Result::TempError; co_return;
      case RecordFetch::Status::PermError: out_.result = Result::PermError; co_return;
      case RecordFetch::Status::None:
        step(frame, "record", "none: no SPF record");
        out_.result = Result::None;
        co_return;
      case RecordFetch::Status::Found: break;
    }
    out_.record = std::move(fetch.text);
    out_.record_strings = std::move(fetch.strings);
    out_.result = co_await evaluate(frame, out_.record);
    if (out_.result == Result::Fail) co_await explain();
  }

 private:
  static constexpr std::string_view kPostmaster = "postmaster";

  bool tracing() const noexcept { return options_.trace; }

  void step(Frame f, std::string_view term, std::string_view outcome) {
    if (!tracing()) return;
    out_.trace.push_back(TraceStep{f.depth, std::string(f.domain), excerpt(term, kMaxTracedRecord),
                                   std::string(outcome)});
  }

  // Ends the evaluation with an error; the innermost fault names the problem and the term (empty when the
  // record as a whole is at fault: its lookup, several records, non-ASCII text).
  Match stop(Frame f, std::string_view term, Result result, std::string problem) {
    if (tracing()) step(f, term.empty() ? "record" : term, std::string(to_string(result)) + ": " + problem);
    error_ = result;
    out_.problem = std::move(problem);
    if (out_.mechanism.empty() && !term.empty()) out_.mechanism = excerpt(term);  // it may hold any byte
    return Match::Stop;
  }

  // §4.6.4: at most max_dns_terms DNS-querying terms in the whole evaluation; the next one is permerror.
  bool count_term(Frame f, std::string_view term) {
    if (++out_.dns_terms <= limits_.max_dns_terms) return true;
    stop(f, term, Result::PermError, "Too many DNS lookups");
    return false;
  }

  // §4.6.4: terms whose lookup is void (NXDOMAIN or no answers) beyond max_void_lookups are permerror.
  bool note_void(Frame f, std::string_view term) {
    step(f, term, "void lookup");
    if (++out_.void_lookups <= limits_.max_void_lookups) return true;
    std::string problem = "Void lookup limit of ";
    problem += std::to_string(limits_.max_void_lookups);
    problem += " exceeded";
    stop(f, term, Result::PermError, std::move(problem));
    return false;
  }

  static asio::awaitable<DnsAnswer> out_of_time() {
    co_return DnsAnswer::failure(DnsStatus::Timeout, "time budget exhausted");
  }

  // One query under the evaluation's deadline. A plain function handing out the resolver's own awaitable, so
  // a lookup costs no coroutine frame of ours.
  asio::awaitable<DnsAnswer> lookup(std::string name, RrType type) {
    if (dns::Clock::now() >= deadline_) {
      out_.reusable = false;  // a later evaluation, with time left, may well get an answer
      return out_of_time();
    }
    ++out_.dns_queries;
    return resolver_.query(std::move(name), type, deadline_);
  }

  // Independent lookups of one mechanism (the addresses of its MX or PTR names) run concurrently; the
  // answers come back in the order of `names`, so what the caller makes of them does not depend on timing.
  asio::awaitable<std::vector<DnsAnswer>> lookup_all(std::vector<std::string> names, RrType type) {
    std::vector<asio::awaitable<DnsAnswer>> lookups;
    lookups.reserve(names.size());
    for (std::string& name : names) lookups.push_back(lookup(std::move(name), type));
    return gather(std::move(lookups));
  }

  // Whose record is fetched: the top one (kept with its character-strings for Outcome::record_strings; its
  // lookup is not a term) or the target of an include/redirect term (a void answer counts, §4.6.4).
  enum class Fetch { Top, Target };

  // §4.4/§4.5: from the TXT answer for a domain, exactly one record starting with "v=spf1".
  RecordFetch select_record(Frame f, DnsAnswer answer, std::string_view term, Fetch kind) {
    const bool keep_strings = kind == Fetch::Top;
    RecordFetch fetch;
    if (answer.is_temporary()) {
      stop(f, term, Result::TempError, dns_problem(answer));
      fetch.status = RecordFetch::Status::TempError;
      return fetch;
    }
    if (answer.is_void()) {
      if (kind == Fetch::Target && !note_void(f, term)) fetch.status = RecordFetch::Status::PermError;
      return fetch;
    }
    std::vector<std::string>* found = nullptr;
    for (auto& strings : answer.txt) {
      if (!is_spf_record(strings)) continue;
      if (found) {
        stop(f, term, Result::PermError, "Two or more type TXT spf records found.");
        fetch.status = RecordFetch::Status::PermError;
        return fetch;
      }
      found = &strings;
    }
    if (!found) return fetch;
    fetch.status = RecordFetch::Status::Found;
    if (!keep_strings && found->size() == 1) {
      fetch.text = std::move(found->front());  // the common one-string record: no copy
      return fetch;
    }
    fetch.text = join(*found);
    if (keep_strings) fetch.strings = std::move(*found);
    return fetch;
  }

  MacroValues macro_values(std::string_view domain) const {
    MacroValues v;
    v.sender = sender_;
    v.local_part = local_;
    v.sender_domain = sender_domain_;
    v.domain = domain;
    v.helo = helo_;
    v.receiver = receiver_;
    v.client = client_;
    return v;  // no timestamp: %{t} is allowed only in explanation text, see explain()
  }

  // %{p} (§7.3): the validated names of the client, looked up once per evaluation. §4.6.4: the PTR lookup
  // of %{p} counts against the DNS term limit (false: the limit was exceeded, the evaluation has stopped),
  // and at most max_ptr_names PTR names are validated. DNS errors, or no room left in the budget while
  // expanding exp= text (which cannot fail), leave no names: the macro then reads "unknown". A PTR lookup
  // without answers is not a void lookup here: the client, not the domain owner, controls it.
  asio::awaitable<bool> resolve_ptr_names(Frame f, std::string_view term, bool may_fail = true) {
    if (ptr_names_) co_return true;
    if (!may_fail && out_.dns_terms >= limits_.max_dns_terms) co_return true;  // no names: "unknown"
    if (!count_term(f, term)) co_return false;
    ptr_names_.emplace();
    DnsAnswer answer = co_await lookup(dns::reverse_name(client_), RrType::PTR);
    if (!answer.ok()) co_return true;
    if (answer.names.size() > limits_.max_ptr_names) answer.names.resize(limits_.max_ptr_names);
    std::vector<DnsAnswer> addresses = co_await lookup_all(answer.names, address_type());
    for (std::size_t i = 0; i < addresses.size(); ++i)
      if (addresses[i].ok() && contains(addresses[i], client_, full_length(client_)))
        ptr_names_->push_back(std::move(answer.names[i]));
    co_return true;
  }

  // §7.3: <domain> itself if validated, else a validated subdomain of it, else any validated name.
  std::string_view ptr_name_for(std::string_view domain) const {
    if (!ptr_names_ || ptr_names_->empty()) return "unknown";
    for (const std::string& n : *ptr_names_)
      if (iequals(n, domain)) return n;
    for (const std::string& n : *ptr_names_)
      if (is_within(n, domain)) return n;
    return ptr_names_->front();
  }

  // The target name of a term: its expanded domain-spec, or the current domain (callers resolve %{p} first).
  bool expand_target(Frame f, std::string_view spec, std::string_view term, std::string& target) {
    if (spec.empty()) {
      target.assign(f.domain);
      return true;
    }
    if (spec.find('%') != std::string_view::npos) out_.reads_request = true;
    MacroValues v = macro_values(f.domain);
    v.ptr_name = ptr_name_for(f.domain);
    std::string why;
    if (expand_domain_spec(spec, v, target, &why)) return true;
    stop(f, term, Result::PermError, std::move(why));
    return false;
  }

  RrType address_type() const noexcept { return client_.is_v4() ? RrType::A : RrType::AAAA; }

  // Evaluates one record (§4.6): mechanisms left to right, then redirect= if nothing matched.
  asio::awaitable<Result> evaluate(Frame f, std::string_view text) {
    // Parsed once per distinct text and shared (the views of `record` point into parsed->text).
    const std::shared_ptr<const ParsedRecord> parsed = parse_record_cached(text);
    if (!parsed->ok) {
      stop(f, parsed->bad_term, Result::PermError, parsed->error);
      co_return Result::PermError;
    }
    const Record& record = parsed->record;
    if (tracing()) step(f, "record", excerpt(text, kMaxTracedRecord));
    for (const Mechanism& m : record.mechanisms) {
      const Match match = m.queries_dns() ? co_await dns_mechanism(f, m) : local_mechanism(f, m);
      if (match == Match::Stop) co_return error_;
      if (match == Match::No) continue;
      if (f.top) {
        out_.mechanism = std::string(m.text);
        keep_exp(f, record);
      }
      co_return to_result(m.qualifier);
    }
    if (record.redirect && !record.has_all) {
      const std::string_view term = record.redirect_term;
      if (!count_term(f, term)) co_return Result::PermError;
      if (uses_ptr_macro(*record.redirect) && !co_await resolve_ptr_names(f, term)) co_return Result::PermError;
      std::string target;
      if (!expand_target(f, *record.redirect, term, target)) co_return Result::PermError;
      RecordFetch fetch;
      if (is_valid_dns_name(target))
        fetch = select_record(f, co_await lookup(target, RrType::TXT), term, Fetch::Target);
      switch (fetch.status) {
        case RecordFetch::Status::TempError: co_return Result::TempError;
        case RecordFetch::Status::PermError: co_return Result::PermError;
        case RecordFetch::Status::None:
          // §6.1: a redirect to a domain without a record is permerror, not none.
          stop(f, term, Result::PermError, "redirect domain has no SPF record: " + excerpt(target));
          co_return Result::PermError;
        case RecordFetch::Status::Found: break;
      }
      step(f, term, "followed");
      // §6.2: the redirect target's own exp= (or none) applies from here on.
      co_return co_await evaluate(Frame{target, f.depth + 1, f.top}, fetch.text);
    }
    if (f.top) {
      out_.mechanism = "default";
      keep_exp(f, record);
    }
    step(f, "default", "no match: neutral");
    co_return Result::Neutral;
  }

  void keep_exp(Frame f, const Record& record) {
    exp_spec_.reset();
    if (!record.exp) return;
    exp_spec_ = std::string(*record.exp);
    exp_term_ = std::string(record.exp_term);
    exp_domain_ = std::string(f.domain);
  }

  // all, ip4, ip6: no DNS, so no coroutine.
  Match local_mechanism(Frame f, const Mechanism& m) {
    bool hit = true;  // all
    if (m.type == MechanismType::Ip4 || m.type == MechanismType::Ip6) {
      const bool v4 = m.type == MechanismType::Ip4;
      hit = client_.is_v4() == v4 && prefix_match(m.network, client_, v4 ? m.cidr4 : m.cidr6);
    }
    step(f, m.text, hit ? "match" : "no match");
    return hit ? Match::Yes : Match::No;
  }

  // include, a, mx, exists (ptr has its own): one DNS term each.
  asio::awaitable<Match> dns_mechanism(Frame f, const Mechanism& m) {
    if (!count_term(f, m.text)) co_return Match::Stop;
    if (uses_ptr_macro(m.domain_spec) && !co_await resolve_ptr_names(f, m.text)) co_return Match::Stop;
    std::string target;
    if (!expand_target(f, m.domain_spec, m.text, target)) co_return Match::Stop;

    if (m.type == MechanismType::Ptr) co_return co_await ptr(f, m, std::move(target));
    if (m.type == MechanismType::Include) {
      // §5.2: include matches on pass, not on fail/softfail/neutral; errors propagate; no record is permerror.
      RecordFetch fetch;
      if (is_valid_dns_name(target))
        fetch = select_record(f, co_await lookup(target, RrType::TXT), m.text, Fetch::Target);
      switch (fetch.status) {
        case RecordFetch::Status::TempError:
        case RecordFetch::Status::PermError: co_return Match::Stop;
        case RecordFetch::Status::None:
          co_return stop(f, m.text, Result::PermError,
                         "No valid SPF record for included domain: " + excerpt(target) + ": " + excerpt(m.text));
        case RecordFetch::Status::Found: break;
      }
      const Result inner = co_await evaluate(Frame{target, f.depth + 1, false}, fetch.text);
      switch (inner) {
        case Result::Pass: step(f, m.text, "match"); co_return Match::Yes;
        case Result::TempError:
        case Result::PermError: co_return Match::Stop;
        default:
          if (tracing()) step(f, m.text, "no match (" + std::string(to_string(inner)) + ")");
          co_return Match::No;
      }
    }

    // a, mx, exists: a name that cannot be queried (empty or over-long label, §4.3) matches nothing.
    if (!is_valid_dns_name(target)) {
      if (tracing()) step(f, m.text, "no match: invalid name " + excerpt(target));
      co_return Match::No;
    }
    // §5.3 a: addresses of the client's family; §5.4 mx: the MX names first; §5.7 exists: A, whatever the
    // client's family.
    const RrType type = m.type == MechanismType::Mx       ? RrType::MX
                        : m.type == MechanismType::Exists ? RrType::A
                                                          : address_type();
    DnsAnswer answer = co_await lookup(std::move(target), type);
    if (answer.is_temporary()) co_return stop(f, m.text, Result::TempError, dns_problem(answer));
    if (answer.is_void()) co_return note_void(f, m.text) ? Match::No : Match::Stop;
    bool hit = false;
    if (m.type == MechanismType::Exists) {
      hit = !answer.addresses.empty();
    } else if (m.type == MechanismType::A) {
      hit = contains(answer, client_, type == RrType::A ? m.cidr4 : m.cidr6);
    } else {
      const Match mx = co_await mx_hosts(f, m, std::move(answer.mx));
      if (mx == Match::Stop) co_return mx;
      hit = mx == Match::Yes;
    }
    step(f, m.text, hit ? "match" : "no match");
    co_return hit ? Match::Yes : Match::No;
  }

  // §5.4: the addresses of every MX name; more than max_mx_names names is permerror (§4.6.4).
  asio::awaitable<Match> mx_hosts(Frame f, const Mechanism& m, std::vector<dns::MxRecord> mx) {
    // RFC 7505 null MX ("." / empty exchange) names no host.
    std::erase_if(mx, [](const dns::MxRecord& r) {
      return r.exchange.empty() || r.exchange == "." || !is_valid_dns_name(r.exchange);
    });
    if (mx.size() > limits_.max_mx_names) {
      std::string problem = "More than ";
      problem += std::to_string(limits_.max_mx_names);
      problem += " MX records returned";
      co_return stop(f, m.text, Result::PermError, std::move(problem));
    }
    const RrType type = address_type();
    const unsigned bits = type == RrType::A ? m.cidr4 : m.cidr6;
    // §5: a DNS error while evaluating the mechanism is temperror. Taken in preference order (as pyspf),
    // the first error or match decides, whatever order DNS listed the names or the answers arrived in.
    const auto judge = [&](const DnsAnswer& host) {
      if (host.is_temporary()) return stop(f, m.text, Result::TempError, dns_problem(host));
      return contains(host, client_, bits) ? Match::Yes : Match::No;
    };
    if (mx.size() == 1) co_return judge(co_await lookup(std::move(mx.front().exchange), type));
    std::sort(mx.begin(), mx.end(), [](const dns::MxRecord& x, const dns::MxRecord& y) {
      return x.preference != y.preference ? x.preference < y.preference : x.exchange < y.exchange;
    });
    std::vector<std::string> names;
    names.reserve(mx.size());
    for (dns::MxRecord& r : mx) names.push_back(std::move(r.exchange));
    for (const DnsAnswer& host : co_await lookup_all(std::move(names), type)) {
      const Match verdict = judge(host);
      if (verdict != Match::No) co_return verdict;
    }
    co_return Match::No;
  }

  // §5.5: validated PTR names of the client within the target domain. A failed PTR lookup is no match; a
  // failed address lookup skips that name. Only the first max_ptr_names names are considered (§4.6.4), and
  // only those within the target need validating.
  asio::awaitable<Match> ptr(Frame f, const Mechanism& m, std::string target) {
    DnsAnswer answer = co_await lookup(dns::reverse_name(client_), RrType::PTR);
    if (answer.is_temporary()) {
      if (tracing()) step(f, m.text, "no match: " + dns_problem(answer));
      co_return Match::No;
    }
    if (answer.is_void()) co_return note_void(f, m.text) ? Match::No : Match::Stop;
    if (answer.names.size() > limits_.max_ptr_names) answer.names.resize(limits_.max_ptr_names);
    std::vector<std::string> candidates;
    for (std::string& name : answer.names)
      if (is_within(name, target) && is_valid_dns_name(name)) candidates.push_back(std::move(name));
    for (const DnsAnswer& host : co_await lookup_all(std::move(candidates), address_type())) {
      if (host.ok() && contains(host, client_, full_length(client_))) {
        step(f, m.text, "match");
        co_return Match::Yes;
      }
    }
    step(f, m.text, "no match");
    co_return Match::No;
  }

  // §6.2: the explanation of a fail. Any trouble (no TXT, several, DNS errors, syntax errors, non-ASCII)
  // silently leaves the default explanation. The lookup is not a DNS term and not a void lookup.
  asio::awaitable<void> explain() {
    out_.explanation = options_.default_explanation;
    if (!exp_spec_) co_return;
    const Frame frame{exp_domain_, 0, true};
    const auto ignore = [&](std::string_view why) {
      if (tracing()) step(frame, exp_term_, "ignored: " + std::string(why));
    };
    if (uses_ptr_macro(*exp_spec_)) co_await resolve_ptr_names(frame, exp_term_, false);
    if (exp_spec_->find('%') != std::string::npos) out_.reads_request = true;
    MacroValues v = macro_values(exp_domain_);
    v.ptr_name = ptr_name_for(exp_domain_);
    std::string target, why;
    if (!expand_domain_spec(*exp_spec_, v, target, &why)) co_return ignore(why);
    if (!is_valid_dns_name(target)) co_return ignore("invalid name");
    const DnsAnswer answer = co_await lookup(std::move(target), RrType::TXT);
    if (!answer.ok()) co_return ignore(dns::to_string(answer.status));
    if (answer.txt.size() != 1) co_return ignore("not exactly one TXT record");
    const std::string text = join(answer.txt.front());
    if (text.find('%') != std::string::npos) out_.reads_request = true;
    if (text.find("%{t") != std::string::npos || text.find("%{T") != std::string::npos) out_.reusable = false;
    if (uses_ptr_macro(text)) co_await resolve_ptr_names(frame, exp_term_, false);
    v.ptr_name = ptr_name_for(exp_domain_);
    v.timestamp = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    std::string expanded;
    if (!expand_macros(text, MacroUse::Explanation, v, expanded, &why)) co_return ignore(why);
    // The text may quote request values (%{s}, %{l}, %{h}) that carry control bytes; the explanation ends up
    // in replies and headers, so it leaves here clean.
    out_.explanation = sanitize(expanded, kMaxExpansion);
    if (tracing()) step(frame, exp_term_, "explanation: " + out_.explanation);
  }

  dns::Resolver& resolver_;
  const Options& options_;
  const Limits& limits_;
  Outcome& out_;
  dns::Deadline deadline_;

  IpAddress client_;
  std::string_view sender_, local_, helo_, receiver_;  // views into the Request (or sender_storage_)
  std::string sender_storage_, sender_domain_;

  Result error_ = Result::PermError;
  std::optional<std::string> exp_spec_;
  std::string exp_term_, exp_domain_;
  std::optional<std::vector<std::string>> ptr_names_;
};

}  // namespace

std::string evaluated_domain(const Request& request) {
  if (!request.domain.empty()) return dns::normalize_name(request.domain);
  // §4.3: the domain part of <sender>; the HELO identity, or a null sender, is postmaster@helo.
  const std::string postmaster = request.sender.empty() ? "postmaster@" + request.helo : std::string();
  const std::string_view sender = request.sender.empty() ? std::string_view(postmaster) : std::string_view(request.sender);
  const auto at = sender.rfind('@');
  return dns::normalize_name(at == std::string_view::npos ? sender : sender.substr(at + 1));
}

asio::awaitable<Outcome> check_host(dns::Resolver& resolver, Request request, Options options,
                                    dns::Deadline deadline) {
  Outcome out;
  Evaluation evaluation(resolver, request, options, deadline, out);
  co_await evaluation.run();
  co_return out;
}

}  // namespace spfgate::spf
