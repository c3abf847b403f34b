// `loom info`: what a GGUF file holds: architecture, hyperparameters, tokenizer,
// metadata (long arrays summarised) and the tensor directory.
#include <fmt/core.h>
#include <fmt/ranges.h>

#include <map>
#include <memory>

#include "cli/commands.h"
#include "gguf/gguf_file.h"
#include "loom/error.h"
#include "loom/loom.h"

namespace loom::cli {
namespace {

constexpr size_t kArrayPreview = 8;

std::string quoted(const std::string& s) {
  constexpr size_t kMaxChars = 120;
  std::string out = s.size() > kMaxChars ? s.substr(0, kMaxChars) + "..." : s;
  for (char& c : out) {
    if (c == '\n') c = ' ';
  }
  return "\"" + out + "\"";
}

std::string describe(const gguf::Value& v) {
  using gguf::ValueType;
  switch (v.type) {
    case ValueType::STRING:
      return quoted(v.str);
    case ValueType::BOOL:
      return v.u ? "true" : "false";
    case ValueType::F32:
    case ValueType::F64:
      return fmt::format("{}", v.f);
    case ValueType::I8:
    case ValueType::I16:
    case ValueType::I32:
    case ValueType::I64:
      return fmt::format("{}", v.i);
    case ValueType::ARRAY: {
      const size_t n = v.array_size();
      std::string items;
      const size_t shown = std::min(n, kArrayPreview);
      for (size_t i = 0; i < shown; ++i) {
        if (i) items += ", ";
        if (!v.array_str.empty())
          items += quoted(v.array_str[i]);
        else if (!v.array_i.empty())
          items += fmt::format("{}", v.array_i[i]);
        else if (!v.array_u.empty())
          items += fmt::format("{}", v.array_u[i]);
        else if (!v.array_f.empty())
          items += fmt::format("{}", v.array_f[i]);
        else
          items += "[...]";
      }
      return fmt::format("[{}{}] ({} x {})", items, n > shown ? ", ..." : "", n,
                         gguf::value_type_name(v.array_type));
    }
    default:
      return fmt::format("{}", v.u);
  }
}

int info(const std::string& path, bool show_tensors) {
  const std::unique_ptr<gguf::GgufFile> file = gguf::GgufFile::open(path);
  const std::string arch = file->get_string("general.architecture").value_or("?");
  fmt::print("file:         {} (GGUF v{}, {:.2f} MiB, alignment {})\n", path, file->version(),
             static_cast<double>(file->file_size()) / (1 << 20), file->alignment());
  fmt::print("architecture: {}\n", arch);
  if (auto name = file->get_string("general.name")) fmt::print("name:         {}\n", *name);
  // What loom computes for this architecture (or why it cannot run the file).
  try {
    const std::vector<std::string> features = architecture_features(path);
    fmt::print("loom applies:\n");
    for (const std::string& f : features) fmt::print("  - {}\n", f);
  } catch (const Error& e) {
    fmt::print("loom cannot run this file: {}\n", e.what());
  }

  const char* kHyper[] = {"context_length",
                          "embedding_length",
                          "block_count",
                          "feed_forward_length",
                          "attention.head_count",
                          "attention.head_count_kv",
                          "attention.key_length",
                          "attention.layer_norm_rms_epsilon",
                          "attention.layer_norm_epsilon",
                          "attention.sliding_window",
                          "rope.freq_base",
                          "rope.dimension_count",
                          "vocab_size"};
  fmt::print("hyperparameters:\n");
  for (const char* key : kHyper) {
    if (const gguf::Value* v = file->find(arch + "." + key)) {
      fmt::print("  {:<34} {}\n", key, describe(*v));
    }
  }
  const std::string tokenizer = file->get_string("tokenizer.ggml.model").value_or("none");
  const auto* tokens = file->get_string_array("tokenizer.ggml.tokens");
  fmt::print("tokenizer:    {} ({} tokens{})\n", tokenizer, tokens ? tokens->size() : 0,
             tokenizer == "llama"  ? ", SentencePiece"
             : tokenizer == "gpt2" ? ", byte-level BPE"
                                   : "");

  fmt::print("metadata ({} keys):\n", file->keys().size());
  for (const std::string& key : file->keys()) {
    fmt::print("  {:<44} {}\n", key, describe(*file->find(key)));
  }

  int64_t n_params = 0;
  std::map<std::string, int64_t> by_type;
  for (const gguf::TensorInfo& t : file->tensors()) {
    n_params += t.n_elements;
    by_type[std::string(dtype_name(t.type))] += 1;
  }
  fmt::print("tensors ({}, {:.3f} M parameters):", file->tensors().size(),
             static_cast<double>(n_params) / 1e6);
  for (const auto& [type, count] : by_type) fmt::print(" {} x {}", count, type);
  fmt::print("\n");
  if (show_tensors) {
    for (const gguf::TensorInfo& t : file->tensors()) {
      fmt::print("  {:<32} {:<6} [{}]  {} bytes\n", t.name, dtype_name(t.type),
                 fmt::join(t.shape, ", "), t.n_bytes);
    }
  }
  return 0;
}

}  // namespace

Command add_info(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto no_tensors = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("info",
                                     "Describe a GGUF file: hyperparameters, tokenizer, "
                                     "metadata and tensors");
  cmd->add_option("model", *path, "GGUF file")->required();
  cmd->add_flag("--no-tensors", *no_tensors, "Leave out the tensor list");
  return [path, no_tensors] { return info(*path, !*no_tensors); };
}

}  // namespace loom::cli
