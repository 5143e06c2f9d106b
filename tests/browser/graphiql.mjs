// Opens GraphiQL at the URL given in headless Debian Chromium, runs the query the page opens
// with (the run button), and prints one JSON object with what the browser saw, for
// tests/api/test_browser.py to assert on. Never downloads a browser: playwright-core drives
// /usr/bin/chromium (or CHROMIUM). Exits 1 with the reason on stderr when it cannot finish.
//
// With `--live N`, it then runs the subscription LIVE_QUERY (the run button again), prints
// "subscribed" on a line of its own once the page has sent it, waits for N events to arrive
// over the page's WebSocket and the last one to show in the result pane, then prints the
// JSON object, with the events' IDs as they arrived.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.argv[2];
const live = process.argv[3] === "--live" ? Number(process.argv[4]) : null;
if (!url || (live !== null && !(live > 0))) {
  console.error("usage: node tests/browser/graphiql.mjs http://127.0.0.1:PORT/graphql [--live N]");
  process.exit(2);
}
const LIVE_QUERY = `subscription {
  eventsAdded(filter: {eventSource: ["logs.amazonaws.com"]}) {
    cursor
    node { eventID eventName }
  }
}`;
const STEP_TIMEOUT_MS = 30_000;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

// The CodeMirror 5 editor inside a GraphiQL pane: its whole text, not only the lines drawn.
const editorText = (selector) =>
  document.querySelector(`${selector} .CodeMirror`)?.CodeMirror.getValue() ?? null;

const userDataDir = mkdtempSync(join(tmpdir(), "trailql-chromium-"));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const requests = [];
  const consoleErrors = [];
  context.on("request", (request) => requests.push(request.url()));
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(String(error)));

  const response = await page.goto(url, { waitUntil: "load" });
  const status = response?.status() ?? null;
  const title = await page.title();
  await page.locator(".graphiql-query-editor .CodeMirror").waitFor();
  const query = await page.evaluate(editorText, ".graphiql-query-editor");

  await page.locator("button.graphiql-execute-button").click();
  // The result pane fills in once the answer arrives; it holds "data" or "errors".
  const answered = await page
    .waitForFunction(
      () => /"(data|errors)"/.test(document.querySelector(".result-window")?.innerText ?? ""),
      undefined,
      { timeout: STEP_TIMEOUT_MS },
    )
    .then(() => true, () => false);
  const result = await page.evaluate(editorText, ".result-window");
  const resultShown = await page.locator(".result-window").innerText();

  const liveIds = [];
  let liveShown = null;
  if (live !== null) {
    page.on("websocket", (socket) => {
      socket.on("framesent", ({ payload }) => {
        if (JSON.parse(payload).type === "subscribe") console.log("subscribed");
      });
      socket.on("framereceived", ({ payload }) => {
        const message = JSON.parse(payload);
        if (message.type === "next") liveIds.push(message.payload.data.eventsAdded.node.eventID);
      });
    });
    await page.evaluate(
      (text) => document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(text),
      LIVE_QUERY,
    );
    await page.locator("button.graphiql-execute-button").click();
    // The events arrive once the test has indexed them; the test's own timeout guards this.
    while (liveIds.length < live) await new Promise((resolve) => setTimeout(resolve, 100));
    const lastId = liveIds[liveIds.length - 1];
    await page.waitForFunction(
      (id) => (document.querySelector(".result-window")?.innerText ?? "").includes(id),
      lastId,
    );
    liveShown = await page.locator(".result-window").innerText();
  }

  const external = requests.filter((address) => {
    const { protocol, host, hostname } = new URL(address);
    if (protocol === "data:" || protocol === "blob:") return false;
    return !LOOPBACK.has(hostname) && !LOOPBACK.has(host);
  });
  console.log(
    JSON.stringify({
      status, title, query, answered, result, resultShown, requests, external, consoleErrors,
      liveIds, liveShown,
    }),
  );
} catch (error) {
  console.error(`graphiql.mjs: ${error.stack ?? error}`);
  process.exitCode = 1;
} finally {
  await context?.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
