// The chat page: conversations, the composer, streaming replies, the settings panel, the
// token view and the server's live status. Model text reaches the DOM only through
// textContent or the escaping markdown renderer.
import { ApiError, apiKey, chatCompletion, getJson } from "./api.js";
import { renderMarkdown } from "./markdown.js";
import { buildRequest, buildSettingsForm, loadSettings, saveSettings } from "./settings.js";
import { loadConversations, newConversation, saveConversations, titleFrom } from "./store.js";
import { renderTokenDetail, renderTokens } from "./token_view.js";

const $ = (id) => document.getElementById(id);
const els = {
  list: $("conversation-list"), messages: $("messages"), empty: $("empty"), prompt: $("prompt"),
  composer: $("composer"), send: $("send"), stop: $("stop"), title: $("chat-title"),
  settings: $("settings"), settingsForm: $("settings-form"), openSettings: $("open-settings"),
  tokenPanel: $("token-panel"), keyDialog: $("key-dialog"), keyInput: $("key-input"),
  keyError: $("key-error"), toast: $("toast"), modelName: $("model-name"),
};

const state = {
  conversations: loadConversations(),
  current: null,  // the open conversation
  settings: loadSettings(),
  running: null,  // {controller, conversation, message} while a reply is generated
  tokenViews: new Set(),  // "message index:choice" shown as tokens
};

const icons = {
  copy: '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="9" y="9" width="11" height="11" rx="2"/><path d="M5 15V5a2 2 0 0 1 2-2h8"/></svg>',
  edit: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 20h4L19 9l-4-4L4 16v4zM13.5 6.5l4 4"/></svg>',
  regenerate: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7"/></svg>',
  tokens: '<svg viewBox="0 0 24 24" aria-hidden="true"><rect x="3" y="6" width="5" height="5" rx="1"/><rect x="10" y="6" width="5" height="5" rx="1"/><rect x="17" y="6" width="4" height="5" rx="1"/><rect x="3" y="14" width="8" height="5" rx="1"/><rect x="13" y="14" width="5" height="5" rx="1"/></svg>',
  trash: '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13"/></svg>',
};

function iconButton(icon, label, onClick, extraClass = "") {
  const b = document.createElement("button");
  b.type = "button";
  b.className = `icon-button small ${extraClass}`;
  b.setAttribute("aria-label", label);
  b.title = label;
  b.innerHTML = icons[icon];  // a fixed icon from this file, never model text
  b.addEventListener("click", onClick);
  return b;
}

function toast(text) {
  els.toast.textContent = text;
  els.toast.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { els.toast.hidden = true; }, 1800);
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard permission (an insecure origin, a headless browser): the old way.
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  toast("Copied");
}

// ---- conversations ---------------------------------------------------------------

function persist() {
  if (state.current) state.current.updated = Date.now();
  saveConversations(state.conversations);
}

function openConversation(conversation) {
  state.current = conversation;
  state.tokenViews.clear();
  closeTokenPanel();
  renderSidebar();
  renderMessages();
}

function startNewConversation() {
  if (state.running) stopReply();
  const empty = state.conversations.find((c) => c.messages.length === 0);
  const conversation = empty ?? newConversation();
  if (!empty) state.conversations.unshift(conversation);
  openConversation(conversation);
  els.prompt.focus();
}

function deleteConversation(conversation) {
  if (state.running?.conversation === conversation) stopReply();
  state.conversations = state.conversations.filter((c) => c !== conversation);
  saveConversations(state.conversations);
  if (state.current === conversation) {
    openConversation(state.conversations[0] ?? (state.conversations.push(newConversation()), state.conversations[0]));
  } else {
    renderSidebar();
  }
}

function renderSidebar() {
  els.list.replaceChildren();
  const sorted = [...state.conversations].sort((a, b) => b.updated - a.updated);
  for (const c of sorted) {
    const li = document.createElement("li");
    li.className = c === state.current ? "active" : "";
    const open = document.createElement("button");
    open.type = "button";
    open.className = "conversation";
    open.textContent = c.title;
    if (c === state.current) open.setAttribute("aria-current", "true");
    open.addEventListener("click", () => openConversation(c));
    li.append(open, iconButton("trash", `Delete conversation "${c.title}"`, () => deleteConversation(c), "delete"));
    els.list.append(li);
  }
  els.title.textContent = state.current?.title ?? "New chat";
}

// ---- messages --------------------------------------------------------------------

