// fuzz_reply: everything that turns untrusted text into reply, header or log text — common/text.hpp
// (sanitize, loggable, header_value, is_clean), server/codec format_reply(), and the header builders of
// policy/spf/header.hpp (Received-SPF in both layouts, Authentication-Results).
//
// Input: a flags byte (result, identity, address family), a bound byte, 4 or 16 address bytes, then
// sections separated by "\n%%\n": helo, sender, receiver, explanation, problem, mechanism, authserv-id,
// a method name, a comment, and a free text.
// Invariants: sanitize() output is clean (valid UTF-8, no controls), within its bound, and unchanged for
// clean text that fits; is_clean() agrees with an independent check; a reply is one clean line of at most
// 510 octets; every header is one clean line under kMaxHeaderLine whose structure no value can change: the
// same keys at the top level whatever the values, every quoted-string and comment closed.
#include "fuzz_common.hpp"
#include "fuzz_headers.hpp"

#include "common/text.hpp"
#include "policy/spf/header.hpp"
#include "server/codec.hpp"

#include <array>

namespace spf = spfgate::spf;

namespace {

void check_sanitize(std::string_view text, std::size_t max) {
  const std::string out = spfgate::sanitize(text, max);
  FUZZ_CHECK(fuzz::is_clean_text(out), out);
  FUZZ_CHECK(out.size() <= max || (max < 3 && out.size() <= 3), out);
  if (fuzz::is_clean_text(text) && text.size() <= max) FUZZ_CHECK(out == text, text);
  FUZZ_CHECK(spfgate::is_clean(text) == fuzz::is_clean_text(text), text);
  FUZZ_CHECK(spfgate::is_clean(out), out);
  const std::string logged = spfgate::loggable(text);
  FUZZ_CHECK(fuzz::is_clean_text(logged) && logged.size() <= spfgate::kMaxLoggedValue, logged);
  const std::string hv = spfgate::header_value(text, max);
  FUZZ_CHECK(fuzz::is_clean_text(hv), hv);
  FUZZ_CHECK(hv.size() <= 2 * std::max<std::size_t>(max, 3) + 2, hv);
  fuzz::HeaderParts parts;
  FUZZ_CHECK(fuzz::split_header(hv, parts) && parts.parts.size() == 1, hv);  // no ';' escapes a value
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const std::uint8_t flags = in.byte();
  const std::size_t bound = in.byte();
  spfgate::IpAddress client;
  if (flags & 0x80) {
    boost::asio::ip::address_v6::bytes_type b{};
    for (auto& x : b) x = in.byte();
    client = boost::asio::ip::address_v6(b);
  } else {
    boost::asio::ip::address_v4::bytes_type b{};
    for (auto& x : b) x = in.byte();
    client = boost::asio::ip::address_v4(b);
  }
  std::array<std::string_view, 10> f{};
  for (auto& s : f) s = in.section();
  // Named copies, not a structured binding: clang 14 cannot capture those in a lambda.
  const std::string_view helo = f[0], sender = f[1], receiver = f[2], explanation = f[3], problem = f[4],
                         mechanism = f[5], authserv = f[6], method = f[7], comment = f[8], text = f[9];

  for (const auto& s : f) {
    check_sanitize(s, bound);
    check_sanitize(s, spfgate::kMaxReplyLine);
    fuzz::check_reply(spfgate::server::format_reply(s));
  }

  spf::Outcome out;
  out.result = static_cast<spf::Result>((flags & 0x0F) % 7);
  out.explanation = std::string(explanation);
  out.problem = std::string(problem);
  out.mechanism = std::string(mechanism);
  const spf::Identity identity = (flags & 0x10) ? spf::Identity::Helo : spf::Identity::MailFrom;
  const spf::HeaderInputs inputs{client, helo, sender, receiver};

  fuzz::check_spf_headers(out, identity, inputs);
  fuzz::check_header(spf::received_spf_pypolicyd(out.result, identity, text, inputs), fuzz::pypolicyd_keys());

  // Authentication-Results: "<authserv-id>; spf=..; iprev=..; <method>=.." — one part per resinfo added.
  spf::AuthenticationResults ar(authserv);
  std::vector<std::vector<std::string>> ar_keys{{}};
  const std::vector<std::string> spf_keys{"spf", identity == spf::Identity::MailFrom ? "smtp.mailfrom" : "smtp.helo"};
  if (ar.add_spf(out, identity, inputs)) ar_keys.push_back(spf_keys);
  if (ar.add_iprev(flags & 0x20 ? "pass" : "fail", client, comment)) ar_keys.push_back({"iprev", "policy.iprev"});
  const std::string m = [&] {
    std::string k;  // what keyword() keeps of the method name
    for (char c : method.substr(0, spf::kMaxHostValue))
      if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-')
        k.push_back(c);
    return k;
  }();
  if (ar.add(method, text, comment, {{"smtp.helo", helo}, {"policy.x", text}}))
    ar_keys.push_back({m, "smtp.helo", "policy.x"});
  fuzz::check_header(ar.field(), ar_keys);  // the authserv-id is one token or a quoted-string: no key

  // The resinfo builders the pipeline joins into one header.
  for (const std::string& r : {spf::resinfo_spf_pypolicyd(out.result, identity, text, inputs),
                               spf::resinfo_iprev(text, client, comment), spf::resinfo(method, text, comment, {})}) {
    FUZZ_CHECK(fuzz::is_clean_text(r), r);
    fuzz::HeaderParts p;
    FUZZ_CHECK(fuzz::split_header(r, p) && p.parts.size() == 1, r);
  }
  return 0;
}
