// loom/fill_in_middle.h: FIM prompts laid out as llama.cpp's server lays them out for
// /infill (format_infill: PSM order, BOS after the extra context, repo-level pattern
// when the vocabulary has the tokens). Unlike llama.cpp nothing is cut to fit a batch:
// a prompt longer than the context is refused by the caller instead.
#include "loom/fill_in_middle.h"

#include <string_view>

#include "api/model_impl.h"
#include "api/vocab_impl.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace loom {
namespace {

FimTokens public_ids(const Tokenizer& tokenizer) {
  const FimTokenIds& ids = tokenizer.fim_tokens();
  return {ids.prefix, ids.suffix, ids.middle, ids.pad, ids.repo, ids.file_sep};
}

void append(std::vector<int32_t>& out, const std::vector<int32_t>& tokens) {
  out.insert(out.end(), tokens.begin(), tokens.end());
}

std::vector<int32_t> build(const Tokenizer& tokenizer, const FimInput& input) {
  const FimTokens fim = public_ids(tokenizer);
  if (!fim.supported()) {
    std::string missing;
    for (auto [id, name] : {std::pair{fim.prefix, "prefix"}, std::pair{fim.suffix, "suffix"},
                            std::pair{fim.middle, "middle"}}) {
      if (id < 0) missing += missing.empty() ? name : std::string(", ") + name;
    }
    fail(
        "this model has no fill-in-the-middle tokens (missing: {}; looked for "
        "tokenizer.ggml.fim_pre/suf/mid_token_id and the texts <fim_prefix>, ▁<PRE>, "
        "<｜fim▁begin｜>, <|fim_prefix|> and the like); it is not a code infilling model",
        missing);
  }
  auto encode = [&tokenizer](std::string_view text) {
    return tokenizer.encode(text, /*add_special=*/false, /*parse_special=*/false);
  };

  std::vector<int32_t> extra;
  if (fim.repo >= 0) {
    extra.push_back(fim.repo);
    append(extra, encode("myproject\n"));  // llama.cpp's fixed project name
  }
  for (const FimFile& file : input.extra) {
    if (fim.file_sep >= 0) {
      extra.push_back(fim.file_sep);
      append(extra, encode((file.filename.empty() ? "tmp" : file.filename) + "\n"));
    } else {
      append(extra, encode("\n\n--- snippet ---\n\n"));
    }
    append(extra, encode(file.text));
  }
  if (fim.file_sep >= 0) {
    extra.push_back(fim.file_sep);
    append(extra, encode("filename\n"));  // llama.cpp's name for the current file
  }

  std::vector<int32_t> out = std::move(extra);
  if (tokenizer.add_bos() && tokenizer.bos_id() >= 0) out.push_back(tokenizer.bos_id());
  out.push_back(fim.prefix);
  append(out, encode(input.prefix));
  append(out, encode(input.middle));
  out.push_back(fim.suffix);
  append(out, encode(input.suffix));
  out.push_back(fim.middle);
  return out;
}

}  // namespace

FimTokens fim_tokens(const Model& model) {
  return public_ids(*model.impl().tokenizer);
}

FimTokens fim_tokens(const Vocab& vocab) {
  return public_ids(*vocab.impl().tokenizer);
}

std::vector<int32_t> fim_prompt_tokens(const Model& model, const FimInput& input) {
  return build(*model.impl().tokenizer, input);
}

std::vector<int32_t> fim_prompt_tokens(const Vocab& vocab, const FimInput& input) {
  return build(*vocab.impl().tokenizer, input);
}

}  // namespace loom
