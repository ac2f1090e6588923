#include "policy/request.hpp"

#include "common/text.hpp"

namespace spfgate::policy {

PolicyRequest PolicyRequest::from(std::vector<Attribute> attributes) {
  PolicyRequest r;
  r.attributes = std::move(attributes);
  // Walk in order so that the last occurrence of an attribute wins. Dispatch on the name's length first:
  // Postfix sends 29 attributes and only 11 of them are used (this runs for every request). Values are
  // decoded as pypolicyd-spf decodes its input (invalid UTF-8 becomes U+FFFD, Python's errors="replace").
  for (const auto& [name, raw] : r.attributes) {
    const auto value = [&raw = raw] { return utf8_replacing_invalid(raw); };
    const auto lowered = [&value] {  // one string, lower-cased where it is
      std::string v = value();
      ascii_lower_in_place(v);
      return v;
    };
    switch (name.size()) {
      case 6:
        if (name == "sender") {
          r.has_sender = true;
          r.sender = lowered();
        }
        break;
      case 7:
        if (name == "request") r.request = lowered();
        break;
      case 8:
        if (name == "queue_id") r.queue_id = value();
        else if (name == "instance") r.instance = lowered();
        break;
      case 9:
        if (name == "helo_name") {
          r.has_helo = true;
          r.helo_as_sent = value();
          r.helo = ascii_lower(r.helo_as_sent);
        } else if (name == "recipient") {
          r.recipient = lowered();
        }
        break;
      case 11:
        if (name == "client_name") r.client_name = lowered();
        break;
      case 13:
        if (name == "sasl_username") r.sasl_username = value();
        break;
      case 14:
        if (name == "protocol_state") r.protocol_state = value();
        else if (name == "client_address") r.client_address = lowered();
        break;
      case 19:
        if (name == "reverse_client_name") r.reverse_client_name = lowered();
        break;
      default: break;
    }
  }
  r.client = parse_ip(r.client_address);
  return r;
}

std::optional<std::string_view> PolicyRequest::get(std::string_view name) const {
  for (auto it = attributes.rbegin(); it != attributes.rend(); ++it)
    if (it->first == name) return std::string_view(it->second);
  return std::nullopt;
}

std::string_view PolicyRequest::sender_domain() const {
  const auto at = sender.rfind('@');
  return at == std::string::npos ? std::string_view(sender) : std::string_view(sender).substr(at + 1);
}

std::string_view PolicyRequest::recipient_domain() const {
  const auto at = recipient.rfind('@');
  return at == std::string::npos ? std::string_view(recipient) : std::string_view(recipient).substr(at + 1);
}

bool PolicyRequest::can_prepend() const {
  // An absent protocol_state is a hand-made request (testing): treat it like RCPT.
  return protocol_state.empty() || protocol_state == "MAIL" || protocol_state == "RCPT" ||
         protocol_state == "DATA";
}

}  // namespace spfgate::policy