const choiceText = (m) => m.choices?.[m.selected ?? 0]?.text ?? "";

function statsText(m) {
  const s = m.stats;
  if (!s) return "";
  const parts = [`${s.tokens} token${s.tokens === 1 ? "" : "s"}`];
  if (s.ttft_ms !== undefined) parts.push(`TTFT ${Math.round(s.ttft_ms)} ms`);
  if (s.tokens_per_s) parts.push(`${s.tokens_per_s.toFixed(1)} tok/s`);
  if (s.stopped) parts.push("stopped");
  else if (m.choices?.length === 1 && m.choices[0].finish === "length") parts.push("max tokens reached");
  return parts.join(" · ");
}

function renderMessages() {
  const conversation = state.current;
  els.messages.replaceChildren();
  if (!conversation.messages.length) els.messages.append(els.empty);
  conversation.messages.forEach((m, i) => els.messages.append(m.role === "user" ? userElement(m, i) : assistantElement(m, i)));
  els.messages.scrollTop = els.messages.scrollHeight;
  updateComposer();
}

function userElement(m, index) {
  const el = document.createElement("article");
  el.className = "msg user";
  el.dataset.index = String(index);
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  bubble.textContent = m.content;
  const actions = document.createElement("div");
  actions.className = "actions";
  actions.append(
    iconButton("edit", "Edit and resend", () => editMessage(el, index)),
    iconButton("copy", "Copy message", () => copyText(m.content)));
  el.append(bubble, actions);
  return el;
}

function editMessage(el, index) {
  if (state.running) return;
  const m = state.current.messages[index];
  const area = document.createElement("textarea");
  area.className = "edit-area";
  area.value = m.content;
  area.id = `edit-${index}`;
  area.setAttribute("aria-label", "Edit message");
  const save = document.createElement("button");
  save.type = "button";
  save.className = "primary";
  save.textContent = "Save & send";
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "text-button";
  cancel.textContent = "Cancel";
  const buttons = document.createElement("div");
  buttons.className = "edit-buttons";
  buttons.append(cancel, save);
  el.replaceChildren(area, buttons);
  area.focus();
  cancel.addEventListener("click", renderMessages);
  const submit = () => {
    if (!area.value.trim()) return;
    state.current.messages = state.current.messages.slice(0, index);
    state.current.messages.push({ role: "user", content: area.value });
    generate();
  };
  save.addEventListener("click", submit);
  area.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
    if (e.key === "Escape") { e.preventDefault(); renderMessages(); }
  });
}

function assistantElement(m, index) {
  const el = document.createElement("article");
  el.className = "msg assistant";
  el.dataset.index = String(index);
  const grid = document.createElement("div");
  grid.className = `choices${m.choices.length > 1 ? " side-by-side" : ""}`;
  m.choices.forEach((c, ci) => {
    const section = document.createElement("section");
    section.className = "choice";
    section.dataset.choice = String(ci);
    if (m.choices.length > 1) {
      section.setAttribute("aria-label", `Choice ${ci + 1}`);
      const head = document.createElement("div");
      head.className = "choice-head";
      const label = document.createElement("span");
      label.textContent = `Choice ${ci + 1}`;
      const use = document.createElement("button");
      use.type = "button";
      use.className = "text-button use";
      use.textContent = (m.selected ?? 0) === ci ? "In use" : "Use";
      use.setAttribute("aria-pressed", String((m.selected ?? 0) === ci));
      use.setAttribute("aria-label", `Continue the conversation with choice ${ci + 1}`);
      use.addEventListener("click", () => { m.selected = ci; persist(); renderMessages(); });
      head.append(label, use);
      section.append(head);
      if ((m.selected ?? 0) === ci) section.classList.add("selected");
    }
    const content = document.createElement("div");
    content.className = "content";
    section.append(content);
    const actions = document.createElement("div");
    actions.className = "actions";
    const key = `${index}:${ci}`;
    const tokensButton = iconButton("tokens", "Token view", () => {
      if (state.tokenViews.has(key)) state.tokenViews.delete(key); else state.tokenViews.add(key);
      closeTokenPanel();
      fillChoice(section, m, ci, index);
    }, "token-toggle");
    tokensButton.setAttribute("aria-pressed", String(state.tokenViews.has(key)));
    tokensButton.disabled = !c.tokens?.length;
    actions.append(iconButton("copy", "Copy reply", () => copyText(c.text)), tokensButton);
    // One choice: its buttons share the line with the statistics (below).
    if (m.choices.length > 1) section.append(actions);
    fillChoice(section, m, ci, index, actions);
    grid.append(section);
    if (m.choices.length === 1) grid.actions = actions;
  });
  el.append(grid);
  const error = document.createElement("div");
  error.className = "error";
  error.setAttribute("role", "alert");
  error.textContent = m.error ?? "";
  error.hidden = !m.error;
  el.append(error);
  const meta = document.createElement("div");
  meta.className = "meta";
  const stats = document.createElement("span");
  stats.className = "stats";
  stats.textContent = statsText(m);
  if (grid.actions) meta.append(grid.actions);
  if (index === state.current.messages.length - 1) {
    (grid.actions ?? meta).append(iconButton("regenerate", "Regenerate", regenerate, "regenerate"));
  }
  meta.append(stats);
  el.append(meta);
  return el;
}

