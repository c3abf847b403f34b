#include "model/arch_metadata.h"

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace loom {

ArchMetadata::ArchMetadata(const gguf::GgufFile& file, std::string arch)
    : file_(file), arch_(std::move(arch)) {}

std::optional<int64_t> ArchMetadata::get_int(std::string_view key) {
  read_.emplace(key);
  return file_.get_int(full_key(key));
}

std::optional<double> ArchMetadata::get_float(std::string_view key) {
  read_.emplace(key);
  return file_.get_float(full_key(key));
}

std::optional<std::string> ArchMetadata::get_string(std::string_view key) {
  read_.emplace(key);
  return file_.get_string(full_key(key));
}

const gguf::Value* ArchMetadata::get_array(std::string_view key) {
  read_.emplace(key);
  return file_.get_array(full_key(key));
}

bool ArchMetadata::has(std::string_view key) const {
  return file_.find(full_key(key)) != nullptr;
}

void ArchMetadata::understood(std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) read_.emplace(key);
}

void ArchMetadata::refuse_unread() const {
  const std::string prefix = arch_ + ".";
  for (const std::string& key : file_.keys()) {
    if (key.compare(0, prefix.size(), prefix) != 0) continue;
    if (read_.count(std::string_view(key).substr(prefix.size())) != 0) continue;
    fail(
        "{}: metadata key '{}' is not supported by loom's {} model (it would change the "
        "computation, so the file is refused rather than run approximately)",
        file_.path(), key, arch_);
  }
}

}  // namespace loom
