// A small, safe markdown renderer for model replies. The text is HTML-escaped first; the
// renderer then adds only its own tags (no attribute comes from the text except an
// escaped, scheme-checked link URL), so model output can never inject markup or script.
// Supported: fenced code blocks, headings, lists, block quotes, rules, simple tables,
// `code`, **bold**, *italic*, ~~strike~~ and [links](https://...).

export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Links may point only to the web or mail; anything else (javascript:, data:) stays text.
function safeUrl(escapedUrl) {
  return /^(https?:\/\/|mailto:)/i.test(escapedUrl) ? escapedUrl : null;
}

// Inline markup on already-escaped text. Code spans are cut out first so that nothing
// inside them is formatted.
function inline(escaped) {
  const codes = [];
  let text = escaped.replace(/`([^`\n]+)`/g, (_, code) => {
    codes.push(`<code>${code}</code>`);
    return `\u0000${codes.length - 1}\u0000`;
  });
  text = text
    .replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, (whole, label, url) => {
      const safe = safeUrl(url);
      return safe ? `<a href="${safe}" target="_blank" rel="noopener noreferrer">${label}</a>` : whole;
    })
    .replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>")
    .replace(/__([^_\n]+)__/g, "<strong>$1</strong>")
    .replace(/(^|[^*\w])\*([^*\n]+)\*(?!\w)/g, "$1<em>$2</em>")
    .replace(/(^|[^_\w])_([^_\n]+)_(?!\w)/g, "$1<em>$2</em>")
    .replace(/~~([^~\n]+)~~/g, "<del>$1</del>");
  return text.replace(/\u0000(\d+)\u0000/g, (_, i) => codes[Number(i)]);
}

const kFence = /^\s{0,3}(```|~~~)\s*([\w+#.-]*)\s*$/;
const kHeading = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const kRule = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const kBullet = /^(\s*)[-*+]\s+(.*)$/;
const kOrdered = /^(\s*)(\d{1,9})[.)]\s+(.*)$/;
const kQuote = /^\s{0,3}&gt;\s?(.*)$/;
const kTableRow = /^\s*\|.*\|\s*$/;
const kTableRule = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;

function cells(row) {
  return row.trim().replace(/^\||\|$/g, "").split("|").map((c) => inline(c.trim()));
}

// Renders markdown `text` to an HTML string built only from escaped text and fixed tags.
// An unclosed code fence (a reply still streaming) renders as an open code block.
export function renderMarkdown(text) {
  // NUL marks code spans inside inline(); it never belongs in displayed text.
  const lines = escapeHtml(text.replace(/\u0000/g, "")).split("\n");
  const out = [];
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) out.push(`<p>${inline(paragraph.join("\n")).replace(/\n/g, "<br>")}</p>`);
    paragraph = [];
  };
  for (let i = 0; i < lines.length; ) {
    const line = lines[i];
    let m;
    if ((m = kFence.exec(line))) {
      flush();
      const fence = m[1];
      const lang = m[2];
      const body = [];
      for (++i; i < lines.length && !new RegExp(`^\\s{0,3}${fence}\\s*$`).test(lines[i]); ++i) body.push(lines[i]);
      ++i;
      const label = lang ? `<span class="code-lang">${lang}</span>` : "";
      out.push(`<div class="code-block"><div class="code-head">${label}<button type="button" class="code-copy" aria-label="Copy code">Copy</button></div>` +
        `<pre><code${lang ? ` data-lang="${lang}"` : ""}>${body.join("\n")}</code></pre></div>`);
      continue;
    }
    if ((m = kHeading.exec(line))) {
      flush();
      const level = m[1].length;
      out.push(`<h${level}>${inline(m[2])}</h${level}>`);
      ++i;
      continue;
    }
    if (kRule.test(line)) {
      flush();
      out.push("<hr>");
      ++i;
      continue;
    }
    if (kQuote.test(line)) {
      flush();
      const quoted = [];
      for (; i < lines.length && (m = kQuote.exec(lines[i])); ++i) quoted.push(m[1]);
      // The quoted lines are escaped already: unescape so the recursive call escapes once.
      const raw = quoted.join("\n").replace(/&lt;|&gt;|&quot;|&#39;|&amp;/g, (e) => ({ "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&amp;": "&" })[e]);
      out.push(`<blockquote>${renderMarkdown(raw)}</blockquote>`);
      continue;
    }
    if (kBullet.test(line) || kOrdered.test(line)) {
      flush();
      const ordered = !kBullet.test(line);
      const items = [];
      for (; i < lines.length; ++i) {
        const b = ordered ? kOrdered.exec(lines[i]) : kBullet.exec(lines[i]);
        if (b) {
          items.push(ordered ? b[3] : b[2]);
        } else if (lines[i].trim() && /^\s{2,}/.test(lines[i]) && items.length) {
          items[items.length - 1] += "\n" + lines[i].trim();  // a continuation line
        } else {
          break;
        }
      }
      const start = ordered ? Number(kOrdered.exec(line)[2]) : 1;
      const tag = ordered ? "ol" : "ul";
      const startAttr = ordered && start !== 1 ? ` start="${start}"` : "";
      out.push(`<${tag}${startAttr}>${items.map((it) => `<li>${inline(it).replace(/\n/g, "<br>")}</li>`).join("")}</${tag}>`);
      continue;
    }
    if (kTableRow.test(line) && i + 1 < lines.length && kTableRule.test(lines[i + 1])) {
      flush();
      const head = cells(line);
      const rows = [];
      for (i += 2; i < lines.length && kTableRow.test(lines[i]); ++i) rows.push(cells(lines[i]));
      out.push(`<div class="table-wrap"><table><thead><tr>${head.map((c) => `<th>${c}</th>`).join("")}</tr></thead>` +
        `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</tbody></table></div>`);
      continue;
    }
    if (!line.trim()) {
      flush();
      ++i;
      continue;
    }
    paragraph.push(line);
    ++i;
  }
  flush();
  return out.join("");
}