// Renders choice `ci` as markdown or, in the token view, as tinted tokens.
function fillChoice(section, m, ci, index, actions = section.closest("article").querySelectorAll(".actions")[m.choices.length > 1 ? ci : 0]) {
  const c = m.choices[ci];
  const content = section.querySelector(".content");
  const asTokens = state.tokenViews.has(`${index}:${ci}`) && c.tokens?.length;
  content.className = asTokens ? "content tokens" : "content markdown";
  const button = actions.querySelector(".token-toggle");
  button.setAttribute("aria-pressed", String(Boolean(asTokens)));
  button.disabled = !c.tokens?.length;
  if (asTokens) {
    renderTokens(content, c.tokens, (ti, span) => openTokenPanel(m, c, ti, span));
  } else {
    content.innerHTML = renderMarkdown(c.text);  // escapes the text first
    if (c.reasoning) content.prepend(reasoningElement(c.reasoning, !c.text));
    if (state.running?.message === m && !c.finish) {
      const caret = document.createElement("span");
      caret.className = "caret";
      (content.lastElementChild ?? content).append(caret);
    }
  }
}

// A reasoning model's thinking (reasoning_content), folded away once the answer starts.
function reasoningElement(text, open) {
  const details = document.createElement("details");
  details.className = "reasoning";
  details.open = open;
  const summary = document.createElement("summary");
  summary.textContent = "Reasoning";
  const body = document.createElement("div");
  body.textContent = text;
  details.append(summary, body);
  return details;
}

// Redraws the reply being generated (at most once per animation frame).
function scheduleRender(m) {
  if (scheduleRender.pending) return;
  scheduleRender.pending = requestAnimationFrame(() => {
    scheduleRender.pending = 0;
    const index = state.current.messages.indexOf(m);  // -1: another conversation is open
    const el = index >= 0 && els.messages.querySelector(`article[data-index="${index}"]`);
    if (!el) return;
    const nearBottom = els.messages.scrollHeight - els.messages.scrollTop - els.messages.clientHeight < 80;
    const sections = el.querySelectorAll(".choice");
    if (sections.length !== m.choices.length) {
      el.replaceWith(assistantElement(m, index));
    } else {
      sections.forEach((section, ci) => fillChoice(section, m, ci, index));
      el.querySelector(".stats").textContent = statsText(m);
      const error = el.querySelector(".error");
      error.textContent = m.error ?? "";
      error.hidden = !m.error;
    }
    if (nearBottom) els.messages.scrollTop = els.messages.scrollHeight;
  });
}

// ---- the token panel -------------------------------------------------------------

function openTokenPanel(m, c, index, anchor) {
  renderTokenDetail(els.tokenPanel, c.tokens, index, m.params ?? {});
  els.tokenPanel.hidden = false;
  const r = anchor.getBoundingClientRect();
  const panel = els.tokenPanel.getBoundingClientRect();
  const left = Math.max(8, Math.min(window.innerWidth - panel.width - 8, r.left - 24));
  const below = r.bottom + 8 + panel.height < window.innerHeight;
  const top = below ? r.bottom + 8 : Math.max(8, r.top - panel.height - 8);
  els.tokenPanel.style.left = `${left}px`;
  els.tokenPanel.style.top = `${top}px`;
  for (const t of document.querySelectorAll(".tok.picked")) t.classList.remove("picked");
  anchor.classList.add("picked");
  $("close-token-panel").focus({ preventScroll: true });
}

function closeTokenPanel() {
  els.tokenPanel.hidden = true;
  for (const t of document.querySelectorAll(".tok.picked")) t.classList.remove("picked");
}

