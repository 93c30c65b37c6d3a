// The web client at / driven in Chromium (playwright-core) as two users against a running
// `safechat serve`. Run by tests/e2e/test_web_client.py; by hand:
//
//   SAFECHAT_URL=http://127.0.0.1:3001 SAFECHAT_IMAGE=/tmp/x.png \
//   SAFECHAT_SCREENSHOT=/tmp/web.png node tests/e2e/web_client.mjs
//
// Prints one JSON line last: {"ok":true, ...observations} (exit 0) or
// {"ok":false,"step":...,"error":...} (exit 1).

import { chromium } from "playwright-core";

const URL = process.env.SAFECHAT_URL;
const IMAGE = process.env.SAFECHAT_IMAGE;
const SCREENSHOT = process.env.SAFECHAT_SCREENSHOT;
const OVERALL_TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_MS || 90000);
const STEP_MS = 15000;
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

const summary = {};
let step = "start";
let browser;

async function finish(ok, error) {
  const line = ok ? { ...summary, ok: true } : { ok: false, step, error: String(error?.stack || error), observed: summary };
  console.log(JSON.stringify(line));
  await browser?.close().catch(() => {});
  process.exit(ok ? 0 : 1);
}

setTimeout(() => finish(false, `overall timeout after ${OVERALL_TIMEOUT_MS} ms`), OVERALL_TIMEOUT_MS);

/** Waits until `selector` has an element whose text contains `text`; returns that text. */
async function seeText(page, selector, text) {
  const locator = page.locator(selector, { hasText: text }).first();
  await locator.waitFor({ timeout: STEP_MS });
  return (await locator.textContent()).trim();
}

async function signIn(page, userId, name) {
  await page.goto(URL);
  await page.getByLabel("User id", { exact: true }).fill(userId);
  await page.getByLabel("Display name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Sign in as this user" }).click();
  await seeText(page, "#me", "Signed in as");
  // Connected and the group list arrived (it may be empty).
  await page.locator("#conversations li").first().waitFor({ timeout: STEP_MS });
}

function message(page, text) {
  return page.locator("#messages li", { hasText: text }).first();
}

