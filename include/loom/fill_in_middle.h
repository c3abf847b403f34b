// Fill-in-the-middle (FIM) prompts for code models: given the text before and after a
// gap, the model writes the middle. The prompt is built from the model's own FIM tokens
// the way llama.cpp's server builds it for /infill (PSM order):
//
//   [extra context] [BOS if the vocabulary adds one] <PRE> prefix middle <SUF> suffix <MID>
//
// `middle` (llama.cpp's `prompt`) is the start of the middle, already written; it goes
// right after the prefix. When the vocabulary has repository tokens (Qwen2.5-Coder's
// <|repo_name|> and <|file_sep|>) the extra context uses the repo-level layout:
//
//   <REP>myproject\n <SEP>{filename}\n{text} ... <SEP>filename\n <PRE> ...
//
// and without them each extra file is its text after a "\n\n--- snippet ---\n\n" line.
//
//   loom::FimInput in{.prefix = "def add(a, b):\n    ", .suffix = "\n\nprint(add(1, 2))"};
//   loom::Request req{.prompt_tokens = loom::fim_prompt_tokens(*model, in), .max_tokens = 32};
//
// Texts are tokenized without BOS/EOS and without recognising control-token texts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loom/loom.h"
#include "loom/vocab.h"

namespace loom {

// Token ids of the model's FIM tokens; -1 for each it has none of. Found from the GGUF's
// tokenizer.ggml.fim_{pre,suf,mid,pad,rep,sep}_token_id (or the older
// {prefix,suffix,middle}_token_id), else from known token texts: StarCoder <fim_prefix>,
// CodeLlama ▁<PRE>, DeepSeek-Coder <｜fim▁begin｜>, Qwen2.5-Coder <|fim_prefix|>, ...
struct FimTokens {
  int32_t prefix = -1;
  int32_t suffix = -1;
  int32_t middle = -1;
  int32_t pad = -1;
  int32_t repo = -1;
  int32_t file_sep = -1;

  // Prefix, suffix and middle are all there: the model can fill in the middle.
  bool supported() const { return prefix >= 0 && suffix >= 0 && middle >= 0; }
};

FimTokens fim_tokens(const Model& model);
FimTokens fim_tokens(const Vocab& vocab);

struct FimFile {
  std::string filename;  // llama.cpp's default: "tmp"
  std::string text;
};

struct FimInput {
  std::string prefix;          // the text before the gap
  std::string suffix;          // the text after the gap
  std::string middle;          // the beginning of the middle, if any
  std::vector<FimFile> extra;  // other files, as context before the prefix
};

// The prompt token ids. loom::Error when the model has no FIM tokens (saying which of
// prefix, suffix, middle it lacks).
std::vector<int32_t> fim_prompt_tokens(const Model& model, const FimInput& input);
std::vector<int32_t> fim_prompt_tokens(const Vocab& vocab, const FimInput& input);

}  // namespace loom
