#!/usr/bin/env node
// Enrolment by QR code in the web app (Debian's Chromium, headless, 360 px wide, a fresh profile
// for each phone):
//
// 1. The link an enrolment QR code holds, `<server>/app/#/enrol?code=<code>`, opened as a
//    phone's camera app opens it: the enrolment screen, with the code filled in and gone from
//    the address bar. "Enrol this device" without a PIN is refused beside the PIN field; with a
//    PIN, one tap enrols and reaches the home screen, and the address never holds the code
//    again. The same phone opening another enrolment link is told it is enrolled already.
// 2. A phone whose browser has no `BarcodeDetector` (Chromium on Linux has none, as iPhones):
//    the first load fetches no QR decoder; "Use a photo of the code" with a picture holding no
//    QR code says so, with a QR code that is not a Bothy enrolment says that, and with a photo
//    of the enrolment link's QR code (drawn here with the `qrcode` package) fills in the code;
//    the PIN, then one tap, enrols. The decoder and its WebAssembly come from the server, and
//    nothing is fetched from any other origin. A link for another server is refused. "Scan QR
//    code" with no camera says so clearly.
// 3. Live scanning: Chromium's fake camera shows the enrolment link's QR code (a Y4M video
//    written here); with the PIN chosen first, "Scan QR code" reads it and enrols at once.
//
// Every screen is checked against WCAG 2.2 A and AA and saved as a screenshot. Prints a JSON
// summary on stdout.
//
// Usage: node webapp-enrol-qr.mjs <server URL> <code: link> <code: already enrolled>
//        <code: photo> <code: camera> <output directory>
// CHROMIUM overrides the browser (default /usr/bin/chromium). Exits 0 when every check passes,
// 1 with a message on the first failure, 2 on bad usage.

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import QRCode from "qrcode";
import { PHONE, args, check, collectErrors, heading, launch, ready, run, screenshotter } from "./common.mjs";

const [aUrl, linkCode, againCode, photoCode, cameraCode, outDir] = args("webapp-enrol-qr.mjs", ["server URL", "code: link", "code: already enrolled", "code: photo", "code: camera", "output directory"]);
const server = aUrl.replace(/\/+$/, "");
const origin = new URL(server).origin;
const appUrl = `${server}/app/`;
const link = (code) => `${server}/app/#/enrol?code=${encodeURIComponent(code)}`;
const problems = [];
const PIN = "bothy-qr-731";

const screenshot = screenshotter(outDir, "qr", problems);

/** A fresh phone: a new browser context, every request it makes recorded. */
async function phone(browser, options = {}) {
  const context = await browser.newContext({ ...PHONE, ...options });
  const page = await context.newPage();
  const requests = [];
  context.on("request", (r) => requests.push(r.url()));
  collectErrors(page, problems, /Failed to load resource/);
  return { context, page, requests };
}

const text = async (locator) => ((await locator.textContent()) ?? "").trim();
const codeField = (page) => page.getByLabel("Enrolment code or QR text");
const photoInput = (page) => page.getByLabel("Use a photo of the code");

/** The message the enrolment screen shows (the last one, of the kind asked for). */
async function message(page, kind, pattern) {
  const el = page.locator(`main .status.${kind}`).filter({ hasText: pattern }).last();
  await el.waitFor({ timeout: 20000 });
  return text(el);
}

async function choosePin(page) {
  await page.getByLabel("Choose a PIN").fill(PIN);
  await page.getByLabel("Type the PIN again").fill(PIN);
}

/** What the page's address and history hold of a code. */
const leftInAddress = (page, code) => page.evaluate((c) => location.href.includes(c) || JSON.stringify(history.state ?? null).includes(c), code);

/** A PNG of a QR code holding `content`, 8 pixels a module with a 4-module margin. */
const qrPng = (content) => QRCode.toBuffer(content, { type: "png", errorCorrectionLevel: "M", margin: 4, scale: 8 });

/** A Y4M video (4:2:0, 640x480, a few frames) showing `content` as a QR code, dark on light,
 * for Chromium's fake camera. */
