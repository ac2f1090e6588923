#include "policy/spf/header.hpp"

#include "common/text.hpp"

#include <vector>

namespace spfgate::spf {
namespace {

constexpr std::string_view kEllipsis = "...";

// The per-value bounds one field is built with: the documented ones first, then smaller ones for a field
// whose values would otherwise make it longer than its budget. With the last step every layout fits even
// when every value is at its bound (the longest, RFC 7208 Received-SPF, takes about 380 octets).
struct Bounds {
  std::size_t host, mailbox, text, comment;
};
constexpr Bounds kSteps[] = {{kMaxHostValue, kMaxMailboxValue, kMaxTextValue, kMaxCommentName},
                             {64, 80, 120, 48},
                             {48, 64, 80, 32},
                             {32, 40, 48, 24},
                             {20, 24, 24, 16}};

// build(bounds) with the first bounds whose result fits `budget` octets (the last ones otherwise).
template <class Build>
std::string fitted(std::size_t budget, Build build) {
  std::string out;
  for (const Bounds& b : kSteps) {
    out = build(b);
    if (out.size() <= budget) break;
  }
  return out;
}

bool is_alnum(unsigned char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// RFC 5322 atext, extended by RFC 6532 to UTF-8 (sanitize() has already made any high byte valid UTF-8).
bool is_atext(unsigned char c) noexcept {
  return is_alnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos ||
         c >= 0x80;
}

// pypolicyd layout: characters of a dot-atom plus "@", "<", ">" (receiver=<UNKNOWN> for Hide_Receiver),
// "[", "]" and ":" (an address literal HELO, helo=[192.0.2.1]) may stand bare, as pypolicyd-spf writes them;
// anything else (space, ";", quotes, backslash, parentheses, comma, ...) could end the value or start
// another key.
bool is_safe_token(std::string_view v) noexcept {
  if (v.empty()) return false;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (!is_atext(u) && std::string_view(".@<>[]:").find(c) == std::string_view::npos) return false;
  }
  return true;
}

// RFC 5322 dot-atom: atext runs separated by single dots.
bool is_dot_atom(std::string_view v) noexcept {
  if (v.empty() || v.front() == '.' || v.back() == '.') return false;
  char prev = 0;
  for (char c : v) {
    if (c == '.' ? prev == '.' : !is_atext(static_cast<unsigned char>(c))) return false;
    prev = c;
  }
  return true;
}

// RFC 2045 token (RFC 8601 "value"): no SPACE, CTLs or tspecials; ASCII only.
bool is_token(std::string_view v) noexcept {
  if (v.empty()) return false;
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F || std::string_view("()<>@,;:\\\"/[]?=").find(c) != std::string_view::npos)
      return false;
  }
  return true;
}

// Appends `clean` (already sanitised: valid UTF-8, no controls) with the bytes in `specials` preceded by a
// backslash, using at most `max` octets; if it does not fit, it is cut at a character boundary and ends
// with "...".
void append_escaped(std::string& out, std::string_view clean, std::size_t max, std::string_view specials) {
  std::size_t escaped = clean.size();
  for (char c : clean) escaped += specials.find(c) != std::string_view::npos;
  const bool cut = escaped > max;
  const std::size_t budget = cut ? (max > kEllipsis.size() ? max - kEllipsis.size() : 0) : escaped;
  std::size_t used = 0;
  for (std::size_t i = 0; i < clean.size();) {
    std::size_t len = 1;  // one UTF-8 sequence: a lead byte and its continuation bytes
    while (i + len < clean.size() && (static_cast<unsigned char>(clean[i + len]) & 0xC0) == 0x80) ++len;
    const bool special = len == 1 && specials.find(clean[i]) != std::string_view::npos;
    const std::size_t need = len + (special ? 1 : 0);
    if (used + need > budget) break;
    if (special) out.push_back('\\');
    out.append(clean.substr(i, len));
    used += need;
    i += len;
  }
  if (cut) out.append(kEllipsis);
}

