// Limits shared by the reader and the writer, so the writer never produces a file the
// reader refuses. They bound what a hostile file can make the reader hold in memory
// (an in-memory Value is several times larger than its encoding).
#pragma once

#include <cstdint>

namespace loom::gguf {

inline constexpr uint32_t kMaxDims = 4;
// Far above real files (the largest vocabularies have ~10^6 entries).
inline constexpr uint64_t kMaxArrayElements = uint64_t{1} << 24;
// Real files nest arrays at most one level, if at all.
inline constexpr int kMaxArrayDepth = 8;
inline constexpr uint64_t kMaxNestedArrays = uint64_t{1} << 16;

}  // namespace loom::gguf
