// Reads a model's `<arch>.*` metadata keys and remembers which were read, so that a key
// nobody understood (one that would change the computation) is refused by name instead of
// being ignored.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace loom::gguf {
class GgufFile;
struct Value;
}  // namespace loom::gguf

namespace loom {

class ArchMetadata {
 public:
  ArchMetadata(const gguf::GgufFile& file, std::string arch);

  const gguf::GgufFile& file() const { return file_; }
  const std::string& arch() const { return arch_; }
  // "<arch>." + key, for messages.
  std::string full_key(std::string_view key) const { return arch_ + "." + std::string(key); }

  // Look-ups by the key after "<arch>."; each marks the key as understood.
  std::optional<int64_t> get_int(std::string_view key);
  std::optional<double> get_float(std::string_view key);
  std::optional<std::string> get_string(std::string_view key);
  const gguf::Value* get_array(std::string_view key);
  bool has(std::string_view key) const;

  // Marks keys as understood without reading them here (read by ModelConfig, or known to
  // change nothing in the computation).
  void understood(std::initializer_list<std::string_view> keys);

  // loom::Error naming the first `<arch>.*` key that was never read or marked.
  void refuse_unread() const;

 private:
  const gguf::GgufFile& file_;
  std::string arch_;
  std::set<std::string, std::less<>> read_;
};

}  // namespace loom
