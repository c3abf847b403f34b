#include "tokenizer/bert_normalizer.h"

#include <utf8proc.h>

#include "tokenizer/utf8.h"

namespace loom {
namespace {

// Unicode White_Space, plus tab/newline/return which BERT counts as whitespace.
bool is_whitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

utf8proc_category_t category(uint32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

// Categories C* ("other"), except the tab/newline/return that count as whitespace.
bool is_control(uint32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
      return true;
    default:
      return false;
  }
}

// ASCII punctuation and symbols, and Unicode punctuation (P*).
bool is_punctuation(uint32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126)) {
    return true;
  }
  switch (category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

// The CJK Unified Ideographs blocks BERT isolates (not Hangul, Hiragana or Katakana).
bool is_cjk_ideograph(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Appends the canonical decomposition of `cp` without its Mn marks, lower-cased.
void append_stripped_lower(uint32_t cp, std::u32string& out) {
  utf8proc_int32_t decomposed[32];
  int last_boundclass = 0;
  const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), decomposed,
                                                     32, UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n < 0 || n > 32) {
    out += static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) {
    if (utf8proc_category(decomposed[i]) == UTF8PROC_CATEGORY_MN) continue;
    out += static_cast<char32_t>(utf8proc_tolower(decomposed[i]));
  }
}

}  // namespace

std::vector<std::string> bert_words(std::string_view text) {
  // Normalise into code points; whitespace becomes a single separator value.
  constexpr char32_t kSeparator = U' ';
  std::u32string normalized;
  normalized.reserve(text.size());
  for (const uint32_t cp : utf8::to_code_points(text)) {
    if (cp == 0 || cp == 0xFFFD || is_control(cp)) continue;
    if (is_whitespace(cp)) {
      normalized += kSeparator;
    } else if (is_cjk_ideograph(cp)) {
      normalized += kSeparator;
      normalized += static_cast<char32_t>(cp);
      normalized += kSeparator;
    } else {
      append_stripped_lower(cp, normalized);
    }
  }

  std::vector<std::string> words;
  std::string word;
  auto finish_word = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (const char32_t cp : normalized) {
    if (cp == kSeparator || is_whitespace(cp)) {
      finish_word();
    } else if (is_punctuation(cp)) {
      finish_word();
      utf8::append(word, cp);
      finish_word();
    } else {
      utf8::append(word, cp);
    }
  }
  finish_word();
  return words;
}

}  // namespace loom
