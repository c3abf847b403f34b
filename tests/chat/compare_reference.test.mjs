// Renders the real chat templates in data/ with loom's Jinja interpreter and with
// @huggingface/jinja (the reference renderer) on several conversations; the texts must be
// equal, and a template that raises in the reference must raise in loom too.
// Run: node --test compare_reference.test.mjs  (CHAT_RENDER_TOOL = path of chat_render_tool)
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, "../server/npm/package.json"));
const { Template } = require("@huggingface/jinja");
const tool = process.env.CHAT_RENDER_TOOL;
const dataDir = join(here, "data");
const work = mkdtempSync(join(tmpdir(), "loom-chat-"));

const conversations = {
  single: [{ role: "user", content: "Hello, how are you?" }],
  system: [
    { role: "system", content: "You are a friendly chatbot." },
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello! How can I help?" },
    { role: "user", content: "Tell me a joke." },
  ],
  spaces: [
    { role: "user", content: "  padded question \n" },
    { role: "assistant", content: "<think>hmm</think> answer " },
    { role: "user", content: "more: 'quotes' and \"double\"" },
  ],
  not_alternating: [
    { role: "user", content: "a" },
    { role: "user", content: "b" },
  ],
};

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

const templates = readdirSync(dataDir).filter((f) => f.endsWith(".jinja")).sort();

test("at least 8 template families are collected", () => {
  assert.ok(templates.length >= 8, `only ${templates.length} templates`);
});

for (const file of templates) {
  test(`${file} renders as @huggingface/jinja does`, () => {
    const source = readFileSync(join(dataDir, file), "utf8");
    const reference = new Template(source);
    for (const [name, messages] of Object.entries(conversations)) {
      for (const add_generation_prompt of [true, false]) {
        const context = {
          messages,
          add_generation_prompt,
          bos_token: "<s>",
          eos_token: "</s>",
          date_string: "26 Jul 2024",
        };
        let expected;
        try {
          expected = { text: reference.render(context) };
        } catch (e) {
          expected = { error: String(e.message) };
        }
        const got = loomRender(join(dataDir, file), context);
        const label = `${file} / ${name} / add_generation_prompt=${add_generation_prompt}`;
        if (expected.error !== undefined) {
          assert.ok(got.error !== undefined, `${label}: reference raised "${expected.error}", loom rendered`);
        } else {
          assert.equal(got.error, undefined, `${label}: loom failed: ${got.error}`);
          assert.equal(got.text, expected.text, label);
        }
      }
    }
  });
}
