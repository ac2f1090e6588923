// Text and JSON renderings of a lint::Report.
#include "common/text.hpp"
#include "policy/lint/lint.hpp"

#include <boost/json.hpp>
#include <boost/json/src.hpp>  // Boost.JSON header-only, compiled here once

namespace spfgate::lint {

namespace {

void tree_text(const SpfNode& n, const std::string& indent, bool last, bool top, std::string& out) {
  std::string line = indent;
  if (!top) line += last ? "`- " : "|- ";
  if (!n.via.empty()) line += n.via + " ";
  line += n.domain + "  " + std::to_string(n.own_terms) + " lookup" + (n.own_terms == 1 ? "" : "s");
  if (!n.children.empty()) line += " (" + std::to_string(n.total_terms) + " with its includes)";
  if (!n.problem.empty()) line += "  [" + n.problem + "]";
  out += line + "\n";
  if (!n.record.empty()) out += indent + (top ? "" : (last ? "   " : "|  ")) + "  \"" + n.record + "\"\n";
  const std::string child_indent = indent + (top ? "" : (last ? "   " : "|  "));
  for (std::size_t i = 0; i < n.children.size(); ++i)
    tree_text(n.children[i], child_indent, i + 1 == n.children.size(), false, out);
}

boost::json::object tree_json(const SpfNode& n) {
  boost::json::object o;
  o["domain"] = n.domain;
  if (!n.via.empty()) o["via"] = n.via;
  o["record"] = n.record;
  o["lookups"] = n.own_terms;
  o["total_lookups"] = n.total_terms;
  if (!n.problem.empty()) o["problem"] = n.problem;
  boost::json::array children;
  for (const auto& c : n.children) children.push_back(tree_json(c));
  o["children"] = std::move(children);
  return o;
}

}  // namespace

std::string format_text(const Report& r) {
  std::string out = "spfgate lint " + r.domain + "\n\n";
  if (r.spf) {
    out += "SPF\n";
    tree_text(*r.spf, "  ", true, true, out);
    if (!r.spf->record.empty())
      out += "  DNS lookups: " + std::to_string(r.spf_lookups) + " of 10; void lookups: " + std::to_string(r.spf_voids) +
             " of 2\n  a receiver checking an unlisted client gets: " + r.receiver_view + "\n";
  }
  out += "\nDMARC\n  " + (r.dmarc.empty() ? std::string("(none)") : "\"" + r.dmarc + "\"") + "\n";
  if (!r.dkim.empty()) {
    out += "\nDKIM\n";
    for (const auto& k : r.dkim) {
      out += "  " + k.selector + ": ";
      if (k.record.empty()) out += "(none)";
      else if (k.revoked) out += "revoked";
      else out += k.key_type + (k.key_bits ? " " + std::to_string(k.key_bits) + " bits" : std::string(" (unreadable key)"));
      out += "\n";
    }
  }
  out += "\nMX\n";
  if (r.mx.empty()) out += "  (none)\n";
  for (const auto& m : r.mx) {
    out += "  " + std::to_string(m.preference) + " " + m.host + "\n";
    for (std::size_t i = 0; i < m.addresses.size(); ++i)
      out += "      " + m.addresses[i] + "  iprev " + (i < m.iprev.size() ? m.iprev[i] : "?") + "\n";
  }
  out += "\nFindings\n";
  if (r.findings.empty()) out += "  none: nothing to fix\n";
  for (const auto& f : r.findings) {
    std::string sev(to_string(f.severity));
    sev.resize(8, ' ');
    out += "  " + sev + f.code + ": " + f.message + "\n" + std::string(10, ' ') + "fix: " + f.fix + "\n";
  }
  return out;
}

std::string format_json(const Report& r) {
  boost::json::object o;
  o["domain"] = r.domain;
  if (r.spf) {
    boost::json::object spf;
    spf["tree"] = tree_json(*r.spf);
    spf["lookups"] = r.spf_lookups;
    spf["void_lookups"] = r.spf_voids;
    spf["receiver_view"] = r.receiver_view;
    o["spf"] = std::move(spf);
  }
  o["dmarc"] = r.dmarc;
  boost::json::array dkim;
  for (const auto& k : r.dkim)
    dkim.push_back({{"selector", k.selector}, {"record", k.record}, {"key_type", k.key_type},
                    {"key_bits", k.key_bits}, {"revoked", k.revoked}});
  o["dkim"] = std::move(dkim);
  boost::json::array mx;
  for (const auto& m : r.mx) {
    boost::json::array addrs;
    for (std::size_t i = 0; i < m.addresses.size(); ++i)
      addrs.push_back({{"address", m.addresses[i]}, {"iprev", i < m.iprev.size() ? m.iprev[i] : ""}});
    mx.push_back({{"preference", m.preference}, {"host", m.host}, {"addresses", std::move(addrs)}});
  }
  o["mx"] = std::move(mx);
  boost::json::array findings;
  for (const auto& f : r.findings)
    findings.push_back({{"severity", std::string(to_string(f.severity))}, {"area", f.area}, {"code", f.code},
                        {"message", f.message}, {"fix", f.fix}});
  o["findings"] = std::move(findings);
  o["errors"] = r.has_errors();
  return boost::json::serialize(o) + "\n";
}

}  // namespace spfgate::lint
