// `loom bench` as a user runs it: every output format parses and holds one row per
// (model, threads, test); bad arguments are errors with a message, not a crash.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/run_command.h"

namespace {

const std::string kLoom = LOOM_BINARY;
const std::string kShared = LOOM_SHARED_DIR;
const std::string kModel = kShared + "/models/stories260K.gguf";
const std::string kModelQ4 = kShared + "/models/stories260K-q4_0.gguf";

using Output = loom::testing_support::CommandOutput;

Output run(const std::string& args) {
  return loom::testing_support::run_command(kLoom + " bench " + args);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> split(const std::string& line, char sep) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, sep)) out.push_back(cell);
  return out;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(' ');
  const size_t e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

TEST(BenchCli, JsonHasOneEntryPerModelThreadAndTest) {
  const Output o = run("-m " + kModel + "," + kModelQ4 + " -p 16,32 -n 8 -t 1,2 -r 2 -o json");
  ASSERT_EQ(o.status, 0) << o.err;
  const nlohmann::json j = nlohmann::json::parse(o.out);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u * 2u * 3u);
  std::vector<std::string> tests;
  for (const auto& e : j) {
    EXPECT_GT(e["avg_ts"].get<double>(), 0);
    EXPECT_GE(e["stddev_ts"].get<double>(), 0);
    EXPECT_EQ(e["samples_ts"].size(), 2u);
    EXPECT_GT(e["model_size"].get<int64_t>(), 0);
    EXPECT_GT(e["model_n_params"].get<int64_t>(), 0);
    tests.push_back(e["test"].get<std::string>());
  }
  EXPECT_EQ(j[0]["model_filename"], kModel);
  EXPECT_EQ(j[0]["n_threads"], 1);
  EXPECT_EQ(j[3]["n_threads"], 2);
  EXPECT_EQ(j[11]["model_filename"], kModelQ4);
  EXPECT_EQ(tests[0], "pp16");
  EXPECT_EQ(tests[1], "pp32");
  EXPECT_EQ(tests[2], "tg8");
  EXPECT_EQ(j[1]["n_prompt"], 32);
  EXPECT_EQ(j[2]["n_gen"], 8);
}

// Every prompt length can be built: -p 2 once failed on SentencePiece's stories260K.
TEST(BenchCli, EveryPromptLengthCanBeBuilt) {
  const Output o = run("-m " + kModel + " -p 1,2,3,4,5,6,7,8,9 -n 0 -r 1 -o json");
  ASSERT_EQ(o.status, 0) << o.err;
  const nlohmann::json j = nlohmann::json::parse(o.out);
  ASSERT_EQ(j.size(), 9u);
  for (size_t i = 0; i < j.size(); ++i) EXPECT_EQ(j[i]["n_prompt"], static_cast<int>(i) + 1);
}

