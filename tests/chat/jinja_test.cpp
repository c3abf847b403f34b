// loom's Jinja interpreter: expressions, statements, whitespace control, errors naming
// unsupported constructs, the built-in templates, and apply_chat_template on a real model.
// (Equality with the reference renderer on real templates: compare_reference.test.mjs.)
#include "chat/jinja.h"

#include <gtest/gtest.h>

#include <string>

#include "chat/builtin_templates.h"
#include "chat/chat_template.h"
#include "loom/chat.h"
#include "loom/error.h"

namespace loom::chat {
namespace {

std::string render(const std::string& source, Value context = Value::dict()) {
  return render_jinja(source, context);
}

std::string error_of(const std::string& source) {
  try {
    render(source);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Jinja, ExpressionsAndFilters) {
  EXPECT_EQ(render("{{ 1 + 2 * 3 }}|{{ 7 // 2 }}|{{ 7 % 3 }}|{{ 'a' ~ 1 }}"), "7|3|1|a1");
  EXPECT_EQ(render("{{ ' x '|trim }}|{{ 'ab'|upper }}|{{ [1,2,3]|length }}|{{ [3,1]|first }}"),
            "x|AB|3|3");
  EXPECT_EQ(render("{{ 'a,b'.split(',')[-1] }}|{{ 'hello'[1:3] }}|{{ [1,2,3][::-1] }}"),
            "b|el|[3, 2, 1]");
  EXPECT_EQ(render("{{ x is defined }}|{{ none is none }}|{{ 'b' in 'abc' }}|{{ 2 not in [1] }}"),
            "False|True|True|True");
  EXPECT_EQ(render("{{ 'y' if true else 'n' }}{{ 'y' if false else 'n' }}"), "yn");
  EXPECT_EQ(render("{{ {'a': 1, 'b': [true, none]}|tojson }}"), "{\"a\": 1, \"b\": [true, null]}");
  EXPECT_EQ(render("{{ x|default('d') }}"), "d");
}

TEST(Jinja, StatementsAndScopes) {
  EXPECT_EQ(render("{% for x in [1,2,3] %}{{ loop.index }}{% if not loop.last %},{% endif %}"
                   "{% endfor %}"),
            "1,2,3");
  // `set` inside a loop does not leak; namespace attributes do.
  EXPECT_EQ(render("{% set n = 0 %}{% set ns = namespace(n=0) %}{% for x in [1,2] %}"
                   "{% set n = n + x %}{% set ns.n = ns.n + x %}{% endfor %}{{ n }}/{{ ns.n }}"),
            "0/3");
  EXPECT_EQ(render("{% macro hi(name, p='!') %}hi {{ name }}{{ p }}{% endmacro %}{{ hi('a') }}"),
            "hi a!");
  EXPECT_EQ(render("{% for x in [1,2,3] if x > 1 %}{{ x }}{% else %}none{% endfor %}"), "23");
  EXPECT_EQ(render("{% set t %}in{{ 1 }}{% endset %}[{{ t }}]"), "[in1]");
}

TEST(Jinja, WhitespaceControlAsTransformers) {
  // trim_blocks and lstrip_blocks on; "-" strips all whitespace on its side.
  EXPECT_EQ(render("{% if true %}\n  a\n  {% endif %}\nb"), "  a\nb");
  EXPECT_EQ(render("x  {{- 'y' -}}  z"), "xyz");
}

TEST(Jinja, ErrorsNameTheConstruct) {
  EXPECT_NE(
      error_of("{% filter upper %}x{% endfilter %}").find("unsupported statement '{% filter %}'"),
      std::string::npos);
  EXPECT_NE(error_of("{{ 'x'|frobnicate }}").find("unsupported filter 'frobnicate'"),
            std::string::npos);
  EXPECT_NE(error_of("{{ 'x'.frob() }}").find("unsupported method 'frob'"), std::string::npos);
  EXPECT_NE(error_of("{% if true %}x").find("endif"), std::string::npos);
  EXPECT_NE(error_of("{{ raise_exception('roles must alternate') }}").find("roles must alternate"),
            std::string::npos);
  // Found by fuzzing: numbers out of range escaped as std::out_of_range.
  EXPECT_NE(error_of("{{ 123456789012345678901234567890 }}").find("out of range"),
            std::string::npos);
  EXPECT_NE(error_of("{{ " + std::string(400, '9') + ".5 }}").find("out of range"),
            std::string::npos);
}

// Where @huggingface/jinja and Jinja2 disagree, loom follows Jinja2 (what transformers
// renders chat templates with); compare_reference.test.mjs lists these differences.
TEST(Jinja, FollowsJinja2WhereTheJsReferenceDiffers) {
  // strip/lstrip/rstrip take the characters to strip (the JS reference strips whitespace).
  EXPECT_EQ(render("[{{ ' \nx\n '.lstrip('\n') }}|{{ '\n\nx \n'.rstrip('\n') }}|"
                   "{{ 'xxaxx'.strip('x') }}]"),
            "[ \nx\n |\n\nx |a]");
  // trim converts a list to its Python text first (the JS reference raises).
  EXPECT_EQ(render("{{ [{'type': 'text'}, 1, none, true] | trim }}"),
            "[{'type': 'text'}, 1, None, True]");
  // A string plus a list is an error (the JS reference renders it).
  EXPECT_NE(error_of("{{ 'a' + [1] }}").find("'+' between a string and a list"), std::string::npos);
  // tojson keeps the keys' insertion order.
  EXPECT_EQ(render("{{ {'b': 1, 'a': [1.5, 'q']} | tojson(indent=2) }}"),
            "{\n  \"b\": 1,\n  \"a\": [\n    1.5,\n    \"q\"\n  ]\n}");
}

TEST(Jinja, BuiltinTemplates) {
  TemplateInputs inputs;
  inputs.messages = {{"system", "Be brief."}, {"user", "Hi"}};
  auto render_builtin = [&](const char* name) {
    return render_chat_template(*builtin_template_source(name), inputs);
  };
  EXPECT_EQ(render_builtin("chatml"),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(render_builtin("llama-2"), "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]");
  EXPECT_EQ(render_builtin("llama-3"),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render_builtin("mistral"), "<s>[INST] Be brief.\n\nHi [/INST]");
  EXPECT_EQ(render_builtin("gemma"),
            "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(render_builtin("phi-3"),
            "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n");
  EXPECT_EQ(render_builtin("zephyr"),
            "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\n");
}

TEST(ChatApi, FallsBackToChatmlForAModelWithoutTemplate) {
  auto model = Model::load(std::string(LOOM_SHARED_DIR) + "/models/stories260K.gguf");
  EXPECT_EQ(chat_template_source(*model), "");
  EXPECT_EQ(apply_chat_template(*model, {{"user", "Hi"}}, true),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(apply_chat_template(*model, {{"user", "Hi"}}, false, "llama-2"),
            "<s>[INST] Hi [/INST]");
  EXPECT_THROW(apply_chat_template(*model, {{"user", "Hi"}}, true, "nonesuch"), Error);
}

}  // namespace
}  // namespace loom::chat
