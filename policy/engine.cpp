#include "policy/engine.hpp"

#include "common/metrics.hpp"
#include "common/text.hpp"
#include "config/per_user.hpp"
#include "policy/checks/bypass.hpp"
#include "policy/checks/helo_checks.hpp"
#include "policy/checks/iprev_check.hpp"
#include "policy/checks/spf_check.hpp"

#include <spdlog/spdlog.h>

namespace spfgate::policy {

namespace asio = boost::asio;

std::vector<std::unique_ptr<Check>> make_checks(std::shared_ptr<const config::Settings> settings, ConfigFiles& files) {
  std::vector<std::unique_ptr<Check>> checks;
  auto add = [&checks](std::vector<std::unique_ptr<Check>> more) {
    for (auto& c : more) checks.push_back(std::move(c));
  };
  // Precedence (the pipeline keeps this order within a stage): bypass lists, helo_access, HELO checks,
  // iprev, SPF. Domain_Whitelist sits with the other bypass lists, after Whitelist, as in pypolicyd-spf.
  auto bypass = make_bypass_checks(settings);
  auto domain_whitelist = make_domain_whitelist_checks(settings);
  std::size_t at = 0;
  while (at < bypass.size() && (bypass[at]->name() == "skip_addresses" || bypass[at]->name() == "Whitelist")) ++at;
  for (auto& c : domain_whitelist) bypass.insert(bypass.begin() + static_cast<std::ptrdiff_t>(at++), std::move(c));
  add(std::move(bypass));
  add(make_helo_checks(settings, files));
  add(make_iprev_checks(settings));
  add(make_spf_checks(settings));
  return checks;
}

std::shared_ptr<const Engine> Engine::build(std::shared_ptr<const config::Settings> settings,
                                            std::shared_ptr<ConfigFiles> files) {
  if (!files) files = std::make_shared<ConfigFiles>();
  auto checks = make_checks(settings, *files);
  auto engine = std::make_shared<const Engine>(settings, Pipeline(std::move(checks)), files);
  if (!settings->per_user.empty()) {
    engine->per_user_ = std::make_unique<PerUser>();
    engine->per_user_->file =
        files->per_user_file(config::per_user_path(settings->per_user), settings);  // throws config::Error
    engine->use_per_user(engine->per_user_->file->current());
  }
  return engine;
}

void Engine::use_per_user(const PerUserFile::Snapshot& snapshot) const {
  std::map<std::string, std::shared_ptr<const Engine>, std::less<>> engines;
  for (const auto& [user, s] : snapshot.table->entries()) {
    auto user_settings = std::make_shared<const config::Settings>(s);
    engines.emplace(user, std::make_shared<const Engine>(user_settings, Pipeline(make_checks(user_settings, *files_)),
                                                         files_));
  }
  per_user_->engines = std::move(engines);
  per_user_->generation = snapshot.generation;
}

std::shared_ptr<const Engine> Engine::engine_for(const std::string& recipient) const {
  if (!per_user_) return nullptr;
  PerUser& pu = *per_user_;
  const PerUserFile::Snapshot now = pu.file->current();
  if (now.generation != pu.generation) {
    try {
      use_per_user(now);
    } catch (const std::exception& e) {
      pu.generation = now.generation;  // not again for this table
      spdlog::error("Per_User: keeping the previous table: {}", e.what());
    }
  }
  auto it = pu.engines.find(recipient);
  return it == pu.engines.end() ? nullptr : it->second;
}

Engine::Engine(std::shared_ptr<const config::Settings> settings, Pipeline pipeline, std::shared_ptr<ConfigFiles> files)
    : settings_(std::move(settings)),
      pipeline_(std::move(pipeline)),
      files_(std::move(files)),
      iprev_cache_(settings_->result_cache_entries) {}

std::string Engine::prefix(const PolicyRequest& request) const {
  // pypolicyd-spf writes "<queue_id>: " (and ": " for an empty queue_id); we drop the empty prefix.
  if (!settings_->queue_id_prefix || request.queue_id.empty()) return {};
  return loggable(request.queue_id) + ": ";
}

namespace {

bool repeats(DecisionKind kind) {
  return kind == DecisionKind::Reject || kind == DecisionKind::Defer || kind == DecisionKind::DeferIfPermit ||
         kind == DecisionKind::Accept;
}

std::string log_text(DecisionKind kind, const std::string& action) {
  // pypolicyd-spf logs the answer text; a restriction class as "result_only <class>".
  if (kind == DecisionKind::Accept) return "result_only " + action;
  return action;
}

}  // namespace

Answer Engine::finish(const PolicyRequest& request, Decision d, const std::vector<Verdict>& verdicts,
                      MessageCache* cache, bool details) const {
  Answer a;
  a.kind = d.kind;
  a.action = d.action;
  a.deciding_check = d.deciding_check;
  Metrics& m = metrics();
  for (const Verdict& v : verdicts) {
    if (v.results.empty()) {
      if (v.kind != VerdictKind::Skip) m.add(m.ids().check_results, {v.check, "", to_string(v.kind)});
    } else {
      for (const auto& [identity, result] : v.results) m.add(m.ids().check_results, {v.check, identity, result});
    }
  }
  for (const Verdict& v : verdicts) {
    if (!details) break;
    if (v.kind == VerdictKind::Skip && v.log.empty()) continue;
    if (!a.details.empty()) a.details += "; ";
    a.details += v.check + "=" + std::string(to_string(v.kind));
    if (!v.log.empty()) a.details += " (" + sanitize(v.log, 300) + ")";
  }
  // A header withheld by Header_Type = None counts as the message's header (pypolicyd-spf caches it as a
  // prepend): later recipients get a silent dunno. Outside a mail transaction nothing is remembered.
  const bool withheld = d.kind == DecisionKind::Dunno && !d.unsent_headers.empty() && request.can_prepend();
  if (cache && !request.instance.empty() && d.cacheable && (d.kind != DecisionKind::Dunno || withheld)) {
    CachedMessage entry;
    entry.kind = d.kind;
    // Only a repeated answer needs its text: a prepended header (most messages) is never sent again, and
    // leaving it out keeps an entry at about a third of the size.
    if (repeats(d.kind)) entry.action = d.action;
    entry.pending_headers = d.later_headers;
    entry.created = std::chrono::steady_clock::now();
    cache->store(request.instance, std::move(entry));
  }
  const std::string pre = prefix(request);
  if (d.kind == DecisionKind::Dunno) {
    // Prospective never sends headers, and (as pypolicyd-spf) says nothing about them.
    if (!d.unsent_headers.empty() && !settings_->prospective)
      a.log_line = pre + "Header field not prepended: " + d.unsent_headers.front();
  } else if (settings_->test_only && d.kind != DecisionKind::Prepend) {
    a.log_line = pre + "TestOnly: would have answered \"" + log_text(d.kind, d.action) + "\"";
    a.action = "dunno";
    a.kind = DecisionKind::Dunno;
  } else if (settings_->prospective && d.kind == DecisionKind::Prepend) {
    a.action = "dunno";  // pypolicyd-spf: Prospective answers headers with DUNNO, silently
    a.kind = DecisionKind::Dunno;
  } else {
    a.log_line = pre + log_text(d.kind, d.action);
  }
  a.log_line = sanitize(a.log_line, 2048);
  return a;
}

asio::awaitable<Answer> Engine::handle(const PolicyRequest& request, dns::Resolver& resolver, MessageCache& cache,
                                       dns::Deadline deadline, bool details) const {
  Started s = start(request, resolver, cache, deadline, details);
  if (s.answer) co_return std::move(*s.answer);
  co_return co_await resume(request, std::move(s.work));
}

Engine::Work::Work(const Engine& e, dns::Resolver& resolver, std::optional<IpAddress> client, dns::Deadline deadline,
                   MessageCache* c, bool d)
    : engine(e),
      evidence(resolver, client, deadline, &e.iprev_cache_),
      context{resolver, deadline, evidence, false},
      cache(c),
      details(d) {}

Engine::Started Engine::start(const PolicyRequest& request, dns::Resolver& resolver, MessageCache& cache,
                              dns::Deadline deadline, bool details) const {
  // Per_User (pypolicyd-spf): a listed recipient is evaluated with its own settings, fresh, without the
  // per-message cache (its answer is neither taken from it nor stored in it).
  if (!request.recipient.empty())
    if (auto user = engine_for(request.recipient)) {
      Started s = user->begin(request, resolver, nullptr, deadline, details);
      if (s.work) s.work->keep = std::move(user);
      return s;
    }
  return begin(request, resolver, &cache, deadline, details);
}

asio::awaitable<Answer> Engine::resume(const PolicyRequest& request, std::unique_ptr<Work> work) {
  co_await work->engine.pipeline_.finish(request, work->context, work->progress);
  co_return work->engine.conclude(request, *work);
}

Answer Engine::conclude(const PolicyRequest& request, Work& work) const {
  std::vector<Verdict> verdicts = Pipeline::verdicts(work.progress);
  Decision d = decide(verdicts, *settings_, request.can_prepend());
  return finish(request, std::move(d), verdicts, work.cache, work.details);
}

Engine::Started Engine::begin(const PolicyRequest& request, dns::Resolver& resolver, MessageCache* cache,
                              dns::Deadline deadline, bool details) const {
  auto answered = [](Answer a) { return Started{std::move(a), nullptr}; };
  if (settings_->mock) {
    Answer a;
    a.action = "dunno mock header field that should be ignored";
    return answered(std::move(a));
  }
  if (cache && !request.instance.empty()) {
    std::optional<Answer> repeated =
        cache->visit(request.instance, std::chrono::steady_clock::now(), [&](CachedMessage* cached) -> std::optional<Answer> {
          if (!cached) return std::nullopt;
          Answer a;
          a.from_cache = true;
          if (repeats(cached->kind)) {
            a.kind = cached->kind;
            a.action = cached->action;
            if (settings_->test_only) {
              a.kind = DecisionKind::Dunno;
              a.action = "dunno";
            } else {
              a.log_line = sanitize(prefix(request) + log_text(cached->kind, cached->action), 2048);
            }
          } else if (!cached->pending_headers.empty() && request.can_prepend() && !settings_->prospective) {
            a.kind = DecisionKind::Prepend;
            a.action = "prepend " + cached->pending_headers.front();
            cached->pending_headers.erase(cached->pending_headers.begin());
            a.log_line = sanitize(prefix(request) + a.action, 2048);
          } else {
            a.action = "dunno";
          }
          return a;
        });
    if (repeated) return answered(std::move(*repeated));
  }
  const bool have_client = request.client || settings_->prospective;
  if (!have_client) {
    // pypolicyd-spf answers DUNNO without a client address, and crashes on a bad one; we answer DUNNO.
    Answer a;
    a.action = "dunno";
    if (!request.client_address.empty())
      a.log_line = prefix(request) + "invalid client_address \"" + loggable(request.client_address) +
                   "\": not checked";
    return answered(std::move(a));
  }
  const std::optional<IpAddress> client = settings_->prospective ? settings_->prospective : request.client;
  auto work = std::make_unique<Work>(*this, resolver, client, deadline, cache, details);
  if (pipeline_.start(request, work->context, work->progress)) return answered(conclude(request, *work));
  return Started{std::nullopt, std::move(work)};
}

asio::awaitable<Engine::Explanation> Engine::explain(const PolicyRequest& request, dns::Resolver& resolver,
                                                     dns::Deadline deadline) const {
  if (!request.recipient.empty())
    if (auto user = engine_for(request.recipient)) co_return co_await user->explain(request, resolver, deadline);
  Explanation e;
  const std::optional<IpAddress> client = settings_->prospective ? settings_->prospective : request.client;
  if (!client) {
    e.answer.action = "dunno";
    e.answer.log_line = "no valid client address: not checked";
    co_return e;
  }
  Evidence evidence(resolver, client, deadline);
  CheckContext ctx{resolver, deadline, evidence, true};
  e.verdicts = co_await pipeline_.run(request, ctx);
  e.decision = decide(e.verdicts, *settings_, request.can_prepend());
  e.answer = finish(request, e.decision, e.verdicts, nullptr, true);
  co_return e;
}

}  // namespace spfgate::policy
