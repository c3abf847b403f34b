// Wall-clock time of a 1-token completion: a cold ~2,000-token prompt (or WORDS words), then the
// same prefix with a new ending; works against loom serve and llama-server alike.
// Usage: node prefix_ttft_wall.mjs http://127.0.0.1:8080 [WORDS]
const base = process.argv[2];
const words = "Once upon a time there was a little girl named Lily who loved to play in the park with her friends and her dog ".split(" ");
function prefix(seed) { let s = `Story ${seed}:`; for (let i = 0; i < Number(process.argv[3] ?? 2000); ++i) s += " " + words[(i * 7 + seed) % words.length]; return s; }
async function wall(prompt) {
  const t0 = performance.now();
  const r = await fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "x", prompt, max_tokens: 1, temperature: 0 }) });
  const j = await r.json();
  if (!j.choices) throw new Error(JSON.stringify(j).slice(0, 300));
  return performance.now() - t0;
}
const cold = [], warm = [];
for (let seed = 1; seed <= 3; ++seed) {
  const p = prefix(seed);
  cold.push(await wall(p + " The end one."));
  warm.push(await wall(p + " The end two."));
}
const med = (x) => [...x].sort((a, b) => a - b)[1];
console.log(`cold ${cold.map((x) => x.toFixed(0)).join(",")} ms; warm ${warm.map((x) => x.toFixed(0)).join(",")} ms; median cold ${med(cold).toFixed(0)} warm ${med(warm).toFixed(0)} ms; ratio ${(med(cold) / med(warm)).toFixed(1)}x`);
