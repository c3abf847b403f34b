// Runs a command line through the shell, as a user would, and captures its exit status,
// stdout and stderr. Each call uses its own stderr file: ctest runs test cases as
// parallel processes, and a shared file would mix their outputs.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <string>

namespace loom::testing_support {

struct CommandOutput {
  int status = -1;  // exit status; -1 when the process did not exit normally
  std::string out;  // stdout
  std::string err;  // stderr
};

inline std::string read_whole_file(const std::string& path) {
  std::string text;
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return text;
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), f)) > 0) text.append(buffer.data(), n);
  std::fclose(f);
  return text;
}

inline CommandOutput run_command(const std::string& command) {
  static std::atomic<int> counter{0};
  const std::string err_path = ::testing::TempDir() + "/loom_test_" + std::to_string(getpid()) +
                               "_" + std::to_string(counter++) + ".stderr";
  const std::string full = command + " 2>" + err_path + " </dev/null";
  CommandOutput result;
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.out.append(buffer.data(), n);
  }
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = read_whole_file(err_path);
  std::remove(err_path.c_str());
  return result;
}

}  // namespace loom::testing_support
