// The settings panel: every decoding control of POST /v1/chat/completions under the names
// src/server/openai_request.cpp accepts, kept in localStorage. An empty field is not sent,
// so the server's default applies (shown as the placeholder).

const kKey = "loom.settings";

// [field, label, kind, placeholder or options, hint]; kind: number | int | text | area |
// check | select. Sections become fieldsets.
const kSections = [
  ["Conversation", [
    ["system", "System prompt", "area", "You are a helpful assistant.", ""],
  ]],
  ["Sampling", [
    ["temperature", "Temperature", "number", "1", "0 is greedy"],
    ["top_k", "Top-k", "int", "off", "keep the k most likely"],
    ["top_p", "Top-p", "number", "1 (off)", "nucleus mass"],
    ["min_p", "Min-p", "number", "0 (off)", "relative to the best"],
    ["typical_p", "Typical-p", "number", "1 (off)", ""],
    ["seed", "Seed", "int", "random", "same seed, same reply"],
  ]],
  ["Penalties", [
    ["repetition_penalty", "Repetition penalty", "number", "1 (off)", ""],
    ["repeat_last_n", "Repeat last n", "int", "64", "-1: all"],
    ["presence_penalty", "Presence penalty", "number", "0", "-2 … 2"],
    ["frequency_penalty", "Frequency penalty", "number", "0", "-2 … 2"],
  ]],
  ["Length and stop", [
    ["max_tokens", "Max tokens", "int", "all", "up to the context's end"],
    ["min_tokens", "Min tokens", "int", "0", ""],
    ["ignore_eos", "Ignore end of sequence", "check", "", ""],
    ["stop", "Stop strings", "area", "one per line", ""],
  ]],
  ["Logit bias", [
    ["logit_bias", "Logit bias", "area", "token id: bias, one per line\n13: 5\n29871: -100", "-100 bans a token"],
  ]],
  ["Choices", [
    ["n", "Choices (n)", "int", "1", "shown side by side"],
    ["best_of", "Best of", "int", "n", "not streamed"],
    ["use_beam_search", "Beam search", "check", "", "beams = best of, or n; not streamed"],
    ["length_penalty", "Length penalty", "number", "1", "beam search"],
    ["early_stopping", "Early stopping", "check", "", "beam search"],
  ]],
  ["Structured output", [
    ["format", "Output", "select", [["text", "Free text"], ["json_object", "Any JSON object"], ["json_schema", "JSON Schema"], ["grammar", "GBNF grammar"]], ""],
    ["schema", "JSON Schema", "area", '{"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}', ""],
    ["grammar", "GBNF grammar", "area", 'root ::= "yes" | "no"', ""],
  ]],
  ["Token view", [
    ["top_logprobs", "Alternatives per token", "int", "10", "0 … 20"],
  ]],
];

export function loadSettings() {
  try {
    return JSON.parse(localStorage.getItem(kKey) ?? "{}") ?? {};
  } catch {
    return {};
  }
}

export function saveSettings(values) {
  localStorage.setItem(kKey, JSON.stringify(values));
}

// Builds the form inside `container`; onChange(values) runs on every edit.
export function buildSettingsForm(container, values, onChange) {
  container.replaceChildren();
  for (const [title, fields] of kSections) {
    const set = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.textContent = title;
    set.append(legend);
    for (const [name, label, kind, placeholder, hint] of fields) {
      const id = `set-${name}`;
      const row = document.createElement("div");
      row.className = `field field-${kind}`;
      row.dataset.field = name;
      const lab = document.createElement("label");
      lab.htmlFor = id;
      lab.textContent = label;
      let input;
      if (kind === "area") {
        input = document.createElement("textarea");
        input.rows = name === "system" ? 3 : 4;
        input.placeholder = placeholder;
        input.spellcheck = false;
      } else if (kind === "select") {
        input = document.createElement("select");
        for (const [value, text] of placeholder) input.add(new Option(text, value));
      } else {
        input = document.createElement("input");
        input.type = kind === "check" ? "checkbox" : kind === "text" ? "text" : "number";
        if (kind === "number") input.step = "any";
        if (kind === "int") input.step = "1";
        if (kind !== "check") input.placeholder = placeholder;
      }
      input.id = id;
      input.name = name;
      if (kind === "check") input.checked = Boolean(values[name]);
      else if (values[name] !== undefined) input.value = values[name];
      input.addEventListener("input", () => {
        values[name] = kind === "check" ? input.checked : input.value;
        if (!values[name]) delete values[name];
        showFormatFields(container, values);
        onChange(values);
      });
      if (kind === "check") row.append(input, lab);
      else row.append(lab, input);
      if (hint) {
        const small = document.createElement("span");
        small.className = "hint";
        small.id = `${id}-hint`;
        small.textContent = hint;
        input.setAttribute("aria-describedby", small.id);
        row.append(small);
      }
      set.append(row);
    }
    container.append(set);
  }
  showFormatFields(container, values);
}

