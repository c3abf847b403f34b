// Parsing OpenAI request bodies into loom::Request: names, aliases, defaults, and errors
// naming the field. (The live server is tested by the node suites in this folder.)
#include "server/openai_request.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <ctime>

#include "server/api_error.h"
#include "server/metrics.h"

namespace loom::server {
namespace {

ParseLimits limits() {
  ParseLimits l;
  l.n_vocab = 512;
  return l;
}

std::string param_of(const std::string& body, bool chat = false) {
  try {
    parse_generation_request(body, chat, limits());
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 400);
    return e.param.empty() ? "(null)" : e.param;
  }
  return "(accepted)";
}

TEST(OpenAiRequest, MapsEveryControl) {
  const GenerationRequest g = parse_generation_request(
      R"({"prompt": "Hi", "max_tokens": 7, "temperature": 0.5, "top_p": 0.9, "top_k": 20,
          "min_p": 0.1, "typical_p": 0.8, "repeat_penalty": 1.1, "repeat_last_n": 32,
          "presence_penalty": 0.5, "frequency_penalty": -0.5, "logit_bias": {"13": -100},
          "seed": 5, "stop": "x", "n": 2, "best_of": 3, "logprobs": 2, "ignore_eos": true,
          "min_tokens": 3, "echo": true, "unknown": {"a": 1}})",
      false, limits());
  const Request& r = g.request;
  EXPECT_EQ(r.prompt, "Hi");
  EXPECT_EQ(r.max_tokens, 7);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
  EXPECT_EQ(r.sampling.top_k, 20);
  EXPECT_FLOAT_EQ(r.sampling.min_p, 0.1f);
  EXPECT_FLOAT_EQ(r.sampling.typical_p, 0.8f);
  EXPECT_FLOAT_EQ(r.sampling.repetition_penalty, 1.1f);
  EXPECT_EQ(r.sampling.repeat_last_n, 32);
  EXPECT_FLOAT_EQ(r.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(r.sampling.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(r.sampling.logit_bias.at(13), -100.0f);
  EXPECT_EQ(r.sampling.seed, 5u);
  EXPECT_EQ(r.stop, std::vector<std::string>{"x"});
  EXPECT_EQ(r.n, 2);
  EXPECT_EQ(r.best_of, 3);
  EXPECT_EQ(r.logprobs, 2);
  EXPECT_TRUE(r.ignore_eos);
  EXPECT_EQ(r.min_tokens, 3);
  EXPECT_TRUE(g.echo);
  EXPECT_TRUE(g.max_tokens_given);
}

TEST(OpenAiRequest, ChatDefaultsAreOpenAis) {
  const GenerationRequest g = parse_generation_request(
      R"({"messages": [{"role": "system", "content": "S"},
                       {"role": "user", "content": [{"type": "text", "text": "a"},
                                                    {"type": "text", "text": "b"}]}],
          "stream": true, "stream_options": {"include_usage": true},
          "logprobs": true, "top_logprobs": 4})",
      true, limits());
  ASSERT_EQ(g.messages.size(), 2u);
  EXPECT_EQ(g.messages[1].content, "ab");
  EXPECT_TRUE(g.stream);
  EXPECT_TRUE(g.include_usage);
  EXPECT_EQ(g.request.logprobs, 4);
  EXPECT_FLOAT_EQ(g.request.sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(g.request.sampling.top_p, 1.0f);
  EXPECT_EQ(g.request.sampling.top_k, 0);
  EXPECT_FALSE(g.max_tokens_given);
}

TEST(OpenAiRequest, ErrorsNameTheField) {
  EXPECT_EQ(param_of("{nope"), "(null)");
  EXPECT_EQ(param_of(R"({"prompt": "x", "temperature": "hot"})"), "temperature");
  EXPECT_EQ(param_of(R"({"prompt": "x", "n": 17})"), "n");
  EXPECT_EQ(param_of(R"({"prompt": "x", "max_completion_tokens": 0})"), "max_completion_tokens");
  EXPECT_EQ(param_of(R"({"prompt": "x", "logit_bias": {"512": 1}})"), "logit_bias");
  EXPECT_EQ(param_of(R"({"messages": [{"content": "x"}]})", true), "messages[0].role");
  EXPECT_EQ(
      param_of(R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})", true),
      "top_logprobs");
  EXPECT_EQ(param_of(R"({"prompt": "x", "temperature": null})"), "(accepted)");
}