// A quoted-string of at most `max` octets, quotes included.
void append_quoted(std::string& out, std::string_view clean, std::size_t max) {
  out.push_back('"');
  append_escaped(out, clean, max > 2 ? max - 2 : 0, "\"\\");
  out.push_back('"');
}

// Text inside "( ... )". RFC 5322 comments nest, so balanced parentheses stand as they are (pypolicyd-spf
// writes "(SPF Permanent Error: Invalid domain found (use FQDN): x)"); a backslash and a parenthesis
// without its partner, which would end the comment early or leave it open, are escaped. When the text must
// be cut, every parenthesis is escaped, so that the cut cannot unbalance it.
void append_comment(std::string& out, std::string_view text, std::size_t max) {
  const std::string clean = sanitize(text, max);
  std::vector<bool> paired(clean.size(), false);
  std::vector<std::size_t> open;
  for (std::size_t i = 0; i < clean.size(); ++i) {
    if (clean[i] == '(') {
      open.push_back(i);
    } else if (clean[i] == ')' && !open.empty()) {
      paired[open.back()] = paired[i] = true;
      open.pop_back();
    }
  }
  std::string escaped;
  escaped.reserve(clean.size() + 8);
  for (std::size_t i = 0; i < clean.size(); ++i) {
    const char c = clean[i];
    if (c == '\\' || ((c == '(' || c == ')') && !paired[i])) escaped.push_back('\\');
    escaped.push_back(c);
  }
  if (escaped.size() <= max) {
    out += escaped;
    return;
  }
  append_escaped(out, clean, max, "()\\");
}

// pypolicyd layout: bare when safe (so ordinary values are byte-identical to pypolicyd-spf), else quoted.
void append_pypolicyd_value(std::string& out, std::string_view raw, std::size_t max) {
  const std::string clean = sanitize(raw, max);
  if (is_safe_token(clean)) out.append(clean);
  else append_quoted(out, clean, max);
}

// RFC 7208 §9.1 key-value-pair: dot-atom or quoted-string.
void append_rfc7208_value(std::string& out, std::string_view raw, std::size_t max) {
  const std::string clean = sanitize(raw, max);
  if (is_dot_atom(clean)) out.append(clean);
  else append_quoted(out, clean, max);
}

// RFC 8601 pvalue / authserv-id: token (which covers domain names) or quoted-string.
void append_rfc8601_value(std::string& out, std::string_view raw, std::size_t max) {
  const std::string clean = sanitize(raw, max);
  if (is_token(clean)) out.append(clean);
  else append_quoted(out, clean, max);
}

// Method, result and property names are ours, but keep them to keyword characters all the same.
std::string keyword(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxHostValue))
    if (is_alnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') out.push_back(c);
  return out;
}

std::string_view domain_of(std::string_view sender) noexcept {
  const auto at = sender.rfind('@');
  return at == std::string_view::npos ? sender : sender.substr(at + 1);
}

// "client-ip=..; helo=..; envelope-from=..; receiver=.." as pypolicyd-spf writes it (inside the AR comment
// and, with a leading "identity=..; ", in Received-SPF).
void append_pypolicyd_pairs(std::string& out, const HeaderInputs& in, bool in_comment, const Bounds& b) {
  const auto value = [&](std::string_view v, std::size_t max) {
    if (in_comment) append_comment(out, v, max);
    else append_pypolicyd_value(out, v, max);
  };
  out += "client-ip=";
  out += spfgate::to_string(in.client);  // an address we parsed: hex digits, dots and colons only
  out += "; helo=";
  value(in.helo, b.host);
  out += "; envelope-from=";
  if (in.sender.empty()) out += "<>";
  else value(in.sender, b.mailbox);
  out += "; receiver=";
  value(in.receiver, b.host);
}

}  // namespace

