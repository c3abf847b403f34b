// Small helpers the public-API tests share: a greedy request, the message of the
// loom::Error a call throws, and the check that background packing changes no token.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "loom/loom.h"

namespace loom::testing_support {

// `max_tokens` greedy tokens after `prompt`, end of generation ignored.
inline Request greedy(std::string prompt, int64_t max_tokens) {
  Request r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  r.sampling.temperature = 0;
  return r;
}

// What f throws as loom::Error, or "" when it throws nothing.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The model at `path` has weights repacked on a thread of their own after load. Tokens
// generated while that runs, after it, and by a model whose packing finished first are
// the same (the file's rows and the packed copies give the same bits), and
// finish_loading() counts the copies.
inline void expect_background_packing_keeps_the_tokens(const std::string& path,
                                                       const EngineOptions& options) {
  const Request r = greedy("Once upon a time", 24);
  auto model = Model::load(path);
  Engine engine(model, options);
  const std::vector<int32_t> during = engine.generate(r).first().tokens;
  model->finish_loading();
  EXPECT_GT(model->info().repacked_bytes, 0);
  EXPECT_EQ(engine.generate(r).first().tokens, during);
  auto packed_first = Model::load(path);
  packed_first->finish_loading();
  Engine packed_engine(packed_first, options);
  EXPECT_EQ(packed_engine.generate(r).first().tokens, during);
}

}  // namespace loom::testing_support
