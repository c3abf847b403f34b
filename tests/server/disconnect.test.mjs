// 20 streams cancelled mid-generation: their sequences are freed (KV usage back to zero)
// and the server stays healthy and keeps serving.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, waitForHealth, health } from "./helpers.mjs";

let server;
before(async () => {
  server = await startServer(["--parallel", "8", "--ctx-size", "1024"]);
});
after(async () => {
  await server?.stop();
});

test("20 streams aborted mid-generation free the KV cache", async () => {
  const aborted = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
    const stream = await server.client.completions.create({
      model: "x", prompt: `Once upon a time ${i}`, max_tokens: 900, ignore_eos: true, stream: true,
    });
    let chunks = 0;
    for await (const chunk of stream) {
      if (chunk.choices.length && ++chunks >= 5) {
        stream.controller.abort();
        break;
      }
    }
    return chunks;
  }));
  for (const chunks of aborted) assert.ok(chunks >= 5);
  const idle = await waitForHealth(server.base, (h) => h.running === 0 && h.waiting === 0 && h.kv_used_tokens === 0);
  assert.equal(idle.running, 0);
  assert.equal(idle.waiting, 0);
  assert.equal(idle.kv_used_tokens, 0);
  const h = await health(server.base);
  assert.equal(h.status, 200);
  assert.equal(h.body.status, "ready");
  const after = await server.client.completions.create({ model: "x", prompt: "Hi", max_tokens: 5 });
  assert.equal(after.usage.completion_tokens, 5);
  const metrics = await (await fetch(`${server.base}/metrics`)).text();
  assert.match(metrics, /loom:kv_cache_usage_perc 0\n/);
  assert.match(metrics, /loom:request_success_total\{finished_reason="abort"\} 20\n/);
});

test("a non-streamed request whose client went away is cancelled, not computed to the end", async () => {
  const body = JSON.stringify({ model: "x", prompt: "Once upon a time", max_tokens: 1000, ignore_eos: true, n: 8 });
  const post = (signal) => fetch(`${server.base}/v1/completions`, {
    method: "POST", headers: { "content-type": "application/json" }, body, signal,
  });
  // How long the whole request takes: the bar that "cancelled" must beat by far.
  let t0 = Date.now();
  const whole = await (await post()).json();
  const fullMs = Date.now() - t0;
  assert.equal(whole.usage.completion_tokens, 8 * 1000);
  const abortsBefore = /finished_reason="abort"\} (\d+)/.exec(await (await fetch(`${server.base}/metrics`)).text())[1];

  const controller = new AbortController();
  const pending = post(controller.signal).catch((e) => e);
  const busy = await waitForHealth(server.base, (h) => h.running > 0, 5000);
  assert.ok(busy.running > 0);
  await new Promise((r) => setTimeout(r, 300));
  controller.abort();
  assert.equal((await pending).name, "AbortError");
  t0 = Date.now();
  const idle = await waitForHealth(server.base, (h) => h.running === 0 && h.kv_used_tokens === 0, fullMs);
  const freedMs = Date.now() - t0;
  assert.equal(idle.running, 0);
  assert.equal(idle.kv_used_tokens, 0);
  assert.ok(freedMs < 1000 && freedMs * 3 < fullMs, `freed after ${freedMs} ms; the whole request takes ${fullMs} ms`);
  const metrics = await (await fetch(`${server.base}/metrics`)).text();
  assert.match(metrics, new RegExp(`finished_reason="abort"\\} ${Number(abortsBefore) + 1}\\n`));
});
