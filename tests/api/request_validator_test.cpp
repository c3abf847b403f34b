// The request validator names the field at fault for every kind of bad value, so the
// server's error body can point at the client's parameter.
#include "api/request_validator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "loom/error.h"

namespace loom {
namespace {

const RequestLimits kLimits{.n_vocab = 100, .draft_max = 4, .max_sequences = 4, .context = 256};

std::string field_of(const std::function<void(Request&)>& change) {
  Request r;
  change(r);
  try {
    validate_request(r, kLimits);
    compile_constraint(r);
    const std::vector<int32_t> prompt = {1, 2, 3};
    validate_prompt(r.prompt_tokens.empty() ? prompt : r.prompt_tokens, r, kLimits);
  } catch (const FieldError& e) {
    EXPECT_FALSE(std::string(e.what()).empty());
    return e.field();
  }
  return "";
}

TEST(RequestValidator, EveryBadValueNamesItsField) {
  EXPECT_EQ(field_of([](Request&) {}), "");
  EXPECT_EQ(field_of([](Request& r) { r.n = 0; }), "n");
  EXPECT_EQ(field_of([](Request& r) { r.n = 5; }), "n");  // more than max_sequences
  EXPECT_EQ(field_of([](Request& r) { r.n = 2, r.best_of = 1; }), "best_of");
  EXPECT_EQ(field_of([](Request& r) { r.best_of = 9; }), "best_of");
  EXPECT_EQ(field_of([](Request& r) { r.num_beams = -1; }), "num_beams");
  EXPECT_EQ(field_of([](Request& r) { r.num_beams = 8; }), "num_beams");
  EXPECT_EQ(field_of([](Request& r) { r.num_beams = 2, r.best_of = 2; }), "best_of");
  EXPECT_EQ(field_of([](Request& r) { r.logprobs = 21; }), "logprobs");
  EXPECT_EQ(field_of([](Request& r) { r.max_tokens = -1; }), "max_tokens");
  EXPECT_EQ(field_of([](Request& r) { r.min_tokens = 200; }), "min_tokens");
  EXPECT_EQ(field_of([](Request& r) { r.length_penalty = NAN; }), "length_penalty");
  EXPECT_EQ(field_of([](Request& r) { r.draft_max = 5; }), "draft_max");
  EXPECT_EQ(field_of([](Request& r) { r.timeout = 0; }), "timeout");
  EXPECT_EQ(field_of([](Request& r) { r.timeout = -1; }), "timeout");
  EXPECT_EQ(field_of([](Request& r) { r.timeout = INFINITY; }), "timeout");
  EXPECT_EQ(field_of([](Request& r) { r.timeout = 0.5; }), "");
  EXPECT_EQ(field_of([](Request& r) { r.stop_tokens = {100}; }), "stop_tokens");
  EXPECT_EQ(field_of([](Request& r) { r.sampling.temperature = -1; }), "temperature");
  EXPECT_EQ(field_of([](Request& r) { r.sampling.top_p = 0; }), "top_p");
  EXPECT_EQ(field_of([](Request& r) { r.sampling.top_k = -2; }), "top_k");
  EXPECT_EQ(field_of([](Request& r) { r.sampling.min_p = 2; }), "min_p");
  EXPECT_EQ(field_of([](Request& r) { r.sampling.repetition_penalty = 0; }), "repetition_penalty");
  EXPECT_EQ(field_of([](Request& r) { r.sampling.presence_penalty = 3; }), "presence_penalty");
  EXPECT_EQ(field_of([](Request& r) { r.sampling.frequency_penalty = -3; }), "frequency_penalty");
  EXPECT_EQ(field_of([](Request& r) { r.sampling.logit_bias = {{100, 1.0f}}; }), "logit_bias");
  EXPECT_EQ(field_of([](Request& r) { r.grammar = "root ::= [a"; }), "grammar");
  EXPECT_EQ(field_of([](Request& r) { r.json_schema = "{not json"; }), "json_schema");
  EXPECT_EQ(field_of([](Request& r) { r.grammar = "root ::= \"a\"", r.json_object = true; }),
            "grammar");
  EXPECT_EQ(field_of([](Request& r) { r.prompt_tokens = {1, 100}; }), "prompt");
  EXPECT_EQ(field_of([](Request& r) { r.max_tokens = 254; }), "prompt");  // 3 + 254 > 256
}

}  // namespace
}  // namespace loom
