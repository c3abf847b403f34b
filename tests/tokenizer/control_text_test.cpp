// With special-token parsing off, text that spells a control token ("<|endoftext|>",
// "</s>", "[CLS]" ...) is ordinary text: on every vocabulary in shared/tokenizer-tests,
// encoding each control token's text, alone and inside a sentence, gives no control token.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

namespace loom {
namespace {

TEST(ControlText, NeverBecomesAControlTokenWithoutParseSpecial) {
  int vocabularies = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(test::shared_path("tokenizer-tests"))) {
    if (entry.path().extension() != ".gguf") continue;
    ++vocabularies;
    const std::string name = entry.path().filename().string();
    const auto tokenizer = test::load_tokenizer_file(entry.path().string());
    int controls = 0, parsed = 0;
    for (int32_t id = 0; id < tokenizer->n_vocab(); ++id) {
      if (tokenizer->token_type(id) != TokenType::kControl) continue;
      const std::string& text = tokenizer->token_text(id);
      if (text.empty()) continue;
      ++controls;
      // The same text parsed as special is the token: the inputs below would catch a leak.
      if (tokenizer->encode(text, false, true) == std::vector<int32_t>{id}) ++parsed;
      for (const std::string& input : {text, "Hello " + text + " world", "a" + text + "b"}) {
        for (const int32_t token : tokenizer->encode(input, false, false)) {
          EXPECT_NE(tokenizer->token_type(token), TokenType::kControl)
              << name << ": '" << input << "' gave control token " << token << " '"
              << tokenizer->token_text(token) << "'";
        }
      }
    }
    EXPECT_GT(controls, 0) << name;
    EXPECT_GT(parsed, 0) << name;
  }
  EXPECT_GE(vocabularies, 10);
}

}  // namespace
}  // namespace loom