// ---- generation ------------------------------------------------------------------

function updateComposer() {
  const busy = Boolean(state.running);
  els.send.hidden = busy;
  els.stop.hidden = !busy;
  els.composer.classList.toggle("busy", busy);
}

// The history sent to the server: user messages and each reply's selected choice.
function history(messages) {
  return messages
    .filter((m) => m.role === "user" || (m.choices && !m.error))
    .map((m) => (m.role === "user" ? { role: "user", content: m.content } : { role: "assistant", content: choiceText(m) }));
}

async function generate() {
  const conversation = state.current;
  if (conversation.title === "New chat" && conversation.messages[0]) {
    conversation.title = titleFrom(conversation.messages[0].content);
  }
  const m = { role: "assistant", choices: [{ text: "", tokens: [] }], selected: 0 };
  let request;
  try {
    request = buildRequest(state.settings, history(conversation.messages));
  } catch (e) {
    m.error = `Settings: ${e.message}`;
    conversation.messages.push(m);
    persist();
    renderSidebar();
    renderMessages();
    return;
  }
  m.params = request.params;
  conversation.messages.push(m);
  const controller = new AbortController();
  state.running = { controller, conversation, message: m };
  persist();
  renderSidebar();
  renderMessages();

  const started = performance.now();
  let firstAt = 0;
  let received = 0;
  const choice = (i) => {
    while (m.choices.length <= i) m.choices.push({ text: "", tokens: [] });
    return m.choices[i];
  };
  try {
    const whole = await chatCompletion(request.body, {
      signal: controller.signal,
      onChunk: (chunk) => {
        for (const ch of chunk.choices ?? []) {
          const c = choice(ch.index ?? 0);
          if (ch.delta?.reasoning_content) {
            if (!firstAt) firstAt = performance.now();
            c.reasoning = (c.reasoning ?? "") + ch.delta.reasoning_content;
          }
          if (ch.delta?.content) {
            if (!firstAt) firstAt = performance.now();
            c.text += ch.delta.content;
          }
          for (const t of ch.logprobs?.content ?? []) {
            c.tokens.push(compactToken(t));
            ++received;
          }
          if (ch.finish_reason) c.finish = ch.finish_reason;
        }
        if (chunk.usage) m.stats = statsFrom(chunk.usage, chunk.timings);
        scheduleRender(m);
      },
    });
    if (whole) {
      m.choices = whole.choices.map((ch) => ({
        text: ch.message?.content ?? "",
        reasoning: ch.message?.reasoning_content,
        tokens: (ch.logprobs?.content ?? []).map(compactToken),
        finish: ch.finish_reason,
      }));
      m.stats = statsFrom(whole.usage, whole.timings);
    }
  } catch (e) {
    if (e.name === "AbortError") {
      const elapsed = (performance.now() - (firstAt || started)) / 1000;
      m.stats = { tokens: received, ttft_ms: firstAt ? firstAt - started : undefined, tokens_per_s: received > 1 && elapsed > 0 ? (received - 1) / elapsed : 0, stopped: true };
    } else {
      m.error = e.message;
      if (e instanceof ApiError && e.status === 401) askForKey("The server refused the key.");
    }
  }
  if (!m.stats && !m.error) {
    const elapsed = (performance.now() - (firstAt || started)) / 1000;
    m.stats = { tokens: received, ttft_ms: firstAt ? firstAt - started : undefined, tokens_per_s: received > 1 ? (received - 1) / elapsed : 0 };
  }
  for (const c of m.choices) c.finish ??= m.stats?.stopped ? "stopped" : undefined;
  state.running = null;
  persist();
  if (state.current === conversation) renderMessages();
}

// Only what the token view needs, to keep localStorage small.
function compactToken(t) {
  return {
    id: t.id, token: t.token, logprob: t.logprob,
    top: (t.top_logprobs ?? []).map((a) => ({ id: a.id, token: a.token, logprob: a.logprob })),
  };
}

function statsFrom(usage, timings) {
  return {
    tokens: usage?.completion_tokens ?? 0,
    ttft_ms: timings?.time_to_first_token_ms,
    tokens_per_s: timings?.decode_tokens_per_second,
  };
}

function send() {
  const text = els.prompt.value;
  if (!text.trim() || state.running) return;
  state.current.messages.push({ role: "user", content: text });
  els.prompt.value = "";
  autosize();
  generate();
}