std::string pypolicyd_reason(const Outcome& outcome) {
  switch (outcome.result) {
    case Result::Pass: return "sender SPF authorized";
    case Result::Fail:
      return outcome.explanation.empty() ? std::string(Options{}.default_explanation) : outcome.explanation;
    case Result::SoftFail: return "domain owner discourages use of this host";
    case Result::Neutral: return "access neither permitted nor denied";
    case Result::None: return "no SPF record";
    case Result::PermError: return "SPF Permanent Error: " + outcome.problem;
    case Result::TempError: return "SPF Temporary Error: " + outcome.problem;
  }
  return {};
}

HeaderField received_spf_pypolicyd(Result result, Identity identity, std::string_view reason,
                                   const HeaderInputs& in) {
  HeaderField h{kReceivedSpf, {}};
  h.value = fitted(kMaxHeaderLine - kReceivedSpf.size() - 2, [&](const Bounds& b) {
    std::string v;
    v.reserve(256);
    v += to_capitalized(result);
    v += " (";
    if (identity == Identity::MailFrom) v += "mailfrom";  // pypolicyd-spf puts the identity here, not a reason
    else append_comment(v, reason, b.text);
    v += ") identity=";
    v += to_string(identity);
    v += "; ";
    append_pypolicyd_pairs(v, in, false, b);
    v += ' ';  // pypolicyd-spf ends the field with one space; log parsers (Debian logcheck) expect it
    return v;
  });
  return h;
}

HeaderField received_spf_pypolicyd(const Outcome& outcome, Identity identity, const HeaderInputs& in) {
  return received_spf_pypolicyd(outcome.result, identity, pypolicyd_reason(outcome), in);
}

HeaderField received_spf_rfc7208(const Outcome& outcome, Identity identity, const HeaderInputs& in) {
  HeaderField h{kReceivedSpf, {}};
  h.value = fitted(kMaxHeaderLine - kReceivedSpf.size() - 2, [&](const Bounds& b) {
    // The comment names the identity checked: the sender mailbox for MAIL FROM, the HELO name for HELO.
    const std::string who = sanitize(identity == Identity::MailFrom ? in.sender : in.helo, b.comment);
    const std::string ip = spfgate::to_string(in.client);
    std::string text;
    switch (outcome.result) {
      case Result::Pass: text = "domain of " + who + " designates " + ip + " as permitted sender"; break;
      case Result::Fail: text = "domain of " + who + " does not designate " + ip + " as permitted sender"; break;
      case Result::SoftFail:
        text = "transitioning domain of " + who + " does not designate " + ip + " as permitted sender";
        break;
      case Result::Neutral: text = ip + " is neither permitted nor denied by domain of " + who; break;
      case Result::None: text = "domain of " + who + " does not designate permitted sender hosts"; break;
      case Result::PermError: text = "permanent error in processing domain of " + who; break;
      case Result::TempError: text = "temporary error in processing during lookup of " + who; break;
    }
    std::string v;
    v.reserve(320);
    v += to_string(outcome.result);
    v += " (";
    if (!in.receiver.empty()) {
      append_comment(v, in.receiver, b.comment);
      v += ": ";
    }
    append_comment(v, text, 2 * b.comment + 96);  // the fixed words plus two bounded names and an IP
    v += ")";
    bool first_pair = true;
    const auto pair = [&](std::string_view key, std::string_view value, std::size_t max) {
      v += first_pair ? " " : "; ";
      first_pair = false;
      v += key;
      v += '=';
      append_rfc7208_value(v, value, max);
    };
    if (!in.receiver.empty()) pair("receiver", in.receiver, b.host);
    pair("client-ip", ip, kMaxHostValue);  // an address we printed: at most 45 octets
    if (!in.sender.empty()) pair("envelope-from", in.sender, b.mailbox);
    if (!in.helo.empty()) pair("helo", in.helo, b.host);
    pair("identity", to_string(identity), kMaxHostValue);
    const bool error = outcome.result == Result::PermError || outcome.result == Result::TempError;
    if (error && !outcome.problem.empty()) pair("problem", outcome.problem, b.text);
    else if (!error && !outcome.mechanism.empty()) pair("mechanism", outcome.mechanism, b.text);
    return v;
  });
  return h;
}

