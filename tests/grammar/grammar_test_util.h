// Helpers shared by the grammar tests: test data paths and file reading.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace loom::grammar::test {

inline std::string data_path(const std::string& relative) {
  return std::string(LOOM_GRAMMAR_DATA_DIR) + "/" + relative;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline std::string vocab_path(const std::string& name) {
  return std::string(LOOM_SHARED_DIR) + "/tokenizer-tests/ggml-vocab-" + name + ".gguf";
}

}  // namespace loom::grammar::test