async function main() {
  if (!URL || !IMAGE || !SCREENSHOT) throw new Error("SAFECHAT_URL, SAFECHAT_IMAGE, SAFECHAT_SCREENSHOT needed");
  step = "launch";
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  const annCtx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  // Ben is on a phone-width screen.
  const benCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const ann = await annCtx.newPage();
  const ben = await benCtx.newPage();
  const errors = [];
  for (const page of [ann, ben]) page.on("pageerror", (e) => errors.push(String(e)));

  step = "sign in";
  await signIn(ben, "user_ben", "Ben Ode");
  await signIn(ann, "user_ann", "Ann Lee");
  summary.signedIn = await ann.locator("#me").textContent();

  step = "create group";
  await ann.locator("summary", { hasText: "New group" }).click();
  await ann.getByLabel("Group name").fill("Web e2e");
  await ann.getByLabel("Member user ids (comma separated)").fill("user_ben");
  await ann.getByRole("button", { name: "Create group" }).click();
  await seeText(ann, "#room-title", "Web e2e");

  step = "unread count";
  await ann.locator("#composer-text").fill("First!");
  await ann.keyboard.press("Enter");
  await message(ann, "First!").waitFor({ timeout: STEP_MS });
  summary.benUnread = await seeText(ben, "#conversations .badge", "1");

  step = "open and read receipt";
  await ben.locator("#conversations button", { hasText: "Web e2e" }).click();
  await message(ben, "First!").waitFor({ timeout: STEP_MS });
  summary.benOnline = await seeText(ben, "#room-online", "Ann Lee");
  summary.receipt = await seeText(ann, "#messages .receipt", "Seen by Ben Ode");

  step = "typing";
  await ann.locator("#composer-text").pressSequentially("Hello Ben, how are you?", { delay: 10 });
  summary.typing = await seeText(ben, "#typing", "Ann Lee is typing");
  await ann.keyboard.press("Enter");
  summary.benSaw = (await message(ben, "Hello Ben").locator(".body").textContent()).trim();
  await ben.waitForFunction(() => !document.querySelector("#typing").textContent, null, { timeout: STEP_MS });

  step = "smart reply";
  const chip = ben.locator("#smart-replies .chip").first();
  await chip.waitFor({ timeout: STEP_MS });
  const suggestion = (await chip.textContent()).trim();
  summary.suggestion = suggestion;
  await chip.click();
  await message(ann, suggestion).waitFor({ timeout: STEP_MS });

  step = "reply by hand";
  await ben.locator("#composer-text").fill("Typed on my phone");
  await ben.getByRole("button", { name: "Send" }).click();
  await message(ann, "Typed on my phone").waitFor({ timeout: STEP_MS });

  step = "react";
  await message(ben, "Hello Ben").getByRole("button", { name: "React 👍" }).click();
  summary.reaction = await seeText(ann, "#messages .reaction", "👍 1");

  step = "edit";
  await message(ann, "First!").getByRole("button", { name: "Edit" }).click();
  await ann.locator("#composer-text").fill("First! (fixed)");
  await ann.keyboard.press("Enter");
  summary.edited = await seeText(ben, "#messages li", "First! (fixed)");
  summary.editedMarker = await message(ben, "First! (fixed)").locator(".edited").textContent();

  step = "delete";
  await message(ben, "Typed on my phone").getByRole("button", { name: "Delete" }).click();
  await ann.locator("#messages li", { hasText: "Typed on my phone" }).waitFor({ state: "detached", timeout: STEP_MS });

  step = "image";
  await ann.locator("#composer-file").setInputFiles(IMAGE);
  await ann.locator("#preview-img").waitFor({ timeout: STEP_MS });
  summary.previewShown = await ann.locator("#preview").isVisible();
  await ann.locator("#composer-text").fill("A picture");
  await ann.getByRole("button", { name: "Send" }).click();
  const thumb = message(ben, "A picture").locator("img.thumb");
  await thumb.waitFor({ timeout: STEP_MS });
  // The list re-renders as reads and reactions arrive: read the loaded <img> itself, not
  // whichever element the locator resolves to next.
  const loaded = await ben.waitForFunction(
    () => {
      const img = [...document.querySelectorAll("img.thumb")].find((i) => i.complete && i.naturalWidth > 0);
      return img ? { width: img.naturalWidth, src: img.src.startsWith("http") } : null;
    },
    null,
    { timeout: STEP_MS },
  );
  summary.thumbnail = await loaded.jsonValue();
  await ann.waitForFunction(
    () => [...document.querySelectorAll("img.thumb")].some((i) => i.complete && i.naturalWidth > 0),
    null,
    { timeout: STEP_MS },
  );

  step = "direct message";
  await ann.locator("summary", { hasText: "New direct message" }).click();
  await ann.getByLabel("Find a person by name").pressSequentially("ben o", { delay: 20 });
  await ann.getByRole("button", { name: "Message Ben Ode" }).click();
  await seeText(ann, "#room-title", "Ben Ode");
  summary.dmKind = await seeText(ann, "#room-kind", "Direct message");
  summary.benDmListed = await seeText(ben, "#conversations button.direct", "Ann Lee");

  step = "mention";
  const box = ann.locator("#composer-text");
  await box.pressSequentially("Thanks @Be", { delay: 10 });
  await ann.locator("#mention-list [role=option]", { hasText: "Ben Ode" }).waitFor({ timeout: STEP_MS });
  await ann.keyboard.press("Enter"); // picks the highlighted option, does not send
  await box.pressSequentially("see you at 5", { delay: 5 });
  summary.composed = await box.inputValue();
  await ann.keyboard.press("Enter");
  await message(ann, "see you at 5").waitFor({ timeout: STEP_MS });
  // Ben is still in the group: the direct conversation gets the "@" badge live.
  summary.benMentionBadge = await seeText(ben, "#conversations button.direct .mention-badge", "@");
  summary.benPinInGroup = await ben.getByRole("button", { name: "Pin", exact: true }).count();

  step = "mention highlighted";
  await ben.locator("#conversations button.direct", { hasText: "Ann Lee" }).click();
  summary.highlighted = await seeText(ben, "#messages li.mentions-me mark.mention.me", "@Ben Ode");
  await ben.locator("#conversations button.direct .mention-badge").waitFor({ state: "detached", timeout: STEP_MS });

  step = "thread";
  await message(ben, "see you at 5").getByRole("button", { name: "Reply in thread" }).click();
  await seeText(ben, "#replying", "Replying to Ann Lee");
  await ben.locator("#composer-text").fill("Five works");
  await ben.getByRole("button", { name: "Send" }).click();
  summary.replyCount = await seeText(ann, "#messages .replies", "1 reply");
  summary.replyContext = await seeText(ann, "#messages .reply-to", "Reply to you");
  await message(ann, "see you at 5").getByRole("button", { name: "1 reply" }).click();
  summary.threadShown = await seeText(ann, "#messages .thread-list li", "Five works");

  step = "pin";
  await message(ann, "see you at 5").getByRole("button", { name: "Pin", exact: true }).click();
  summary.benPinned = await seeText(ben, "#messages li.pinned .pin-mark", "Pinned by Ann Lee");

  step = "mute";
  await ben.getByRole("button", { name: "Mute conversation" }).click();
  await ben.getByRole("button", { name: "Unmute conversation" }).waitFor({ timeout: STEP_MS });
  summary.benMuted = await ben.locator("#conversations button.direct.muted").count();

  step = "screenshot";
  await ann.screenshot({ path: SCREENSHOT });
  if (process.env.SAFECHAT_SCREENSHOT_PHONE) await ben.screenshot({ path: process.env.SAFECHAT_SCREENSHOT_PHONE });

  step = "unpin";
  await message(ann, "see you at 5").getByRole("button", { name: "Unpin", exact: true }).click();
  await ben.locator("#messages li.pinned").waitFor({ state: "detached", timeout: STEP_MS });
  summary.benUnpinned = true;
  summary.pageErrors = errors;
  await finish(true);
}

main().catch((err) => finish(false, err));
