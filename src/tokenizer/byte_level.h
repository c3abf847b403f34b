// GPT-2's byte-level alphabet: every byte is shown as a printable character (bytes that
// are printable Latin-1 stand for themselves, the rest are moved to U+0100 onwards), so
// that a BPE vocabulary of strings covers arbitrary bytes.
#pragma once

#include <string>
#include <string_view>

namespace loom::byte_level {

// The character (as UTF-8) that stands for `byte`.
const std::string& encode_byte(unsigned char byte);
// Appends the byte-level form of `bytes` to `out`.
void encode(std::string_view bytes, std::string& out);
// The bytes a byte-level string stands for; characters outside the alphabet are kept
// as they are, so decoding never loses text.
std::string decode(std::string_view text);

}  // namespace loom::byte_level
