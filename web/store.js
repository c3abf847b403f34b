// Conversations kept in the browser's localStorage, one key for the list.
//
// A conversation: {id, title, updated, messages}. A message is {role: "user", content} or
// {role: "assistant", choices: [{text, tokens, finish}], selected, stats, error, params}
// where tokens are [{id, token, logprob, top: [{id, token, logprob}]}] for the token view
// and params the sampling settings the reply was made with.

const kKey = "loom.conversations";

export function loadConversations() {
  try {
    const list = JSON.parse(localStorage.getItem(kKey) ?? "[]");
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

// Saves the list, newest first. When the browser's quota is full, drops the token
// details (the bulk of the data) of the oldest replies first, then of all but the newest.
export function saveConversations(list) {
  const sorted = [...list].sort((a, b) => b.updated - a.updated);
  for (let keep = sorted.length; keep >= 0; --keep) {
    try {
      localStorage.setItem(kKey, JSON.stringify(sorted));
      return true;
    } catch {
      const victim = sorted[keep - 1];
      for (const m of victim?.messages ?? []) for (const c of m.choices ?? []) c.tokens = [];
    }
  }
  return false;
}

export function newConversation() {
  const id = `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`;
  return { id, title: "New chat", updated: Date.now(), messages: [] };
}

// A title from the first user message: its first line, shortened.
export function titleFrom(text) {
  const line = text.trim().split("\n")[0];
  return line.length > 48 ? `${line.slice(0, 45)}…` : line || "New chat";
}
