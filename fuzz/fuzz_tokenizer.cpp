// libFuzzer target: every shipped vocabulary (../shared/tokenizer-tests, plus the models'
// own) encodes any text, with and without special-token parsing, and decodes any ids;
// the first byte picks the vocabulary, the rest is the text. Decoding what was encoded
// must give valid output without crashing; nothing is compared (the goldens do that).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "loom/error.h"
#include "tokenizer/tokenizer.h"

namespace {

std::vector<std::unique_ptr<loom::Tokenizer>>& vocabularies() {
  static std::vector<std::unique_ptr<loom::Tokenizer>> all = [] {
    std::vector<std::unique_ptr<loom::Tokenizer>> out;
    std::vector<std::filesystem::path> files;
    const std::string shared = LOOM_SHARED_DIR;
    for (const auto& entry : std::filesystem::directory_iterator(shared + "/tokenizer-tests")) {
      if (entry.path().extension() == ".gguf") files.push_back(entry.path());
    }
    files.push_back(shared + "/models/stories260K.gguf");
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
      try {
        auto file = loom::gguf::GgufFile::open(path.string());
        out.push_back(loom::Tokenizer::from_gguf(*file));
      } catch (const loom::Error&) {
        // A vocabulary loom does not support is refused at load; nothing to fuzz there.
      }
    }
    return out;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto& all = vocabularies();
  if (size == 0 || all.empty()) return 0;
  const loom::Tokenizer& tokenizer = *all[data[0] % all.size()];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    for (const bool parse_special : {false, true}) {
      const std::vector<int32_t> ids = tokenizer.encode(text, true, parse_special);
      (void)tokenizer.decode(ids, parse_special);
    }
    // The same bytes as token ids: any id in range decodes, piece by piece and whole.
    std::vector<int32_t> ids;
    for (size_t i = 1; i + 4 <= size; i += 4) {
      uint32_t raw = 0;
      for (int b = 0; b < 4; ++b) raw |= static_cast<uint32_t>(data[i + b]) << (8 * b);
      ids.push_back(static_cast<int32_t>(raw % static_cast<uint32_t>(tokenizer.n_vocab())));
    }
    for (int32_t id : ids) (void)tokenizer.token_to_piece(id, (id & 1) != 0);
    (void)tokenizer.decode(ids, false);
  } catch (const loom::Error&) {
  }
  return 0;
}
