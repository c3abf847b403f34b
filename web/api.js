// The page's client for loom serve's own API (same origin): the API key, JSON calls, and
// streaming chat completions read as Server-Sent Events.

const kKeyStorage = "loom.apiKey";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export const apiKey = {
  get: () => localStorage.getItem(kKeyStorage) ?? "",
  set: (key) => (key ? localStorage.setItem(kKeyStorage, key) : localStorage.removeItem(kKeyStorage)),
};

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  const key = apiKey.get();
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

// The server's error message from an OpenAI-style error body, else the HTTP status.
async function errorOf(res) {
  let message = `HTTP ${res.status}`;
  try {
    const body = await res.json();
    if (body?.error?.message) message = body.error.message;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, message);
}

export async function getJson(path) {
  const res = await fetch(path, { headers: headers(false) });
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

// POST /v1/chat/completions. With body.stream, calls onChunk(chunk) for every SSE event
// as it arrives; returns the whole response (non-streaming) or nothing. `signal` aborts.
export async function chatCompletion(body, { signal, onChunk }) {
  const res = await fetch("/v1/chat/completions", {
    method: "POST", headers: headers(true), body: JSON.stringify(body), signal,
  });
  if (!res.ok) throw await errorOf(res);
  if (!body.stream) return res.json();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      // An event is "data: {...}" lines; lines starting with ':' are keep-alive comments.
      const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (!data) continue;
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new ApiError(500, chunk.error.message ?? "generation failed");
      onChunk(chunk);
    }
  }
}
