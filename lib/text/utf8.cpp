// UTF-8 validation for streamed and printed text: complete characters only, U+FFFD for bytes
// that can never form one (the "maximal subpart" rule of Unicode 3.9 / Python's "replace").
#include <cstdint>

#include "smoe/tokenizer.h"

namespace smoe {
namespace {

constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD

// Allowed range of the second byte after `lead` (Unicode Table 3-7); later bytes are 80..BF.
struct LeadRule {
  size_t length;       // bytes in the sequence; 0 for bytes that cannot start one
  uint8_t second_min;  // the second byte's range excludes overlong forms and surrogates
  uint8_t second_max;
};

LeadRule lead_rule(uint8_t lead) {
  if (lead < 0x80) return {1, 0, 0};
  if (lead >= 0xc2 && lead <= 0xdf) return {2, 0x80, 0xbf};
  if (lead == 0xe0) return {3, 0xa0, 0xbf};
  if (lead == 0xed) return {3, 0x80, 0x9f};
  if (lead >= 0xe1 && lead <= 0xef) return {3, 0x80, 0xbf};
  if (lead == 0xf0) return {4, 0x90, 0xbf};
  if (lead >= 0xf1 && lead <= 0xf3) return {4, 0x80, 0xbf};
  if (lead == 0xf4) return {4, 0x80, 0x8f};
  return {0, 0, 0};
}

enum class Scan { valid, invalid, incomplete };

// Looks at the sequence starting at bytes[at]; `used` gets its valid length, or the length of
// its maximal valid prefix (what one U+FFFD replaces when it cannot complete).
Scan scan_sequence(std::string_view bytes, size_t at, size_t& used) {
  const LeadRule rule = lead_rule(static_cast<uint8_t>(bytes[at]));
  used = 1;
  if (rule.length == 0) return Scan::invalid;
  if (rule.length == 1) return Scan::valid;
  for (size_t k = 1; k < rule.length; ++k) {
    if (at + k >= bytes.size()) return Scan::incomplete;
    const uint8_t byte = static_cast<uint8_t>(bytes[at + k]);
    const uint8_t low = k == 1 ? rule.second_min : 0x80, high = k == 1 ? rule.second_max : 0xbf;
    if (byte < low || byte > high) return Scan::invalid;
    used = k + 1;
  }
  return Scan::valid;
}

// Appends the valid characters of `bytes` to `out`, replacing invalid ones; returns where an
// incomplete trailing sequence starts (bytes.size() when there is none).
size_t append_valid(std::string_view bytes, std::string& out) {
  size_t at = 0;
  while (at < bytes.size()) {
    size_t used = 0;
    const Scan scan = scan_sequence(bytes, at, used);
    if (scan == Scan::incomplete) return at;
    if (scan == Scan::valid) {
      out.append(bytes.substr(at, used));
    } else {
      out.append(kReplacement);
    }
    at += used;
  }
  return at;
}

}  // namespace

std::string valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  const size_t incomplete = append_valid(bytes, out);
  if (incomplete < bytes.size()) out.append(kReplacement);
  return out;
}

std::string Utf8Stream::push(std::string_view bytes) {
  pending_.append(bytes);
  std::string ready;
  const size_t incomplete = append_valid(pending_, ready);
  pending_.erase(0, incomplete);
  return ready;
}

std::string Utf8Stream::flush() {
  if (pending_.empty()) return {};
  pending_.clear();
  return std::string(kReplacement);
}

}  // namespace smoe
