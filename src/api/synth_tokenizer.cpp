#include "synth_tokenizer.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/hf_tokenizer_json.h"
#include "tokenizer/tokenizer.h"

namespace loom {
namespace {

using nlohmann::json;

// Pre-tokenizers of tokenizer.json files that a GGUF names by tokenizer.ggml.pre (loom's
// tokenizer then runs the same split). The regex is the Split pattern as the file spells it.
struct KnownPreTokenizer {
  const char* gguf_name;
  const char* family;
  std::string_view split_regex;
  bool ignore_merges;
};

constexpr KnownPreTokenizer kKnownPreTokenizers[] = {
    {"llama-bpe", "Llama 3",
     R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re",
     true},
};

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail("{}: read failed: {}", path, std::strerror(errno));
  return buffer.str();
}

int64_t copy_gguf_tokenizer(const std::string& path, gguf::GgufWriter& writer) {
  const std::unique_ptr<gguf::GgufFile> vocab = gguf::GgufFile::open(path);
  const std::vector<std::string>* tokens = vocab->get_string_array("tokenizer.ggml.tokens");
  if (tokens == nullptr) {
    fail("synth: {} has no tokenizer (tokenizer.ggml.tokens is missing)", path);
  }
  for (const std::string& key : vocab->keys()) {
    if (key.rfind("tokenizer.", 0) == 0) writer.add_value(key, *vocab->find(key));
  }
  return static_cast<int64_t>(tokens->size());
}

// The GGUF name of the file's pre-tokenizer: a Sequence of one Split (Isolated, not
// inverted) and a ByteLevel without a prefix space or regex of its own.
const char* gguf_pre_name(const json& root, const std::string& path) {
  const json& pre = root.value("pre_tokenizer", json());
  const json& model = root.at("model");
  const bool ignore_merges = model.contains("ignore_merges") && model["ignore_merges"].is_boolean()
                                 ? model["ignore_merges"].get<bool>()
                                 : false;
  if (pre.is_object() && pre.value("type", "") == "Sequence" &&
      pre.at("pretokenizers").size() == 2) {
    const json& split = pre["pretokenizers"][0];
    const json& byte_level = pre["pretokenizers"][1];
    const bool shape_ok =
        split.value("type", "") == "Split" && split.value("behavior", "") == "Isolated" &&
        !split.value("invert", false) && split.contains("pattern") &&
        split["pattern"].contains("Regex") && byte_level.value("type", "") == "ByteLevel" &&
        !byte_level.value("add_prefix_space", true) && !byte_level.value("use_regex", true);
    if (shape_ok) {
      const std::string regex = split["pattern"]["Regex"].get<std::string>();
      for (const KnownPreTokenizer& known : kKnownPreTokenizers) {
        if (regex == known.split_regex && ignore_merges == known.ignore_merges) {
          return known.gguf_name;
        }
      }
    }
  }
  std::string supported;
  for (const KnownPreTokenizer& known : kKnownPreTokenizers) {
    supported += std::string(supported.empty() ? "" : ", ") + known.family;
  }
  fail(
      "synth: {}: its pre_tokenizer {} (model.ignore_merges = {}) is not one that a GGUF "
      "tokenizer.ggml.pre names (supported: {})",
      path, pre.dump(), ignore_merges, supported);
}

// model.merges as GGUF stores them: "left right", rank = index.
std::vector<std::string> merges_of(const json& model, const std::string& path) {
  const json& merges = model.at("merges");
  if (!merges.is_array()) fail("synth: {}: model.merges is not an array", path);
  std::vector<std::string> out;
  out.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& merge = merges[i];
    if (merge.is_string()) {
      out.push_back(merge.get<std::string>());
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      const std::string left = merge[0].get<std::string>(), right = merge[1].get<std::string>();
      if (left.find(' ') != std::string::npos || right.find(' ') != std::string::npos) {
        fail("synth: {}: model.merges[{}] has a space inside a token, which GGUF cannot store",
             path, i);
      }
      out.push_back(left + " " + right);
    } else {
      fail("synth: {}: model.merges[{}] is neither \"left right\" nor [\"left\", \"right\"]", path,
           i);
    }
  }
  return out;
}

