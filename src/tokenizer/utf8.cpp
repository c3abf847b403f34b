#include "tokenizer/utf8.h"

namespace loom::utf8 {

void append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string encode(uint32_t cp) {
  std::string out;
  append(out, cp);
  return out;
}

Decoded decode_front(std::string_view bytes) {
  const auto b0 = static_cast<uint8_t>(bytes[0]);
  if (b0 < 0x80) return {Status::kValid, b0, 1};
  // Length and the allowed range of the second byte (Unicode table 3-7); the narrow
  // second-byte ranges exclude overlongs, surrogates and code points above U+10FFFF.
  size_t length = 0;
  uint8_t lo = 0x80, hi = 0xBF;
  uint32_t cp = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {Status::kInvalid, 0, 1};  // continuation byte without lead, C0, C1, F5..FF
  }
  size_t i = 1;
  for (; i < length; ++i) {
    if (i >= bytes.size()) return {Status::kIncomplete, 0, i};
    const auto b = static_cast<uint8_t>(bytes[i]);
    if (b < lo || b > hi) return {Status::kInvalid, 0, i};
    cp = (cp << 6) | (b & 0x3F);
    lo = 0x80;
    hi = 0xBF;
  }
  return {Status::kValid, cp, length};
}

std::vector<uint32_t> to_code_points(std::string_view text) {
  std::vector<uint32_t> cps;
  cps.reserve(text.size());
  while (!text.empty()) {
    const Decoded d = decode_front(text);
    cps.push_back(d.status == Status::kValid ? d.cp : 0xFFFD);
    text.remove_prefix(d.length);
  }
  return cps;
}

std::string sanitize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const Decoded d = decode_front(text);
    if (d.status == Status::kValid) {
      out.append(text.substr(0, d.length));
    } else {
      out.append(kReplacement);
    }
    text.remove_prefix(d.length);
  }
  return out;
}

bool is_valid(std::string_view text) {
  while (!text.empty()) {
    const Decoded d = decode_front(text);
    if (d.status != Status::kValid) return false;
    text.remove_prefix(d.length);
  }
  return true;
}

}  // namespace loom::utf8
