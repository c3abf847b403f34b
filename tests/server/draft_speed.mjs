// Decode tokens/s of greedy completions with n-gram drafts (draft_max 8) against without
// (draft_max 0) on a running `loom serve --draft ngram`, alternating, medians: a prompt the
// reply copies and one with nothing to copy.
// Usage: node draft_speed.mjs http://127.0.0.1:8080 [rounds] [max_tokens]
const [base, rounds = 5, maxTokens = 128] = [process.argv[2], Number(process.argv[3] ?? 5), Number(process.argv[4] ?? 128)];
const story = "Lily and Tom went to the park. They saw a big dog with a red ball. The dog ran to Lily and " +
  "dropped the ball at her feet. Lily threw the ball and the dog ran after it. Tom laughed and clapped his hands.";
const prompts = {
  copy: `${story}\n${story}\n${story}\nLily and Tom went`,
  fresh: "Zebra quantum violet harbor seventeen whisper: ",
};
async function run(prompt, draft_max) {
  const r = await fetch(`${base}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "x", prompt, max_tokens: maxTokens, temperature: 0, ignore_eos: true, draft_max }) });
  const j = await r.json();
  if (!j.timings) throw new Error(JSON.stringify(j));
  return j.timings;
}
const med = (x) => [...x].sort((a, b) => a - b)[Math.floor(x.length / 2)];
for (const [name, prompt] of Object.entries(prompts)) {
  const off = [], on = [], acc = [];
  await run(prompt, 0);
  for (let i = 0; i < rounds; ++i) {
    off.push((await run(prompt, 0)).decode_tokens_per_second);
    const t = await run(prompt, 8);
    on.push(t.decode_tokens_per_second);
    acc.push(t.draft_tokens ? t.draft_accepted / t.draft_tokens : 0);
    if (i === 0) console.log(`  ${name}: proposed ${t.draft_tokens}, accepted ${t.draft_accepted} of ${t.generated_tokens} generated`);
  }
  console.log(`${name}: without drafts ${med(off).toFixed(1)} tok/s, with ${med(on).toFixed(1)} tok/s, ratio ${(med(on) / med(off)).toFixed(2)}x, acceptance ${(100 * med(acc)).toFixed(0)}%`);
}