// Only the schema or grammar box that the chosen output format uses is shown.
function showFormatFields(container, values) {
  const format = values.format ?? "text";
  container.querySelector('[data-field="schema"]').hidden = format !== "json_schema";
  container.querySelector('[data-field="grammar"]').hidden = format !== "grammar";
}

const kNumbers = ["temperature", "top_p", "min_p", "typical_p", "repetition_penalty", "presence_penalty", "frequency_penalty", "length_penalty"];
const kInts = ["top_k", "seed", "repeat_last_n", "max_tokens", "min_tokens", "n", "best_of"];

// The request body for `messages` (without the system prompt) and the settings, plus the
// effective sampling parameters for the token view. Throws Error with a message for the
// user when a field cannot be sent (bad JSON, a malformed bias line).
export function buildRequest(values, messages) {
  const body = { model: "loom", messages: [] };
  if (values.system?.trim()) body.messages.push({ role: "system", content: values.system });
  body.messages.push(...messages);
  const number = (name) => {
    const v = Number(values[name]);
    if (!Number.isFinite(v)) throw new Error(`${name} must be a number, got "${values[name]}"`);
    return v;
  };
  for (const name of kNumbers) if (values[name] !== undefined && values[name] !== "") body[name] = number(name);
  for (const name of kInts) if (values[name] !== undefined && values[name] !== "") body[name] = Math.trunc(number(name));
  if (values.ignore_eos) body.ignore_eos = true;
  if (values.use_beam_search) body.use_beam_search = true;
  if (values.early_stopping) body.early_stopping = true;
  const stops = (values.stop ?? "").split("\n").filter((s) => s.length);
  if (stops.length) body.stop = stops;
  const bias = parseLogitBias(values.logit_bias ?? "");
  if (Object.keys(bias).length) body.logit_bias = bias;
  const format = values.format ?? "text";
  if (format === "json_object") body.response_format = { type: "json_object" };
  if (format === "json_schema") {
    let schema;
    try {
      schema = JSON.parse(values.schema ?? "");
    } catch (e) {
      throw new Error(`the JSON Schema is not valid JSON: ${e.message}`);
    }
    body.response_format = { type: "json_schema", json_schema: { name: "schema", schema, strict: true } };
  }
  if (format === "grammar" && values.grammar?.trim()) body.grammar = values.grammar;
  const top = values.top_logprobs === undefined || values.top_logprobs === "" ? 10 : Math.trunc(number("top_logprobs"));
  // Beam search and best_of > n pick their choices at the end: the server cannot stream them.
  const whole = body.use_beam_search || (body.best_of ?? 0) > (body.n ?? 1);
  body.stream = !whole;
  if (body.stream) body.stream_options = { include_usage: true };
  if (!body.use_beam_search) {
    body.logprobs = true;
    body.top_logprobs = top;
  }
  const params = {};
  for (const name of ["temperature", "top_k", "top_p", "min_p", "typical_p", "presence_penalty", "frequency_penalty", "repetition_penalty", "logit_bias"]) {
    if (body[name] !== undefined) params[name] = body[name];
  }
  return { body, params };
}

// "13: 5" or "13=5" lines, or a JSON object {"13": 5}, to {13: 5}.
export function parseLogitBias(text) {
  const trimmed = text.trim();
  if (!trimmed) return {};
  if (trimmed.startsWith("{")) {
    try {
      return JSON.parse(trimmed);
    } catch (e) {
      throw new Error(`logit bias is not valid JSON: ${e.message}`);
    }
  }
  const bias = {};
  for (const line of trimmed.split("\n")) {
    if (!line.trim()) continue;
    const m = /^\s*(\d+)\s*[:=]\s*(-?\d+(\.\d+)?)\s*$/.exec(line);
    if (!m) throw new Error(`logit bias line "${line.trim()}" is not "token id: bias"`);
    bias[m[1]] = Number(m[2]);
  }
  return bias;
}
