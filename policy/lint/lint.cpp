#include "policy/lint/lint.hpp"

#include "common/async.hpp"
#include "common/text.hpp"
#include "policy/evidence.hpp"
#include "policy/spf/evaluator.hpp"
#include "policy/spf/record.hpp"

#include <algorithm>
#include <charconv>
#include <set>

namespace spfgate::lint {

namespace asio = boost::asio;

std::string_view to_string(Severity severity) noexcept {
  switch (severity) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Info: return "info";
  }
  return "?";
}

bool Report::has_errors() const noexcept {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.severity == Severity::Error; });
}

namespace {

// RFC 7208 §4.6.4: the limits a receiver applies.
constexpr unsigned kMaxLookups = 10;
constexpr unsigned kMaxVoids = 2;
constexpr unsigned kMaxMxNames = 10;
// A tree this deep is a loop or a mistake; receivers stop far earlier (the 10-lookup limit).
constexpr int kMaxDepth = 12;
// How many MX hosts are looked at (RFC 7208's limit for mx, a sensible bound here too).
constexpr std::size_t kMaxMxHosts = 10;

Finding finding(Severity s, std::string area, std::string code, std::string message, std::string fix) {
  return Finding{s, std::move(area), std::move(code), std::move(message), std::move(fix)};
}

std::string joined(const std::vector<std::string>& strings) {
  std::string out;
  for (const auto& s : strings) out += s;
  return out;
}

std::string quoted(std::string_view text, std::size_t max = 120) { return "\"" + sanitize(text, max) + "\""; }

std::string describe(const dns::DnsAnswer& a) {
  std::string s(dns::to_string(a.status));
  if (!a.why.empty()) s += " (" + sanitize(a.why, 120) + ")";
  return s;
}

// ----- SPF --------------------------------------------------------------------------------------------

struct SpfWalk {
  dns::Resolver& resolver;
  dns::Deadline deadline;
  std::vector<Finding>& findings;
  unsigned voids = 0;
};

// The token of `text` that contains byte position `at`.
std::string_view token_at(std::string_view text, std::size_t at) {
  std::size_t start = text.rfind(' ', at == 0 ? 0 : at - 1);
  start = start == std::string_view::npos ? 0 : start + 1;
  std::size_t end = text.find(' ', at);
  if (end == std::string_view::npos) end = text.size();
  return text.substr(start, end - start);
}

asio::awaitable<void> count_void(SpfWalk& w, const spf::Mechanism& m, const std::string& domain) {
  if (m.domain_spec.find('%') != std::string_view::npos) co_return;  // depends on the sender: not static
  const std::string target = m.domain_spec.empty() ? domain : std::string(m.domain_spec);
  if (m.type == spf::MechanismType::Mx) {
    const auto mx = co_await w.resolver.query(target, dns::RrType::MX, w.deadline);
    if (mx.is_void()) {
      ++w.voids;
    } else if (mx.mx.size() > kMaxMxNames) {
      w.findings.push_back(finding(Severity::Error, "spf", "spf.mx-limit",
                                   "\"" + std::string(m.text) + "\" in " + domain + " has " + std::to_string(mx.mx.size()) +
                                       " MX hosts; receivers return permerror above " + std::to_string(kMaxMxNames),
                                   "list the sending hosts with ip4:/ip6: or a:, or trim the MX set"));
    }
  } else if (m.type == spf::MechanismType::A) {
    const auto a = co_await w.resolver.query(target, dns::RrType::A, w.deadline);
    const auto aaaa = co_await w.resolver.query(target, dns::RrType::AAAA, w.deadline);
    if (a.is_void() && aaaa.is_void()) ++w.voids;
  } else if (m.type == spf::MechanismType::Exists) {
    const auto a = co_await w.resolver.query(target, dns::RrType::A, w.deadline);
    if (a.is_void()) ++w.voids;
  }
}

asio::awaitable<SpfNode> walk_spf(SpfWalk& w, std::string domain, std::string via, std::vector<std::string> path) {
  SpfNode n;
  n.domain = domain;
  n.via = via;
  if (std::find(path.begin(), path.end(), domain) != path.end()) {
    n.problem = "loop back to " + domain;
    w.findings.push_back(finding(Severity::Error, "spf", "spf.loop", "the SPF tree loops back to " + domain,
                                 "remove the " + via + " that points back up the tree"));
    co_return n;
  }
  if (static_cast<int>(path.size()) >= kMaxDepth) {
    n.problem = "tree too deep";
    co_return n;
  }
  path.push_back(domain);
  const auto txt = co_await w.resolver.query(domain, dns::RrType::TXT, w.deadline);
  if (txt.is_temporary()) {
    n.problem = "TXT lookup failed: " + describe(txt);
    w.findings.push_back(finding(Severity::Warning, "dns", "dns.lookup-failed",
                                 "could not look up the TXT records of " + domain + ": " + describe(txt),
                                 "check the domain's name servers (a receiver gets temperror too)"));
    co_return n;
  }
  std::vector<const std::vector<std::string>*> records;
  for (const auto& strings : txt.txt)
    if (spf::is_spf_record(strings)) records.push_back(&strings);
  if (records.empty()) {
    n.problem = "no SPF record";
    if (path.size() == 1)
      w.findings.push_back(finding(Severity::Warning, "spf", "spf.missing", domain + " publishes no SPF record",
                                   "publish one TXT record, e.g. \"v=spf1 mx -all\""));
    else
      w.findings.push_back(finding(Severity::Error, "spf", "spf.include-without-record",
                                   via + ":" + domain + " has no SPF record: receivers return permerror",
                                   "remove the " + via + " or publish a record at " + domain));
    co_return n;
  }
  if (records.size() > 1) {
    n.problem = std::to_string(records.size()) + " SPF records";
    w.findings.push_back(finding(Severity::Error, "spf", "spf.multiple-records",
                                 domain + " publishes " + std::to_string(records.size()) +
                                     " v=spf1 records: receivers return permerror",
                                 "merge them into one TXT record"));
    co_return n;
  }
  const std::vector<std::string>& strings = *records.front();
  const std::string text = joined(strings);
  n.record = sanitize(text, 1000);
  // Character-strings are joined without a separator (RFC 7208 §3.3): a boundary inside a term changes it.
  std::size_t at = 0;
  for (std::size_t i = 0; i + 1 < strings.size(); ++i) {
    at += strings[i].size();
    const bool spaced = (!strings[i].empty() && strings[i].back() == ' ') ||
                        (!strings[i + 1].empty() && strings[i + 1].front() == ' ');
    if (!spaced)
      w.findings.push_back(finding(Severity::Warning, "spf", "spf.string-boundary",
                                   "the record's strings join without a space into " +
                                       quoted(token_at(text, at)) + " (" + domain + ")",
                                   "end the string before the cut with a space, or cut between terms"));
  }
  // One TXT string holds at most 255 octets: a longer record must be split, and past ~450 octets the
  // answer may not fit a UDP packet.
  if (text.size() > 255)
    w.findings.push_back(finding(text.size() > 450 ? Severity::Warning : Severity::Info, "spf", "spf.long-record",
                                 "the record of " + domain + " is " + std::to_string(text.size()) + " octets in " +
                                     std::to_string(strings.size()) + " strings (one string holds at most 255)" +
                                     (text.size() > 450 ? "; answers may need TCP" : ""),
                                 "keep it short: ip4:/ip6: networks instead of many addresses, fewer includes"));
  spf::Record rec;
  std::string why;
  if (!spf::parse_record(text, rec, &why)) {
    n.problem = "syntax: " + why;
    w.findings.push_back(finding(Severity::Error, "spf", "spf.syntax",
                                 "the record of " + domain + " is invalid: " + sanitize(why, 200) +
                                     " (receivers return permerror)",
                                 "fix the term; see RFC 7208 §12 for the syntax"));
    co_return n;
  }
  std::optional<spf::Qualifier> all;
  std::vector<asio::awaitable<SpfNode>> children;
  for (const auto& m : rec.mechanisms) {
    if (m.queries_dns()) ++n.own_terms;
    switch (m.type) {
      case spf::MechanismType::All: all = m.qualifier; break;
      case spf::MechanismType::Ptr:
        w.findings.push_back(finding(Severity::Warning, "spf", "spf.ptr",
                                     "\"" + std::string(m.text) + "\" in " + domain +
                                         ": the ptr mechanism is slow, unreliable and SHOULD NOT be published (RFC 7208 §5.5)",
                                     "replace it with ip4:/ip6: networks or a: names"));
        break;
      case spf::MechanismType::Include:
        if (m.domain_spec.find('%') == std::string_view::npos)
          children.push_back(walk_spf(w, dns::normalize_name(m.domain_spec), "include", path));
        break;
      case spf::MechanismType::A:
      case spf::MechanismType::Mx:
      case spf::MechanismType::Exists: co_await count_void(w, m, domain); break;
      default: break;
    }
  }
  if (rec.redirect && !rec.has_all) {
    ++n.own_terms;
    if (rec.redirect->find('%') == std::string_view::npos)
      children.push_back(walk_spf(w, dns::normalize_name(*rec.redirect), "redirect", path));
  }
  for (auto& c : children) n.children.push_back(co_await std::move(c));
  n.total_terms = n.own_terms;
  for (const auto& c : n.children) n.total_terms += c.total_terms;
  if (path.size() == 1) {
    if (all == spf::Qualifier::Pass)
      w.findings.push_back(finding(Severity::Error, "spf", "spf.plus-all",
                                   "\"+all\": every host on the Internet may send as " + domain,
                                   "end the record with -all (or ~all while testing)"));
    else if (all == spf::Qualifier::Neutral)
      w.findings.push_back(finding(Severity::Warning, "spf", "spf.neutral-all",
                                   "\"?all\": unlisted hosts get neutral, which protects nothing",
                                   "end the record with -all (or ~all while testing)"));
    else if (!all && !rec.redirect)
      w.findings.push_back(finding(Severity::Warning, "spf", "spf.no-all",
                                   "no \"all\" and no redirect=: unlisted hosts get neutral",
                                   "end the record with -all (or ~all while testing)"));
  }
  co_return n;
}

// ----- DMARC, DKIM -------------------------------------------------------------------------------------

struct Tag {
  std::string name;
  std::string value;
};

// "a=b; c=d" → tags (RFC 6376 §3.2 / RFC 7489 §6.4 tag-list); names lower case, values trimmed.
std::vector<Tag> tag_list(std::string_view text) {
  std::vector<Tag> tags;
  while (!text.empty()) {
    const auto semi = text.find(';');
    const std::string_view item = trim(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view{} : text.substr(semi + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      tags.push_back({ascii_lower(item), std::string()});
      continue;
    }
    tags.push_back({ascii_lower(trim(item.substr(0, eq))), std::string(trim(item.substr(eq + 1)))});
  }
  return tags;
}

bool small_number(std::string_view s, unsigned max) {
  unsigned n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty() && n <= max;
}

}  // namespace

std::vector<Finding> check_dmarc_record(std::string_view record) {
  std::vector<Finding> out;
  auto add = [&](Severity s, std::string code, std::string msg, std::string fix) {
    out.push_back(finding(s, "dmarc", std::move(code), std::move(msg), std::move(fix)));
  };
  const auto tags = tag_list(record);
  if (tags.empty() || tags.front().name != "v" || tags.front().value != "DMARC1") {
    add(Severity::Error, "dmarc.version", "the record does not start with \"v=DMARC1\": receivers ignore it",
        "make \"v=DMARC1;\" the first tag");
    return out;
  }
  bool have_p = false;
  for (const Tag& t : tags) {
    const auto bad = [&](std::string what) {
      add(Severity::Error, "dmarc.bad-" + t.name, t.name + "=" + quoted(t.value, 80) + ": " + what,
          "see RFC 7489 §6.3 for the values of " + t.name);
    };
    if (t.name == "v") continue;
    if (t.name == "p" || t.name == "sp") {
      if (t.name == "p") have_p = true;
      if (t.value != "none" && t.value != "quarantine" && t.value != "reject") bad("not none, quarantine or reject");
      else if (t.name == "p" && t.value == "none")
        add(Severity::Info, "dmarc.monitoring", "p=none: receivers only report, they do not act on failures",
            "move to p=quarantine, then p=reject, once the reports are clean");
    } else if (t.name == "pct") {
      if (!small_number(t.value, 100)) bad("not a whole number from 0 to 100");
    } else if (t.name == "adkim" || t.name == "aspf") {
      if (t.value != "r" && t.value != "s") bad("not r (relaxed) or s (strict)");
    } else if (t.name == "rua" || t.name == "ruf") {
      std::string_view list = t.value;
      while (!list.empty()) {
        const auto comma = list.find(',');
        std::string_view uri = trim(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        if (auto bang = uri.find('!'); bang != std::string_view::npos) uri = uri.substr(0, bang);
        if (uri.size() < 8 || !iequals(uri.substr(0, 7), "mailto:") || uri.find('@') == std::string_view::npos)
          bad("\"" + sanitize(uri, 80) + "\" is not a mailto: URI");
      }
    } else if (t.name == "fo") {
      for (char c : t.value)
        if (c != '0' && c != '1' && c != 'd' && c != 's' && c != ':') {
          bad("not a list of 0, 1, d, s");
          break;
        }
    } else if (t.name == "ri") {
      if (!small_number(t.value, 4'000'000'000u)) bad("not a whole number of seconds");
    } else if (t.name == "rf") {
      if (ascii_lower(t.value) != "afrf") bad("not afrf");
    } else {
      add(Severity::Warning, "dmarc.unknown-tag", "unknown tag \"" + sanitize(t.name, 40) + "\"",
          "remove it (a typo of a known tag is silently ignored by receivers)");
    }
  }
  if (!have_p)
    add(Severity::Error, "dmarc.p-missing", "no p= tag: receivers treat the record as invalid", "add p=none (or quarantine/reject)");
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0, padding = 0;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') {
      ++padding;
      continue;
    } else return std::nullopt;
    if (padding) return std::nullopt;  // data after padding
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if (padding > 2 || bits >= 6) return std::nullopt;
  return out;
}

namespace {

// A minimal DER reader: enough for SubjectPublicKeyInfo and RSAPublicKey.
struct Der {
  std::string_view data;
  // Reads one TLV; returns false on malformed input.
  bool next(unsigned char& tag, std::string_view& value) {
    if (data.size() < 2) return false;
    tag = static_cast<unsigned char>(data[0]);
    std::size_t len = static_cast<unsigned char>(data[1]);
    std::size_t header = 2;
    if (len & 0x80) {
      const std::size_t n = len & 0x7F;
      if (n == 0 || n > 4 || data.size() < 2 + n) return false;
      len = 0;
      for (std::size_t i = 0; i < n; ++i) len = (len << 8) | static_cast<unsigned char>(data[2 + i]);
      header += n;
    }
    if (data.size() - header < len) return false;
    value = data.substr(header, len);
    data.remove_prefix(header + len);
    return true;
  }
};

unsigned integer_bits(std::string_view v) {
  while (!v.empty() && v.front() == '\0') v.remove_prefix(1);
  if (v.empty()) return 0;
  unsigned bits = static_cast<unsigned>(v.size()) * 8;
  for (unsigned char top = static_cast<unsigned char>(v.front()); !(top & 0x80); top = static_cast<unsigned char>(top << 1)) --bits;
  return bits;
}

unsigned rsa_public_key_bits(std::string_view der) {
  Der outer{der};
  unsigned char tag;
  std::string_view seq, n;
  if (!outer.next(tag, seq) || tag != 0x30) return 0;
  Der inner{seq};
  if (!inner.next(tag, n) || tag != 0x02) return 0;
  return integer_bits(n);
}

}  // namespace

unsigned rsa_key_bits(const std::string& der) {
  // SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { OID, params }, BIT STRING { RSAPublicKey } }
  Der outer{der};
  unsigned char tag;
  std::string_view spki;
  if (!outer.next(tag, spki) || tag != 0x30) return 0;
  Der body{spki};
  std::string_view first, bits;
  if (!body.next(tag, first)) return 0;
  if (tag == 0x02) return integer_bits(first);  // a bare RSAPublicKey: SEQUENCE { INTEGER n, INTEGER e }
  if (tag != 0x30 || !body.next(tag, bits) || tag != 0x03 || bits.empty()) return 0;
  static constexpr std::string_view kRsaOid = "\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01";
  Der alg{first};
  std::string_view oid;
  if (!alg.next(tag, oid) || tag != 0x06 || oid != kRsaOid) return 0;
  return rsa_public_key_bits(bits.substr(1));  // skip the unused-bits byte
}

std::vector<Finding> check_dkim_record(std::string_view selector, std::string_view record, DkimKey& key) {
  std::vector<Finding> out;
  const std::string sel(selector);
  auto add = [&](Severity s, std::string code, std::string msg, std::string fix) {
    out.push_back(finding(s, "dkim", std::move(code), "selector " + sel + ": " + msg, std::move(fix)));
  };
  const auto tags = tag_list(record);
  key.key_type = "rsa";
  bool have_p = false;
  std::string p;
  for (std::size_t i = 0; i < tags.size(); ++i) {
    const Tag& t = tags[i];
    if (t.name == "v") {
      if (i != 0 || t.value != "DKIM1")
        add(Severity::Error, "dkim.version", "v= must be the first tag and be DKIM1",
            "start the record with \"v=DKIM1;\" or drop v=");
    } else if (t.name == "k") {
      key.key_type = ascii_lower(t.value);
      if (key.key_type != "rsa" && key.key_type != "ed25519")
        add(Severity::Error, "dkim.key-type", "k=" + quoted(t.value, 40) + " is not rsa or ed25519", "use k=rsa or k=ed25519");
    } else if (t.name == "p") {
      have_p = true;
      p = t.value;
    } else if (t.name == "h") {
      if (ascii_lower(t.value) == "sha1")
        add(Severity::Warning, "dkim.sha1", "h=sha1 only: receivers ignore SHA-1 signatures (RFC 8301)",
            "sign with rsa-sha256 and drop h= (or set h=sha256)");
    } else if (t.name == "t") {
      if (t.value.find('y') != std::string::npos)
        add(Severity::Info, "dkim.testing", "t=y: the domain is testing DKIM; receivers may ignore failures",
            "remove t=y once signatures verify");
    }
  }
  if (!have_p) {
    add(Severity::Error, "dkim.p-missing", "no p= tag", "publish the public key in p=");
    return out;
  }
  std::string compact;
  for (char c : p)
    if (c != ' ' && c != '\t') compact.push_back(c);
  if (compact.empty()) {
    key.revoked = true;
    add(Severity::Warning, "dkim.revoked", "the key is revoked (empty p=): signatures with it fail",
        "remove the selector from signing, or publish its new key");
    return out;
  }
  const auto der = base64_decode(compact);
  if (!der) {
    add(Severity::Error, "dkim.bad-key", "p= is not valid base64", "copy the public key again from the signer");
    return out;
  }
  if (key.key_type == "ed25519") {
    key.key_bits = der->size() == 32 ? 256 : 0;
    if (der->size() != 32)
      add(Severity::Error, "dkim.bad-key", "an ed25519 key must be 32 bytes, this is " + std::to_string(der->size()),
          "publish the raw 32-byte public key, base64-encoded");
    return out;
  }
  key.key_bits = rsa_key_bits(*der);
  if (key.key_bits == 0)
    add(Severity::Error, "dkim.bad-key", "p= is not an RSA public key", "publish the SubjectPublicKeyInfo of the key");
  else if (key.key_bits < 1024)
    add(Severity::Error, "dkim.weak-key", std::to_string(key.key_bits) + "-bit RSA key: receivers reject it (RFC 8301)",
        "generate a 2048-bit key");
  else if (key.key_bits < 2048)
    add(Severity::Warning, "dkim.short-key", std::to_string(key.key_bits) + "-bit RSA key: 2048 bits are expected",
        "rotate to a 2048-bit key");
  return out;
}

namespace {

asio::awaitable<int> lint_spf(dns::Resolver& r, const std::string& domain, dns::Deadline d, Report& rep,
                             std::vector<Finding>& out) {
  SpfWalk w{r, d, out};
  const std::vector<std::string> top_path;  // named: see the note on GCC 12 below
  rep.spf = co_await walk_spf(w, domain, "", top_path);
  rep.spf_lookups = rep.spf->total_terms;
  rep.spf_voids = w.voids;
  if (rep.spf->record.empty()) co_return 0;
  if (rep.spf_lookups > kMaxLookups)
    out.push_back(finding(Severity::Error, "spf", "spf.too-many-lookups",
                          "the SPF tree needs " + std::to_string(rep.spf_lookups) + " DNS lookups; receivers stop at " +
                              std::to_string(kMaxLookups) + " and return permerror",
                          "flatten includes into ip4:/ip6: networks or drop includes you no longer use"));
  else if (rep.spf_lookups >= kMaxLookups - 2)
    out.push_back(finding(Severity::Info, "spf", "spf.near-lookup-limit",
                          "the SPF tree needs " + std::to_string(rep.spf_lookups) + " of " +
                              std::to_string(kMaxLookups) + " DNS lookups",
                          "leave room: a provider adding one include to its record breaks yours"));
  if (w.voids > kMaxVoids)
    out.push_back(finding(Severity::Error, "spf", "spf.void-lookups",
                          std::to_string(w.voids) + " terms name hosts that do not exist; receivers return permerror above " +
                              std::to_string(kMaxVoids),
                          "remove the a:/mx:/exists: terms of names that no longer exist"));
  // What a receiver concludes for a client the record does not list (every term gets evaluated).
  spf::Request req{*parse_ip("240.0.0.1"), "postmaster@" + domain, domain, "lint", spf::Identity::MailFrom, domain};
  // Named, not a temporary inside the co_await expression: GCC 12 destroys such temporaries twice.
  const spf::Options options;
  const spf::Outcome o = co_await spf::check_host(r, std::move(req), options, d);
  rep.receiver_view = std::string(spf::to_string(o.result)) + (o.problem.empty() ? "" : " (" + o.problem + ")");
  const bool explained = std::any_of(out.begin(), out.end(), [](const Finding& f) {
    return f.area == "spf" && f.severity == Severity::Error;
  });
  if ((o.result == spf::Result::PermError || o.result == spf::Result::TempError) && !explained)
    out.push_back(finding(Severity::Error, "spf", "spf.receiver-error",
                          "an RFC 7208 receiver gets " + rep.receiver_view, "fix the record so it evaluates"));
  co_return 0;
}

asio::awaitable<int> lint_dmarc(dns::Resolver& r, const std::string& domain, dns::Deadline d, Report& rep,
                               std::vector<Finding>& out) {
  const auto txt = co_await r.query("_dmarc." + domain, dns::RrType::TXT, d);
  if (txt.is_temporary()) {
    out.push_back(finding(Severity::Warning, "dns", "dns.lookup-failed",
                          "could not look up _dmarc." + domain + ": " + describe(txt), "check the name servers"));
    co_return 0;
  }
  std::vector<std::string> records, others;
  for (const auto& strings : txt.txt) {
    const std::string text = joined(strings);
    if (text.rfind("v=DMARC1", 0) == 0) records.push_back(text);
    else if (text.find("v=DMARC1") != std::string::npos) others.push_back(text);
  }
  if (records.empty() && !others.empty()) {
    rep.dmarc = sanitize(others.front(), 500);
    auto f = check_dmarc_record(others.front());
    out.insert(out.end(), f.begin(), f.end());
    co_return 0;
  }
  if (records.empty()) {
    out.push_back(finding(Severity::Warning, "dmarc", "dmarc.missing", "no DMARC record at _dmarc." + domain,
                          "publish \"v=DMARC1; p=none; rua=mailto:dmarc-reports@" + domain + "\" and read the reports"));
    co_return 0;
  }
  if (records.size() > 1) {
    out.push_back(finding(Severity::Error, "dmarc", "dmarc.multiple-records",
                          std::to_string(records.size()) + " DMARC records: receivers ignore them all",
                          "keep exactly one"));
  }
  rep.dmarc = sanitize(records.front(), 500);
  auto f = check_dmarc_record(records.front());
  out.insert(out.end(), f.begin(), f.end());
  co_return 0;
}

asio::awaitable<int> lint_dkim(dns::Resolver& r, const std::string& domain, std::string selector, dns::Deadline d,
                              DkimKey& key, std::vector<Finding>& out) {
  key.selector = selector;
  const std::string name = selector + "._domainkey." + domain;
  const auto txt = co_await r.query(name, dns::RrType::TXT, d);
  if (txt.is_temporary()) {
    out.push_back(finding(Severity::Warning, "dns", "dns.lookup-failed", "could not look up " + name + ": " + describe(txt),
                          "check the name servers"));
    co_return 0;
  }
  if (!txt.ok() || txt.txt.empty()) {
    out.push_back(finding(Severity::Error, "dkim", "dkim.missing", "selector " + selector + ": no key at " + name,
                          "publish the selector's public key, or check the selector name in your signer"));
    co_return 0;
  }
  if (txt.txt.size() > 1)
    out.push_back(finding(Severity::Warning, "dkim", "dkim.multiple-records",
                          "selector " + selector + ": " + std::to_string(txt.txt.size()) + " TXT records; receivers may pick any",
                          "keep exactly one"));
  const std::string text = joined(txt.txt.front());
  key.record = sanitize(text, 1000);
  auto f = check_dkim_record(selector, text, key);
  out.insert(out.end(), f.begin(), f.end());
  co_return 0;
}

asio::awaitable<int> lint_mx(dns::Resolver& r, const std::string& domain, dns::Deadline d, Report& rep,
                            std::vector<Finding>& out) {
  const auto mx = co_await r.query(domain, dns::RrType::MX, d);
  if (mx.is_temporary()) {
    out.push_back(finding(Severity::Warning, "dns", "dns.lookup-failed", "could not look up the MX of " + domain + ": " +
                              describe(mx), "check the name servers"));
    co_return 0;
  }
  if (!mx.ok()) {
    out.push_back(finding(Severity::Info, "mx", "mx.none",
                          "no MX: mail for " + domain + " goes to its A/AAAA address (RFC 5321 §5.1)",
                          "publish an MX record, or a null MX (\"0 .\") if the domain receives no mail"));
    co_return 0;
  }
  if (mx.mx.size() == 1 && (mx.mx.front().exchange.empty() || mx.mx.front().exchange == ".")) {
    out.push_back(finding(Severity::Info, "mx", "mx.null", domain + " publishes a null MX: it receives no mail (RFC 7505)",
                          "nothing, if that is intended"));
    co_return 0;
  }
  auto hosts = mx.mx;
  std::sort(hosts.begin(), hosts.end(), [](const auto& a, const auto& b) {
    return a.preference != b.preference ? a.preference < b.preference : a.exchange < b.exchange;
  });
  if (hosts.size() > kMaxMxHosts) hosts.resize(kMaxMxHosts);
  std::set<std::string> reported;  // one finding per address, however many MX names share it
  for (const auto& h : hosts) {
    MxHost host;
    host.preference = h.preference;
    host.host = h.exchange;
    const auto a = co_await r.query(h.exchange, dns::RrType::A, d);
    const auto aaaa = co_await r.query(h.exchange, dns::RrType::AAAA, d);
    std::vector<IpAddress> addrs = a.addresses;
    addrs.insert(addrs.end(), aaaa.addresses.begin(), aaaa.addresses.end());
    if (addrs.empty()) {
      out.push_back(finding(a.is_temporary() || aaaa.is_temporary() ? Severity::Warning : Severity::Error, "mx",
                            "mx.no-address", "MX host " + h.exchange + " has no address (" + describe(a) + ")",
                            "give the host an A/AAAA record or fix the MX target"));
    }
    for (const auto& ip : addrs) {
      host.addresses.push_back(ip.to_string());
      const policy::IprevEvidence ev = co_await policy::lookup_iprev(r, ip, d);
      std::string text(policy::to_string(ev.result));
      if (!ev.confirmed_names.empty()) text += " (" + ev.confirmed_names.front() + ")";
      host.iprev.push_back(text);
      if ((ev.result == policy::IprevResult::Fail || ev.result == policy::IprevResult::PermError) &&
          reported.insert(ip.to_string()).second)
        out.push_back(finding(Severity::Warning, "mx", "mx.fcrdns",
                              "MX host " + h.exchange + " [" + ip.to_string() + "]: reverse DNS " + text +
                                  (ev.why.empty() ? "" : " (" + ev.why + ")"),
                              "set the address's PTR to a name that resolves back to it (ideally " + h.exchange + ")"));
    }
    rep.mx.push_back(std::move(host));
  }
  co_return 0;
}

}  // namespace

asio::awaitable<Report> lint_domain(dns::Resolver& resolver, std::string domain, std::vector<std::string> selectors,
                                    dns::Deadline deadline) {
  Report rep;
  rep.domain = dns::normalize_name(domain);
  std::vector<Finding> spf_f, dmarc_f, mx_f;
  std::vector<std::vector<Finding>> dkim_f(selectors.size());
  rep.dkim.resize(selectors.size());
  std::vector<asio::awaitable<int>> work;
  work.push_back(lint_spf(resolver, rep.domain, deadline, rep, spf_f));
  work.push_back(lint_dmarc(resolver, rep.domain, deadline, rep, dmarc_f));
  for (std::size_t i = 0; i < selectors.size(); ++i)
    work.push_back(lint_dkim(resolver, rep.domain, selectors[i], deadline, rep.dkim[i], dkim_f[i]));
  work.push_back(lint_mx(resolver, rep.domain, deadline, rep, mx_f));
  co_await gather(std::move(work));
  // A fixed order, whatever order the lookups finished in.
  for (auto* list : {&spf_f, &dmarc_f}) rep.findings.insert(rep.findings.end(), list->begin(), list->end());
  for (auto& list : dkim_f) rep.findings.insert(rep.findings.end(), list.begin(), list.end());
  rep.findings.insert(rep.findings.end(), mx_f.begin(), mx_f.end());
  co_return rep;
}

}  // namespace spfgate::lint
