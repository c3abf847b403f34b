// SentencePiece BPE as llama.cpp runs it for tokenizer.ggml.model = "llama": spaces
// become U+2581, the text is split into UTF-8 characters, and the adjacent pair whose
// concatenation is the best-scoring vocabulary token is merged until none is left;
// characters outside the vocabulary fall back to byte tokens <0xNN>.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace loom {

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(VocabData& vocab);

  std::vector<int32_t> encode(std::string_view text, bool add_special,
                              bool parse_special = false) const override;
  std::string token_to_piece(int32_t id, bool render_special = false) const override;

 private:
  // Tokenizes text whose spaces are already escaped to U+2581, appending to `out`.
  void encode_escaped(std::string_view text, std::vector<int32_t>& out) const;
  // A symbol that is no token: one byte token per byte (unknown token when missing).
  void append_bytes(std::string_view symbol, std::vector<int32_t>& out) const;

  std::vector<float> scores_;            // (n_vocab)
  std::array<int32_t, 256> byte_ids_{};  // id of <0xNN>, -1 when the vocabulary lacks it
};

std::unique_ptr<Tokenizer> make_spm_tokenizer(VocabData& vocab);

}  // namespace loom
