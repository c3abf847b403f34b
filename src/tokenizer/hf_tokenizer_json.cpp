#include "tokenizer/hf_tokenizer_json.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pcre_regex.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace loom {
namespace {

using nlohmann::json;

// What Hugging Face's ByteLevel pre-tokenizer splits with when use_regex is set.
constexpr std::string_view kByteLevelPattern =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // U+2581
// Ids beyond the entries given are padding; a file may not make us allocate much more.
constexpr size_t kMaxPaddingIds = 1 << 20;

// Everything the file's parts say, gathered before the tokenizer is built.
struct HfSpec {
  std::vector<PreTokenizer::Rule> split_rules;
  bool byte_level = false;
  bool prefix_space = false;  // ByteLevel add_prefix_space
  std::vector<Normalizer::Step> normalizer_steps;
  bool decode_metaspace = false;
  bool strip_leading_space = false;
  // Special tokens the post-processor puts around the text (by id).
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  bool add_bos = false;
  bool add_eos = false;
};

const std::string& type_of(const json& node, const std::string& origin, std::string_view where) {
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string()) {
    fail("{}: {} has no \"type\"", origin, where);
  }
  return node["type"].get_ref<const std::string&>();
}

bool flag(const json& node, const char* key, bool fallback) {
  const auto it = node.find(key);
  if (it == node.end() || it->is_null()) return fallback;
  return it->get<bool>();
}

// A Split / Replace pattern: {"Regex": "..."} runs as written, {"String": "..."} literally.
std::string pattern_of(const json& node, const std::string& origin, std::string_view where) {
  const json& pattern = node.at("pattern");
  if (pattern.contains("Regex")) return pattern["Regex"].get<std::string>();
  if (pattern.contains("String")) return Regex::escape(pattern["String"].get<std::string>());
  fail("{}: {} pattern is neither {{\"Regex\": ...}} nor {{\"String\": ...}}", origin, where);
}

