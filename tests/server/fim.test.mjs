// Fill-in-the-middle: /infill (llama.cpp's fields) and /v1/completions with OpenAI's
// `suffix`, on a random-weight model with StarCoder's vocabulary (<fim_prefix> = 1,
// <fim_middle> = 2, <fim_suffix> = 3). Greedy output of the FIM request must equal that
// of a plain completion whose prompt is the token layout llama.cpp builds:
// <fim_prefix> prefix [prompt] <fim_suffix> suffix <fim_middle>. A model without FIM
// tokens gets a 400.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer, loomBin, sharedDir, OpenAI } from "./helpers.mjs";

const PRE = 1;
const MID = 2;
const SUF = 3;

let dir;
let fim; // a server whose model has FIM tokens
let plain; // stories260K: none
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "loom-fim-"));
  const model = join(dir, "starcoder-vocab.gguf");
  execFileSync(loomBin, ["synth", "--shape", "tiny", "--type", "f32", "--tokenizer",
    join(sharedDir, "tokenizer-tests/ggml-vocab-starcoder.gguf"), "-o", model], { stdio: "ignore" });
  fim = await startServer(["--parallel", "2", "--ctx-size", "256"], { model });
  plain = await startServer(["--parallel", "1", "--ctx-size", "128"]);
});
after(async () => {
  await fim?.stop();
  await plain?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function post(server, path, body) {
  const res = await fetch(`${server.base}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function tokens(text) {
  const res = await post(fim, "/tokenize", { content: text, add_special: false, parse_special: false });
  assert.equal(res.status, 200);
  return res.body.tokens;
}

const prefix = "def add(a, b):\n    ";
const suffix = "\n\nprint(add(1, 2))\n";
const greedy = { max_tokens: 12, temperature: 0 };

async function completeTokens(prompt) {
  const res = await fim.client.completions.create({ model: "x", prompt, ...greedy });
  return res;
}

test("/infill is the completion of <PRE> prefix <SUF> suffix <MID>", async () => {
  const expected = await completeTokens([PRE, ...(await tokens(prefix)), SUF, ...(await tokens(suffix)), MID]);
  const res = await post(fim, "/infill", { input_prefix: prefix, input_suffix: suffix, ...greedy });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.object, "text_completion");
  assert.equal(res.body.choices[0].text, expected.choices[0].text);
  assert.equal(res.body.content, expected.choices[0].text); // llama.cpp clients read this
  assert.equal(res.body.usage.prompt_tokens, expected.usage.prompt_tokens);
});

test("/v1/completions with suffix (openai client) is the same fill-in-the-middle", async () => {
  const infill = await post(fim, "/infill", { input_prefix: prefix, input_suffix: suffix, ...greedy });
  const res = await fim.client.completions.create({ model: "x", prompt: prefix, suffix, ...greedy });
  assert.equal(res.choices[0].text, infill.body.choices[0].text);
  assert.equal(res.usage.prompt_tokens, infill.body.usage.prompt_tokens);
  // Without the suffix it is a different prompt (prefix only).
  const bare = await fim.client.completions.create({ model: "x", prompt: prefix, ...greedy });
  assert.equal(bare.usage.prompt_tokens, (await tokens(prefix)).length);
});

test("/infill prompt goes right after the prefix", async () => {
  const middle = "return";
  const expected = await completeTokens([
    PRE, ...(await tokens(prefix)), ...(await tokens(middle)), SUF, ...(await tokens(suffix)), MID,
  ]);
  const res = await post(fim, "/infill", { input_prefix: prefix, input_suffix: suffix, prompt: middle, ...greedy });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.content, expected.choices[0].text);
  assert.equal(res.body.usage.prompt_tokens, expected.usage.prompt_tokens);
});

test("/infill input_extra: snippets before the prefix (no repo tokens in this vocabulary)", async () => {
  const extra = "X = 1\n";
  const expected = await completeTokens([
    ...(await tokens("\n\n--- snippet ---\n\n")), ...(await tokens(extra)),
    PRE, ...(await tokens(prefix)), SUF, ...(await tokens(suffix)), MID,
  ]);
  const res = await post(fim, "/infill", {
    input_prefix: prefix, input_suffix: suffix, input_extra: [{ filename: "x.py", text: extra }], ...greedy,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.content, expected.choices[0].text);
});

test("/infill streams text_completion chunks with content", async () => {
  const whole = await post(fim, "/infill", { input_prefix: prefix, input_suffix: suffix, ...greedy });
  const res = await fetch(`${fim.base}/infill`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ input_prefix: prefix, input_suffix: suffix, stream: true, ...greedy }),
  });
  assert.equal(res.status, 200);
  let text = "";
  let content = "";
  for (const line of (await res.text()).split("\n")) {
    if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
    const chunk = JSON.parse(line.slice(6));
    text += chunk.choices[0]?.text ?? "";
    content += chunk.content ?? "";
  }
  assert.equal(text, whole.body.content);
  assert.equal(content, whole.body.content);
});

function assertError(res, param, pattern) {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.error.param, param, JSON.stringify(res.body));
  if (pattern) assert.match(res.body.error.message, pattern);
}

test("a model without FIM tokens: 400 on /infill and on suffix", async () => {
  assertError(await post(plain, "/infill", { input_prefix: "a", input_suffix: "b" }), "input_prefix",
    /no fill-in-the-middle tokens/);
  await assert.rejects(plain.client.completions.create({ model: "x", prompt: "a", suffix: "b", max_tokens: 4 }), (e) => {
    assert.ok(e instanceof OpenAI.APIError, String(e));
    assert.equal(e.status, 400);
    assert.equal(e.param, "suffix");
    assert.match(e.message, /no fill-in-the-middle tokens/);
    return true;
  });
});

test("bad /infill and suffix requests name the field", async () => {
  assertError(await post(fim, "/infill", { input_suffix: "b" }), "input_prefix", /required/);
  assertError(await post(fim, "/infill", { input_prefix: "a" }), "input_suffix", /required/);
  assertError(await post(fim, "/infill", { input_prefix: 1, input_suffix: "b" }), "input_prefix");
  assertError(await post(fim, "/infill", { input_prefix: "a", input_suffix: "b", prompt: [1] }), "prompt");
  assertError(await post(fim, "/infill", { input_prefix: "a", input_suffix: "b", input_extra: "x" }), "input_extra");
  assertError(await post(fim, "/infill", { input_prefix: "a", input_suffix: "b", input_extra: [{ text: 1 }] }),
    "input_extra[0].text");
  assertError(await post(fim, "/infill", { input_prefix: "a", input_suffix: "b", input_extra: [{ text: "t", filename: 2 }] }),
    "input_extra[0].filename");
  assertError(await post(fim, "/infill", { input_prefix: "a", input_suffix: "b", temperature: 9 }), "temperature");
  assertError(await post(fim, "/v1/completions", { prompt: [5, 6], suffix: "b" }), "suffix");
  assertError(await post(fim, "/v1/completions", { prompt: "a", suffix: 3 }), "suffix");
});
