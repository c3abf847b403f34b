// The reference engine's recorded outputs in ../shared/reference (README there): one JSON
// object per prompt with its ids, greedy continuation and top logits, and, for the
// per-architecture models, the top-1/top-2 gap of every greedy step.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace loom::testing_support {

struct ReferenceCase {
  std::string prompt;
  std::vector<int32_t> prompt_ids;
  std::vector<int32_t> greedy_ids;
  std::vector<std::vector<std::pair<int32_t, float>>> top_logits;  // per position, top 20
  std::vector<float> gaps;  // per greedy step (from a *-gaps.jsonl file); empty when none
};

// The cases of a *-greedy.jsonl file (a missing file fails the calling test).
inline std::vector<ReferenceCase> read_reference_cases(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing reference file " << path;
  std::vector<ReferenceCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    ReferenceCase c;
    c.prompt = j["prompt"];
    c.prompt_ids = j["prompt_ids"].get<std::vector<int32_t>>();
    c.greedy_ids = j["greedy_ids"].get<std::vector<int32_t>>();
    for (const auto& position : j["top_logits"]) {
      std::vector<std::pair<int32_t, float>> top;
      for (const auto& entry : position) top.emplace_back(entry[0], entry[1]);
      c.top_logits.push_back(top);
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

// Adds the gaps of a *-greedy-gaps.jsonl file to `cases`, checking the prompts line up.
inline void read_reference_gaps(const std::string& path, std::vector<ReferenceCase>& cases) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing gaps file " << path;
  size_t i = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line);
    EXPECT_LT(i, cases.size());
    if (i >= cases.size()) break;
    EXPECT_EQ(j["prompt"].get<std::string>(), cases[i].prompt);
    cases[i].gaps = j["gaps"].get<std::vector<float>>();
    ++i;
  }
  EXPECT_EQ(i, cases.size());
}

inline std::string read_whole_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace loom::testing_support