async function qrVideo(content, file) {
  const { modules } = QRCode.create(content, { errorCorrectionLevel: "M" });
  const [W, H] = [640, 480];
  const scale = Math.floor(360 / (modules.size + 8));
  const side = (modules.size + 8) * scale;
  const [x0, y0] = [Math.floor((W - side) / 2), Math.floor((H - side) / 2)];
  const y = Buffer.alloc(W * H, 200);
  for (let py = 0; py < side; py++) {
    for (let px = 0; px < side; px++) {
      const [mx, my] = [Math.floor(px / scale) - 4, Math.floor(py / scale) - 4];
      const dark = mx >= 0 && my >= 0 && mx < modules.size && my < modules.size && modules.get(my, mx);
      y[(y0 + py) * W + x0 + px] = dark ? 16 : 235;
    }
  }
  const chroma = Buffer.alloc((W / 2) * (H / 2) * 2, 128);
  const frame = Buffer.concat([Buffer.from("FRAME\n"), y, chroma]);
  await writeFile(file, Buffer.concat([Buffer.from(`YUV4MPEG2 W${W} H${H} F10:1 Ip A1:1 C420jpeg\n`), ...Array(5).fill(frame)]));
}

async function main() {
  await mkdir(outDir, { recursive: true });
  const tmp = await mkdtemp(path.join(os.tmpdir(), "bothy-qr-"));
  const out = {};
  const browser = await launch();
  try {
    // 1. The enrolment link, opened as the camera app opens it.
    {
      const { context, page } = await phone(browser);
      await page.goto(link(linkCode));
      await ready(page);
      await heading(page, "Set up this device");
      check((await codeField(page).inputValue()) === linkCode, `the code field holds "${await codeField(page).inputValue()}", not the link's code`);
      out.linkHash = await page.evaluate(() => location.hash);
      check(out.linkHash === "#/enrol", `the address still holds the code: ${page.url()}`);
      check(!(await leftInAddress(page, linkCode)), "the code is left in the address or the history");
      out.fromLink = await message(page, "info", "from the link");
      await screenshot(page, "link-opened");
      await page.getByLabel("Name for this device").fill("QR link phone");
      await page.getByRole("button", { name: "Enrol this device" }).click();
      const pinError = page.locator('[data-field="pin"] .error');
      await pinError.waitFor({ state: "visible", timeout: 5000 });
      out.noPin = await text(pinError);
      check(await page.getByRole("heading", { level: 1, name: "Set up this device" }).isVisible(), "enrolled without a PIN");
      await choosePin(page);
      await page.getByRole("button", { name: "Enrol this device" }).click();
      await heading(page, "Sessions", 30000);
      check(!(await leftInAddress(page, linkCode)), `the code is in the address after enrolling: ${page.url()}`);
      out.linkAfter = page.url();
      // Another enrolment link on the same phone: it says so, and does not use the code.
      await page.goto(link(againCode));
      await heading(page, "Already enrolled");
      out.already = await text(page.locator("main .status.info"));
      check(!(await leftInAddress(page, againCode)), `the second code is left in the address: ${page.url()}`);
      await screenshot(page, "already-enrolled");
      await page.getByRole("link", { name: "Go to the home screen" }).click();
      await heading(page, "Sessions");
      await context.close();
    }

    // 2. A photo of the code, in a browser with no BarcodeDetector.
    {
      const { context, page, requests } = await phone(browser);
      await page.goto(appUrl);
      await ready(page);
      await heading(page, "Set up this device");
      out.barcodeDetector = await page.evaluate(() => "BarcodeDetector" in window);
      check(out.barcodeDetector === false, "this Chromium has a BarcodeDetector: the test would not exercise the decoder");
      await page.waitForLoadState("networkidle");
      const decoderFetched = () => requests.filter((u) => /qrdecode\.js|zxing_reader\.wasm/.test(u));
      out.decoderOnFirstLoad = decoderFetched();
      check(out.decoderOnFirstLoad.length === 0, `the first load fetched the QR decoder: ${out.decoderOnFirstLoad}`);
      await screenshot(page, "enrol-screen");

      // No camera in this browser: a clear message.
      await page.getByRole("button", { name: "Scan QR code" }).click();
      out.noCamera = await message(page, "error", /camera/);
      check(/no camera|not allowed to use the camera/.test(out.noCamera), `scanning with no camera: "${out.noCamera}"`);

      // A picture with no QR code in it.
      const blank = await page.screenshot();
      await photoInput(page).setInputFiles({ name: "no-code.png", mimeType: "image/png", buffer: blank });
      out.noQr = await message(page, "error", "No QR code was found");
      out.decoderFetched = decoderFetched().map((u) => new URL(u).pathname);
      check(out.decoderFetched.includes("/app/qrdecode.js") && out.decoderFetched.includes("/app/zxing_reader.wasm"), `the decoder was not fetched from the app: ${out.decoderFetched}`);
      await screenshot(page, "photo-without-qr");

      // A QR code that is not an enrolment.
      await photoInput(page).setInputFiles({ name: "other.png", mimeType: "image/png", buffer: await qrPng("https://example.org/opening-hours") });
      out.notBothy = await message(page, "error", "not a Bothy enrolment");
      check(out.notBothy.includes("https://example.org/opening-hours"), `a QR code that is not an enrolment: "${out.notBothy}"`);

      // A file that is not a picture.
      await photoInput(page).setInputFiles({ name: "notes.png", mimeType: "image/png", buffer: Buffer.from("not a picture") });
      out.notImage = await message(page, "error", "could not be read as a picture");

      // A link for another server, pasted.
      await codeField(page).fill("https://bothy.example.org/app/#/enrol?code=ABCDE-FGHJK");
      await choosePin(page);
      await page.getByRole("button", { name: "Enrol this device" }).click();
      out.otherServer = await message(page, "error", "This code is for");

      // The enrolment link's QR code, photographed before the PIN is chosen: the code is filled
      // in and the PIN asked for; then one tap enrols.
      await page.getByLabel("Choose a PIN").fill("");
      await page.getByLabel("Type the PIN again").fill("");
      await page.getByLabel("Name for this device").fill("QR photo phone");
      await photoInput(page).setInputFiles({ name: "enrol.png", mimeType: "image/png", buffer: await qrPng(link(photoCode)) });
      out.photoRead = await message(page, "info", "QR code read");
      check((await codeField(page).inputValue()) === link(photoCode), `the code field holds "${await codeField(page).inputValue()}"`);
      check(await page.getByLabel("Choose a PIN").evaluate((el) => el === document.activeElement), "the PIN field does not have the focus");
      await screenshot(page, "photo-read");
      await choosePin(page);
      await page.getByRole("button", { name: "Enrol this device" }).click();
      await heading(page, "Sessions", 30000);
      out.foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith("data:") && !u.startsWith("blob:"));
      check(out.foreign.length === 0, `requests to other origins: ${out.foreign}`);
      await context.close();
    }
  } finally {
    await browser.close();
  }

  // 3. Live scanning with Chromium's fake camera showing the enrolment link's QR code.
  const video = path.join(tmp, "qr.y4m");
  await qrVideo(link(cameraCode), video);
  const cameraBrowser = await launch({ args: ["--no-sandbox", "--use-fake-device-for-media-stream", `--use-file-for-fake-video-capture=${video}`] });
  try {
    const { context, page } = await phone(cameraBrowser, { permissions: ["camera"] });
    await page.goto(appUrl);
    await ready(page);
    await heading(page, "Set up this device");
    await page.getByLabel("Name for this device").fill("QR camera phone");
    await choosePin(page);
    await page.getByRole("button", { name: "Scan QR code" }).click();
    await heading(page, "Sessions", 30000);
    out.camera = "enrolled";
    await context.close();
  } finally {
    await cameraBrowser.close();
    await rm(tmp, { recursive: true, force: true });
  }

  check(problems.length === 0, `problems:\n  ${problems.join("\n  ")}`);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

run("webapp-enrol-qr.mjs", main, problems);
