// The OpenAI API as the official openai client sees it: chat and completions, streaming
// and not, usage, stop strings, logprobs, n > 1, and greedy output equal to `loom run`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { startServer, collectChatStream, loomBin, modelPath } from "./helpers.mjs";

let server;
before(async () => {
  server = await startServer(["--parallel", "4", "--ctx-size", "512"]);
});
after(async () => {
  await server?.stop();
});

test("models lists the served model", async () => {
  const models = await server.client.models.list();
  assert.equal(models.data.length, 1);
  assert.equal(models.data[0].id, "stories260K.gguf");
});

test("greedy completion equals loom run --temp 0", async () => {
  const prompt = "Once upon a time";
  const expected = execFileSync(loomBin, ["run", "-m", modelPath, "-p", prompt, "-n", "40", "--temp", "0"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const res = await server.client.completions.create({ model: "x", prompt, max_tokens: 40, temperature: 0 });
  assert.equal(res.object, "text_completion");
  // loom run ends its output with a newline of its own.
  assert.equal(res.choices[0].text, expected.replace(/\n$/, ""));
  assert.equal(res.usage.completion_tokens, 40);
  assert.equal(res.usage.total_tokens, res.usage.prompt_tokens + 40);
  assert.equal(res.choices[0].finish_reason, "length");
});

test("chat completion, not streamed, carries usage and timings", async () => {
  const res = await server.client.chat.completions.create({
    model: "x",
    messages: [{ role: "system", content: "Tell a story." }, { role: "user", content: "Once upon a time" }],
    max_tokens: 16,
    temperature: 0,
  });
  assert.equal(res.object, "chat.completion");
  assert.equal(res.choices[0].message.role, "assistant");
  assert.ok(res.choices[0].message.content.length > 0);
  assert.equal(res.usage.completion_tokens, 16);
  assert.ok(res.usage.prompt_tokens > 10);
  assert.ok(res.timings.time_to_first_token_ms > 0);
});

test("chat stream: role first, finish reason last, usage chunk, same text as unstreamed", async () => {
  const body = { model: "x", messages: [{ role: "user", content: "Lily and Tom" }], max_tokens: 20, temperature: 0 };
  const whole = await server.client.chat.completions.create(body);
  const stream = await server.client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
  const got = await collectChatStream(stream);
  assert.equal(got.role, "assistant");
  assert.equal(got.finish, "length");
  assert.equal(got.text, whole.choices[0].message.content);
  // The same usage, but the streamed request, sent second, found the prompt's full blocks
  // in the prefix cache.
  const { prompt_tokens_details: streamedDetails, ...streamed } = got.usage;
  const { prompt_tokens_details: wholeDetails, ...unstreamed } = whole.usage;
  assert.deepEqual(streamed, unstreamed);
  assert.equal(streamedDetails.cached_tokens, Math.floor(whole.usage.prompt_tokens / 16) * 16);
});

test("a prompt that starts like an earlier one reuses its KV cache: same reply, cached_tokens", async () => {
  const story = "Once upon a time there was a little girl named Lily. She liked to play outside in the park " +
    "with her friends. One day she saw a big red ball under a tree and ran to get it.";
  const metric = async (name) => {
    const text = await (await fetch(`${server.base}/metrics`)).text();
    return Number(text.match(new RegExp(`^loom:${name} (\\S+)$`, "m"))[1]);
  };
  const hitsBefore = await metric("prefix_cache_hits_total");
  const body = { model: "x", prompt: story, max_tokens: 16, temperature: 0 };
  const first = await server.client.completions.create(body);
  const again = await server.client.completions.create(body);
  assert.equal(again.choices[0].text, first.choices[0].text);
  const n = first.usage.prompt_tokens;
  assert.ok(n > 32, `prompt of ${n} tokens`);
  // Every full 16-token block of the prompt, except that the last prompt position is
  // always computed for its logits.
  assert.equal(again.usage.prompt_tokens_details.cached_tokens, Math.min(Math.floor(n / 16) * 16, n - 1));
  assert.equal(await metric("prefix_cache_hits_total") - hitsBefore,
    first.usage.prompt_tokens_details.cached_tokens + again.usage.prompt_tokens_details.cached_tokens);
  assert.ok(await metric("prefix_cache_queries_total") >= 2 * n);
  // Sequences are done: the cached blocks are not "in use".
  assert.equal(await metric("kv_cache_used_tokens"), 0);
  assert.ok(await metric("kv_cache_cached_tokens") > 0);
});

test("completions stream equals the unstreamed text", async () => {
  const body = { model: "x", prompt: "The dog", max_tokens: 24, temperature: 0 };
  const whole = await server.client.completions.create(body);
  const stream = await server.client.completions.create({ ...body, stream: true });
  let text = "";
  let finish;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(text, whole.choices[0].text);
  assert.equal(finish, "length");
});

test("stop strings end the text before the stop string", async () => {
  const prompt = "Once upon a time";
  const free = await server.client.completions.create({ prompt, model: "x", max_tokens: 40, temperature: 0 });
  const text = free.choices[0].text;
  const stop = text.slice(10, 14);
  const res = await server.client.completions.create({ prompt, model: "x", max_tokens: 40, temperature: 0, stop: [stop] });
  assert.equal(res.choices[0].finish_reason, "stop");
  assert.equal(res.choices[0].text, text.slice(0, text.indexOf(stop)));
  const stream = await server.client.completions.create({ prompt, model: "x", max_tokens: 40, temperature: 0, stop, stream: true });
  let streamed = "";
  for await (const chunk of stream) for (const c of chunk.choices) streamed += c.text;
  assert.equal(streamed, res.choices[0].text);
});

test("logprobs: chat and completions forms", async () => {
  const chat = await server.client.chat.completions.create({
    model: "x", messages: [{ role: "user", content: "Hi" }], max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 3,
  });
  const content = chat.choices[0].logprobs.content;
  assert.equal(content.length, 5);
  for (const entry of content) {
    assert.ok(entry.logprob <= 0);
    assert.equal(entry.top_logprobs.length, 3);
    assert.ok(Array.isArray(entry.bytes));
    // Greedy: the chosen token is the most likely one.
    assert.ok(Math.abs(entry.top_logprobs[0].logprob - entry.logprob) < 1e-4);
    // loom's (and llama.cpp's) extra field: the token id, which logit_bias is keyed by.
    assert.ok(Number.isInteger(entry.id));
    assert.equal(entry.top_logprobs[0].id, entry.id);
  }
  const comp = await server.client.completions.create({ model: "x", prompt: "Hi", max_tokens: 4, temperature: 0, logprobs: 2 });
  const lp = comp.choices[0].logprobs;
  assert.equal(lp.tokens.length, 4);
  assert.equal(lp.token_logprobs.length, 4);
  assert.equal(Object.keys(lp.top_logprobs[0]).length <= 2, true);
  assert.equal(lp.tokens.join(""), comp.choices[0].text);
});

test("streamed logprobs travel with their text, also while a stop string holds it back", async () => {
  // " a" and the last " " are held back (they could start " and"): their logprobs must
  // wait with them, so no chunk has text without logprobs.
  const body = { model: "x", prompt: "Once upon a time", max_tokens: 17, stop: [" and"], logprobs: 1, seed: 13, temperature: 1 };
  const whole = await server.client.completions.create(body);
  const stream = await server.client.completions.create({ ...body, stream: true });
  let text = "";
  const tokens = [];
  const offsets = [];
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    text += c.text;
    if (c.finish_reason) continue;
    assert.notEqual(c.logprobs, null, `chunk ${JSON.stringify(c.text)} without logprobs`);
    assert.equal(c.logprobs.tokens.join(""), c.text);
    tokens.push(...c.logprobs.tokens);
    offsets.push(...c.logprobs.text_offset);
  }
  assert.equal(text, whole.choices[0].text);
  assert.deepEqual(tokens, whole.choices[0].logprobs.tokens);
  assert.deepEqual(offsets, whole.choices[0].logprobs.text_offset);
});

test("n > 1 returns n choices; a seed reproduces them", async () => {
  const body = { model: "x", prompt: "Once", max_tokens: 12, temperature: 1.0, n: 3, seed: 42 };
  const a = await server.client.completions.create(body);
  const b = await server.client.completions.create(body);
  assert.equal(a.choices.length, 3);
  assert.deepEqual(a.choices.map((c) => c.index).sort(), [0, 1, 2]);
  assert.deepEqual(a.choices.map((c) => c.text), b.choices.map((c) => c.text));
  assert.equal(a.usage.completion_tokens, 36);
  const chat = await server.client.chat.completions.create({
    model: "x", messages: [{ role: "user", content: "Hi" }], max_tokens: 6, n: 2, stream: true, seed: 1,
  });
  const seen = new Set();
  for await (const chunk of chat) for (const c of chunk.choices) seen.add(c.index);
  assert.deepEqual([...seen].sort(), [0, 1]);
});

test("tokenize and detokenize round-trip; metrics have vLLM-style names", async () => {
  const tok = await (await fetch(`${server.base}/tokenize`, { method: "POST", body: JSON.stringify({ content: "Once upon a time" }) })).json();
  assert.ok(tok.tokens.length > 2);
  const detok = await (await fetch(`${server.base}/detokenize`, { method: "POST", body: JSON.stringify({ tokens: tok.tokens }) })).json();
  assert.equal(detok.content.trim(), "Once upon a time");
  const metrics = await (await fetch(`${server.base}/metrics`)).text();
  for (const name of ["loom:time_to_first_token_seconds_bucket", "loom:inter_token_latency_seconds_bucket",
    "loom:e2e_request_latency_seconds_count", "loom:prompt_tokens_total", "loom:generation_tokens_total",
    "loom:num_requests_running", "loom:num_requests_waiting", "loom:kv_cache_usage_perc"]) {
    assert.ok(metrics.includes(name), `missing ${name}`);
  }
});

test("bytes that are not valid UTF-8 never abort a stream; they arrive as U+FFFD", async () => {
  // Token 229 is the byte <0xE2>, a UTF-8 lead byte: forced every step it never completes.
  const body = { model: "x", prompt: "Once", max_tokens: 6, temperature: 0, logit_bias: { 229: 100 } };
  const whole = await server.client.completions.create(body);
  assert.equal(whole.choices[0].finish_reason, "length");
  assert.ok(whole.choices[0].text.includes("\uFFFD"), JSON.stringify(whole.choices[0].text));
  const stream = await server.client.completions.create({ ...body, stream: true });
  let text = "";
  let finish;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(finish, "length");
  assert.equal(text, whole.choices[0].text);
});

// One metric's value from a /metrics page (NaN when it is missing).
function metricValue(page, name) {
  const m = new RegExp(`^${name.replace(/[:]/g, "\\$&")} (\\S+)$`, "m").exec(page);
  return m ? Number(m[1]) : NaN;
}

test("memory on /metrics and /health: process, weights, KV cache bytes that rise during a request", async () => {
  const page = await (await fetch(`${server.base}/metrics`)).text();
  for (const name of ["process_resident_memory_bytes", "process_start_time_seconds", "loom:model_weight_bytes",
    "loom:kv_cache_capacity_bytes"]) {
    const value = metricValue(page, name);
    assert.ok(Number.isFinite(value) && value > 0, `${name} = ${value}`);
  }
  const start = metricValue(page, "process_start_time_seconds");
  assert.ok(start <= Date.now() / 1000 + 1 && start > Date.now() / 1000 - 3600, `start ${start}`);
  assert.ok(metricValue(page, "process_resident_memory_bytes") > metricValue(page, "loom:model_weight_bytes"));
  const idle = metricValue(page, "loom:kv_cache_used_bytes");
  assert.ok(Number.isFinite(idle) && idle >= 0);
  const h = await (await fetch(`${server.base}/health`)).json();
  for (const key of ["resident_memory_bytes", "model_weight_bytes", "kv_cache_capacity_bytes", "start_time_seconds"]) {
    assert.ok(typeof h[key] === "number" && h[key] > 0, `${key} = ${h[key]}`);
  }
  assert.equal(typeof h.kv_cache_used_bytes, "number");
  assert.equal(h.kv_cache_capacity_bytes % h.kv_capacity_tokens, 0);

  // During a request its sequence holds KV cache positions, so the used bytes rise.
  const stream = await server.client.completions.create({
    model: "x", prompt: "Once upon a time", max_tokens: 480, ignore_eos: true, stream: true,
  });
  let chunks = 0;
  let busyMetric = NaN;
  let busyHealth;
  for await (const chunk of stream) {
    if (chunk.choices.length && ++chunks === 1) {
      busyMetric = metricValue(await (await fetch(`${server.base}/metrics`)).text(), "loom:kv_cache_used_bytes");
      busyHealth = await (await fetch(`${server.base}/health`)).json();
    }
  }
  assert.ok(busyMetric > idle, `KV used bytes ${busyMetric} during a request, ${idle} idle`);
  assert.ok(busyHealth.kv_cache_used_bytes > 0);
  assert.equal(busyHealth.kv_cache_used_bytes,
    busyHealth.kv_used_tokens * (busyHealth.kv_cache_capacity_bytes / busyHealth.kv_capacity_tokens));
});
