#include "tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>

#include "core/error.h"
#include "tokenizer/pcre_regex.h"
#include "tokenizer/utf8.h"

namespace loom {
namespace {

// Runs `f` on each maximal valid UTF-8 run of `text`, copying invalid bytes unchanged:
// utf8proc rejects a whole string for one bad byte.
template <typename F>
std::string map_valid_runs(std::string_view text, F&& f) {
  std::string out;
  size_t run_start = 0;
  size_t i = 0;
  while (i < text.size()) {
    const utf8::Decoded d = utf8::decode_front(text.substr(i));
    if (d.status == utf8::Status::kValid) {
      i += d.length;
      continue;
    }
    if (i > run_start) out += f(text.substr(run_start, i - run_start));
    out += text[i];
    run_start = ++i;
  }
  if (i > run_start) out += f(text.substr(run_start, i - run_start));
  return out;
}

std::string unicode_normal_form(std::string_view valid, int options) {
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
                   static_cast<utf8proc_ssize_t>(valid.size()), &mapped,
                   static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
  if (n < 0) fail("tokenizer: Unicode normalisation failed: {}", utf8proc_errmsg(n));
  std::string out(reinterpret_cast<const char*>(mapped), static_cast<size_t>(n));
  std::free(mapped);
  return out;
}

std::string lowercase(std::string_view valid) {
  std::string out;
  for (const uint32_t cp : utf8::to_code_points(valid)) {
    utf8::append(out, static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
  }
  return out;
}

// Unicode White_Space, as Rust's char::is_whitespace (used by Hugging Face's Strip).
bool is_white_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

std::string strip(std::string_view text, bool left, bool right) {
  if (left) {
    while (!text.empty()) {
      const utf8::Decoded d = utf8::decode_front(text);
      if (d.status != utf8::Status::kValid || !is_white_space(d.cp)) break;
      text.remove_prefix(d.length);
    }
  }
  if (right) {
    while (!text.empty()) {
      // The last character starts at the last byte that is not a continuation byte.
      size_t start = text.size() - 1;
      while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
      const utf8::Decoded d = utf8::decode_front(text.substr(start));
      if (d.status != utf8::Status::kValid || start + d.length != text.size() ||
          !is_white_space(d.cp)) {
        break;
      }
      text.remove_suffix(d.length);
    }
  }
  return std::string(text);
}

std::string replace(std::string_view text, const Regex& regex, const std::string& content) {
  std::string out;
  size_t copied = 0;
  size_t search = 0;
  size_t begin = 0, end = 0;
  while (search <= text.size() && regex.find(text, search, begin, end)) {
    if (end == begin) {  // an empty match replaces nothing; step over one character
      const utf8::Decoded d = utf8::decode_front(text.substr(begin));
      search = begin + (d.status == utf8::Status::kValid ? d.length : 1);
      continue;
    }
    out.append(text.substr(copied, begin - copied));
    out += content;
    copied = search = end;
  }
  out.append(text.substr(copied));
  return out;
}

}  // namespace

Normalizer::Normalizer(std::vector<Step> steps) : steps_(std::move(steps)) {
  for (const Step& step : steps_) {
    regexes_.push_back(step.kind == Kind::kReplace ? std::make_unique<Regex>(step.pattern)
                                                   : nullptr);
  }
}

Normalizer::~Normalizer() = default;

std::string Normalizer::normalize(std::string_view input) const {
  std::string text(input);
  for (size_t i = 0; i < steps_.size(); ++i) {
    const Step& step = steps_[i];
    switch (step.kind) {
      case Kind::kNfc:
        text = map_valid_runs(
            text, [](std::string_view s) { return unicode_normal_form(s, UTF8PROC_COMPOSE); });
        break;
      case Kind::kNfd:
        text = map_valid_runs(
            text, [](std::string_view s) { return unicode_normal_form(s, UTF8PROC_DECOMPOSE); });
        break;
      case Kind::kNfkc:
        text = map_valid_runs(text, [](std::string_view s) {
          return unicode_normal_form(s, UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
        });
        break;
      case Kind::kNfkd:
        text = map_valid_runs(text, [](std::string_view s) {
          return unicode_normal_form(s, UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
        });
        break;
      case Kind::kLowercase:
        text = map_valid_runs(text, lowercase);
        break;
      case Kind::kReplace:
        text = replace(text, *regexes_[i], step.content);
        break;
      case Kind::kPrepend:
        if (!text.empty()) text = step.content + text;
        break;
      case Kind::kPrefixSpace:
        if (!text.empty() && text.front() != ' ') text = ' ' + text;
        break;
      case Kind::kStrip:
        text = strip(text, step.strip_left, step.strip_right);
        break;
    }
  }
  return text;
}

}  // namespace loom
