#include "policy/identity.hpp"

#include "common/text.hpp"

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

std::vector<std::string> bypass_headers(std::string_view comment, const HeaderFields& f,
                                        const config::Settings& settings) {
  const std::string details = "client-ip=" + header_value(f.client_ip) + "; helo=" + header_value(f.raw_helo) +
                              "; envelope-from=" + header_value(f.raw_sender) +
                              "; receiver=" + header_value(f.receiver);
  std::vector<std::string> out;
  // With Header_Type None the header is still built: decide() logs it as "not prepended".
  if (settings.header_type.spf || settings.header_type.none()) out.push_back("X-Comment: " + std::string(comment) + " - " + details + " ");
  if (settings.header_type.ar)
    out.push_back("Authentication-Results: " + settings.authserv_id + "; none (" + std::string(comment) +
                  " -  " + details + ")");
  return out;
}

}  // namespace spfgate::policy
