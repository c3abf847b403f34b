#include "model/transformer.h"

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "model/llama.h"

namespace loom {

std::unique_ptr<Transformer> Transformer::load(std::shared_ptr<const gguf::GgufFile> file) {
  ModelConfig config = ModelConfig::from_gguf(*file);
  // Architectures that share the Llama block layout and tensor names.
  if (config.architecture == "llama" || config.architecture == "mistral") {
    return std::make_unique<LlamaTransformer>(std::move(file), std::move(config));
  }
  fail("{}: architecture '{}' is not supported yet (supported: llama)", file->path(),
       config.architecture);
}

}  // namespace loom
