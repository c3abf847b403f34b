// Byte-level BPE pre-tokenization: the regular expressions a model's tokenizer.json
// splits text with before merging, chosen by tokenizer.ggml.pre and run through PCRE2
// (UTF + UCP, JIT). Several expressions run in sequence, as llama.cpp does: each one
// splits every piece the previous one left into its matches and the gaps between them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace loom {

class Regex;

class PreTokenizer {
 public:
  // The pipeline for tokenizer.ggml.pre = `name` ("" when the key is absent: llama.cpp's
  // default pipeline). loom::Error naming the key and the value for an unknown name.
  explicit PreTokenizer(std::string_view name);
  // What a split keeps of a match (Hugging Face's SplitDelimiterBehavior).
  enum class Behavior {
    kIsolated,            // the match is a piece of its own
    kRemoved,             // the match is dropped
    kMergedWithPrevious,  // the match ends the piece before it
    kMergedWithNext,      // the match starts the piece after it
  };
  struct Rule {
    std::string pattern;
    Behavior behavior = Behavior::kIsolated;
  };
  // A pipeline of explicit expressions (a tokenizer.json's Split patterns), run in order
  // as above; an empty list leaves text unsplit. loom::Error naming the pattern when one
  // does not compile.
  PreTokenizer(const std::vector<Rule>& rules, bool ignore_merges);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Appends the pieces of `text` in order (views into `text`, never empty) to `words`.
  // Invalid UTF-8 never matches an expression, so it ends up in gap pieces of its own.
  void split(std::string_view text, std::vector<std::string_view>& words) const;

  // Llama 3 style: a piece that is a whole vocabulary token skips the merges.
  bool ignore_merges() const { return ignore_merges_; }

  // Every name the constructor accepts (for error messages and tests).
  static std::vector<std::string> known_names();

 private:
  std::vector<std::unique_ptr<Regex>> regexes_;
  std::vector<Behavior> behaviors_;  // (regexes_)
  bool ignore_merges_ = false;
};

}  // namespace loom
