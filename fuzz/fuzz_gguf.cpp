// libFuzzer target: the GGUF reader validates any bytes as a file image; a bad image is a
// loom::Error, never a crash, an overread or an allocation the size field asks for.
#include <cstddef>
#include <cstdint>

#include "gguf/gguf_file.h"
#include "loom/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto file = loom::gguf::GgufFile::from_memory(data, size);
    for (const auto& tensor : file->tensors()) (void)tensor.n_elements;
  } catch (const loom::Error&) {
  }
  return 0;
}
