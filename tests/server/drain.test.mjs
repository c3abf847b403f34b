// Graceful drain (SIGTERM: running requests finish, new ones get 503, exit 0; a drain
// timeout or a second signal cancels them) and the per-request `timeout` deadline.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { loomBin, modelPath, OpenAI, health, waitForHealth } from "./helpers.mjs";

// Its own start (not helpers' startServer): these tests send the signals and read the exit.
async function start(extraArgs = []) {
  const args = ["serve", "-m", modelPath, "--host", "127.0.0.1", "--port", "0",
    "--parallel", "4", "--ctx-size", "8192", ...extraArgs];
  const child = spawn(loomBin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, at: Date.now() })));
  const port = await new Promise((resolve, reject) => {
    child.stderr.on("data", (data) => {
      log += data;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) resolve(Number(m[1]));
    });
    exited.then(() => reject(new Error(`loom serve exited:\n${log}`)));
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForHealth(base, (h) => h.status === "ready");
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "none", maxRetries: 0, timeout: 60000 });
  const kill = setTimeout(() => child.kill("SIGKILL"), 100000);
  exited.then(() => clearTimeout(kill));
  return { child, base, client, exited, log: () => log };
}

const long = (max_tokens) => ({ model: "x", prompt: "Once upon a time", max_tokens, ignore_eos: true, temperature: 0 });

// Reads an SSE stream as raw text (to see [DONE] and error events as sent).
async function readStream(base, body) {
  const res = await fetch(`${base}/v1/completions`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, stream: true }),
  });
  assert.equal(res.status, 200);
  const text = await res.text();
  const events = text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
  const chunks = events.filter((e) => e !== "[DONE]").map((e) => JSON.parse(e));
  return { events, chunks, tokens: chunks.filter((c) => c.choices?.length && c.choices[0].text !== undefined && c.choices[0].finish_reason === null).length };
}

async function waitRunning(base, n) {
  const h = await waitForHealth(base, (b) => b.running >= n, 10000);
  assert.ok(h.running >= n, `expected ${n} running: ${JSON.stringify(h)}`);
}

test("SIGTERM drains: health 503 draining, new requests 503 + Retry-After, running ones finish, exit 0", async () => {
  const s = await start();
  const stream = readStream(s.base, long(3000));
  const whole = s.client.completions.create(long(3000)).then((r) => r, (e) => e);
  await waitRunning(s.base, 2);
  s.child.kill("SIGTERM");
  const h = await waitForHealth(s.base, (b) => b.status === "draining", 5000);
  assert.equal(h.status, "draining");
  assert.equal((await health(s.base)).status, 503);
  const refused = await fetch(`${s.base}/v1/chat/completions`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "x", messages: [{ role: "user", content: "hi" }] }),
  });
  assert.equal(refused.status, 503);
  assert.ok(Number(refused.headers.get("retry-after")) > 0);
  const err = (await refused.json()).error;
  assert.equal(err.code, "draining");
  assert.match(err.message, /shutting down/);
  // The openai client sees the refusal as an APIError with status 503.
  const viaClient = await s.client.completions.create(long(5)).then((r) => r, (e) => e);
  assert.equal(viaClient.status, 503);

  const streamed = await stream;
  assert.equal(streamed.events.at(-1), "[DONE]");
  const last = streamed.chunks.at(-1);
  assert.equal(last.choices[0].finish_reason, "length");
  assert.ok(!streamed.chunks.some((c) => c.error));
  const full = await whole;
  assert.ok(!(full instanceof Error), String(full));
  assert.equal(full.usage.completion_tokens, 3000);
  assert.equal(full.choices[0].finish_reason, "length");
  const exit = await s.exited;
  assert.equal(exit.code, 0, s.log());
  assert.match(s.log(), /draining/);
});

