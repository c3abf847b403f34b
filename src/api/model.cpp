#include "api/model_impl.h"
#include "core/error.h"
#include "core/memory.h"
#include "model/architectures.h"

namespace loom {

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

std::shared_ptr<Model> Model::load(const std::string& path, const LoadOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->file = gguf::GgufFile::open(path);
  impl->transformer = Transformer::load(impl->file);
  impl->tokenizer = Tokenizer::from_gguf(*impl->file);

  const ModelConfig& c = impl->transformer->config();
  if (impl->tokenizer->n_vocab() != c.n_vocab) {
    fail("{}: the tokenizer has {} tokens but the model's vocabulary is {}", path,
         impl->tokenizer->n_vocab(), c.n_vocab);
  }
  ModelInfo& info = impl->info;
  info.path = path;
  info.architecture = c.architecture;
  info.name = c.name;
  info.tokenizer = impl->tokenizer->model_name();
  info.file_bytes = static_cast<int64_t>(impl->file->file_size());
  for (const gguf::TensorInfo& t : impl->file->tensors()) info.n_params += t.n_elements;
  info.weight_bytes = impl->transformer->weight_bytes();
  if (options.mlock) info.locked_bytes = impl->transformer->lock_weights();
  info.repacked_bytes = impl->transformer->repacked_bytes();
  info.n_vocab = c.n_vocab;
  info.n_ctx_train = c.n_ctx_train;
  info.n_embd = c.n_embd;
  info.n_layer = c.n_layer;
  info.n_head = c.n_head;
  info.n_head_kv = c.n_head_kv;
  info.n_ff = c.n_ff;
  info.features = impl->transformer->features();
  return std::shared_ptr<Model>(new Model(std::move(impl)));
}

void Model::finish_loading() {
  impl_->transformer->finish_packing();
  impl_->info.repacked_bytes = impl_->transformer->repacked_bytes();
}

const ModelInfo& Model::info() const {
  return impl_->info;
}

std::vector<int32_t> Model::tokenize(std::string_view text, bool add_special,
                                     bool parse_special) const {
  return impl_->tokenizer->encode(text, add_special, parse_special);
}

std::string Model::detokenize(std::span<const int32_t> tokens) const {
  return impl_->tokenizer->decode(tokens);
}

int32_t Model::bos_token() const {
  return impl_->tokenizer->bos_id();
}

int32_t Model::n_vocab() const {
  return impl_->tokenizer->n_vocab();
}

std::string Model::token_text(int32_t token) const {
  if (token < 0 || token >= n_vocab())
    fail("token id {} is out of range [0, {})", token, n_vocab());
  return impl_->tokenizer->token_text(token);
}

std::string Model::token_piece(int32_t token) const {
  if (token < 0 || token >= n_vocab())
    fail("token id {} is out of range [0, {})", token, n_vocab());
  return impl_->tokenizer->token_to_piece(token, /*render_special=*/true);
}

std::vector<std::string> architecture_features(const std::string& path) {
  const std::unique_ptr<gguf::GgufFile> file = gguf::GgufFile::open(path);
  require_supported_architecture(*file);
  return describe_architecture(*file, ModelConfig::from_gguf(*file)).features();
}

int64_t peak_memory_bytes() {
  return peak_rss_bytes();
}

const char* to_string(FinishReason reason) {
  return reason == FinishReason::kStop ? "stop" : "length";
}

}  // namespace loom
