// Text normalisation as a Hugging Face tokenizer.json's "normalizer" describes it: a
// sequence of steps (Unicode normal forms, lower-casing, replacements, prefixes,
// stripping) run over each piece of raw text between special tokens, before the
// pre-tokenizer splits it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace loom {

class Regex;

class Normalizer {
 public:
  enum class Kind {
    kNfc,
    kNfd,
    kNfkc,
    kNfkd,
    kLowercase,
    kReplace,      // every match of `pattern` becomes `content`
    kPrepend,      // `content` before non-empty text
    kPrefixSpace,  // a space before text that does not start with one (ByteLevel)
    kStrip,        // whitespace removed at the start (strip_left) and/or end (strip_right)
  };
  struct Step {
    Kind kind;
    std::string pattern;  // kReplace: a PCRE2 pattern (Regex::escape for literal text)
    std::string content;  // kReplace, kPrepend
    bool strip_left = false;
    bool strip_right = false;
  };

  // loom::Error naming the pattern when a kReplace pattern does not compile.
  explicit Normalizer(std::vector<Step> steps);
  ~Normalizer();
  Normalizer(const Normalizer&) = delete;
  Normalizer& operator=(const Normalizer&) = delete;

  // Arbitrary bytes are accepted: invalid UTF-8 is kept as it is and never normalised.
  std::string normalize(std::string_view text) const;

  bool empty() const { return steps_.empty(); }

 private:
  std::vector<Step> steps_;
  std::vector<std::unique_ptr<Regex>> regexes_;  // (steps) compiled kReplace patterns
};

}  // namespace loom