void read_pre_tokenizer(const json& node, const std::string& origin, HfSpec& spec) {
  if (node.is_null()) return;
  const std::string& type = type_of(node, origin, "pre_tokenizer");
  if (type == "Sequence") {
    for (const json& child : node.at("pretokenizers")) read_pre_tokenizer(child, origin, spec);
  } else if (type == "Split") {
    // The expressions run on raw bytes; after ByteLevel they would see GPT-2's alphabet.
    if (spec.byte_level) {
      fail("{}: pre_tokenizer Split after ByteLevel is not supported", origin);
    }
    using Behavior = PreTokenizer::Behavior;
    static const std::map<std::string, Behavior> kBehaviors = {
        {"Isolated", Behavior::kIsolated},
        {"Removed", Behavior::kRemoved},
        {"MergedWithPrevious", Behavior::kMergedWithPrevious},
        {"MergedWithNext", Behavior::kMergedWithNext}};
    const std::string behavior = node.value("behavior", "Isolated");
    const auto it = kBehaviors.find(behavior);
    if (it == kBehaviors.end()) {
      fail(
          "{}: pre_tokenizer Split behavior \"{}\" is not supported (supported: Isolated, "
          "Removed, MergedWithPrevious, MergedWithNext)",
          origin, behavior);
    }
    if (flag(node, "invert", false)) {
      fail("{}: pre_tokenizer Split with invert = true is not supported", origin);
    }
    spec.split_rules.push_back({pattern_of(node, origin, "pre_tokenizer Split"), it->second});
  } else if (type == "ByteLevel") {
    if (flag(node, "add_prefix_space", true)) {
      if (!spec.split_rules.empty()) {
        fail("{}: pre_tokenizer ByteLevel with add_prefix_space after a Split is not supported",
             origin);
      }
      spec.prefix_space = true;
    }
    if (flag(node, "use_regex", true)) spec.split_rules.push_back({std::string(kByteLevelPattern)});
    spec.byte_level = true;
  } else if (type == "Digits") {
    spec.split_rules.push_back({flag(node, "individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)"});
  } else {
    fail(
        "{}: pre_tokenizer type \"{}\" is not supported (supported: Sequence, Split, "
        "ByteLevel, Digits)",
        origin, type);
  }
}

void read_normalizer(const json& node, const std::string& origin, HfSpec& spec) {
  if (node.is_null()) return;
  using Kind = Normalizer::Kind;
  const std::string& type = type_of(node, origin, "normalizer");
  auto& steps = spec.normalizer_steps;
  if (type == "Sequence") {
    for (const json& child : node.at("normalizers")) read_normalizer(child, origin, spec);
  } else if (type == "NFC") {
    steps.push_back({Kind::kNfc});
  } else if (type == "NFD") {
    steps.push_back({Kind::kNfd});
  } else if (type == "NFKC") {
    steps.push_back({Kind::kNfkc});
  } else if (type == "NFKD") {
    steps.push_back({Kind::kNfkd});
  } else if (type == "Lowercase") {
    steps.push_back({Kind::kLowercase});
  } else if (type == "Replace") {
    steps.push_back({Kind::kReplace, pattern_of(node, origin, "normalizer Replace"),
                     node.at("content").get<std::string>()});
  } else if (type == "Prepend") {
    steps.push_back({Kind::kPrepend, "", node.at("prepend").get<std::string>()});
  } else if (type == "Strip") {
    steps.push_back(
        {Kind::kStrip, "", "", flag(node, "strip_left", false), flag(node, "strip_right", false)});
  } else {
    fail(
        "{}: normalizer type \"{}\" is not supported (supported: Sequence, NFC, NFD, NFKC, "
        "NFKD, Lowercase, Replace, Prepend, Strip)",
        origin, type);
  }
}

void read_decoder(const json& node, const std::string& origin, HfSpec& spec) {
  if (node.is_null()) return;
  const std::string& type = type_of(node, origin, "decoder");
  if (type == "Sequence") {
    for (const json& child : node.at("decoders")) read_decoder(child, origin, spec);
  } else if (type == "ByteLevel" || type == "ByteFallback" || type == "Fuse") {
    // Byte-level and <0xNN> tokens decode to their bytes; pieces are concatenated.
  } else if (type == "Replace") {
    const json& pattern = node.at("pattern");
    if (!pattern.contains("String") || pattern["String"] != kMetaspace ||
        node.at("content") != " ") {
      fail("{}: decoder Replace other than \"\u2581\" -> \" \" is not supported", origin);
    }
    spec.decode_metaspace = true;
  } else if (type == "Strip") {
    if (node.at("content") != " " || node.at("start") != 1 || node.at("stop") != 0) {
      fail("{}: decoder Strip other than one leading space is not supported", origin);
    }
    spec.strip_leading_space = true;
  } else if (type == "Metaspace") {
    if (node.value("replacement", std::string(kMetaspace)) != kMetaspace) {
      fail("{}: decoder Metaspace with a replacement other than \"\u2581\" is not supported",
           origin);
    }
    spec.decode_metaspace = true;
    spec.strip_leading_space = node.contains("prepend_scheme")
                                   ? node["prepend_scheme"] != "never"
                                   : flag(node, "add_prefix_space", true);
  } else {
    fail(
        "{}: decoder type \"{}\" is not supported (supported: Sequence, ByteLevel, "
        "ByteFallback, Fuse, Replace, Strip, Metaspace)",
        origin, type);
  }
}

void read_post_processor(const json& node, const std::string& origin, HfSpec& spec) {
  if (node.is_null()) return;
  const std::string& type = type_of(node, origin, "post_processor");
  if (type == "Sequence") {
    for (const json& child : node.at("processors")) read_post_processor(child, origin, spec);
  } else if (type == "ByteLevel") {
    // Offsets only.
  } else if (type == "TemplateProcessing") {
    // "single": [{"SpecialToken": {"id": "<s>"}}, {"Sequence": {"id": "A"}}, ...]; the
    // special token before the text is BOS, the one after it EOS.
    bool seen_text = false;
    for (const json& item : node.at("single")) {
      if (item.contains("Sequence")) {
        seen_text = true;
        continue;
      }
      const std::string name = item.at("SpecialToken").at("id").get<std::string>();
      const json& ids = node.at("special_tokens").at(name).at("ids");
      if (ids.size() != 1) {
        fail("{}: post_processor special token \"{}\" has {} ids; one is supported", origin, name,
             ids.size());
      }
      int32_t& id = seen_text ? spec.eos_id : spec.bos_id;
      bool& add = seen_text ? spec.add_eos : spec.add_bos;
      if (add) {
        fail("{}: post_processor adds more than one token {} the text; one is supported", origin,
             seen_text ? "after" : "before");
      }
      id = ids[0].get<int32_t>();
      add = true;
    }
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    spec.bos_id = node.at("cls").at(1).get<int32_t>();
    spec.eos_id = node.at("sep").at(1).get<int32_t>();
    spec.add_bos = spec.add_eos = true;
  } else {
    fail(
        "{}: post_processor type \"{}\" is not supported (supported: TemplateProcessing, "
        "BertProcessing, RobertaProcessing, ByteLevel, Sequence)",
        origin, type);
  }
}

// Token ids and texts from model.vocab and added_tokens; gaps become unused "[PAD<id>]".
void read_tokens(const json& model, const json& added_tokens, const std::string& origin,
                 VocabData& vocab) {
  const json& entries = model.at("vocab");
  if (!entries.is_object()) fail("{}: model.vocab is not an object of token -> id", origin);
  std::map<int64_t, std::string> by_id;
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0) {
      fail("{}: model.vocab[\"{}\"] is not a non-negative integer id", origin, it.key());
    }
    const int64_t id = it.value().get<int64_t>();
    if (!by_id.emplace(id, it.key()).second) {
      fail("{}: model.vocab gives id {} to both \"{}\" and \"{}\"", origin, id, by_id[id],
           it.key());
    }
  }
  if (!added_tokens.is_null() && !added_tokens.is_array()) {
    fail("{}: added_tokens is not an array", origin);
  }
  for (const json& added : added_tokens.is_array() ? added_tokens : json::array()) {
    const int64_t id = added.at("id").get<int64_t>();
    if (id < 0) fail("{}: added token id {} is negative", origin, id);
    by_id[id] = added.at("content").get<std::string>();
  }
  if (by_id.empty()) fail("{}: model.vocab is empty", origin);
  const size_t n_vocab = static_cast<size_t>(by_id.rbegin()->first) + 1;
  if (n_vocab > by_id.size() + kMaxPaddingIds || n_vocab > static_cast<size_t>(INT32_MAX)) {
    fail("{}: token id {} is far beyond the {} tokens given", origin, n_vocab - 1, by_id.size());
  }

  vocab.tokens.resize(n_vocab);
  vocab.types.assign(n_vocab, TokenType::kNormal);
  vocab.scores.assign(n_vocab, 0.0f);
  vocab.lstrip.assign(n_vocab, false);
  vocab.rstrip.assign(n_vocab, false);
  std::vector<bool> present(n_vocab, false);
  for (auto& [id, text] : by_id) {
    vocab.tokens[id] = std::move(text);
    present[id] = true;
  }
  for (size_t id = 0; id < n_vocab; ++id) {
    if (!present[id]) {
      vocab.tokens[id] = "[PAD" + std::to_string(id) + "]";
      vocab.types[id] = TokenType::kUnused;
    } else if (vocab.tokens[id].empty()) {
      // As load_vocab does: an empty text would match everywhere when splitting specials.
      vocab.tokens[id] = "[EMPTY_" + std::to_string(id) + "]";
    }
  }

  for (const json& added : added_tokens.is_array() ? added_tokens : json::array()) {
    const size_t id = added.at("id").get<size_t>();
    if (flag(added, "single_word", false)) {
      fail("{}: added token \"{}\" has single_word = true, which is not supported", origin,
           vocab.tokens[id]);
    }
    vocab.types[id] = flag(added, "special", false) ? TokenType::kControl : TokenType::kUserDefined;
    vocab.lstrip[id] = flag(added, "lstrip", false);
    vocab.rstrip[id] = flag(added, "rstrip", false);
  }
}

