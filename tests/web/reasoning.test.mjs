// The chat page shows a reasoning model's thinking (reasoning_content) apart from the
// answer: a grammar makes stories260K write "<think>…</think>answer", the server splits it,
// and the page folds the thinking into a "Reasoning" block above the answer.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launchBrowser, openPage, screenshot, setSettings, sendAndWait } from "./helpers.mjs";

let server;
let browser;
before(async () => {
  server = await startServer(["--parallel", "1", "--ctx-size", "256"]);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test("the thinking shows in a folded Reasoning block, the answer below it", async () => {
  const p = await openPage(browser, server.base);
  await setSettings(p.page, {
    temperature: 0,
    max_tokens: 80,
    format: "grammar",
    grammar: 'root ::= "<think>" [a-z]{3,12} "</think>" [a-z]{3,12}',
  });
  await sendAndWait(p.page, "Think first.");
  const reply = await p.page.$eval("article.msg.assistant:last-of-type .choice .content", (el) => {
    const details = el.querySelector("details.reasoning");
    const answer = [...el.childNodes].filter((n) => n !== details).map((n) => n.textContent).join("");
    return {
      summary: details?.querySelector("summary")?.textContent,
      reasoning: details?.querySelector("div")?.textContent,
      open: details?.open,
      answer,
    };
  });
  assert.equal(reply.summary, "Reasoning");
  assert.match(reply.reasoning, /^[a-z]{3,12}$/);
  assert.equal(reply.open, false); // folded once the answer is there
  assert.match(reply.answer.trim(), /^[a-z]{3,12}$/);
  await p.page.click("article.msg.assistant:last-of-type details.reasoning summary");
  console.log(`screenshot: ${await screenshot(p.page, "reasoning-open")}`);
  p.assertLocalOnly();
  p.assertNoErrors();
});
