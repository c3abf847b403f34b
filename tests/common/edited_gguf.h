// A copy of a GGUF file held in memory with keys and tensors changed, added or left out:
// the model tests' way to make the files loom must refuse or treat differently.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

namespace loom::testing_support {

class EditedGguf {
 public:
  // `edit` may add or replace keys and tensors; keys and tensors named in `drop` are left out.
  EditedGguf(const std::string& path, const std::function<void(gguf::GgufWriter&)>& edit,
             const std::vector<std::string>& drop = {}) {
    const std::shared_ptr<const gguf::GgufFile> source = gguf::GgufFile::open(path);
    auto dropped = [&](const std::string& s) {
      return std::find(drop.begin(), drop.end(), s) != drop.end();
    };
    gguf::GgufWriter w;
    for (const std::string& key : source->keys()) {
      if (!dropped(key)) w.add_value(key, *source->find(key));
    }
    for (const gguf::TensorInfo& t : source->tensors()) {
      if (dropped(t.name)) continue;
      w.add_tensor(t.name, t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.n_bytes));
    }
    edit(w);
    bytes_ = w.to_bytes();
    file_ = gguf::GgufFile::from_memory(bytes_.data(), bytes_.size(), path + " (edited)");
  }
  std::shared_ptr<const gguf::GgufFile> file() const { return file_; }

 private:
  std::vector<uint8_t> bytes_;
  std::shared_ptr<const gguf::GgufFile> file_;
};

// The llama3-ropefreqs reference model as a `mistral` file with a sliding window.
inline EditedGguf mistral_with_window(const std::string& llama_path, int64_t window) {
  const std::shared_ptr<const gguf::GgufFile> source = gguf::GgufFile::open(llama_path);
  std::vector<std::string> llama_keys;
  for (const std::string& key : source->keys()) {
    if (key.rfind("llama.", 0) == 0) llama_keys.push_back(key);
  }
  return EditedGguf(
      llama_path,
      [&](gguf::GgufWriter& w) {
        for (const std::string& key : llama_keys) {
          w.add_value("mistral." + key.substr(6), *source->find(key));
        }
        w.add_string("general.architecture", "mistral");
        w.add_u32("mistral.attention.sliding_window", static_cast<uint32_t>(window));
      },
      llama_keys);
}

}  // namespace loom::testing_support
