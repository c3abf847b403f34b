// /set and /show: the command-line flags' names, types and errors.
#include "cli/chat_settings.h"

#include <gtest/gtest.h>

#include "loom/error.h"

namespace loom::cli {
namespace {

std::string error_of(GenerationArgs& args, const std::string& name, const std::string& value) {
  try {
    set_generation_option(args, name, value);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string value_of(const GenerationArgs& args, const std::string& name) {
  for (const auto& [n, v] : generation_option_values(args)) {
    if (n == name) return v;
  }
  return "<missing>";
}

TEST(ChatSettings, SetsOptionsByTheirFlagNames) {
  GenerationArgs args;
  set_generation_option(args, "temp", "0.7");
  EXPECT_FLOAT_EQ(args.sampling.temperature, 0.7f);
  set_generation_option(args, "top-k", "20");
  EXPECT_EQ(args.sampling.top_k, 20);
  set_generation_option(args, "n", "256");  // the short name of -n
  EXPECT_EQ(args.n_predict, 256);
  set_generation_option(args, "seed", "42");
  EXPECT_EQ(args.seed, 42);
  set_generation_option(args, "ignore-eos", "on");
  EXPECT_TRUE(args.ignore_eos);
  set_generation_option(args, "ignore-eos", "off");
  EXPECT_FALSE(args.ignore_eos);
  set_generation_option(args, "stop", "User:");
  EXPECT_EQ(args.stop, std::vector<std::string>{"User:"});
  set_generation_option(args, "stop", "");
  EXPECT_TRUE(args.stop.empty());
  EXPECT_EQ(value_of(args, "temp"), "0.7");
  EXPECT_EQ(value_of(args, "n-predict"), "256");
}

TEST(ChatSettings, UnknownNamesAndBadValuesAreErrorsThatChangeNothing) {
  GenerationArgs args;
  std::string message = error_of(args, "temperature", "0.5");
  EXPECT_NE(message.find("unknown setting 'temperature'"), std::string::npos) << message;
  EXPECT_NE(message.find("temp"), std::string::npos) << message;
  message = error_of(args, "temp", "warm");
  EXPECT_NE(message.find("temp warm"), std::string::npos) << message;
  EXPECT_FLOAT_EQ(args.sampling.temperature, 0.8f);
  message = error_of(args, "top-k", "");
  EXPECT_FALSE(message.empty());
  message = error_of(args, "--temp", "1");
  EXPECT_NE(message.find("unknown setting"), std::string::npos) << message;
  EXPECT_EQ(args.sampling.top_k, 40);
}

}  // namespace
}  // namespace loom::cli