int32_t id_of(const VocabData& vocab, const std::string& text, const std::string& origin,
              std::string_view key) {
  const auto it = std::find(vocab.tokens.begin(), vocab.tokens.end(), text);
  if (it == vocab.tokens.end()) fail("{}: {} \"{}\" is not a token", origin, key, text);
  return static_cast<int32_t>(it - vocab.tokens.begin());
}

// bos_token / eos_token of a tokenizer_config.json: a string, {"content": ...} or null.
std::optional<std::string> config_token(const json& config, const char* key) {
  const auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  return it->at("content").get<std::string>();
}

std::unique_ptr<Tokenizer> build(std::string_view json_text, std::string_view config_text,
                                 const std::string& origin) {
  const json root = json::parse(json_text);
  if (!root.is_object() || !root.contains("model")) {
    fail("{}: not a tokenizer.json (no \"model\" object)", origin);
  }
  const json& model = root["model"];
  const std::string model_type =
      model.contains("type") ? model["type"].get<std::string>() : std::string("BPE");
  if (model_type != "BPE") {
    fail("{}: model type \"{}\" is not supported (supported: BPE)", origin, model_type);
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() && model[key] != "") {
      fail("{}: model.{} = {} is not supported", origin, key, model[key].dump());
    }
  }
  if (model.contains("dropout") && !model["dropout"].is_null() &&
      model["dropout"].get<double>() > 0) {
    fail("{}: model.dropout = {} is not supported (BPE dropout is for training)", origin,
         model["dropout"].dump());
  }

  HfSpec spec;
  read_normalizer(root.value("normalizer", json()), origin, spec);
  read_pre_tokenizer(root.value("pre_tokenizer", json()), origin, spec);
  read_decoder(root.value("decoder", json()), origin, spec);
  read_post_processor(root.value("post_processor", json()), origin, spec);

  VocabData vocab;
  vocab.model = spec.byte_level ? "gpt2" : "bpe";
  read_tokens(model, root.value("added_tokens", json()), origin, vocab);
  const int64_t n_vocab = static_cast<int64_t>(vocab.tokens.size());

  BpeOptions options;
  options.byte_level = spec.byte_level;
  options.byte_fallback = flag(model, "byte_fallback", false);
  options.fuse_unknown = flag(model, "fuse_unk", false);
  options.decode_metaspace = spec.decode_metaspace;
  if (!spec.byte_level) {
    for (size_t id = 0; id < vocab.tokens.size(); ++id) {
      const std::string& text = vocab.tokens[id];
      if (vocab.types[id] == TokenType::kNormal && text.size() == 6 && text.starts_with("<0x") &&
          text.back() == '>' && std::isxdigit(static_cast<unsigned char>(text[3])) &&
          std::isxdigit(static_cast<unsigned char>(text[4]))) {
        vocab.types[id] = TokenType::kByte;
      }
    }
  }

  const json& merges = model.at("merges");
  if (!merges.is_array()) fail("{}: model.merges is not an array", origin);
  options.merge_pairs.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& merge = merges[i];
    if (merge.is_string()) {
      const std::string& text = merge.get_ref<const std::string&>();
      const size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        fail("{}: model.merges[{}] = \"{}\" is not \"left right\"", origin, i, text);
      }
      options.merge_pairs.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2) {
      options.merge_pairs.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      fail("{}: model.merges[{}] is neither \"left right\" nor [\"left\", \"right\"]", origin, i);
    }
  }

  if (model.contains("unk_token") && !model["unk_token"].is_null()) {
    vocab.unk_id = id_of(vocab, model["unk_token"].get<std::string>(), origin, "model.unk_token");
    vocab.types[vocab.unk_id] = TokenType::kUnknown;
  }
  auto check_id = [&](int32_t id, std::string_view what) {
    if (id < -1 || id >= n_vocab) {
      fail("{}: post_processor {} id {} is outside the vocabulary (0..{})", origin, what, id,
           n_vocab - 1);
    }
    return id;
  };
  vocab.bos_id = check_id(spec.bos_id, "BOS");
  vocab.eos_id = check_id(spec.eos_id, "EOS");
  vocab.add_bos = spec.add_bos;
  vocab.add_eos = spec.add_eos;
  if (!config_text.empty()) {
    const json config = json::parse(config_text);
    if (!config.is_object()) fail("{}: tokenizer_config.json is not an object", origin);
    if (const auto bos = config_token(config, "bos_token")) {
      vocab.bos_id = id_of(vocab, *bos, origin, "tokenizer_config.json bos_token");
    }
    if (const auto eos = config_token(config, "eos_token")) {
      vocab.eos_id = id_of(vocab, *eos, origin, "tokenizer_config.json eos_token");
    }
    vocab.add_bos = flag(config, "add_bos_token", vocab.add_bos);
    vocab.add_eos = flag(config, "add_eos_token", vocab.add_eos);
  }
  vocab.add_space_prefix = spec.strip_leading_space;
  find_end_of_generation(vocab);

  std::vector<Normalizer::Step> steps = std::move(spec.normalizer_steps);
  if (spec.prefix_space) steps.push_back({Normalizer::Kind::kPrefixSpace});
  if (!steps.empty()) options.normalizer = std::make_unique<Normalizer>(std::move(steps));
  options.pre_tokenizer =
      std::make_unique<PreTokenizer>(spec.split_rules, flag(model, "ignore_merges", false));
  return make_bpe_tokenizer(vocab, std::move(options));
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail("{}: read failed: {}", path, std::strerror(errno));
  return buffer.str();
}

}  // namespace

bool looks_like_json(std::string_view head) {
  const size_t first = head.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && head[first] == '{';
}

std::unique_ptr<Tokenizer> Tokenizer::from_hf_json(std::string_view json_text,
                                                   std::string_view config_json,
                                                   std::string_view origin) {
  const std::string name(origin);
  try {
    return build(json_text, config_json, name);
  } catch (const json::exception& e) {
    // Wrong JSON types or missing keys: the path is in nlohmann's message.
    fail("{}: invalid tokenizer.json: {}", name, e.what());
  }
}

std::unique_ptr<Tokenizer> Tokenizer::from_hf_json_file(const std::string& path) {
  const std::string text = read_whole_file(path);
  const std::filesystem::path config_path =
      std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  std::string config;
  if (std::filesystem::exists(config_path)) config = read_whole_file(config_path.string());
  return from_hf_json(text, config, path);
}

}  // namespace loom