TEST(Metrics, RendersPrometheusHistograms) {
  Metrics metrics;
  metrics.observe_time_to_first_token(0.03);
  metrics.observe_request_done(1.2, 10, 20, "stop");
  EngineStats stats;
  stats.kv_capacity_tokens = 100;
  stats.kv_used_tokens = 25;
  const std::string text = metrics.render(stats, MemoryStats{}, "m");
  EXPECT_NE(text.find("loom:time_to_first_token_seconds_bucket{le=\"0.04\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("loom:time_to_first_token_seconds_bucket{le=\"0.02\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("loom:time_to_first_token_seconds_count 1\n"), std::string::npos);
  EXPECT_NE(text.find("loom:kv_cache_usage_perc 0.25\n"), std::string::npos);
  EXPECT_NE(text.find("loom:request_success_total{finished_reason=\"stop\"} 1\n"),
            std::string::npos);
}

}  // namespace
}  // namespace loom::server

namespace loom::server {
namespace {

TEST(Metrics, ReportsMemory) {
  const MemoryStats memory = memory_stats(
      EngineStats{.kv_capacity_tokens = 100, .kv_bytes_per_token = 64, .kv_used_tokens = 10},
      nullptr);
  EXPECT_GT(memory.resident_bytes, 1 << 20);
  EXPECT_EQ(memory.kv_capacity_bytes, 6400);
  EXPECT_EQ(memory.kv_used_bytes, 640);
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_GT(memory.start_time_seconds, now - 3600);
  EXPECT_LE(memory.start_time_seconds, now + 1);
  const std::string text = Metrics().render(EngineStats{}, memory, "m");
  EXPECT_NE(text.find(fmt::format("\nprocess_resident_memory_bytes {}\n", memory.resident_bytes)),
            std::string::npos);
  EXPECT_NE(text.find("\nprocess_start_time_seconds 1"), std::string::npos);
  EXPECT_NE(text.find("\nloom:kv_cache_capacity_bytes 6400\n"), std::string::npos);
  EXPECT_NE(text.find("\nloom:kv_cache_used_bytes 640\n"), std::string::npos);
  EXPECT_NE(text.find("\nloom:model_weight_bytes 0\n"), std::string::npos);
}

TEST(OpenAiRequest, ResponseFormat) {
  GenerationRequest g = parse_generation_request(
      R"({"prompt": "Hi", "response_format": {"type": "json_object"}})", false, limits());
  EXPECT_TRUE(g.request.json_object);
  g = parse_generation_request(
      R"({"prompt": "Hi", "response_format": {"type": "json_schema", "json_schema":
          {"name": "p", "strict": true, "schema": {"type": "object"}}}})",
      false, limits());
  EXPECT_EQ(g.request.json_schema, R"({"type":"object"})");
  EXPECT_TRUE(g.request.json_schema_strict);
  g = parse_generation_request(R"({"prompt": "Hi", "response_format": {"type": "text"}})", false,
                               limits());
  EXPECT_FALSE(g.request.json_object);
  EXPECT_TRUE(g.request.json_schema.empty());
  EXPECT_EQ(param_of(R"({"prompt": "Hi", "response_format": {"type": "xml"}})"),
            "response_format.type");
  EXPECT_EQ(param_of(R"({"prompt": "Hi", "response_format": "json"})"), "response_format");
  EXPECT_EQ(param_of(R"({"prompt": "Hi", "response_format": {"type": "json_schema"}})"),
            "response_format.json_schema");
  EXPECT_EQ(param_of(R"({"prompt": "Hi", "response_format": {"type": "json_schema",
                         "json_schema": {"name": "x"}}})"),
            "response_format.json_schema.schema");
}

}  // namespace
}  // namespace loom::server
