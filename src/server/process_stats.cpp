#include "server/process_stats.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace loom::server {

int64_t resident_memory_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t total_pages = 0, resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

double process_start_time_seconds() {
  // Field 22 of /proc/self/stat is the start in clock ticks after boot; the fields are
  // counted after the command name, which may hold spaces, so from its closing ')'.
  std::ifstream stat_file("/proc/self/stat");
  std::string line;
  if (!std::getline(stat_file, line)) return 0;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(line.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i != 22) continue;
    std::ifstream proc_stat("/proc/stat");
    std::string key;
    int64_t boot_time = 0;
    while (proc_stat >> key) {
      if (key == "btime") {
        proc_stat >> boot_time;
        break;
      }
      proc_stat.ignore(1 << 20, '\n');
    }
    if (boot_time == 0) return 0;
    return static_cast<double>(boot_time) +
           std::stod(field) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return 0;
}

MemoryStats memory_stats(const EngineStats& stats, const Model* model) {
  static const double start_time = process_start_time_seconds();  // fixed: read once
  MemoryStats m;
  m.resident_bytes = resident_memory_bytes();
  m.weight_bytes = model != nullptr ? model->info().weight_bytes : 0;
  m.kv_capacity_bytes = stats.kv_capacity_tokens * stats.kv_bytes_per_token;
  m.kv_used_bytes = stats.kv_used_tokens * stats.kv_bytes_per_token;
  m.start_time_seconds = start_time;
  return m;
}

}  // namespace loom::server
