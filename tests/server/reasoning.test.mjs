// Reasoning output on /v1/chat/completions: <think>…</think> goes to reasoning_content,
// the rest to content, streamed or not; reasoning_format "none" (per request or the
// server's --reasoning-format) keeps the raw text. A grammar makes the tiny model write
// the tags, and its 512-token vocabulary spells them in several tokens, so the streamed
// split is tested with tags cut across tokens.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, OpenAI } from "./helpers.mjs";

let server;
let rawServer;
before(async () => {
  server = await startServer(["--parallel", "2", "--ctx-size", "256"]);
  rawServer = await startServer(["--parallel", "1", "--ctx-size", "256", "--reasoning-format", "none"]);
});
after(async () => {
  await server?.stop();
  await rawServer?.stop();
});

const body = {
  model: "x",
  messages: [{ role: "user", content: "Think, then answer." }],
  max_tokens: 80,
  temperature: 0,
  grammar: 'root ::= "<think>" [a-z]{3,12} "</think>" [a-z]{3,12}',
};

async function collect(stream) {
  const out = { reasoning: "", content: "", chunks: [] };
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      out.chunks.push(choice.delta);
      if (choice.delta.reasoning_content) out.reasoning += choice.delta.reasoning_content;
      if (choice.delta.content) out.content += choice.delta.content;
    }
  }
  return out;
}

test("the thinking goes to reasoning_content, the answer to content", async () => {
  const raw = await server.client.chat.completions.create({ ...body, reasoning_format: "none" });
  const m = /^<think>([a-z]+)<\/think>([a-z]+)$/.exec(raw.choices[0].message.content);
  assert.ok(m, raw.choices[0].message.content);
  assert.equal(raw.choices[0].message.reasoning_content, undefined);

  const split = await server.client.chat.completions.create(body);
  assert.equal(split.choices[0].message.reasoning_content, m[1]);
  assert.equal(split.choices[0].message.content, m[2]);
  // "auto" and "deepseek" are the default's names.
  for (const format of ["auto", "deepseek"]) {
    const again = await server.client.chat.completions.create({ ...body, reasoning_format: format });
    assert.deepEqual(again.choices[0].message, split.choices[0].message);
  }
});

test("streamed: the same split, and no chunk shows a piece of a tag", async () => {
  const whole = await server.client.chat.completions.create(body);
  const got = await collect(await server.client.chat.completions.create({ ...body, stream: true }));
  assert.equal(got.reasoning, whole.choices[0].message.reasoning_content);
  assert.equal(got.content, whole.choices[0].message.content);
  for (const delta of got.chunks) {
    for (const text of [delta.content ?? "", delta.reasoning_content ?? ""]) {
      assert.ok(!/[<>/]/.test(text), `a tag leaked into ${JSON.stringify(delta)}`);
    }
  }
  // Reasoning comes first: no reasoning after the first content.
  const firstContent = got.chunks.findIndex((d) => d.content);
  assert.ok(firstContent > 0);
  assert.ok(got.chunks.slice(firstContent).every((d) => !d.reasoning_content));
});

test("streamed with reasoning_format none: the raw text as content", async () => {
  const got = await collect(
    await server.client.chat.completions.create({ ...body, stream: true, reasoning_format: "none" }),
  );
  assert.equal(got.reasoning, "");
  assert.match(got.content, /^<think>[a-z]+<\/think>[a-z]+$/);
});

test("a prompt that opens the block: the reply up to </think> is reasoning", async () => {
  // A template ending in "<think>\n", as DeepSeek-R1 distills' do: only "</think>" is left
  // for the reply to write.
  const template =
    "{% for m in messages %}{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<think>\n{% endif %}";
  const req = { ...body, chat_template: template, grammar: 'root ::= [a-z]{3,12} "</think>" [a-z]{3,12}' };
  const raw = await server.client.chat.completions.create({ ...req, reasoning_format: "none" });
  const m = /^([a-z]+)<\/think>([a-z]+)$/.exec(raw.choices[0].message.content);
  assert.ok(m, raw.choices[0].message.content);
  const split = await server.client.chat.completions.create(req);
  assert.equal(split.choices[0].message.reasoning_content, m[1]);
  assert.equal(split.choices[0].message.content, m[2]);
  const streamed = await collect(await server.client.chat.completions.create({ ...req, stream: true }));
  assert.equal(streamed.reasoning, m[1]);
  assert.equal(streamed.content, m[2]);
});

test("--reasoning-format none is the server's default; a request may turn the split on", async () => {
  const raw = await rawServer.client.chat.completions.create(body);
  assert.match(raw.choices[0].message.content, /^<think>[a-z]+<\/think>[a-z]+$/);
  const split = await rawServer.client.chat.completions.create({ ...body, reasoning_format: "deepseek" });
  assert.ok(split.choices[0].message.reasoning_content.length >= 3);
  assert.doesNotMatch(split.choices[0].message.content, /think/);
});

test("a bad reasoning_format is a 400 naming the field", async () => {
  for (const value of ["yes", 1, true]) {
    await assert.rejects(
      server.client.chat.completions.create({ ...body, reasoning_format: value }),
      (e) => {
        assert.ok(e instanceof OpenAI.APIError, String(e));
        assert.equal(e.status, 400);
        assert.equal(e.param, "reasoning_format");
        assert.match(e.message, /reasoning_format/);
        return true;
      },
    );
  }
});
