// /docs in Chromium (playwright-core): the AsyncAPI reference renders an operation, the
// OpenAPI one renders when the server has /api/openapi.json (else the page says so), and
// nothing is fetched from another origin. Run by tests/e2e/test_docs_page.py; by hand:
//
//   SAFECHAT_URL=http://127.0.0.1:3001 EXPECT_OPENAPI=0 [SAFECHAT_SCREENSHOT=x.png] \
//   node tests/e2e/docs_page.mjs
//
// Prints one JSON line: {"ok":true, ...observations} or {"ok":false,"error":...}.

import { chromium } from "playwright-core";

const URL = process.env.SAFECHAT_URL;
const EXPECT_OPENAPI = process.env.EXPECT_OPENAPI === "1";
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const STEP_MS = 30000;
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];

const observed = { pageErrors: [], consoleErrors: [], foreign: [] };
let browser;
try {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on("pageerror", (err) => observed.pageErrors.push(String(err)));
  page.on("console", (msg) => msg.type() === "error" && observed.consoleErrors.push(msg.text()));
  page.on("request", (req) => {
    const url = req.url();
    if (!url.startsWith(URL) && !url.startsWith("data:") && !url.startsWith("blob:")) observed.foreign.push(url);
  });
  await page.goto(`${URL}/docs`);
  const events = page.locator("#asyncapi");
  // An operation of the document, rendered by the AsyncAPI component (not our own text).
  const op = events.locator("[id^='operation-']", { hasText: "send_message" }).first();
  await op.waitFor({ timeout: STEP_MS });
  observed.operation = (await op.innerText()).slice(0, 400);
  observed.title = (await events.innerText()).includes("SafeChat Socket.IO API");
  observed.ackShown = (await events.innerText()).includes("send_message.ack");
  if (EXPECT_OPENAPI) {
    await page.locator("#openapi .opblock").first().waitFor({ timeout: STEP_MS });
    observed.restOperations = await page.locator("#openapi .opblock").count();
  } else {
    await page.locator("#rest-status", { hasText: "not available" }).waitFor({ timeout: STEP_MS });
    observed.restStatus = await page.locator("#rest-status").innerText();
  }
  if (process.env.SAFECHAT_SCREENSHOT) {
    await op.scrollIntoViewIfNeeded();
    await page.screenshot({ path: process.env.SAFECHAT_SCREENSHOT });
  }
  console.log(JSON.stringify({ ok: true, ...observed }));
  await browser.close();
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err?.stack || err), observed }));
  await browser?.close().catch(() => {});
  process.exit(1);
}
