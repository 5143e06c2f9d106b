// Takes the documentation's screenshots: opens GraphiQL at the URL given in headless Debian
// Chromium, and for each shot read as JSON from stdin ({name, query, variables, path}) types
// the query and its variables into the editors, runs it, waits for the answer and saves a
// PNG of the page at path. Prints one JSON array of {name, result} (the result pane's text)
// for tests/docs/test_screenshots.py to check. Never downloads a browser: playwright-core
// drives /usr/bin/chromium (or CHROMIUM). Exits 1 with the reason on stderr when it cannot finish.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.argv[2];
if (!url) {
  console.error("usage: node tests/browser/screenshots.mjs http://127.0.0.1:PORT/graphql < shots.json");
  process.exit(2);
}
const shots = JSON.parse(readFileSync(0, "utf-8"));
const STEP_TIMEOUT_MS = 30_000;

const setEditor = ([selector, text]) => {
  const editor = document.querySelector(`${selector} .CodeMirror`)?.CodeMirror;
  if (!editor) throw new Error(`no editor at ${selector}`);
  editor.setValue(text);
};
const resultText = () =>
  document.querySelector(".result-window .CodeMirror")?.CodeMirror.getValue() ?? "";

const userDataDir = mkdtempSync(join(tmpdir(), "trailql-chromium-"));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1440, height: 900 },
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
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  const taken = [];
  for (const shot of shots) {
    await page.goto(url, { waitUntil: "load" });
    await page.locator(".graphiql-query-editor .CodeMirror").waitFor();
    await page.evaluate(setEditor, [".graphiql-query-editor", shot.query]);
    // The Variables tab opens the pane below the query with the variables editor in it.
    await page.getByRole("button", { name: "Variables" }).click();
    await page.locator(".graphiql-editor-tool .CodeMirror").first().waitFor();
    await page.evaluate(setEditor, [".graphiql-editor-tool", shot.variables]);
    await page.evaluate(() => document.activeElement?.blur());
    await page.locator("button.graphiql-execute-button").click();
    await page.waitForFunction(
      () =>
        /"(data|errors)"/.test(
          document.querySelector(".result-window .CodeMirror")?.CodeMirror.getValue() ?? "",
        ),
      undefined,
      { timeout: STEP_TIMEOUT_MS },
    );
    await page.screenshot({ path: shot.path });
    taken.push({ name: shot.name, result: await page.evaluate(resultText) });
  }
  console.log(JSON.stringify(taken));
} catch (error) {
  console.error(`screenshots.mjs: ${error.stack ?? error}`);
  process.exitCode = 1;
} finally {
  await context?.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
