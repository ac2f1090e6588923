// tests/fuzz/fuzz_headers.hpp: the invariants of the SPF header fields, shared by the targets that build them.
//
//   fuzz::check_spf_headers(outcome, identity, inputs);   // aborts on the first broken invariant
//
// Every layout (pypolicyd-spf Received-SPF, RFC 7208 Received-SPF, Authentication-Results) must be one clean
// line under kMaxHeaderLine, reach Postfix whole ("prepend <header>" fits a reply line, so format_reply()
// never cuts it), and keep its structure whatever the values: the same top-level keys in the same order,
// every quoted-string and comment closed.
#pragma once

#include "fuzz_common.hpp"

#include "policy/spf/header.hpp"
#include "server/codec.hpp"

namespace fuzz {

namespace spf = spfgate::spf;

// One clean line, bounded, whose ';'-separated parts hold exactly `keys` at the top level (unchecked when
// `keys` is empty), and which a reply carries uncut.
inline void check_header(const spf::HeaderField& h, const std::vector<std::vector<std::string>>& keys) {
  const std::string line = h.line();
  FUZZ_CHECK(is_clean_text(line), line);
  FUZZ_CHECK(line.size() <= spf::kMaxHeaderLine, line);
  HeaderParts parts;
  FUZZ_CHECK(split_header(h.value, parts), h.value);
  if (!keys.empty()) {
    FUZZ_CHECK(parts.parts.size() == keys.size(), h.value);
    for (std::size_t i = 0; i < parts.parts.size(); ++i) FUZZ_CHECK(keys_of(parts.parts[i]) == keys[i], h.value);
  }
  const std::string action = "prepend " + line;
  const std::string reply = spfgate::server::format_reply(action);
  check_reply(reply);
  FUZZ_CHECK(reply == "action=" + action + "\n\n", action);  // not cut: a cut header loses its structure
}

inline std::vector<std::vector<std::string>> pypolicyd_keys() {
  return {{"identity"}, {"client-ip"}, {"helo"}, {"envelope-from"}, {"receiver"}};
}

inline std::vector<std::vector<std::string>> rfc7208_keys(const spf::Outcome& out, const spf::HeaderInputs& in) {
  std::vector<std::vector<std::string>> keys;
  if (!in.receiver.empty()) keys.push_back({"receiver"});
  keys.push_back({"client-ip"});
  if (!in.sender.empty()) keys.push_back({"envelope-from"});
  if (!in.helo.empty()) keys.push_back({"helo"});
  keys.push_back({"identity"});
  const bool error = out.result == spf::Result::PermError || out.result == spf::Result::TempError;
  if (error && !out.problem.empty()) keys.push_back({"problem"});
  else if (!error && !out.mechanism.empty()) keys.push_back({"mechanism"});
  return keys;
}

inline void check_spf_headers(const spf::Outcome& out, spf::Identity identity, const spf::HeaderInputs& in) {
  check_header(spf::received_spf_pypolicyd(out, identity, in), pypolicyd_keys());
  check_header(spf::received_spf_rfc7208(out, identity, in), rfc7208_keys(out, in));
  spf::AuthenticationResults ar("mx.example.net");
  const bool added = ar.add_spf(out, identity, in);
  const bool iprev = ar.add_iprev("pass", in.client, in.helo);
  std::vector<std::vector<std::string>> keys{{}};
  if (added)
    keys.push_back({"spf", identity == spf::Identity::MailFrom ? "smtp.mailfrom" : "smtp.helo"});
  if (iprev) keys.push_back({"iprev", "policy.iprev"});
  check_header(ar.field(), keys);
}

}  // namespace fuzz