test("--drain-timeout 0.5 cancels what is still running and exits 0 soon", async () => {
  const s = await start(["--drain-timeout", "0.5"]);
  const stream = readStream(s.base, long(8000));
  const whole = fetch(`${s.base}/v1/completions`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(long(8000)),
  });
  await waitRunning(s.base, 2);
  const t0 = Date.now();
  s.child.kill("SIGTERM");
  const streamed = await stream;
  assert.equal(streamed.events.at(-1), "[DONE]");
  const error = streamed.chunks.at(-1).error;
  assert.equal(error?.code, "shutdown", JSON.stringify(streamed.chunks.at(-1)));
  const res = await whole;
  assert.equal(res.status, 503);
  assert.ok(res.headers.get("retry-after"));
  assert.equal((await res.json()).error.code, "shutdown");
  const exit = await s.exited;
  assert.equal(exit.code, 0, s.log());
  assert.ok(exit.at - t0 < 3000, `took ${exit.at - t0} ms to exit`);
  assert.ok(exit.at - t0 >= 400, `exited after ${exit.at - t0} ms, before the drain timeout`);
});

test("a second SIGTERM ends the drain at once", async () => {
  const s = await start();  // drain timeout 30 s
  const stream = readStream(s.base, long(8000));
  await waitRunning(s.base, 1);
  const t0 = Date.now();
  s.child.kill("SIGTERM");
  await waitForHealth(s.base, (b) => b.status === "draining", 5000);
  s.child.kill("SIGTERM");
  const streamed = await stream;
  assert.equal(streamed.events.at(-1), "[DONE]");
  assert.equal(streamed.chunks.at(-1).error?.code, "shutdown");
  const exit = await s.exited;
  assert.equal(exit.code, 0, s.log());
  assert.ok(exit.at - t0 < 3000, `took ${exit.at - t0} ms to exit`);
});

test("timeout ends a request early with finish_reason length and stop_reason timeout", async () => {
  const s = await start();
  try {
    const t0 = Date.now();
    const r = await s.client.completions.create({ ...long(8000), timeout: 0.2 });
    const ms = Date.now() - t0;
    assert.equal(r.choices[0].finish_reason, "length");
    assert.equal(r.choices[0].stop_reason, "timeout");
    assert.ok(r.usage.completion_tokens > 0 && r.usage.completion_tokens < 8000, String(r.usage.completion_tokens));
    assert.ok(ms < 2000, `took ${ms} ms`);

    const chat = await s.client.chat.completions.create({
      model: "x", messages: [{ role: "user", content: "Tell a story" }], max_tokens: 8000, ignore_eos: true, timeout: 0.2, n: 2,
    });
    for (const c of chat.choices) {
      assert.equal(c.finish_reason, "length");
      assert.equal(c.stop_reason, "timeout");
    }

    const streamed = await readStream(s.base, { ...long(8000), timeout: 0.2 });
    assert.equal(streamed.events.at(-1), "[DONE]");
    const end = streamed.chunks.filter((c) => c.choices?.[0]?.finish_reason).at(-1);
    assert.equal(end.choices[0].finish_reason, "length");
    assert.equal(end.choices[0].stop_reason, "timeout");

    // Finished in time: no stop_reason.
    const quick = await s.client.completions.create({ ...long(5), timeout: 30 });
    assert.equal(quick.choices[0].finish_reason, "length");
    assert.equal(quick.choices[0].stop_reason, undefined);

    const infill = await fetch(`${s.base}/infill`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ input_prefix: "a", input_suffix: "b", timeout: 0 }),
    });
    assert.equal(infill.status, 400);
    assert.equal((await infill.json()).error.param, "timeout");
    for (const timeout of [0, -1, "1", true]) {
      const res = await fetch(`${s.base}/v1/completions`, {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...long(5), timeout }),
      });
      assert.equal(res.status, 400, `timeout ${JSON.stringify(timeout)}`);
      const e = (await res.json()).error;
      assert.equal(e.param, "timeout");
      assert.match(e.message, /timeout/);
    }
  } finally {
    s.child.kill("SIGTERM");
    assert.equal((await s.exited).code, 0);
  }
});
