// 8 streams at once: every stream completes, and each greedy text equals the same request
// run alone (batching must not change results).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, collectChatStream, waitForHealth } from "./helpers.mjs";

let server;
before(async () => {
  server = await startServer(["--parallel", "8", "--ctx-size", "512"]);
});
after(async () => {
  await server?.stop();
});

const prompts = ["Once upon a time", "Lily wanted", "The big dog", "Tom and Sue went",
  "One day, a little bird", "The sun was", "Mom said", "There was a cat"];

function request(prompt, i) {
  return {
    model: "x",
    messages: [{ role: "user", content: prompt }],
    max_tokens: 48 + i * 4,
    temperature: 0,
    ignore_eos: true,
    stream: true,
    stream_options: { include_usage: true },
  };
}

test("8 concurrent streams equal the same requests run alone", async () => {
  const alone = [];
  for (let i = 0; i < prompts.length; ++i) {
    alone.push(await collectChatStream(await server.client.chat.completions.create(request(prompts[i], i))));
  }
  const together = await Promise.all(prompts.map(async (p, i) =>
    collectChatStream(await server.client.chat.completions.create(request(p, i)))));
  for (let i = 0; i < prompts.length; ++i) {
    assert.equal(together[i].finish, "length");
    assert.equal(together[i].usage.completion_tokens, 48 + i * 4);
    assert.equal(together[i].text, alone[i].text, `stream ${i} differs from the request alone`);
  }
  const idle = await waitForHealth(server.base, (h) => h.running === 0 && h.kv_used_tokens === 0);
  assert.equal(idle.kv_used_tokens, 0);
});
