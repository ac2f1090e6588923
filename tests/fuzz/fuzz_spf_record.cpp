// fuzz_spf_record: the SPF record parser (policy/spf/record.hpp) and the expansion of every domain-spec it
// accepts (policy/spf/macro.hpp).
//
// Input: one byte choosing where the record is split into two character-strings, then the TXT text.
// Invariants: is_spf_record() gives the same answer on the text and on its strings (§3.3: they concatenate);
// a refused record has a printable-ASCII error and its bad term lies inside the text; an accepted record's
// terms lie inside the text without spaces, CIDR lengths are in range, ip4/ip6 networks have the right
// family, every domain-spec and redirect=/exp= passes check_domain_spec(); parsing is repeatable; expanding
// a domain-spec with hostile macro values stays within kMaxExpansion and yields a name of at most 253
// octets whenever it has a dot to shorten at.
#include "fuzz_common.hpp"

#include "policy/spf/macro.hpp"
#include "policy/spf/record.hpp"

namespace spf = spfgate::spf;

namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

void check_expansion(std::string_view spec, const spf::MacroValues& values) {
  FUZZ_CHECK(!spf::check_domain_spec(spec), spec);
  std::string out, why;
  if (!spf::expand_domain_spec(spec, values, out, &why)) {
    FUZZ_CHECK(why.rfind("Macro expansion exceeds", 0) == 0, why);  // the only way a checked spec can fail
    FUZZ_CHECK(fuzz::is_printable_ascii(why), why);
    return;
  }
  FUZZ_CHECK(out.size() <= spf::kMaxExpansion, out);
  if (out.size() > spf::kMaxDomainLength)
    FUZZ_CHECK(out.find('.', out.size() - spf::kMaxDomainLength - 1) == std::string::npos, out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Input in(data, size);
  const std::size_t split = in.byte();
  const std::string text(in.rest());  // its own allocation, so ASan sees every read past the end

  const std::vector<std::string> strings{text.substr(0, std::min(split, text.size())),
                                         text.substr(std::min(split, text.size()))};
  FUZZ_CHECK(spf::is_spf_record(text) == spf::is_spf_record(strings), text);
  if (!spf::is_spf_record(text)) return 0;

  spf::Record record;
  std::string error;
  std::string_view bad_term;
  const bool ok = spf::parse_record(text, record, &error, &bad_term);
  spf::Record again;
  FUZZ_CHECK(spf::parse_record(text, again) == ok, text);
  if (!ok) {
    FUZZ_CHECK(!error.empty() && fuzz::is_printable_ascii(error), error);
    FUZZ_CHECK(error.size() <= 400, error);
    FUZZ_CHECK(bad_term.empty() || inside(bad_term, text), bad_term);
    return 0;
  }
  FUZZ_CHECK(again.mechanisms.size() == record.mechanisms.size(), text);

  // Hostile values for every macro letter: long, dotted, with every delimiter and escape-worthy bytes.
  const std::string long_local(300, 'l');
  const std::string sender = long_local + "+x=y/z_w-v.u@" + std::string(200, 'd') + ".example.org";
  spf::MacroValues values;
  values.sender = sender;
  values.local_part = std::string_view(sender).substr(0, sender.find('@'));
  values.sender_domain = std::string_view(sender).substr(sender.find('@') + 1);
  values.domain = "a.b.c.d.e.f.g.h.i.j.example.org";
  values.helo = "helo.with spaces%and\"quotes";
  values.ptr_name = "mail.example.org";
  values.receiver = "rcpt.example.net";
  values.client = *spfgate::parse_ip("2001:db8::cafe");

  for (const spf::Mechanism& m : record.mechanisms) {
    FUZZ_CHECK(!m.text.empty() && inside(m.text, text), m.text);
    FUZZ_CHECK(m.text.find(' ') == std::string_view::npos, m.text);
    FUZZ_CHECK(fuzz::is_printable_ascii(m.text), m.text);
    FUZZ_CHECK(m.cidr4 <= 32 && m.cidr6 <= 128, m.text);
    if (m.type == spf::MechanismType::Ip4) FUZZ_CHECK(m.network.is_v4(), m.text);
    if (m.type == spf::MechanismType::Ip6) FUZZ_CHECK(m.network.is_v6(), m.text);
    if (m.type == spf::MechanismType::Include || m.type == spf::MechanismType::Exists)
      FUZZ_CHECK(!m.domain_spec.empty(), m.text);
    if (!m.domain_spec.empty()) {
      FUZZ_CHECK(inside(m.domain_spec, m.text), m.text);
      check_expansion(m.domain_spec, values);
    }
    if (m.type == spf::MechanismType::All) FUZZ_CHECK(record.has_all, text);
  }
  if (record.redirect) {
    FUZZ_CHECK(inside(*record.redirect, text) && inside(record.redirect_term, text), text);
    check_expansion(*record.redirect, values);
  }
  if (record.exp) {
    FUZZ_CHECK(inside(*record.exp, text) && inside(record.exp_term, text), text);
    check_expansion(*record.exp, values);
  }
  return 0;
}