// --bandwidth: each tg test carries the read bandwidth measured before it and decode as a
// fraction of it (weight bytes per token x tokens/s / bandwidth); pp tests carry none.
TEST(BenchCli, BandwidthFractionComesWithGenerationTests) {
  const Output o = run("-m " + kModelQ4 + " -p 16 -n 8 -t 1 -r 1 -o json --bandwidth");
  ASSERT_EQ(o.status, 0) << o.err;
  const nlohmann::json j = nlohmann::json::parse(o.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_FALSE(j[0].contains("bandwidth_fraction"));
  const nlohmann::json& tg = j[1];
  ASSERT_TRUE(tg.contains("bandwidth_fraction")) << tg.dump();
  const double bandwidth = tg["read_bandwidth_bytes_per_s"].get<double>();
  EXPECT_GT(bandwidth, 1e8);  // any machine streams more than 100 MB/s
  const double expected =
      tg["weight_bytes_per_token"].get<double>() * tg["avg_ts"].get<double>() / bandwidth;
  EXPECT_GT(tg["weight_bytes_per_token"].get<int64_t>(), 0);
  EXPECT_NEAR(tg["bandwidth_fraction"].get<double>(), expected, 1e-9 * expected);

  const Output md = run("-m " + kModelQ4 + " -p 0 -n 8 -t 1 -r 1 --bandwidth");
  ASSERT_EQ(md.status, 0) << md.err;
  EXPECT_NE(md.out.find("| weights GB/s | memory GB/s | of memory |"), std::string::npos) << md.out;
}

// --parallel N: the tg tests decode N sequences at once and name themselves "tgG xN".
TEST(BenchCli, ParallelDecodesSeveralSequencesAtOnce) {
  const Output o = run("-m " + kModel + " -p 0 -n 8 -t 2 -r 2 --parallel 4 -o json");
  ASSERT_EQ(o.status, 0) << o.err;
  const nlohmann::json j = nlohmann::json::parse(o.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["test"], "tg8 x4");
  EXPECT_EQ(j[0]["n_gen"], 8);
  EXPECT_GT(j[0]["avg_ts"].get<double>(), 0);
  EXPECT_EQ(j[0]["samples_ts"].size(), 2u);

  const Output bad = run("-m " + kModel + " -p 0 -n 8 --parallel 0");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("--parallel"), std::string::npos) << bad.err;
}

TEST(BenchCli, CsvHasAHeaderAndOneRowPerTest) {
  const Output o = run("-m " + kModel + " -p 16 -n 4 -t 1 -r 1 --output csv");
  ASSERT_EQ(o.status, 0) << o.err;
  const std::vector<std::string> rows = lines(o.out);
  ASSERT_EQ(rows.size(), 3u);
  const std::vector<std::string> head = split(rows[0], ',');
  ASSERT_EQ(head.size(), 10u);
  EXPECT_EQ(head[5], "test");
  EXPECT_EQ(head[8], "avg_ts");
  const std::vector<std::string> pp = split(rows[1], ',');
  ASSERT_EQ(pp.size(), head.size());
  EXPECT_EQ(pp[5], "pp16");
  EXPECT_GT(std::stod(pp[8]), 0);
  const std::vector<std::string> tg = split(rows[2], ',');
  ASSERT_EQ(tg.size(), head.size());
  EXPECT_EQ(tg[5], "tg4");
  EXPECT_GT(std::stod(tg[8]), 0);
}

TEST(BenchCli, MarkdownIsATableWithMeanAndDeviation) {
  const Output o = run("-m " + kModel + " -p 16 -n 4 -t 1 -r 2");
  ASSERT_EQ(o.status, 0) << o.err;
  const std::vector<std::string> rows = lines(o.out);
  ASSERT_EQ(rows.size(), 4u);
  const std::vector<std::string> head = split(rows[0], '|');
  ASSERT_EQ(head.size(), 7u);  // leading empty cell, then six columns
  EXPECT_EQ(trim(head[1]), "model");
  EXPECT_EQ(trim(head[5]), "test");
  EXPECT_EQ(trim(head[6]), "t/s");
  EXPECT_NE(rows[1].find("---"), std::string::npos);
  for (size_t i = 2; i < rows.size(); ++i) {
    const std::vector<std::string> cells = split(rows[i], '|');
    ASSERT_EQ(cells.size(), 7u) << rows[i];
    EXPECT_EQ(trim(cells[1]), "stories260K.gguf");
    EXPECT_EQ(trim(cells[4]), "1");
    const std::string ts = trim(cells[6]);
    const size_t pm = ts.find(" ± ");
    ASSERT_NE(pm, std::string::npos) << ts;
    EXPECT_GT(std::stod(ts.substr(0, pm)), 0);
    EXPECT_GE(std::stod(ts.substr(pm + 4)), 0);
  }
  EXPECT_EQ(trim(split(rows[2], '|')[5]), "pp16");
  EXPECT_EQ(trim(split(rows[3], '|')[5]), "tg4");
}

