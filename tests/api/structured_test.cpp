// Structured output through the engine: every completion that ends matches its grammar,
// JSON Schema or JSON mode, with sampling, n, and beam search; bad constraints are errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "loom/loom.h"

namespace loom {
namespace {

std::shared_ptr<Model> model() {
  static std::shared_ptr<Model> m =
      Model::load(std::string(LOOM_SHARED_DIR) + "/models/stories260K.gguf");
  return m;
}

Request sampled(int32_t n, uint64_t seed) {
  Request r;
  r.prompt = "Once upon a time";
  r.max_tokens = 200;
  r.n = n;
  r.sampling.temperature = 1.0f;
  r.sampling.seed = seed;
  return r;
}

TEST(Structured, GbnfChoiceWithSamplingAndBeams) {
  Engine engine(model(), {.threads = 2, .max_sequences = 4});
  Request r = sampled(4, 3);
  r.grammar = R"(root ::= ("yes" | "no") "!")";
  const Completion c = engine.generate(r);
  for (const Choice& choice : c.choices) {
    EXPECT_TRUE(choice.text == "yes!" || choice.text == "no!") << choice.text;
    EXPECT_EQ(choice.finish_reason, FinishReason::kStop);
  }
  Request b;
  b.prompt = "Once upon a time";
  b.max_tokens = 10;
  b.num_beams = 4;
  b.n = 2;
  b.grammar = r.grammar;
  const Completion beams = engine.generate(b);
  ASSERT_EQ(beams.choices.size(), 2u);
  for (const Choice& choice : beams.choices) {
    EXPECT_TRUE(choice.text == "yes!" || choice.text == "no!") << choice.text;
  }
  EXPECT_NE(beams.choices[0].text, beams.choices[1].text);
}

TEST(Structured, JsonSchemaHoldsForEveryFinishedSample) {
  Engine engine(model(), {.threads = 2, .max_sequences = 8});
  Request r = sampled(8, 11);
  r.json_schema = R"({"type": "object",
    "properties": {"name": {"type": "string", "maxLength": 12},
                   "age": {"type": "integer", "minimum": 0, "maximum": 120},
                   "pets": {"type": "array", "items": {"enum": ["cat", "dog"]}, "maxItems": 3}},
    "required": ["name", "age"], "additionalProperties": false})";
  int finished = 0;
  for (uint64_t seed : {11u, 12u}) {
    r.sampling.seed = seed;
    for (const Choice& choice : engine.generate(r).choices) {
      if (choice.finish_reason != FinishReason::kStop) continue;
      ++finished;
      const nlohmann::json j = nlohmann::json::parse(choice.text);
      ASSERT_TRUE(j.is_object()) << choice.text;
      ASSERT_TRUE(j.contains("name") && j["name"].is_string()) << choice.text;
      EXPECT_LE(j["name"].get<std::string>().size(), 12u);
      ASSERT_TRUE(j["age"].is_number_integer()) << choice.text;
      EXPECT_GE(j["age"].get<int64_t>(), 0);
      EXPECT_LE(j["age"].get<int64_t>(), 120);
      for (const auto& [key, value] : j.items()) {
        EXPECT_TRUE(key == "name" || key == "age" || key == "pets") << key;
      }
    }
  }
  EXPECT_GT(finished, 0);
}

TEST(Structured, JsonModeGivesObjects) {
  Engine engine(model(), {.threads = 2, .max_sequences = 4});
  Request r = sampled(4, 21);
  r.json_object = true;
  // This tiny story model writes endless strings: favour closing quotes and braces
  // wherever the grammar allows them, so the samples end within max_tokens.
  for (const char* closing : {"\"", "}"}) {
    r.sampling.logit_bias[model()->tokenize(closing, /*add_special=*/false).back()] = 6.0f;
  }
  int finished = 0;
  for (const Choice& choice : engine.generate(r).choices) {
    if (choice.finish_reason != FinishReason::kStop) continue;
    ++finished;
    EXPECT_TRUE(nlohmann::json::parse(choice.text).is_object()) << choice.text;
  }
  EXPECT_GT(finished, 0);
}

TEST(Structured, BadConstraintsAreErrorsNotIgnored) {
  Engine engine(model(), {.threads = 1});
  auto error_of = [&](auto mutate) {
    Request r = sampled(1, 1);
    mutate(r);
    try {
      engine.generate(r);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(error_of([](Request& r) { r.grammar = "root ::= ( \"a\""; }), "no error");
  EXPECT_NE(error_of([](Request& r) { r.grammar = "root ::= undefined-rule"; }), "no error");
  const std::string schema_error = error_of([](Request& r) {
    r.json_schema = R"({"type": "object", "properties": {"x": {"type": "string", "not": {}}}})";
  });
  EXPECT_NE(schema_error.find("not"), std::string::npos) << schema_error;
  EXPECT_NE(error_of([](Request& r) {
              r.grammar = "root ::= \"a\"";
              r.json_object = true;
            }).find("at most one"),
            std::string::npos);
}

}  // namespace
}  // namespace loom
