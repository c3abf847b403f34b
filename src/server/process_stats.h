// Figures about this process for /metrics and /health, read from /proc (Linux).
#pragma once

#include <cstdint>

#include "loom/loom.h"

namespace loom::server {

// Memory in bytes, as /metrics and /health report it.
struct MemoryStats {
  int64_t resident_bytes = 0;  // the process's resident set
  // Model weights the kernels read: views into the mapped file, or the copy repacked at
  // load (ModelInfo::weight_bytes). What they take once touched, not a measured residency.
  int64_t weight_bytes = 0;
  int64_t kv_capacity_bytes = 0;  // the KV cache pool, allocated at start
  int64_t kv_used_bytes = 0;      // of it, held by running sequences
  double start_time_seconds = 0;  // the process's start, Unix time
};

// `model` may be null (no model loaded yet).
MemoryStats memory_stats(const EngineStats& stats, const Model* model);

// Resident set size now, in bytes (/proc/self/statm); 0 when unreadable.
int64_t resident_memory_bytes();
// When this process started, in seconds since the Unix epoch (/proc/self/stat and the
// boot time in /proc/stat); 0 when unreadable.
double process_start_time_seconds();

}  // namespace loom::server
