#include "model/transformer.h"

#include "model/architectures.h"
#include "model/decoder.h"

namespace loom {

std::unique_ptr<Transformer> Transformer::load(std::shared_ptr<const gguf::GgufFile> file) {
  require_supported_architecture(*file);
  ModelConfig config = ModelConfig::from_gguf(*file);
  ArchSpec spec = describe_architecture(*file, config);
  return std::make_unique<DecoderTransformer>(std::move(file), std::move(config), std::move(spec));
}

}  // namespace loom
