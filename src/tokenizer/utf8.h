// UTF-8 helpers shared by the tokenizers and the detokenizer. Nothing here assumes the
// input is valid: every function accepts arbitrary bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace loom::utf8 {

// Length of the sequence a lead byte announces, as llama.cpp counts it: continuation
// and invalid bytes count as 1, so splitting arbitrary bytes always makes progress.
inline size_t sequence_length(uint8_t lead) {
  static constexpr uint8_t kLengths[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLengths[lead >> 4];
}

// Appends code point `cp` as UTF-8 (cp must be < 0x110000).
void append(std::string& out, uint32_t cp);
std::string encode(uint32_t cp);

// Result of decoding one well-formed sequence at the front of `bytes`.
enum class Status { kValid, kIncomplete, kInvalid };
struct Decoded {
  Status status = Status::kInvalid;
  uint32_t cp = 0;    // kValid only
  size_t length = 0;  // kValid: sequence length; otherwise the maximal ill-formed
                      // subpart (>= 1) that one U+FFFD replaces
};
// Strict decoding per the Unicode standard (no overlongs, no surrogates, <= U+10FFFF).
// kIncomplete: `bytes` ends inside a sequence that could still become valid.
Decoded decode_front(std::string_view bytes);

// Code points of `text`; each ill-formed subpart becomes U+FFFD.
std::vector<uint32_t> to_code_points(std::string_view text);
// `text` with every ill-formed subpart replaced by U+FFFD.
std::string sanitize(std::string_view text);
bool is_valid(std::string_view text);

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace loom::utf8