function regenerate() {
  if (state.running) return;
  const messages = state.current.messages;
  if (messages.at(-1)?.role === "assistant") messages.pop();
  if (!messages.length) return;
  generate();
}

function stopReply() {
  state.running?.controller.abort();
}

// ---- API key, server status, settings --------------------------------------------

function askForKey(message = "") {
  els.keyError.textContent = message;
  els.keyInput.value = apiKey.get();
  if (!els.keyDialog.open) els.keyDialog.showModal();
}

async function loadModel() {
  try {
    const models = await getJson("/v1/models");
    els.modelName.textContent = models.data?.[0]?.id ?? "";
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) askForKey(apiKey.get() ? "The server refused this key." : "");
    return false;
  }
}

async function pollHealth() {
  try {
    const res = await fetch("/health");
    const h = await res.json();
    if (h.status !== "ready") {
      $("srv-running").textContent = h.status;
    } else {
      $("srv-running").textContent = `${h.running} / ${h.max_sequences}`;
      $("srv-waiting").textContent = String(h.waiting);
      const used = h.kv_capacity_tokens ? h.kv_used_tokens / h.kv_capacity_tokens : 0;
      // kv_cached_tokens (blocks kept for prefix reuse) is shown when the server reports it.
      const cached = h.kv_cached_tokens ? ` (+${h.kv_cached_tokens} cached)` : "";
      $("srv-kv").textContent = `${h.kv_used_tokens} / ${h.kv_capacity_tokens}${cached}`;
      $("srv-kv-meter").value = used;
    }
  } catch {
    $("srv-running").textContent = "offline";
  }
  setTimeout(pollHealth, state.running ? 500 : 1500);
}

function setSettingsOpen(open) {
  els.settings.hidden = !open;
  els.openSettings.setAttribute("aria-expanded", String(open));
  if (open) els.settingsForm.querySelector("textarea, input")?.focus({ preventScroll: true });
}

function autosize() {
  els.prompt.style.height = "auto";
  els.prompt.style.height = `${Math.min(els.prompt.scrollHeight, 240)}px`;
}

// ---- wiring ----------------------------------------------------------------------

els.composer.addEventListener("submit", (e) => { e.preventDefault(); send(); });
els.prompt.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
});
els.prompt.addEventListener("input", autosize);
els.stop.addEventListener("click", stopReply);
document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape") return;
  if (state.running) { e.preventDefault(); stopReply(); return; }
  if (!els.tokenPanel.hidden) closeTokenPanel();
  else if (!els.settings.hidden) setSettingsOpen(false);
});
$("new-chat").addEventListener("click", startNewConversation);
els.openSettings.addEventListener("click", () => setSettingsOpen(els.settings.hidden));
$("close-settings").addEventListener("click", () => setSettingsOpen(false));
$("reset-settings").addEventListener("click", () => {
  state.settings = {};
  saveSettings(state.settings);
  buildSettingsForm(els.settingsForm, state.settings, saveSettings);
});
$("open-help").addEventListener("click", () => $("help-dialog").showModal());
$("close-token-panel").addEventListener("click", closeTokenPanel);
$("toggle-sidebar").addEventListener("click", (e) => {
  // Wide screens show the list until toggled; narrow ones hide it until toggled.
  document.body.classList.toggle("sidebar-toggled");
  const shown = getComputedStyle(document.querySelector(".sidebar")).display !== "none";
  e.currentTarget.setAttribute("aria-expanded", String(shown));
});
els.messages.addEventListener("click", (e) => {
  const copy = e.target.closest(".code-copy");
  if (copy) copyText(copy.closest(".code-block").querySelector("code").textContent);
});
document.addEventListener("click", (e) => {
  if (!els.tokenPanel.hidden && !els.tokenPanel.contains(e.target) && !e.target.closest(".tok")) closeTokenPanel();
});
$("key-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  apiKey.set(els.keyInput.value.trim());
  els.keyError.textContent = "";
  if (await loadModel()) els.keyDialog.close();
});

buildSettingsForm(els.settingsForm, state.settings, saveSettings);
$("toggle-sidebar").setAttribute("aria-expanded", String(getComputedStyle(document.querySelector(".sidebar")).display !== "none"));
if (!state.conversations.length) state.conversations.push(newConversation());
openConversation([...state.conversations].sort((a, b) => b.updated - a.updated)[0]);
loadModel();
pollHealth();
els.prompt.focus();