AuthenticationResults::AuthenticationResults(std::string_view authserv_id) {
  append_rfc8601_value(authserv_id_, authserv_id, kMaxHostValue);
  size_ = kAuthenticationResults.size() + 2 + authserv_id_.size();
}

bool AuthenticationResults::append(std::string resinfo) {
  if (size_ + 2 + resinfo.size() > kMaxHeaderLine) return false;
  size_ += 2 + resinfo.size();
  resinfos_.push_back(std::move(resinfo));
  return true;
}

std::string resinfo_spf_pypolicyd(Result result, Identity identity, std::string_view reason, const HeaderInputs& in,
                                  std::size_t budget) {
  return fitted(budget, [&](const Bounds& b) {
    std::string r = "spf=";
    r += to_string(result);
    r += " (";
    append_comment(r, reason, b.text);
    r += ") ";
    if (identity == Identity::MailFrom) {
      r += "smtp.mailfrom=";
      append_rfc8601_value(r, domain_of(in.sender), b.host);
    } else {
      r += "smtp.helo=";
      append_rfc8601_value(r, in.helo, b.host);
    }
    r += " (";
    append_pypolicyd_pairs(r, in, true, b);
    r += ")";
    return r;
  });
}

bool AuthenticationResults::add_spf(Result result, Identity identity, std::string_view reason,
                                    const HeaderInputs& in) {
  return append(resinfo_spf_pypolicyd(result, identity, reason, in, spf_budget()));
}

std::size_t AuthenticationResults::spf_budget() const noexcept {
  const std::size_t taken = size_ + 2 + 2 + kMaxIprevResinfo;  // "; " <spf> "; " <iprev>
  return taken < kMaxHeaderLine ? kMaxHeaderLine - taken : 0;
}

bool AuthenticationResults::add_spf(const Outcome& outcome, Identity identity, const HeaderInputs& in) {
  return add_spf(outcome.result, identity, pypolicyd_reason(outcome), in);
}

std::string resinfo(std::string_view method, std::string_view result, std::string_view comment,
                    std::initializer_list<AuthProperty> properties) {
  std::string r = keyword(method);
  r += '=';
  r += keyword(result);
  if (!comment.empty()) {
    r += " (";
    append_comment(r, comment, kMaxCommentName);  // short notes ("no PTR"); keeps spf + iprev in one line
    r += ')';
  }
  for (const AuthProperty& p : properties) {
    r += ' ';
    r += keyword(p.name);
    r += '=';
    append_rfc8601_value(r, p.value, kMaxHostValue);
  }
  return r;
}

std::string resinfo_iprev(std::string_view result, const IpAddress& client, std::string_view comment) {
  const std::string ip = spfgate::to_string(client);
  return resinfo("iprev", result, comment, {{"policy.iprev", ip}});
}

bool AuthenticationResults::add_iprev(std::string_view result, const IpAddress& client, std::string_view comment) {
  return append(resinfo_iprev(result, client, comment));
}

bool AuthenticationResults::add(std::string_view method, std::string_view result, std::string_view comment,
                                std::initializer_list<AuthProperty> properties) {
  return append(resinfo(method, result, comment, properties));
}

bool AuthenticationResults::add_resinfo(std::string text) { return append(std::move(text)); }

HeaderField AuthenticationResults::field() const {
  HeaderField h{kAuthenticationResults, authserv_id_};
  if (resinfos_.empty()) {
    h.value += "; none";  // RFC 8601 §2.2 no-result
    return h;
  }
  for (const std::string& r : resinfos_) {
    h.value += "; ";
    h.value += r;
  }
  return h;
}

}  // namespace spfgate::spf
