// The fill-in-the-middle tokens of a code model (prefix, suffix, middle; pad, repo, file
// separator), as llama.cpp finds them: the GGUF keys tokenizer.ggml.fim_*_token_id (or
// the older prefix/suffix/middle_token_id), else the token texts StarCoder, CodeLlama,
// DeepSeek-Coder, Qwen2.5-Coder, Granite and others use.
#pragma once

#include <cstdint>

namespace loom::gguf {
class GgufFile;
}

namespace loom {

struct VocabData;

struct FimTokenIds {
  int32_t prefix = -1;    // FIM_PRE: "<fim_prefix>", "▁<PRE>", "<｜fim▁begin｜>", ...
  int32_t suffix = -1;    // FIM_SUF
  int32_t middle = -1;    // FIM_MID
  int32_t pad = -1;       // FIM_PAD
  int32_t repo = -1;      // FIM_REP: repository name, for repo-level prompts
  int32_t file_sep = -1;  // FIM_SEP: file separator, for repo-level prompts
};

// Sets the ids the file's metadata names (ids outside the vocabulary are errors).
void read_fim_token_ids(const gguf::GgufFile& file, VocabData& vocab);

// Fills the ids still unset from the token texts, and makes the found tokens CONTROL (as
// llama.cpp does, so user text cannot inject them and they do not render). Pad, repo and
// file separator end a generation (added to end_of_generation by the caller).
void find_fim_tokens_by_text(VocabData& vocab);

}  // namespace loom
