// What the sampler did with one generated token's alternatives, recomputed in the page.
//
// The server reports log-probabilities of the model's own distribution (log-softmax of the
// raw logits at temperature 1: before logit bias, penalties, grammar, truncation and
// temperature; see src/sampling/logprobs.h). This file re-applies the reply's settings to
// the reported top alternatives in loom's order: logit bias -> presence/frequency
// penalties -> top-k -> typical -> top-p -> min-p -> temperature. The rest of the
// vocabulary is known only as one lump of probability, so results that depend on it are
// estimates (`approximate`). Not re-applied: the repetition penalty (it scales raw logits,
// which are not reported), min_tokens bans and grammar / JSON-schema masks.

// The server's values for controls the request left out (OpenAI's defaults).
export const kServerDefaults = {
  temperature: 1, top_k: 0, top_p: 1, min_p: 0, typical_p: 1,
  presence_penalty: 0, frequency_penalty: 0, repetition_penalty: 1, logit_bias: {},
};

const logSumExp = (values) => {
  const max = Math.max(...values);
  if (max === -Infinity) return -Infinity;
  return max + Math.log(values.reduce((s, v) => s + Math.exp(v - max), 0));
};

// entry: {id, logprob, top: [{id, token, logprob}]} as the page stored it;
// params: the reply's effective sampling settings; previous: ids generated before it.
// Returns {rows, greedy, approximate, rest} where each row is
// {id, token, rawP, bias, penalty, p (after bias and penalties), cut, finalP, chosen}.
export function analyzeToken(entry, params, previous = []) {
  const s = { ...kServerDefaults, ...params };
  const bias = s.logit_bias ?? {};
  const counts = new Map();
  for (const id of previous) counts.set(id, (counts.get(id) ?? 0) + 1);

  const listed = entry.top.map((t) => ({ ...t }));
  if (!listed.some((t) => t.id === entry.id)) {
    listed.push({ id: entry.id, token: entry.token, logprob: entry.logprob, extra: true });
  }
  const rawMass = listed.reduce((sum, t) => sum + Math.exp(t.logprob), 0);
  let rest = Math.max(0, 1 - rawMass);  // the unlisted vocabulary, as one lump
  let approximate = Object.keys(bias).some((id) => !listed.some((t) => t.id === Number(id)));

  // 1-2. logit bias and presence/frequency penalties shift the (relative) logits.
  const rows = listed.map((t) => {
    const b = bias[t.id] ?? 0;
    const count = counts.get(t.id) ?? 0;
    const penalty = count > 0 ? s.presence_penalty + s.frequency_penalty * count : 0;
    const logit = b <= -100 ? -Infinity : t.logprob + b - penalty;
    return { id: t.id, token: t.token, rawP: Math.exp(t.logprob), bias: b, penalty, logit,
             cut: b <= -100 ? "bias" : null, chosen: t.id === entry.id, finalP: 0 };
  });
  const norm = logSumExp([...rows.map((r) => r.logit), Math.log(rest || 0)]);
  for (const r of rows) r.p = Math.exp(r.logit - norm);
  rest = rest > 0 ? Math.exp(Math.log(rest) - norm) : 0;
  rows.sort((a, b) => b.logit - a.logit || a.id - b.id);

  const alive = () => rows.filter((r) => !r.cut);
  const greedy = s.temperature === 0;
  if (greedy) {
    // Temperature 0: the highest after bias and penalties; truncation does not run.
    const best = alive()[0];
    for (const r of alive()) if (r !== best) r.cut = "greedy";
    if (best) best.finalP = 1;
    return { rows, greedy, approximate, rest: 0 };
  }

  // 3. top-k: the k highest survive.
  if (s.top_k > 0) {
    alive().forEach((r, i) => { if (i >= s.top_k) r.cut = "top-k"; });
    if (s.top_k <= rows.length) rest = 0;
  }
  // Probabilities renormalized over what is left (as the sampler does before each step).
  const probs = () => {
    const live = alive();
    const total = live.reduce((sum, r) => sum + r.p, 0) + rest;
    return { live, total };
  };
  // 4. typical: the tokens whose surprisal is closest to the entropy, up to mass typical_p.
  if (s.typical_p < 1) {
    const { live, total } = probs();
    const minQ = live.length ? live[live.length - 1].p / total : 1;
    const items = live.map((r) => ({ row: r, q: r.p / total }));
    if (rest > 0) items.push({ row: null, q: rest / total, surprisal: -Math.log(minQ) });
    let entropy = 0;
    for (const it of items) entropy += it.row ? -it.q * Math.log(it.q) : it.q * it.surprisal;
    for (const it of items) it.distance = Math.abs((it.row ? -Math.log(it.q) : it.surprisal) - entropy);
    items.sort((a, b) => a.distance - b.distance);
    let cumulative = 0;
    items.forEach((it, i) => {
      if (cumulative >= s.typical_p && i >= 1) {
        if (it.row) it.row.cut = "typical"; else rest = 0;
      }
      cumulative += it.q;
    });
    if (rest > 0) approximate = true;
  }
  // 5. top-p: the most likely tokens until their mass reaches top_p.
  if (s.top_p < 1) {
    const { live, total } = probs();
    let cumulative = 0;
    let reached = false;
    live.forEach((r, i) => {
      if (reached) r.cut = "top-p";
      cumulative += r.p / total;
      if (cumulative >= s.top_p && i + 1 >= 1) reached = true;
    });
    if (reached) rest = 0;
  }
  // 6. min-p: tokens below min_p times the most likely one.
  if (s.min_p > 0) {
    const live = alive();
    if (live.length) {
      const threshold = live[0].logit + Math.log(s.min_p);
      live.forEach((r, i) => { if (i > 0 && r.logit < threshold) r.cut = "min-p"; });
      if (live[live.length - 1].cut) rest = 0;
    }
  }
  // 7. temperature, then the draw's probabilities over the survivors. The lump's share at
  // temperature T is estimated as tokens each as likely as the least likely listed one.
  const live = alive();
  const t = s.temperature;
  const weights = live.map((r) => Math.exp((r.logit - live[0].logit) / t));
  let lump = 0;
  if (rest > 0 && live.length) {
    const floor = live[live.length - 1];
    const share = Math.exp((floor.logit - live[0].logit) / t);
    lump = (rest / floor.p) * share;
    approximate = true;
  }
  const z = weights.reduce((a, b) => a + b, 0) + lump;
  live.forEach((r, i) => { r.finalP = weights[i] / z; });
  return { rows, greedy, approximate, rest };
}

// Tint bucket 0 (certain) .. 9 (unlikely) of a token the sampler drew with probability p.
export function tintBucket(p) {
  return Math.max(0, Math.min(9, Math.floor((1 - p) * 10)));
}
