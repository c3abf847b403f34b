// The architectures loom runs, by general.architecture. Each family's file
// (model/<arch>.cpp) holds one describe function with only what differs from the common
// reading of `<arch>.*` keys done here.
#pragma once

#include <string>
#include <vector>

#include "model/arch_metadata.h"
#include "model/arch_spec.h"
#include "model/model_config.h"

namespace loom::gguf {
class GgufFile;
}

namespace loom {

// Fills in a family's choices. Runs after the common keys were read into `spec`
// (RoPE base and scaling, a sliding window on every layer when the file gives one).
using DescribeFamily = void (*)(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec);

// The spec of the file's architecture. loom::Error naming the architecture when loom
// does not run it, or the key / value when the file asks for something loom does not do.
ArchSpec describe_architecture(const gguf::GgufFile& file, const ModelConfig& config);

// loom::Error naming general.architecture when loom does not run it (checked before any
// other key is read, so the message is about the architecture).
void require_supported_architecture(const gguf::GgufFile& file);

// Names of the supported architectures, for messages and `loom info`.
std::vector<std::string> supported_architectures();

// The families (model/<arch>.cpp).
void describe_llama(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec);
void describe_mistral(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec);
void describe_qwen2(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec);
void describe_qwen3(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec);
void describe_gemma2(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec);
void describe_gemma3(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec);
void describe_phi3(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec);
void describe_starcoder2(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec);
void describe_gpt2(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec);
void describe_mpt(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec);
void describe_bloom(ArchMetadata& meta, const ModelConfig& config, ArchSpec& spec);

// Shared by families with local/global layers: marks layer l local (windowed) when
// l % period < period - 1, or by the per-layer array `attention.sliding_window_pattern`
// when the file gives one (llama.cpp's rule).
void apply_window_pattern(ArchMetadata& meta, int64_t window, int64_t default_period,
                          ArchSpec& spec);

}  // namespace loom
