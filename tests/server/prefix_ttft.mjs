// Time to first token of a request whose ~2,000-token prefix is in the prefix cache, against
// the same request cold, on a running loom serve. Usage: node prefix_ttft.mjs http://127.0.0.1:8080
const base = process.argv[2] ?? "http://127.0.0.1:8080";
const words = "Once upon a time there was a little girl named Lily who loved to play in the park with her friends and her dog ".split(" ");
function prefix(seed) {
  let s = `Story ${seed}:`;
  for (let i = 0; i < 2000; ++i) s += " " + words[(i * 7 + seed) % words.length];
  return s;
}
async function ttft(prompt) {
  const r = await fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "x", prompt, max_tokens: 1, temperature: 0 }) });
  const j = await r.json();
  return { ms: j.timings.time_to_first_token_ms, n: j.usage.prompt_tokens, cached: j.usage.prompt_tokens_details.cached_tokens };
}
const cold = [], warm = [];
for (let seed = 1; seed <= 3; ++seed) {
  const p = prefix(seed);
  const a = await ttft(p + " The end one.");
  const b = await ttft(p + " The end two.");
  cold.push(a.ms); warm.push(b.ms);
  console.log(`seed ${seed}: cold ${a.ms.toFixed(0)} ms (${a.n} tokens, ${a.cached} cached)  warm ${b.ms.toFixed(1)} ms (${b.n} tokens, ${b.cached} cached)`);
}
const med = (x) => [...x].sort((a, b) => a - b)[1];
console.log(`median cold ${med(cold).toFixed(0)} ms, warm ${med(warm).toFixed(1)} ms, ratio ${(med(cold) / med(warm)).toFixed(1)}x`);
