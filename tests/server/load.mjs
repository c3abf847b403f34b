// Load generator for the throughput figures: N concurrent streaming completions
// (about 40-token prompts, 64-token replies, ignore_eos) against a running loom serve;
// prints the aggregate decode rate and the median time to first token per concurrency.
// Usage: node load.mjs http://127.0.0.1:8080 1,4,8 [rounds]
// LOGIT_BAN=3-258 bans those token ids with logit_bias -100 (on a random-weights model
// the byte tokens <0x00>..<0xFF> make invalid UTF-8, which the reference server aborts on).
import { OpenAI } from "./helpers.mjs";

const base = process.argv[2] ?? "http://127.0.0.1:8080";
const levels = (process.argv[3] ?? "1,4,8").split(",").map(Number);
const rounds = Number(process.argv[4] ?? 2);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "none", maxRetries: 0, timeout: 600000 });
const prompt = "Once upon a time, in a small village at the edge of a great forest, there lived a " +
  "young girl named Lily who loved to explore. One sunny morning she packed a small bag and";

async function one(i) {
  const start = performance.now();
  let first;
  let tokens = 0;
  const stream = await client.completions.create({
    model: "x", prompt: `${prompt} ${i}`, max_tokens: 64, temperature: 0, ignore_eos: true,
    stream: true, stream_options: { include_usage: true }, logit_bias,
  });
  let chunks = 0;
  for await (const chunk of stream) {
    if (first === undefined && chunk.choices.length) first = performance.now();
    if (chunk.choices.length && chunk.choices[0].text) ++chunks;
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
  }
  if (!tokens) tokens = chunks;  // a server that sends no usage: one chunk a token
  return { ttft: (first - start) / 1000, tokens, end: performance.now() };
}

const [banFirst, banLast] = (process.env.LOGIT_BAN ?? "").split("-").map(Number);
const logit_bias = {};
for (let id = banFirst; id <= banLast; ++id) logit_bias[id] = -100;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
await one(0);  // warm-up
for (const n of levels) {
  const ttfts = [];
  let tokens = 0;
  let seconds = 0;
  for (let r = 0; r < rounds; ++r) {
    const start = performance.now();
    const results = await Promise.all(Array.from({ length: n }, (_, i) => one(r * 100 + i)));
    seconds += (Math.max(...results.map((x) => x.end)) - start) / 1000;
    for (const x of results) {
      ttfts.push(x.ttft);
      tokens += x.tokens;
    }
  }
  console.log(`streams=${n} aggregate=${(tokens / seconds).toFixed(1)} tokens/s ` +
    `median_ttft=${median(ttfts).toFixed(2)} s (${tokens} tokens in ${seconds.toFixed(1)} s)`);
}
