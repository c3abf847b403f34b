#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace loom::byte_level {
namespace {

struct Tables {
  std::array<std::string, 256> byte_to_text;
  std::array<int16_t, 512> code_point_to_byte;  // -1: not part of the alphabet
  Tables() {
    code_point_to_byte.fill(-1);
    uint32_t next_unprintable = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      const uint32_t cp = printable ? b : next_unprintable++;
      byte_to_text[b] = utf8::encode(cp);
      code_point_to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const Tables& tables() {
  static const Tables kTables;
  return kTables;
}

}  // namespace

const std::string& encode_byte(unsigned char byte) {
  return tables().byte_to_text[byte];
}

void encode(std::string_view bytes, std::string& out) {
  const Tables& t = tables();
  for (unsigned char b : bytes) out += t.byte_to_text[b];
}

std::string decode(std::string_view text) {
  const Tables& t = tables();
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const utf8::Decoded d = utf8::decode_front(text);
    if (d.status == utf8::Status::kValid && d.cp < t.code_point_to_byte.size() &&
        t.code_point_to_byte[d.cp] >= 0) {
      out += static_cast<char>(t.code_point_to_byte[d.cp]);
    } else {
      out.append(text.substr(0, d.length));
    }
    text.remove_prefix(d.length);
  }
  return out;
}

}  // namespace loom::byte_level
