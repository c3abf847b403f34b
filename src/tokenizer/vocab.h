// The vocabulary as a GGUF file stores it (tokenizer.ggml.*), with llama.cpp's defaults
// filled in for keys a file leaves out, and validated: arrays of one length, special ids
// inside the vocabulary. Every tokenizer model is built from this.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/fim_tokens.h"
#include "tokenizer/tokenizer.h"

namespace loom::gguf {
class GgufFile;
}

namespace loom {

// (Not loom::Vocab, which is the public vocabulary API in include/loom/vocab.h.)
struct VocabData {
  std::string model;         // tokenizer.ggml.model: "llama", "gpt2", "bert"
  std::string pre;           // tokenizer.ggml.pre; "" when absent
  std::string general_name;  // general.name, lower-cased (some token attributes depend on it)

  std::vector<std::string> tokens;  // (n_vocab) texts; an empty text becomes "[EMPTY_<id>]"
  std::vector<float> scores;        // (n_vocab) SentencePiece scores; 0 when absent
  std::vector<TokenType> types;     // (n_vocab) NORMAL when absent
  std::vector<std::string> merges;  // (n_merges) BPE merges "left right", rank = index

  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t eot_id = -1;  // end of turn (<|eot_id|>, <|im_end|> ...)
  int32_t eom_id = -1;  // end of message (<|eom_id|>)
  int32_t unk_id = -1;
  int32_t sep_id = -1;
  int32_t pad_id = -1;
  FimTokenIds fim;  // fill-in-the-middle tokens (fim_tokens.h)

  bool add_bos = false;
  bool add_eos = false;
  bool add_sep = false;
  bool add_space_prefix = false;

  std::vector<int32_t> end_of_generation;  // EOS, EOT, EOM and end-of-turn tokens by text
  std::vector<bool> rstrip;                // (n_vocab) special token swallows whitespace after it
  std::vector<bool> lstrip;                // (n_vocab) special token swallows whitespace before it
};

// Reads and validates the vocabulary; loom::Error naming the key for anything missing,
// mistyped or inconsistent, or for an unknown tokenizer.ggml.model.
VocabData load_vocab(const gguf::GgufFile& file);

// Fills end_of_generation (EOS/EOT/EOM plus end-of-turn tokens found by text, as llama.cpp
// does) and makes those tokens CONTROL. First finds the FIM tokens the metadata left
// unnamed by their texts (fim_tokens.h); FIM pad, repo and file separator end a generation
// too. load_vocab calls it; other vocabulary sources (tokenizer.json) call it once tokens,
// types and special ids are set.
void find_end_of_generation(VocabData& vocab);

}  // namespace loom
