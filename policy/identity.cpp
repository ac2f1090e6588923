#include "policy/identity.hpp"

#include "common/text.hpp"
#include "policy/spf/header.hpp"

namespace spfgate::policy {

HeaderFields header_fields(const PolicyRequest& request, const config::Settings& settings) {
  HeaderFields f;
  f.client_ip = settings.prospective ? settings.prospective->to_string() : request.client_address;
  // pypolicyd-spf's bypass comments show a missing attribute as "<UNKNOWN>" (an empty one as empty).
  f.raw_helo = request.has_helo ? request.helo : "<UNKNOWN>";
  f.sender = request.sender;
  f.raw_sender = request.has_sender ? request.sender : "<UNKNOWN>";
  if (!request.helo.empty()) f.helo = request.helo;
  else if (!request.sender.empty()) f.helo = std::string(request.sender_domain());
  else f.helo = "unknown";
  if (!settings.receiver_name.empty()) {
    f.receiver = settings.receiver_name;
  } else if (!settings.per_user.empty()) {
    f.receiver = request.recipient.empty() ? "none" : request.recipient;
  } else if (settings.hide_receiver) {
    f.receiver = "<UNKNOWN>";
  } else if (request.recipient.empty()) {
    f.receiver = "none";
  } else {
    f.receiver = std::string(request.recipient_domain());
  }
  return f;
}

namespace {

// Text placed inside an RFC 5322 comment: "(", ")" and "\\" escaped, so that no value can end the comment
// (a quoted-string means nothing inside a comment) and put its own keys into the header.
std::string comment_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '(' || c == ')' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::vector<std::string> bypass_headers(std::string_view comment, const HeaderFields& f,
                                        const config::Settings& settings) {
  // Each header must fit one policy reply line ("PREPEND " + header, spf::kMaxHeaderLine): values are cut
  // shorter until both do (ordinary values fit at the first bound, as pypolicyd-spf writes them).
  std::string x_comment, ar;
  for (const std::size_t max : {256u, 100u, 64u, 40u, 24u}) {
    const std::string details = "client-ip=" + header_value(f.client_ip, max) +
                                "; helo=" + header_value(f.raw_helo, max) +
                                "; envelope-from=" + header_value(f.raw_sender, max) +
                                "; receiver=" + header_value(f.receiver, max);
    x_comment = "X-Comment: " + std::string(comment) + " - " + details + " ";
    ar = "Authentication-Results: " + sanitize(settings.authserv_id, spf::kMaxHostValue) + "; none (" +
         std::string(comment) + " -  " + comment_text(details) + ")";
    if (x_comment.size() <= spf::kMaxHeaderLine && ar.size() <= spf::kMaxHeaderLine) break;
  }
  std::vector<std::string> out;
  // With Header_Type None the header is still built: decide() logs it as "not prepended".
  if (settings.header_type.spf || settings.header_type.none()) out.push_back(std::move(x_comment));
  if (settings.header_type.ar) out.push_back(std::move(ar));
  return out;
}

}  // namespace spfgate::policy