TEST(BenchCli, BadArgumentsAreErrors) {
  const std::vector<std::string> bad = {
      "-m " + kModel + " -p 1x",         "-m " + kModel + " -p 16,,32", "-m " + kModel + " -n -4",
      "-m " + kModel + " -t -1",         "-m " + kModel + " -r 0",      "-m " + kModel + " -o xml",
      "-m /nonexistent/model.gguf -p 4", "-m " + kModel + ", -p 4",     "-p 16",
  };
  for (const std::string& args : bad) {
    const Output o = run(args + " -n 2 -r 1");
    EXPECT_NE(o.status, 0) << args;
    EXPECT_NE(o.status, 3) << args << ": internal error\n" << o.err;
    EXPECT_TRUE(o.out.empty()) << args;
    EXPECT_FALSE(o.err.empty()) << args;
  }
}

}  // namespace

// A vocabulary without BOS (GPT-2's byte-level BPE): tgN starts from a one-word prompt.
TEST(BenchCli, GenerationRunsOnAVocabularyWithoutBos) {
  const std::string model =
      ::testing::TempDir() + "/loom_bench_no_bos_" + std::to_string(getpid()) + ".gguf";
  const Output synth = loom::testing_support::run_command(
      kLoom + " synth --shape tiny --type f32 --tokenizer " + kShared +
      "/tokenizer-tests/ggml-vocab-gpt-2.gguf -o " + model);
  ASSERT_EQ(synth.status, 0) << synth.err;
  const Output o = run("-m " + model + " -p 4 -n 4 -r 1 -o json");
  std::remove(model.c_str());
  ASSERT_EQ(o.status, 0) << o.err;
  const nlohmann::json j = nlohmann::json::parse(o.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["test"], "tg4");
  EXPECT_GT(j[1]["avg_ts"].get<double>(), 0.0);
}

// --draft / --model-draft: each tg test gets a "tg<N> draft" row measured alternately
// with it, with the drafts proposed and kept; pp tests are not drafted.
TEST(BenchCli, DraftRowsFollowEachGenerationTest) {
  const Output o = run("-m " + kModel + " -p 8 -n 16 -t 1 -r 2 -o json --model-draft " + kShared +
                       "/models/stories260K-q8_0.gguf --draft-min 2");
  ASSERT_EQ(o.status, 0) << o.err;
  const nlohmann::json j = nlohmann::json::parse(o.out);
  ASSERT_EQ(j.size(), 3u) << j.dump();
  EXPECT_EQ(j[0]["test"], "pp8");
  EXPECT_EQ(j[1]["test"], "tg16");
  EXPECT_FALSE(j[1].contains("draft_tokens"));
  EXPECT_EQ(j[2]["test"], "tg16 draft");
  ASSERT_TRUE(j[2].contains("draft_tokens")) << j[2].dump();
  EXPECT_GT(j[2]["draft_tokens"].get<int64_t>(), 0);
  EXPECT_GT(j[2]["draft_accepted"].get<int64_t>(), 0);
  EXPECT_LE(j[2]["draft_accepted"].get<int64_t>(), j[2]["draft_tokens"].get<int64_t>());

  const Output md = run("-m " + kModel +
                        " -p 0 -n 16 -t 1 -r 1 --draft ngram --draft-min 2 --gen-prompt 'Tom had a "
                        "ball. Tom had a ball. Tom had a ball.'");
  ASSERT_EQ(md.status, 0) << md.err;
  EXPECT_NE(md.out.find("tg16 draft"), std::string::npos) << md.out;
  EXPECT_NE(md.out.find("drafts kept"), std::string::npos) << md.out;

  const Output both = run("-m " + kModel + " -p 0 -n 4 --draft ngram --model-draft " + kModelQ4);
  EXPECT_NE(both.status, 0);
  EXPECT_NE(both.err.find("not both"), std::string::npos) << both.err;
}
