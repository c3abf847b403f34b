// The token view: a reply as its generated tokens, each tinted by the probability the
// model gave it; clicking one opens a panel with the top alternatives and what the
// sampler's settings did to each (see sampling_view.js for how that is computed).
import { analyzeToken, tintBucket } from "./sampling_view.js";

// Visible stand-ins for tokens that are only whitespace.
function display(token) {
  if (token === "") return "∅";
  return token.replace(/\n/g, "↵\n").replace(/\t/g, "→");
}

// Fills `container` with one button per token (built as DOM nodes, never as HTML).
export function renderTokens(container, tokens, onPick) {
  container.replaceChildren();
  tokens.forEach((t, i) => {
    const span = document.createElement("button");
    span.type = "button";
    span.className = `tok t${tintBucket(Math.exp(t.logprob))}`;
    span.textContent = display(t.token);
    span.dataset.index = String(i);
    span.setAttribute("aria-label", `token ${JSON.stringify(t.token)}, probability ${(Math.exp(t.logprob) * 100).toFixed(1)}%`);
    span.addEventListener("click", () => onPick(i, span));
    container.append(span);
  });
}

const percent = (p) => (p >= 0.9995 ? "100%" : p < 0.0005 ? (p > 0 ? "<0.1%" : "0%") : `${(p * 100).toFixed(1)}%`);

const kCutLabel = {
  bias: "banned by logit bias",
  "top-k": "cut by top-k",
  typical: "cut by typical-p",
  "top-p": "cut by top-p",
  "min-p": "cut by min-p",
  greedy: "not the highest (greedy)",
};

// Fills the detail panel for token `index` of `tokens` sampled with `params`.
export function renderTokenDetail(panel, tokens, index, params) {
  const entry = tokens[index];
  const previous = tokens.slice(0, index).map((t) => t.id);
  const { rows, greedy, approximate } = analyzeToken(entry, params, previous);
  panel.querySelector(".td-token").textContent = display(entry.token);
  panel.querySelector(".td-summary").textContent =
    `token ${index + 1} of ${tokens.length} · id ${entry.id} · model probability ${percent(Math.exp(entry.logprob))}` +
    (greedy ? " · greedy" : "") + (approximate ? " · sampler columns estimated" : "");
  // Bias and penalties renormalize every row, so the column is shown for all or none.
  const shaped = rows.some((r) => r.bias || r.penalty);
  const body = panel.querySelector("tbody");
  body.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    if (r.chosen) tr.className = "chosen";
    if (r.cut) tr.classList.add("cut");
    const cell = (text, cls) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      tr.append(td);
      return td;
    };
    const tokenCell = cell("", "td-piece");
    const code = document.createElement("code");
    code.textContent = display(r.token);
    tokenCell.append(code);
    cell(String(r.id), "num");
    const bar = cell("", "td-bar");
    const meter = document.createElement("meter");
    meter.min = 0;
    meter.max = 1;
    meter.value = r.rawP;
    meter.setAttribute("aria-label", `model probability of ${JSON.stringify(r.token)}`);
    bar.append(meter, document.createTextNode(` ${percent(r.rawP)}`));
    const notes = [];
    if (r.bias > 0) notes.push(`boosted +${r.bias}`);
    if (r.bias < 0 && r.bias > -100) notes.push(`lowered ${r.bias}`);
    if (r.penalty) notes.push(`penalty −${r.penalty.toFixed(2)}`);
    cell(shaped ? percent(r.p) : "", "num");
    cell(r.cut ? "—" : percent(r.finalP), "num");
    const status = r.cut ? kCutLabel[r.cut] : "kept";
    cell([r.chosen ? "chosen" : "", status, ...notes].filter(Boolean).join(" · "), `td-status${r.cut ? " is-cut" : ""}${r.bias > 0 ? " is-boost" : ""}`);
    body.append(tr);
  }
}
