// Soak test (issue 17): one `loom serve` on loopback, N concurrent clients for a bounded
// time and request count, mixing streamed and whole /v1/completions and
// /v1/chat/completions (the official openai client for most, plain fetch for the rest),
// n > 1, best_of, beam search, JSON-schema response_format, stop strings, logprobs,
// clients that go away mid-request, and malformed requests that must get a 4xx.
//
// Checks: no 5xx (a 503 counts too: the queue is sized above the client count, so a
// refusal would mean the server lost track of its queue), every valid request answered
// well-formed, every malformed one refused with a 4xx, the server alive at the end and
// exiting 0 on SIGTERM, loom:kv_cache_used_tokens back to 0 once idle, and resident memory
// (VmRSS in /proc/<pid>/status) growing less than --rss-max-growth % from the end of
// warm-up (--warmup of the run) to the end. Prints a summary; exits 1 on any failed check.
//
// Usage: LOOM_BIN=build/src/cli/loom node tests/server/soak.mjs [--clients 16]
//   [--seconds 600] [--parallel 8] [--max-requests N] [--rss-max-growth 5|off]
//   [--warmup 0.2] [--seed N] [--known-bugs]
// (env LOOM_SOAK_CLIENTS, LOOM_SOAK_SECONDS, LOOM_SOAK_RSS_MAX_GROWTH as defaults).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { OpenAI, loomBin, modelPath } from "./helpers.mjs";

// ---- options ----
const opts = {
  clients: Number(process.env.LOOM_SOAK_CLIENTS ?? 16),
  seconds: Number(process.env.LOOM_SOAK_SECONDS ?? 600),
  parallel: 8,
  ctx: 1024, // the KV pool (--parallel x this, 8192 tokens) is small enough that the
             // prefix cache fills it during warm-up and then evicts
  maxRequests: 0, // 0: clients * seconds * 50 (a bound that time reaches first)
  rssMaxGrowth: process.env.LOOM_SOAK_RSS_MAX_GROWTH ?? "5",
  warmup: 0.2,
  rssEvery: 2,
  seed: Date.now() % 1000000,
  knownBugs: false,
};
for (let i = 2; i < process.argv.length; ++i) {
  const flag = process.argv[i];
  if (flag === "--known-bugs") {
    opts.knownBugs = true;
    continue;
  }
  const value = process.argv[++i];
  const key = { "--clients": "clients", "--seconds": "seconds", "--parallel": "parallel", "--ctx-size": "ctx",
    "--max-requests": "maxRequests", "--rss-max-growth": "rssMaxGrowth", "--warmup": "warmup",
    "--rss-every": "rssEvery", "--seed": "seed" }[flag];
  if (!key || value === undefined) {
    console.error(`soak: unknown or incomplete option ${flag}`);
    process.exit(2);
  }
  opts[key] = key === "rssMaxGrowth" ? value : Number(value);
}
if (!loomBin) {
  console.error("soak: set LOOM_BIN to the loom binary (and LOOM_SHARED_DIR to the test data)");
  process.exit(2);
}
const rssLimit = opts.rssMaxGrowth === "off" ? null : Number(opts.rssMaxGrowth);
const maxRequests = opts.maxRequests > 0 ? opts.maxRequests : opts.clients * opts.seconds * 50;
const queue = Math.max(64, 2 * opts.clients);
const clientTimeoutMs = 120000;

// ---- seeded randomness (the mix is reproducible with --seed; the timing is not) ----
let rngState = opts.seed >>> 0;
function rand() {
  rngState = (rngState + 0x6d2b79f5) >>> 0;
  let t = rngState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pickOne = (xs) => xs[Math.floor(rand() * xs.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the server ----
function startServer() {
  const args = ["serve", "-m", modelPath, "--host", "127.0.0.1", "--port", "0",
    "--parallel", String(opts.parallel), "--queue", String(queue), "--ctx-size", String(opts.ctx)];
  const child = spawn(loomBin, args, { stdio: ["ignore", "ignore", "pipe"] });
  const server = { child, log: "", exit: null };
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => {
    server.exit = { code, signal };
    resolve(server.exit);
  }));
  server.exited = exited;
  child.stderr.on("data", (d) => {
    server.log += d;
    if (server.log.length > 200000) server.log = server.log.slice(-100000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`loom serve did not start:\n${server.log}`)), 30000);
    const onData = () => {
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(server.log);
      if (!m) return;
      clearTimeout(timer);
      child.stderr.off("data", onData);
      server.base = `http://127.0.0.1:${m[1]}`;
      resolve(server);
    };
    child.stderr.on("data", onData);
    exited.then((e) => reject(new Error(`loom serve exited (${JSON.stringify(e)}):\n${server.log}`)));
  });
}

function readRssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

async function metrics(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const value = (name) => {
    const m = new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} ([0-9.eE+-]+)$`, "m").exec(text);
    return m ? Number(m[1]) : null;
  };
  return { text, value };
}

// ---- bookkeeping ----
const stats = {
  byKind: new Map(), // kind -> { count, ok, aborted, refused, failed, latencies: [] }
  byStatus: new Map(), // status (or "connection", "stream-error") -> count
  failures: [], // first messages of failed checks
  failureCount: 0,
  started: 0,
};
function kindStats(kind) {
  if (!stats.byKind.has(kind)) stats.byKind.set(kind, { count: 0, ok: 0, aborted: 0, refused: 0, failed: 0, latencies: [] });
  return stats.byKind.get(kind);
}
function countStatus(status) {
  stats.byStatus.set(status, (stats.byStatus.get(status) ?? 0) + 1);
}
function fail(kind, message) {
  stats.failureCount++;
  kindStats(kind).failed++;
  if (stats.failures.length < 30) stats.failures.push(`${kind}: ${message}`);
}
class CheckError extends Error {}
function check(cond, message) {
  if (!cond) throw new CheckError(message);
}

// ---- request material ----
const openings = [
  "Once upon a time", "One day, a little girl named Lily", "Tom and his dog went to the park",
  "There was a big red ball", "The sun was shining and the birds", "A small cat found a box",
  "Mom said it was time for bed", "In the garden there was a tiny bug",
];
const shared = "Once upon a time, in a small village at the edge of a great forest, there lived a " +
  "young girl named Lily who loved to explore. One sunny morning she packed a small bag and";
const words = ["happy", "tree", "ball", "friend", "sun", "rain", "toy", "boat", "cake", "bird", "jump", "run"];
function prompt() {
  const tail = Array.from({ length: randInt(0, 8) }, () => pickOne(words)).join(" ");
  const r = rand();
  if (r < 0.3) return `${shared} ${tail}`; // shares 16-token blocks: the prefix cache is used
  if (r < 0.4) return `${shared} ${shared} ${shared} ${tail}`; // a longer prompt
  return `${pickOne(openings)} ${tail}`.trim();
}
function messages() {
  const out = [];
  if (rand() < 0.5) out.push({ role: "system", content: "You tell short stories for children." });
  out.push({ role: "user", content: prompt() });
  if (rand() < 0.3) {
    out.push({ role: "assistant", content: "Once upon a time there was a dog." });
    out.push({ role: "user", content: `Tell me more about the ${pickOne(words)}.` });
  }
  return out;
}
function sampling() {
  const s = {};
  const r = rand();
  if (r < 0.25) s.temperature = 0;
  else if (r < 0.8) s.temperature = Number((rand() * 1.5).toFixed(2));
  if (rand() < 0.3) s.top_p = Number((0.5 + rand() * 0.5).toFixed(2));
  if (rand() < 0.2) s.top_k = randInt(1, 50);
  if (rand() < 0.2) s.presence_penalty = Number((rand() * 2 - 1).toFixed(2));
  if (rand() < 0.5) s.seed = randInt(0, 1e6);
  return s;
}
const personSchema = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 12 },
    age: { type: "integer", minimum: 0, maximum: 120 },
    pets: { type: "array", items: { type: "string", enum: ["cat", "dog", "bird"] }, maxItems: 3 },
  },
  required: ["name", "age"],
  additionalProperties: false,
};

// Malformed requests: [what, path, body (string = sent as is), expected status].
const longPrompt = Array.from({ length: 2500 }, () => "tree").join(" ");
const malformed = [
  ["bad JSON", "/v1/chat/completions", "{\"messages\": [}", 400],
  ["truncated JSON", "/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": ", 400],
  ["array body", "/v1/completions", "[1, 2]", 400],
  ["empty body", "/v1/completions", "", 400],
  ["form body", "/v1/completions", "prompt=Once&max_tokens=4", 400],
  ["invalid UTF-8", "/v1/completions", Buffer.from([...Buffer.from("{\"prompt\": \"Once "), 0xff, 0xfe, ...Buffer.from("\"}")]), 400],
  ["missing prompt", "/v1/completions", { max_tokens: 4 }, 400],
  ["missing messages", "/v1/chat/completions", { max_tokens: 4 }, 400],
  ["empty messages", "/v1/chat/completions", { messages: [] }, 400],
  ["bad role", "/v1/chat/completions", { messages: [{ role: "robot", content: "hi" }] }, 400],
  ["temperature 3", "/v1/completions", { prompt: "Once", temperature: 3 }, 400],
  ["temperature NaN-ish string", "/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], temperature: "hot" }, 400],
  ["top_p 0", "/v1/completions", { prompt: "Once", top_p: 0 }, 400],
  ["n 0", "/v1/completions", { prompt: "Once", n: 0 }, 400],
  ["n 17", "/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], n: 17 }, 400],
  ["best_of < n", "/v1/completions", { prompt: "Once", n: 3, best_of: 2 }, 400],
  ["stream with best_of", "/v1/completions", { prompt: "Once", stream: true, best_of: 3 }, 400],
  ["stream with beams", "/v1/completions", { prompt: "Once", stream: true, use_beam_search: true, n: 2 }, 400],
  ["max_tokens 0", "/v1/completions", { prompt: "Once", max_tokens: 0 }, 400],
  ["max_tokens -5", "/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], max_tokens: -5 }, 400],
  ["max_tokens beyond context", "/v1/completions", { prompt: "Once", max_tokens: 1000000 }, 400],
  ["prompt beyond context", "/v1/completions", { prompt: longPrompt, max_tokens: 4 }, 400],
  ["logprobs 21", "/v1/completions", { prompt: "Once", logprobs: 21 }, 400],
  ["top_logprobs without logprobs", "/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], top_logprobs: 3 }, 400],
  ["17 stop strings", "/v1/completions", { prompt: "Once", stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }, 400],
  ["empty stop string", "/v1/completions", { prompt: "Once", stop: [""] }, 400],
  ["logit_bias bad key", "/v1/completions", { prompt: "Once", logit_bias: { abc: 1 } }, 400],
  ["logit_bias out of vocab", "/v1/completions", { prompt: "Once", logit_bias: { 99999: 1 } }, 400],
  ["logit_bias 500", "/v1/completions", { prompt: "Once", logit_bias: { 5: 500 } }, 400],
  ["token id out of vocab", "/v1/completions", { prompt: [1, 99999] }, 400],
  ["response_format xml", "/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], response_format: { type: "xml" } }, 400],
  ["json_schema without schema", "/v1/chat/completions", { messages: [{ role: "user", content: "hi" }], response_format: { type: "json_schema", json_schema: { name: "x" } } }, 400],
  ["bad grammar", "/v1/completions", { prompt: "Once", grammar: "root ::= (" }, 400],
  ["min_tokens > max_tokens", "/v1/completions", { prompt: "Once", max_tokens: 4, min_tokens: 8 }, 400],
  ["stream_options without stream", "/v1/completions", { prompt: "Once", stream_options: { include_usage: true } }, 400],
  ["seed as string", "/v1/completions", { prompt: "Once", seed: "abc" }, 400],
  ["unknown route", "/v1/nothing", { prompt: "Once" }, 404],
  // A number no double holds (nlohmann's out_of_range, not parse_error): once a 500.
  ["number overflow", "/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 1e400}", 400],
];
// Known server bugs, sent only with --known-bugs (so the ctest stays green until fixed).
if (opts.knownBugs) {
  // none left
}

// ---- the request kinds: each returns "ok" or "aborted", or throws ----
let client; // the openai client
let base;

function checkChoices(choices, n, what) {
  check(Array.isArray(choices) && choices.length === n, `${what}: ${choices?.length} choices, expected ${n}`);
  const indices = choices.map((c) => c.index).sort((a, b) => a - b);
  check(indices.every((x, i) => x === i), `${what}: choice indices ${indices}`);
  for (const c of choices) check(["stop", "length", "tool_calls"].includes(c.finish_reason), `${what}: finish_reason ${c.finish_reason}`);
}

function checkStop(text, stop, what) {
  for (const s of stop) check(!text.includes(s), `${what}: text ${JSON.stringify(text)} contains the stop string ${JSON.stringify(s)}`);
}

async function completionWhole() {
  const n = rand() < 0.2 ? randInt(2, 3) : 1;
  const stop = rand() < 0.4 ? pickOne([["."], [",", "!"], [" the"], ["Lily", "\n"]]) : undefined;
  const logprobs = rand() < 0.3 ? randInt(0, 5) : undefined;
  const r = await client.completions.create({ model: "x", prompt: prompt(), max_tokens: randInt(4, 96), n, stop, logprobs, ...sampling() });
  checkChoices(r.choices, n, "completion");
  for (const c of r.choices) {
    check(typeof c.text === "string", "completion: text not a string");
    if (stop) checkStop(c.text, stop, "completion");
    if (logprobs !== undefined) {
      const lp = c.logprobs;
      check(lp && Array.isArray(lp.tokens) && lp.tokens.length === lp.token_logprobs.length, "completion: logprobs shape");
      check(lp.tokens.join("") === c.text || lp.tokens.length > 0, "completion: logprob tokens do not make the text");
      check(lp.token_logprobs.every((x) => x <= 1e-6), "completion: a logprob above 0");
      check(lp.top_logprobs.every((t) => Object.keys(t).length <= Math.max(logprobs, 1) + 1), "completion: too many top_logprobs");
    }
  }
  check(r.usage && r.usage.completion_tokens >= 1, "completion: usage");
  return "ok";
}

async function completionStream() {
  const n = rand() < 0.2 ? 2 : 1;
  const stop = rand() < 0.4 ? pickOne([["."], [" and"], ["Lily"]]) : undefined;
  const logprobs = rand() < 0.3 ? randInt(0, 3) : undefined;
  const stream = await client.completions.create({
    model: "x", prompt: prompt(), max_tokens: randInt(4, 128), n, stop, logprobs, stream: true,
    stream_options: { include_usage: true }, ...sampling(),
  });
  const texts = Array(n).fill("");
  const finish = Array(n).fill(null);
  const bare = Array(n).fill(false);
  let usage;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      texts[c.index] += c.text ?? "";
      if (c.finish_reason) finish[c.index] = c.finish_reason;
      if (logprobs !== undefined && c.text) {
        // Known: text held back as a possible stop string and released at the end comes in
        // a chunk of its own with "logprobs": null (its token's logprob came earlier with
        // ""). Tolerated as the choice's last text unless --known-bugs.
        const has = c.logprobs && c.logprobs.tokens.length >= 1;
        check(has || !opts.knownBugs, `completion stream: a chunk with text but no logprobs: ${JSON.stringify(chunk)}`);
        check(!(has && bare[c.index]), `completion stream: logprobs after a chunk of text without them: ${JSON.stringify(chunk)}`);
        if (!has) bare[c.index] = true;
      }
    }
  }
  check(finish.every((f) => f === "stop" || f === "length"), `completion stream: finish reasons ${finish}`);
  if (stop) for (const t of texts) checkStop(t, stop, "completion stream");
  check(usage && usage.completion_tokens >= n, "completion stream: no usage chunk");
  return "ok";
}

async function chatWhole() {
  const n = rand() < 0.2 ? randInt(2, 4) : 1;
  const logprobs = rand() < 0.3;
  const top = logprobs ? randInt(0, 4) : undefined;
  const r = await client.chat.completions.create({
    model: "x", messages: messages(), max_tokens: randInt(4, 96), n, logprobs, top_logprobs: top, ...sampling(),
  });
  checkChoices(r.choices, n, "chat");
  for (const c of r.choices) {
    check(c.message.role === "assistant" && typeof c.message.content === "string", "chat: message");
    if (logprobs) {
      check(c.logprobs && Array.isArray(c.logprobs.content) && c.logprobs.content.length >= 1, "chat: no logprobs");
      for (const t of c.logprobs.content) check(t.top_logprobs.length === top && t.logprob <= 1e-6, "chat: top_logprobs shape");
    }
  }
  return "ok";
}

async function chatStream() {
  const n = rand() < 0.2 ? 2 : 1;
  const stop = rand() < 0.3 ? ["."] : undefined;
  const stream = await client.chat.completions.create({
    model: "x", messages: messages(), max_tokens: randInt(4, 128), n, stop, stream: true,
    stream_options: { include_usage: rand() < 0.5 }, ...sampling(),
  });
  const texts = Array(n).fill("");
  const finish = Array(n).fill(null);
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      texts[c.index] += c.delta.content ?? "";
      if (c.finish_reason) finish[c.index] = c.finish_reason;
    }
  }
  check(finish.every((f) => f === "stop" || f === "length"), `chat stream: finish reasons ${finish}`);
  if (stop) for (const t of texts) checkStop(t, stop, "chat stream");
  return "ok";
}

async function bestOf() {
  const n = randInt(1, 2);
  const best = n + randInt(1, 3);
  const r = await client.completions.create({
    model: "x", prompt: prompt(), max_tokens: randInt(8, 48), n, best_of: best, temperature: 0.9, seed: randInt(0, 1e6),
  });
  checkChoices(r.choices, n, "best_of");
  return "ok";
}

async function postJson(path, body, signal) {
  return fetch(`${base}${path}`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body), signal,
  });
}

class StatusError extends Error {
  constructor(status, body) {
    super(`HTTP ${status}: ${String(body).slice(0, 300)}`);
    this.status = status;
  }
}

async function beamSearch() {
  const n = randInt(1, 3);
  const chat = rand() < 0.3;
  const body = {
    model: "x", max_tokens: randInt(8, 48), n, use_beam_search: true,
    ...(rand() < 0.5 ? { best_of: n + randInt(0, 2) } : {}),
    ...(rand() < 0.3 ? { length_penalty: 0.5 + rand(), early_stopping: rand() < 0.5 } : {}),
    ...(chat ? { messages: messages() } : { prompt: prompt() }),
  };
  const res = await postJson(chat ? "/v1/chat/completions" : "/v1/completions", body);
  const text = await res.text();
  if (res.status !== 200) throw new StatusError(res.status, text);
  countStatus(200);
  checkChoices(JSON.parse(text).choices, n, "beam search");
  return "ok";
}

async function jsonSchema() {
  const schema = rand() < 0.7;
  const response_format = schema
    ? { type: "json_schema", json_schema: { name: "person", strict: true, schema: personSchema } }
    : { type: "json_object" };
  const stream = rand() < 0.3;
  const req = {
    model: "x", messages: [{ role: "user", content: `Describe a ${pickOne(words)} as JSON.` }],
    max_tokens: 96, response_format, ...sampling(),
  };
  let content = "";
  let finish;
  if (stream) {
    const s = await client.chat.completions.create({ ...req, stream: true });
    for await (const chunk of s) {
      for (const c of chunk.choices) {
        content += c.delta.content ?? "";
        if (c.finish_reason) finish = c.finish_reason;
      }
    }
  } else {
    const r = await client.chat.completions.create(req);
    checkChoices(r.choices, 1, "json");
    content = r.choices[0].message.content;
    finish = r.choices[0].finish_reason;
  }
  if (finish === "stop") {
    let value;
    try {
      value = JSON.parse(content);
    } catch {
      throw new CheckError(`json: finished reply is not JSON: ${JSON.stringify(content)}`);
    }
    check(value !== null && typeof value === "object" && !Array.isArray(value), `json: not an object: ${content}`);
    if (schema) {
      check(typeof value.name === "string" && value.name.length <= 12, `json: bad name in ${content}`);
      check(Number.isInteger(value.age) && value.age >= 0 && value.age <= 120, `json: bad age in ${content}`);
      check(Object.keys(value).every((k) => ["name", "age", "pets"].includes(k)), `json: extra key in ${content}`);
    }
  } else {
    check(finish === "length", `json: finish_reason ${finish}`);
  }
  return "ok";
}

// A raw SSE stream read with fetch: the wire format itself (data: lines, [DONE]).
async function rawStream() {
  const chat = rand() < 0.5;
  const body = {
    model: "x", max_tokens: randInt(4, 64), stream: true, ...sampling(),
    ...(chat ? { messages: messages(), logprobs: rand() < 0.5 } : { prompt: prompt(), logprobs: rand() < 0.5 ? 2 : undefined }),
  };
  const res = await postJson(chat ? "/v1/chat/completions" : "/v1/completions", body);
  if (res.status !== 200) throw new StatusError(res.status, await res.text());
  countStatus(200);
  const text = await res.text();
  const events = text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
  check(events.at(-1) === "[DONE]", "raw stream: does not end with data: [DONE]");
  let finished = false;
  for (const e of events.slice(0, -1)) {
    const chunk = JSON.parse(e);
    check(!chunk.error, `raw stream: error event ${e}`);
    finished ||= chunk.choices.some((c) => c.finish_reason);
  }
  check(finished, "raw stream: no finish_reason");
  return "ok";
}

// A streaming client that goes away after a few chunks.
async function disconnectStream() {
  const chat = rand() < 0.5;
  const req = { model: "x", max_tokens: randInt(120, 250), ignore_eos: true, stream: true, n: rand() < 0.2 ? 2 : 1 };
  const stream = chat
    ? await client.chat.completions.create({ ...req, messages: messages() })
    : await client.completions.create({ ...req, prompt: prompt() });
  const after = randInt(1, 12);
  let chunks = 0;
  for await (const chunk of stream) {
    if (chunk.choices.length && ++chunks >= after) {
      stream.controller.abort();
      return "aborted";
    }
  }
  return "ok"; // finished before the client gave up
}

// A whole-response client (plain fetch) that goes away before the answer.
async function disconnectWhole() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), randInt(5, 300));
  try {
    const res = await postJson("/v1/completions", {
      model: "x", prompt: prompt(), max_tokens: randInt(100, 250), ignore_eos: true, n: randInt(1, 4),
    }, controller.signal);
    const text = await res.text();
    if (res.status !== 200) throw new StatusError(res.status, text);
    countStatus(200);
    return "ok";
  } catch (e) {
    if (e.name === "AbortError") return "aborted";
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

async function badRequest() {
  const [what, path, body, expected] = pickOne(malformed);
  const res = await postJson(path, body);
  const text = await res.text();
  countStatus(res.status);
  if (res.status >= 500) throw new CheckError(`malformed "${what}" got ${res.status}: ${text.slice(0, 300)}`);
  check(res.status === expected, `malformed "${what}": status ${res.status}, expected ${expected}: ${text.slice(0, 200)}`);
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CheckError(`malformed "${what}": error body is not JSON: ${text.slice(0, 200)}`);
  }
  check(parsed.error && typeof parsed.error.message === "string", `malformed "${what}": no error.message`);
  return "refused";
}

async function probe() {
  for (const path of ["/health", "/v1/models", "/metrics"]) {
    const res = await fetch(`${base}${path}`);
    await res.text();
    countStatus(res.status);
    if (res.status !== 200) throw new StatusError(res.status, path);
  }
  return "ok";
}

const kinds = [
  ["completion", completionWhole, 12],
  ["completion_stream", completionStream, 12],
  ["chat", chatWhole, 12],
  ["chat_stream", chatStream, 12],
  ["best_of", bestOf, 5],
  ["beam_search", beamSearch, 5],
  ["json_schema", jsonSchema, 7],
  ["raw_sse_stream", rawStream, 5],
  ["disconnect_stream", disconnectStream, 6],
  ["disconnect_whole", disconnectWhole, 4],
  ["malformed", badRequest, 10],
  ["probe", probe, 2],
];
const totalWeight = kinds.reduce((s, k) => s + k[2], 0);
function pickKind() {
  let x = rand() * totalWeight;
  for (const k of kinds) if ((x -= k[2]) < 0) return k;
  return kinds[0];
}

// The openai client's status for errors (undefined for a connection error or an error
// event inside a stream).
async function runOne() {
  const [kind, fn] = pickKind();
  const ks = kindStats(kind);
  ks.count++;
  stats.started++;
  const t0 = performance.now();
  try {
    const outcome = await fn();
    const ms = performance.now() - t0;
    if (outcome === "aborted") ks.aborted++;
    else if (outcome === "refused") ks.refused++;
    else {
      ks.ok++;
      ks.latencies.push(ms);
      // openai-client successes: the client saw a 200 (fetch kinds count their own).
      if (!["beam_search", "raw_sse_stream", "disconnect_whole", "probe"].includes(kind)) countStatus(200);
    }
  } catch (e) {
    if (e instanceof CheckError) {
      fail(kind, e.message);
    } else if (e instanceof OpenAI.APIUserAbortError || e?.name === "AbortError") {
      fail(kind, `unexpected abort: ${e.message}`);
    } else if (e instanceof OpenAI.APIError && e.status !== undefined) {
      countStatus(e.status);
      fail(kind, `HTTP ${e.status}: ${e.message.slice(0, 300)}`);
    } else if (e instanceof StatusError) {
      countStatus(e.status);
      fail(kind, e.message);
    } else if (e instanceof OpenAI.APIError && e.error) {
      countStatus("error-event-in-stream");
      fail(kind, `error event in the stream: ${JSON.stringify(e.error).slice(0, 300)}`);
    } else {
      countStatus("connection");
      fail(kind, `${e?.name}: ${e?.message}`);
    }
  }
}

const percentile = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const median = (xs) => percentile(xs, 50);

// ---- main ----
let kvLine = "";
const checks = []; // [name, ok, detail]
let server;
const hardDeadline = setTimeout(() => {
  console.error("soak: hard deadline passed; killing the server");
  server?.child.kill("SIGKILL");
  process.exit(1);
}, (opts.seconds + 110) * 1000);
hardDeadline.unref();
process.on("SIGINT", () => {
  server?.child.kill("SIGTERM");
  process.exit(130);
});

server = await startServer();
base = server.base;
for (let i = 0; i < 400; ++i) {
  const res = await fetch(`${base}/health`).catch(() => null);
  if (res && res.status === 200) break;
  await sleep(50);
}
client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "none", maxRetries: 0, timeout: clientTimeoutMs });
const pid = server.child.pid;
console.log(`soak: loom serve pid ${pid} at ${base} (--parallel ${opts.parallel} --queue ${queue}); ` +
  `${opts.clients} clients for ${opts.seconds} s, at most ${maxRequests} requests; seed ${opts.seed}`);

const startMs = performance.now();
const endMs = startMs + opts.seconds * 1000;
const warmupMs = startMs + opts.warmup * opts.seconds * 1000;
const rss = []; // { t: seconds since start, kb }
const sampleRss = () => {
  const kb = readRssKb(pid);
  if (kb !== null) rss.push({ t: (performance.now() - startMs) / 1000, kb });
};
sampleRss();
const rssTimer = setInterval(sampleRss, opts.rssEvery * 1000);
let crashed = false;
server.exited.then(() => { crashed = true; });

let lastReport = startMs;
async function clientLoop() {
  while (!crashed && performance.now() < endMs && stats.started < maxRequests) {
    await runOne();
    if (performance.now() - lastReport > 60000) {
      lastReport = performance.now();
      const last = rss.at(-1);
      console.log(`soak: ${Math.round((lastReport - startMs) / 1000)} s, ${stats.started} requests, ` +
        `${stats.failureCount} failed, RSS ${last ? (last.kb / 1024).toFixed(1) : "?"} MiB`);
    }
  }
}
await Promise.all(Array.from({ length: opts.clients }, clientLoop));
sampleRss();
clearInterval(rssTimer);
const runSeconds = (performance.now() - startMs) / 1000;

// Crashes: the server still alive after the load.
const alive = server.exit === null && !crashed;
checks.push(["server alive after the load", alive, alive ? `pid ${pid}` : `exited ${JSON.stringify(server.exit)}`]);

// The KV cache back to empty once idle; the server's own 5xx counter at 0.
if (alive) {
  let used = null;
  let running = null;
  const until = Date.now() + 5000;
  do {
    const m = await metrics(base);
    used = m.value("loom:kv_cache_used_tokens");
    running = m.value("loom:num_requests_running");
    if (used === 0 && running === 0) break;
    await sleep(100);
  } while (Date.now() < until);
  checks.push(["kv_cache_used_tokens back to 0 when idle", used === 0, `kv_cache_used_tokens ${used}, running ${running}`]);
  const m = await metrics(base);
  const server5xx = m.value('loom:request_errors_total{status="5xx"}');
  const v = (name) => m.value(name);
  kvLine = `KV pool ${(v("loom:kv_cache_capacity_bytes") / 1048576).toFixed(1)} MiB (${v("loom:kv_cache_capacity_tokens")} tokens), ` +
    `${v("loom:kv_cache_cached_tokens")} held by the prefix cache at the end; prefix cache hits ` +
    `${v("loom:prefix_cache_hits_total")} of ${v("loom:prefix_cache_queries_total")} prompt tokens`;
  checks.push(["server-side 5xx counter", server5xx === 0, `loom:request_errors_total{status="5xx"} ${server5xx}`]);
  // Still serving after the soak.
  try {
    const r = await client.completions.create({ model: "x", prompt: "Once upon a time", max_tokens: 8, temperature: 0 });
    checks.push(["serves after the soak", r.choices.length === 1, ""]);
  } catch (e) {
    checks.push(["serves after the soak", false, e.message]);
  }
}

// No 5xx seen by a client (503 included, see the top), no failed check.
const fiveXX = [...stats.byStatus].filter(([s]) => typeof s === "number" && s >= 500).reduce((a, [, c]) => a + c, 0);
checks.push(["no 5xx responses", fiveXX === 0, `${fiveXX} 5xx`]);
checks.push(["every request answered as expected", stats.failureCount === 0, `${stats.failureCount} failed`]);

// Resident memory after warm-up.
const warmT = opts.warmup * runSeconds;
const window = Math.max(opts.rssEvery * 2, 0.05 * runSeconds);
const near = (lo, hi) => rss.filter((x) => x.t >= lo && x.t <= hi).map((x) => x.kb);
const warmKb = median(near(warmT - window / 2, warmT + window / 2)) || rss.find((x) => x.t >= warmT)?.kb;
const endKb = median(near(runSeconds - window, runSeconds + 1)) || rss.at(-1)?.kb;
const peakKb = Math.max(...rss.map((x) => x.kb));
const growth = ((endKb - warmKb) / warmKb) * 100;
checks.push([`RSS growth after warm-up < ${rssLimit ?? "(not checked)"} %`,
  rssLimit === null || growth < rssLimit,
  `${(warmKb / 1024).toFixed(1)} MiB at ${warmT.toFixed(0)} s -> ${(endKb / 1024).toFixed(1)} MiB at the end ` +
  `(${growth >= 0 ? "+" : ""}${growth.toFixed(2)} %), peak ${(peakKb / 1024).toFixed(1)} MiB, ${rss.length} samples` +
  (rssLimit === null ? "; reported only" : "")]);

// Clean exit on SIGTERM.
if (alive) {
  server.child.kill("SIGTERM");
  const exit = await Promise.race([server.exited, sleep(15000).then(() => null)]);
  if (exit === null) {
    server.child.kill("SIGKILL");
    checks.push(["exits 0 on SIGTERM", false, "still running 15 s after SIGTERM (killed)"]);
  } else {
    checks.push(["exits 0 on SIGTERM", exit.code === 0, JSON.stringify(exit)]);
  }
}

// ---- summary ----
const rssAt = (frac) => rss.reduce((best, x) => (Math.abs(x.t - frac * runSeconds) < Math.abs(best.t - frac * runSeconds) ? x : best), rss[0]);
console.log(`\nRSS (MiB) at 0, 10, ..., 100 % of the run: ` +
  Array.from({ length: 11 }, (_, i) => (rssAt(i / 10).kb / 1024).toFixed(1)).join(" "));
const all = [];
console.log(`soak summary: ${opts.clients} clients, ${runSeconds.toFixed(0)} s, ${stats.started} requests ` +
  `(${(stats.started / runSeconds).toFixed(1)}/s), --parallel ${opts.parallel}, seed ${opts.seed}`);
console.log("kind                  count      ok aborted refused  failed   p50 ms   p99 ms");
for (const [kind] of kinds) {
  const k = stats.byKind.get(kind);
  if (!k) continue;
  all.push(...(kind === "probe" ? [] : k.latencies));
  console.log(`${kind.padEnd(20)} ${String(k.count).padStart(6)} ${String(k.ok).padStart(7)} ` +
    `${String(k.aborted).padStart(7)} ${String(k.refused).padStart(7)} ${String(k.failed).padStart(7)} ` +
    `${median(k.latencies).toFixed(0).padStart(8)} ${percentile(k.latencies, 99).toFixed(0).padStart(8)}`);
}
console.log(`latency of completed generation requests: p50 ${median(all).toFixed(0)} ms, p99 ${percentile(all, 99).toFixed(0)} ms (${all.length})`);
if (kvLine) console.log(kvLine);
console.log(`responses by status: ${[...stats.byStatus].sort().map(([s, c]) => `${s}: ${c}`).join(", ")}`);
if (stats.failures.length) {
  console.log(`failures (first ${stats.failures.length} of ${stats.failureCount}):`);
  for (const f of stats.failures) console.log(`  ${f}`);
}
let ok = true;
for (const [name, pass, detail] of checks) {
  ok &&= pass;
  console.log(`${pass ? "PASS" : "FAIL"} ${name}${detail ? `: ${detail}` : ""}`);
}
if (!ok) {
  const tail = server.log.split("\n").slice(-20).join("\n");
  console.log(`server log (tail):\n${tail}`);
}
console.log(ok ? "soak: OK" : "soak: FAILED");
process.exit(ok ? 0 : 1);
