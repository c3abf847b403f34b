// One PCRE2 expression, compiled with UTF + UCP and the JIT, as the pre-tokenizers and
// normalizers run them. Arbitrary bytes are legal input: invalid UTF-8 never matches.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

struct pcre2_real_code_8;

namespace loom {

class Regex {
 public:
  // loom::Error naming the offset and PCRE2's reason when `pattern` does not compile.
  explicit Regex(std::string_view pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // First match in subject[start..]: true and [begin, end) set, or false. Lookbehinds
  // and `^` see the whole subject. Thread-safe (per-thread scratch).
  bool find(std::string_view subject, size_t start, size_t& begin, size_t& end) const;

  // A pattern that matches exactly `literal`.
  static std::string escape(std::string_view literal);

 private:
  pcre2_real_code_8* code_ = nullptr;
};

}  // namespace loom
