// Tool calls as a grammar: each tool's JSON Schema compiled by the JSON-Schema converter,
// its rules prefixed per tool, wrapped in the family's call syntax. kRequired / kFunction
// constrain the reply from its first token; kAuto only from a trigger on, so free text
// stays free.
#include "api/tool_call_grammar.h"

#include <fmt/format.h>

#include "core/error.h"
#include "grammar/gbnf_rules.h"
#include "grammar/json_schema.h"
#include "grammar/lazy_grammar_processor.h"
#include "loom/chat.h"

namespace loom {
namespace {

// Whitespace between the syntax's parts: bounded, so a call always ends.
constexpr const char* kSpace = R"(tc-sp ::= [ \t\n]{0,4})";

std::string quoted(const std::string& text) {
  // Tool names are [a-zA-Z0-9_-]{1,64} (checked by the caller), so this literal needs no
  // escapes beyond the quotes around it.
  return "\"\\\"" + text + "\\\"\"";
}

// One call object {"name": NAME, "<key>": ARGS} per tool; `with_id`: Mistral's optional id.
std::string call_rules(const ToolCalling& calling, const char* key, bool with_id,
                       std::string& rules) {
  std::string alternatives;
  for (size_t i = 0; i < calling.tools.size(); ++i) {
    const ToolDefinition& tool = calling.tools[i];
    if (calling.choice == ToolChoice::kFunction && tool.name != calling.function) continue;
    for (char c : tool.name) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-';
      if (!ok) fail("tool '{}': a function name may hold only a-z, A-Z, 0-9, _ and -", tool.name);
    }
    const std::string schema = tool.parameters.empty() ? R"({"type": "object"})" : tool.parameters;
    std::string gbnf;
    try {
      gbnf = grammar::json_schema_to_gbnf(schema, {.strict = tool.strict});
    } catch (const Error& e) {
      fail("tool '{}': {}", tool.name, e.what());
    }
    const std::string prefix = fmt::format("t{}-", i);
    rules += grammar::prefix_gbnf_rules(gbnf, prefix);
    const std::string id =
        with_id ? R"( (tc-sp "," tc-sp "\"id\"" tc-sp ":" tc-sp "\"" [a-zA-Z0-9]{9} "\"")?)" : "";
    rules += fmt::format(
        "tc-call-{} ::= \"{{\" tc-sp \"\\\"name\\\"\" tc-sp \":\" tc-sp {} tc-sp \",\" tc-sp "
        "\"\\\"{}\\\"\" tc-sp \":\" tc-sp {}root{} tc-sp \"}}\"\n",
        i, quoted(tool.name), key, prefix, id);
    alternatives += (alternatives.empty() ? "" : " | ") + fmt::format("tc-call-{}", i);
  }
  if (alternatives.empty())
    fail("tool_choice names function '{}', which is not among the tools", calling.function);
  rules += "tc-call ::= " + alternatives + "\n";
  return "tc-call";
}

// `item` once, or (parallel) one or more times separated by `separator`.
std::string repeated(const ToolCalling& calling, const std::string& item,
                     const std::string& separator) {
  if (!calling.parallel) return item;
  return item + " (" + separator + " " + item + ")*";
}

}  // namespace

void constrain_tool_calls(const ToolCalling& calling, Request& request) {
  if (calling.choice == ToolChoice::kNone || calling.tools.empty()) return;
  if (!request.grammar.empty() || !request.json_schema.empty() || request.json_object) {
    fail("tool calls cannot be combined with grammar or response_format (use tool_choice none)");
  }
  std::string rules = std::string(kSpace) + "\n";
  std::string root;
  std::vector<GrammarTrigger> triggers;
  switch (calling.format) {
    case ToolCallFormat::kHermes: {
      const std::string call = call_rules(calling, "arguments", false, rules);
      rules += "tc-one ::= \"<tool_call>\" tc-sp " + call + " tc-sp \"</tool_call>\"\n";
      root = repeated(calling, "tc-one", "tc-sp");
      triggers = {{"<tool_call>", false}};
      break;
    }
    case ToolCallFormat::kLlama3: {
      // Llama 3.x calls one function per reply (its templates refuse more).
      const std::string call = call_rules(calling, "parameters", false, rules);
      root = "\"<|python_tag|>\"? tc-sp " + call;
      triggers = {{"<|python_tag|>", true}, {"{\"name\"", true}, {"{ \"name\"", true}};
      break;
    }
    case ToolCallFormat::kMistral: {
      const std::string call = call_rules(calling, "arguments", true, rules);
      root = "\"[TOOL_CALLS]\"? tc-sp \"[\" tc-sp " + repeated(calling, call, "tc-sp \",\" tc-sp") +
             " tc-sp \"]\"";
      triggers = {{"[TOOL_CALLS]", false}};
      break;
    }
    case ToolCallFormat::kGeneric: {
      const std::string call = call_rules(calling, "arguments", false, rules);
      root = "\"{\" tc-sp \"\\\"tool_calls\\\"\" tc-sp \":\" tc-sp \"[\" tc-sp " +
             repeated(calling, call, "tc-sp \",\" tc-sp") + " tc-sp \"]\" tc-sp \"}\"";
      triggers = {{"{\"tool_calls\"", true}, {"{ \"tool_calls\"", true}};
      break;
    }
  }
  request.grammar = "root ::= " + root + "\n" + rules;
  if (calling.choice == ToolChoice::kAuto) request.grammar_triggers = std::move(triggers);
}

std::unique_ptr<LogitsProcessor> make_grammar_constraint(
    std::shared_ptr<const grammar::CompiledGrammar> grammar, const Tokenizer& tokenizer,
    const Request& request) {
  if (request.grammar_triggers.empty()) {
    return grammar::make_grammar_processor(std::move(grammar), tokenizer);
  }
  std::vector<grammar::GrammarTrigger> triggers;
  for (const GrammarTrigger& t : request.grammar_triggers) triggers.push_back({t.text, t.at_start});
  return grammar::make_lazy_grammar_processor(std::move(grammar), tokenizer, std::move(triggers));
}

}  // namespace loom