int64_t write_hf_tokenizer(const std::string& path, gguf::GgufWriter& writer) {
  // Loading it as a tokenizer validates everything loom supports and gives the token
  // texts, types and special ids exactly as loom reads the file.
  const std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_hf_json_file(path);
  if (tokenizer->model_name() != "gpt2") {
    fail(
        "synth: {}: only byte-level BPE tokenizer.json files (GGUF tokenizer.ggml.model "
        "\"gpt2\") can be written; this one is \"{}\"",
        path, tokenizer->model_name());
  }
  json root;
  try {
    root = json::parse(read_whole_file(path));
  } catch (const json::exception& e) {
    fail("synth: {}: invalid JSON: {}", path, e.what());
  }
  if (!root.value("normalizer", json()).is_null()) {
    fail("synth: {}: a normalizer ({}) cannot be written as GGUF metadata", path,
         root["normalizer"].dump());
  }
  for (const json& added : root.value("added_tokens", json::array())) {
    if (added.value("lstrip", false) || added.value("rstrip", false)) {
      fail("synth: {}: added token {} strips whitespace, which GGUF metadata cannot say", path,
           added.value("content", std::string()));
    }
  }
  const char* pre = gguf_pre_name(root, path);
  const std::vector<std::string> merges = merges_of(root.at("model"), path);

  const int32_t n_vocab = tokenizer->n_vocab();
  std::vector<std::string> tokens(static_cast<size_t>(n_vocab));
  std::vector<int32_t> types(static_cast<size_t>(n_vocab));
  for (int32_t id = 0; id < n_vocab; ++id) {
    tokens[id] = tokenizer->token_text(id);
    types[id] = static_cast<int32_t>(tokenizer->token_type(id));
  }
  // What the file's post-processor and tokenizer_config.json put around a text.
  const std::vector<int32_t> around = tokenizer->encode("", /*add_special=*/true);
  const bool add_bos = !around.empty() && around.front() == tokenizer->bos_id();
  const bool add_eos =
      !around.empty() && around.back() == tokenizer->eos_id() && (around.size() == 2 || !add_bos);

  writer.add_string("tokenizer.ggml.model", "gpt2");
  writer.add_string("tokenizer.ggml.pre", pre);
  writer.add_string_array("tokenizer.ggml.tokens", tokens);
  writer.add_i32_array("tokenizer.ggml.token_type", types);
  writer.add_string_array("tokenizer.ggml.merges", merges);
  if (tokenizer->bos_id() >= 0) {
    writer.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(tokenizer->bos_id()));
  }
  if (tokenizer->eos_id() >= 0) {
    writer.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(tokenizer->eos_id()));
  }
  writer.add_bool("tokenizer.ggml.add_bos_token", add_bos);
  writer.add_bool("tokenizer.ggml.add_eos_token", add_eos);

  const std::filesystem::path config_path =
      std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(config_path)) {
    json config;
    try {
      config = json::parse(read_whole_file(config_path.string()));
    } catch (const json::exception& e) {
      fail("synth: {}: invalid JSON: {}", config_path.string(), e.what());
    }
    const json& chat_template = config.value("chat_template", json());
    if (chat_template.is_string()) {
      writer.add_string("tokenizer.chat_template", chat_template.get<std::string>());
    } else if (!chat_template.is_null()) {
      fail("synth: {}: chat_template is not a string (named templates are not supported)",
           config_path.string());
    }
  }
  return n_vocab;
}

}  // namespace

int64_t add_synth_tokenizer(const std::string& path, gguf::GgufWriter& writer) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("synth: {}: cannot open: {}", path, std::strerror(errno));
  char head[64] = {};
  in.read(head, sizeof(head));
  const std::string_view start(head, static_cast<size_t>(in.gcount()));
  in.close();
  if (start.starts_with("GGUF")) return copy_gguf_tokenizer(path, writer);
  if (looks_like_json(start)) return write_hf_tokenizer(path, writer);
  fail("synth: {}: neither a GGUF file nor a tokenizer.json", path);
}

}  // namespace loom
