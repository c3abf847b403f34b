// Every kind of bad request gets the right 4xx with an OpenAI-style error body naming the
// field, and the server keeps serving.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, health, waitForHealth, OpenAI } from "./helpers.mjs";

let server;
let keyed;
before(async () => {
  server = await startServer(["--parallel", "2", "--ctx-size", "128", "--queue", "1"]);
  keyed = await startServer(["--parallel", "1", "--ctx-size", "128"], { apiKey: "sekret" });
});
after(async () => {
  await server?.stop();
  await keyed?.stop();
});

async function post(path, body, headers = {}) {
  const res = await fetch(`${server.base}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

function assertError(res, status, param) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(typeof res.body.error.message, "string");
  assert.equal(typeof res.body.error.type, "string");
  assert.ok("code" in res.body.error);
  assert.equal(res.body.error.param, param, JSON.stringify(res.body));
}

const chat = { model: "x", messages: [{ role: "user", content: "Hi" }], max_tokens: 4 };
const completion = { model: "x", prompt: "Hi", max_tokens: 4 };

test("malformed JSON and non-object bodies", async () => {
  assertError(await post("/v1/chat/completions", "{\"messages\": [}"), 400, null);
  // A number no double holds: nlohmann's out_of_range, once a 500 (found by the soak test).
  assertError(await post("/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 1e400}"), 400, null);
  assertError(await post("/v1/completions", "[1, 2]"), 400, null);
  assertError(await post("/v1/completions", ""), 400, null);
});

const cases = [
  ["missing messages", "/v1/chat/completions", { model: "x" }, "messages"],
  ["messages not an array", "/v1/chat/completions", { messages: "hi" }, "messages"],
  ["empty messages", "/v1/chat/completions", { messages: [] }, "messages"],
  ["bad role", "/v1/chat/completions", { messages: [{ role: "wizard", content: "x" }] }, "messages[0].role"],
  ["content of wrong type", "/v1/chat/completions", { messages: [{ role: "user", content: 5 }] }, "messages[0].content"],
  ["image content", "/v1/chat/completions", { messages: [{ role: "user", content: [{ type: "image_url", image_url: {} }] }] }, "messages[0].content[0].type"],
  ["missing prompt", "/v1/completions", { model: "x" }, "prompt"],
  ["prompt of wrong type", "/v1/completions", { prompt: { a: 1 } }, "prompt"],
  ["token id out of vocabulary", "/v1/completions", { prompt: [1, 99999] }, "prompt"],
  ["temperature as a string", "/v1/completions", { ...completion, temperature: "hot" }, "temperature"],
  ["temperature out of range", "/v1/chat/completions", { ...chat, temperature: 3 }, "temperature"],
  ["top_p out of range", "/v1/completions", { ...completion, top_p: 1.5 }, "top_p"],
  ["top_k negative", "/v1/completions", { ...completion, top_k: -5 }, "top_k"],
  ["min_p out of range", "/v1/completions", { ...completion, min_p: 2 }, "min_p"],
  ["max_tokens zero", "/v1/completions", { ...completion, max_tokens: 0 }, "max_tokens"],
  ["max_tokens fractional", "/v1/completions", { ...completion, max_tokens: 2.5 }, "max_tokens"],
  ["max_completion_tokens negative", "/v1/chat/completions", { ...chat, max_tokens: undefined, max_completion_tokens: -1 }, "max_completion_tokens"],
  ["n beyond the limit", "/v1/completions", { ...completion, n: 100 }, "n"],
  ["n zero", "/v1/chat/completions", { ...chat, n: 0 }, "n"],
  ["best_of below n", "/v1/completions", { ...completion, n: 3, best_of: 2 }, "best_of"],
  ["presence_penalty out of range", "/v1/completions", { ...completion, presence_penalty: 5 }, "presence_penalty"],
  ["frequency_penalty as bool", "/v1/completions", { ...completion, frequency_penalty: true }, "frequency_penalty"],
  ["repetition_penalty zero", "/v1/completions", { ...completion, repetition_penalty: 0 }, "repetition_penalty"],
  ["logit_bias with a bad key", "/v1/completions", { ...completion, logit_bias: { abc: 1 } }, "logit_bias"],
  ["logit_bias out of range", "/v1/completions", { ...completion, logit_bias: { 5: 500 } }, "logit_bias"],
  ["logit_bias token beyond the vocabulary", "/v1/completions", { ...completion, logit_bias: { 100000: 1 } }, "logit_bias"],
  ["logprobs beyond 20", "/v1/completions", { ...completion, logprobs: 50 }, "logprobs"],
  ["top_logprobs without logprobs", "/v1/chat/completions", { ...chat, top_logprobs: 2 }, "top_logprobs"],
  ["chat logprobs not a boolean", "/v1/chat/completions", { ...chat, logprobs: 3 }, "logprobs"],
  ["stop of wrong type", "/v1/completions", { ...completion, stop: 7 }, "stop"],
  ["empty stop string", "/v1/completions", { ...completion, stop: [""] }, "stop"],
  ["seed as a string", "/v1/completions", { ...completion, seed: "x" }, "seed"],
  ["stream not a boolean", "/v1/completions", { ...completion, stream: "yes" }, "stream"],
  ["stream_options without stream", "/v1/chat/completions", { ...chat, stream_options: { include_usage: true } }, "stream_options"],
  ["ignore_eos not a boolean", "/v1/completions", { ...completion, ignore_eos: 1 }, "ignore_eos"],
  ["min_tokens above max_tokens", "/v1/completions", { ...completion, min_tokens: 10 }, "min_tokens"],
  ["streaming with best_of > n", "/v1/completions", { ...completion, best_of: 2, stream: true }, "best_of"],
  // Found at fault by the engine's validator, which names the field (no guessing from text).
  ["stop token id beyond the vocabulary", "/v1/completions", { ...completion, stop_token_ids: [100000] }, "stop_token_ids"],
  ["draft_max beyond the server's", "/v1/completions", { ...completion, draft_max: 1000 }, "draft_max"],
  ["an invalid grammar", "/v1/completions", { ...completion, grammar: "root ::= [a" }, "grammar"],
  ["prompt and max_tokens beyond the context", "/v1/chat/completions", { ...chat, max_tokens: 1000000 }, "max_tokens"],
];

for (const [name, path, body, param] of cases) {
  test(`400 for ${name}`, async () => {
    assertError(await post(path, body), 400, param);
  });
}

test("a prompt longer than the context", async () => {
  const long = "Once upon a time there was a little girl. ".repeat(40);
  const res = await post("/v1/completions", { prompt: long, max_tokens: 4 });
  assertError(res, 400, "prompt");
  assert.equal(res.body.error.code, "context_length_exceeded");
  const chatRes = await post("/v1/chat/completions", { messages: [{ role: "user", content: long }] });
  assertError(chatRes, 400, "messages");
  const tooMany = await post("/v1/completions", { prompt: "Hi", max_tokens: 500 });
  assertError(tooMany, 400, "max_tokens");
});

test("unknown fields are ignored", async () => {
  const res = await post("/v1/completions", { ...completion, frobnicate: { deep: [1] }, user: "me" });
  assert.equal(res.status, 200);
});

test("the openai client sees the error fields", async () => {
  await assert.rejects(server.client.completions.create({ ...completion, n: 100 }), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.param, "n");
    assert.equal(e.type, "invalid_request_error");
    return true;
  });
});

test("a wrong or missing API key gets 401; /health needs none", async () => {
  const wrong = new OpenAI({ baseURL: `${keyed.base}/v1`, apiKey: "wrong", maxRetries: 0 });
  await assert.rejects(wrong.completions.create(completion), (e) => {
    assert.equal(e.status, 401);
    assert.equal(e.code, "invalid_api_key");
    return true;
  });
  const none = await fetch(`${keyed.base}/v1/models`);
  assert.equal(none.status, 401);
  assert.equal((await health(keyed.base)).status, 200);
  const ok = await keyed.client.completions.create(completion);
  assert.equal(ok.usage.completion_tokens, 4);
});

test("a full queue gets 503 with Retry-After, never an unbounded queue", async () => {
  const long = { model: "x", prompt: "Once", max_tokens: 100, ignore_eos: true, stream: true };
  const streams = [];
  let refused;
  for (let i = 0; i < 8 && !refused; ++i) {
    const res = await fetch(`${server.base}/v1/completions`, { method: "POST", body: JSON.stringify(long) });
    if (res.status === 503) {
      refused = res;
    } else {
      streams.push(res);
    }
  }
  assert.ok(refused, "no request was refused");
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.equal((await refused.json()).error.code, "queue_full");
  for (const s of streams) await s.body.cancel();
  const idle = await waitForHealth(server.base, (h) => h.running === 0 && h.waiting === 0);
  assert.equal(idle.running, 0);
});

test("404 for an unknown route; the server still serves", async () => {
  const res = await fetch(`${server.base}/v1/nothing`);
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error.type, "not_found_error");
  assert.equal((await health(server.base)).body.status, "ready");
  const ok = await server.client.completions.create(completion);
  assert.equal(ok.usage.completion_tokens, 4);
});
