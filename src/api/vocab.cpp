#include "loom/vocab.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "api/vocab_impl.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/hf_tokenizer_json.h"

namespace loom {

Vocab::Vocab(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Vocab::~Vocab() = default;

std::shared_ptr<Vocab> Vocab::load(const std::string& path) {
  // The first bytes decide: "GGUF" is the GGUF magic, '{' a JSON object.
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path, std::strerror(errno));
  char head[64] = {};
  in.read(head, sizeof(head));
  const std::string_view start(head, static_cast<size_t>(in.gcount()));
  in.close();

  auto impl = std::make_unique<Impl>();
  if (start.starts_with("GGUF")) {
    const std::unique_ptr<gguf::GgufFile> file = gguf::GgufFile::open(path);
    try {
      impl->tokenizer = Tokenizer::from_gguf(*file);
    } catch (const Error& e) {
      fail("{}: {}", path, e.what());
    }
  } else if (looks_like_json(start)) {
    impl->tokenizer = Tokenizer::from_hf_json_file(path);
  } else {
    fail("{}: neither a GGUF file nor a tokenizer.json (it starts with neither \"GGUF\" nor '{{')",
         path);
  }
  return std::shared_ptr<Vocab>(new Vocab(std::move(impl)));
}

std::vector<int32_t> Vocab::encode(std::string_view text, bool add_special,
                                   bool parse_special) const {
  return impl_->tokenizer->encode(text, add_special, parse_special);
}

std::string Vocab::decode(std::span<const int32_t> tokens) const {
  for (const int32_t token : tokens) {
    if (token < 0 || token >= n_vocab()) {
      fail("token id {} is out of range [0, {})", token, n_vocab());
    }
  }
  return impl_->tokenizer->decode(tokens);
}

int32_t Vocab::n_vocab() const {
  return impl_->tokenizer->n_vocab();
}

std::string Vocab::token_text(int32_t token) const {
  if (token < 0 || token >= n_vocab())
    fail("token id {} is out of range [0, {})", token, n_vocab());
  return impl_->tokenizer->token_text(token);
}

std::string Vocab::token_piece(int32_t token) const {
  if (token < 0 || token >= n_vocab())
    fail("token id {} is out of range [0, {})", token, n_vocab());
  return impl_->tokenizer->token_to_piece(token, /*render_special=*/true);
}

int32_t Vocab::bos_token() const {
  return impl_->tokenizer->bos_id();
}

int32_t Vocab::eos_token() const {
  return impl_->tokenizer->eos_id();
}

}  // namespace loom
