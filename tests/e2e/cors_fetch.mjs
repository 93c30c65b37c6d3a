// REST from a page on another origin, in Chromium (playwright-core): what a web app on
// its own host does against SafeChat's API. Run by tests/e2e/test_cors_browser.py.
// Env: PAGE_URL (allowed origin), BLOCKED_PAGE_URL (not allowed), API, TOKEN, PNG_B64.
// Prints one JSON line: {ok:true, ...observations} or {ok:false, error}.

import { chromium } from "playwright-core";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const { PAGE_URL, BLOCKED_PAGE_URL, API, TOKEN, PNG_B64 } = process.env;
let browser;

async function flow({ api, token, pngB64 }) {
  const auth = { Authorization: `Bearer ${token}` };
  const json = { ...auth, "Content-Type": "application/json" };
  const out = { origin: location.origin };
  let r = await fetch(`${api}/api/groups`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ name: "from another origin" }),
  });
  out.create = r.status;
  out.requestId = r.headers.get("X-Request-Id");
  const group = (await r.json()).group;
  r = await fetch(`${api}/api/messages`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ groupId: group.id, content: "hello across origins", tempId: "t1" }),
  });
  out.send = r.status;
  r = await fetch(`${api}/api/messages/group/${group.id}?limit=10`, { headers: auth });
  out.history = r.status;
  out.contents = (await r.json()).messages.map((m) => m.content);
  const bytes = Uint8Array.from(atob(pngB64), (c) => c.charCodeAt(0));
  r = await fetch(`${api}/api/media/presign`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ groupId: group.id, filename: "dot.png", mimeType: "image/png", size: bytes.length }),
  });
  out.presign = r.status;
  const ticket = await r.json();
  const target = ticket.uploadUrl.startsWith("http") ? ticket.uploadUrl : api + ticket.uploadUrl;
  r = await fetch(target, { method: ticket.method, headers: ticket.headers, body: bytes });
  out.put = r.status;
  r = await fetch(`${api}/api/media/${ticket.mediaId}/complete`, { method: "POST", headers: auth });
  out.complete = r.status;
  out.media = (await r.json()).media?.id ?? null;
  return out;
}

async function blocked({ api, token }) {
  try {
    await fetch(`${api}/api/groups`, { headers: { Authorization: `Bearer ${token}` } });
    return "readable";
  } catch (e) {
    return `refused: ${e.name}`;
  }
}

try {
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ARGS });
  const page = await browser.newPage();
  await page.goto(PAGE_URL);
  const result = await page.evaluate(flow, { api: API, token: TOKEN, pngB64: PNG_B64 });
  const other = await browser.newPage();
  await other.goto(BLOCKED_PAGE_URL);
  result.blocked = await other.evaluate(blocked, { api: API, token: TOKEN });
  console.log(JSON.stringify({ ok: true, ...result }));
  await browser.close();
  process.exit(0);
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error?.stack || error) }));
  await browser?.close().catch(() => {});
  process.exit(1);
}
