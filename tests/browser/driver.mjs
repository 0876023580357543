// Drives headless Chromium for the Custos page tests, one JSON command per stdin line,
// one JSON answer per stdout line.
//
//   node driver.mjs [--spki <base64 SHA-256 of the server certificate's SPKI>]
//
// Environment: CHROMIUM (default /usr/bin/chromium).
//
// The browser trusts the test server's certificate through Chromium's
// --ignore-certificate-errors-spki-list: a certificate with that key counts as valid (not
// merely "error ignored"), so the page is a secure context and WebAuthn works on it.
// A CDP WebAuthn virtual authenticator (CTAP2, internal, resident keys, user
// verification) plays the user's device. It belongs to the one page the driver keeps and
// navigates for every run, so a passkey registered in one run is used by the next.
//
// Commands:
//   {"cmd":"run","url":U,"totp":"123456"?,"shots":"<dir>/<prefix>"?}
//       open U, wait for the page to load its request, screenshot <prefix>-1-open.png,
//       type the code if given, click #go, wait (30 s) for body[data-state] done|error,
//       screenshot <prefix>-2-result.png; answer
//       {"ok":true,"state":"done"|"error","result":window.custosResult,"shots":[...]}
//   {"cmd":"set_uv","verified":bool}   the authenticator's user verification result
//   {"cmd":"credentials"}              {"ok":true,"credentials":N} stored in the authenticator
//   {"cmd":"click","selector":S}       click S on the current page; {"ok":true,"result":custosResult}
//   {"cmd":"text","selector":S}        {"ok":true,"text":textContent of S}
//   {"cmd":"quit"}
// Any failure of the driver itself answers {"ok":false,"error":"..."}.
// At start it prints {"ok":true,"ready":true} once the browser is up.

import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

function arg(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const spki = arg("--spki");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const args = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
if (spki) args.push(`--ignore-certificate-errors-spki-list=${spki}`);

let browser;
try {
  browser = await chromium.launch({ executablePath, headless: true, args });
} catch (e) {
  say({ ok: false, error: `cannot start ${executablePath}: ${e.message}` });
  process.exit(2);
}
const context = await browser.newContext({ viewport: { width: 720, height: 900 } });
const page = await context.newPage();
const cdp = await context.newCDPSession(page);
await cdp.send("WebAuthn.enable", { enableUI: false });
const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
  options: {
    protocol: "ctap2",
    transport: "internal",
    hasResidentKey: true,
    hasUserVerification: true,
    isUserVerified: true,
    automaticPresenceSimulation: true,
  },
});
const consoleLines = [];
page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
page.on("pageerror", (e) => consoleLines.push(`pageerror: ${e.message}`));

async function run(cmd) {
  consoleLines.length = 0;
  const shots = [];
  const shot = async (suffix) => {
    if (!cmd.shots) return;
    const path = `${cmd.shots}-${suffix}.png`;
    await page.screenshot({ path, fullPage: true });
    shots.push(path);
  };
  // Via a blank page: going from one page URL to another that differs only in its
  // fragment would not load the page again.
  await page.goto("about:blank");
  await page.goto(cmd.url, { waitUntil: "load" });
  await page.waitForSelector('body:not([data-state="loading"])', { timeout: 30000 });
  await shot("1-open");
  let state = await page.evaluate(() => document.body.dataset.state);
  if (state === "ready") {
    if (cmd.totp !== undefined) await page.fill("#totp", String(cmd.totp));
    await page.click("#go");
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 30000 });
    state = await page.evaluate(() => document.body.dataset.state);
  }
  await shot("2-result");
  const result = await page.evaluate(() => window.custosResult);
  return { ok: true, state, result, shots, console: consoleLines.slice() };
}

async function handle(line) {
  const cmd = JSON.parse(line);
  switch (cmd.cmd) {
    case "run":
      return run(cmd);
    case "set_uv":
      await cdp.send("WebAuthn.setUserVerified", { authenticatorId, isUserVerified: !!cmd.verified });
      return { ok: true };
    case "click": {
      await page.click(cmd.selector);
      const result = await page.evaluate(() => window.custosResult);
      return { ok: true, result };
    }
    case "text":
      return { ok: true, text: await page.textContent(cmd.selector) };
    case "credentials": {
      const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
      return { ok: true, credentials: credentials.length };
    }
    case "quit":
      return null;
    default:
      return { ok: false, error: `unknown command ${cmd.cmd}` };
  }
}

say({ ok: true, ready: true });
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let answer;
  try {
    answer = await handle(line);
  } catch (e) {
    answer = { ok: false, error: String(e && e.message ? e.message : e), console: consoleLines.slice() };
  }
  if (answer === null) break;
  say(answer);
}
await browser.close();
process.exit(0);
