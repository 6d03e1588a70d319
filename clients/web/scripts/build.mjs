// Builds the app into dist/: deterministic output (same sources, same bytes), relative URLs
// only, so the server can serve it at /app/.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { png } from "./icons.mjs";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dist = path.join(root, "dist");
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

const common = { bundle: true, minify: true, sourcemap: false, legalComments: "none", target: "es2020", logLevel: "warning", charset: "utf8" };
await build({ ...common, entryPoints: [path.join(root, "src/main.ts")], outfile: path.join(dist, "app.js"), format: "esm", platform: "browser" });
await copyFile(path.join(root, "node_modules/@automerge/automerge/dist/automerge.wasm"), path.join(dist, "automerge.wasm"));
// The QR decoder for browsers without a native one: a file of its own with its WebAssembly,
// which the app imports only when the user scans an enrolment code (src/scan.ts), so the first
// load does not carry it.
const LAZY = ["qrdecode.js", "zxing_reader.wasm"];
await build({ ...common, entryPoints: [path.join(root, "src/qrdecode.ts")], outfile: path.join(dist, "qrdecode.js"), format: "esm", platform: "browser" });
await copyFile(path.join(root, "node_modules/zxing-wasm/dist/reader/zxing_reader.wasm"), path.join(dist, "zxing_reader.wasm"));
// The licences of the code bundled from npm, served beside the app (licences.txt).
const NOTICES = [
  ["@automerge/automerge", "node_modules/@automerge/automerge"],
  ["cbor-x", "node_modules/cbor-x"],
  ["zxing-wasm", "node_modules/zxing-wasm"],
];
let notices = "Bothy's web app bundles the following packages. Their licences follow.\n";
for (const [name, dir] of NOTICES) {
  const pkg = JSON.parse(await readFile(path.join(root, dir, "package.json"), "utf8"));
  const text = await readFile(path.join(root, dir, "LICENSE"), "utf8");
  notices += `\n${"=".repeat(72)}\n${name} ${pkg.version} (${pkg.license})\n${"=".repeat(72)}\n\n${text.trim()}\n`;
}
notices +=
  `\n${"=".repeat(72)}\nzxing-cpp (Apache License 2.0), inside zxing-wasm's zxing_reader.wasm\n${"=".repeat(72)}\n\n` +
  "Copyright the ZXing and zxing-cpp authors. Licensed under the Apache License, Version 2.0:\n" +
  "https://www.apache.org/licenses/LICENSE-2.0 (source: https://github.com/zxing-cpp/zxing-cpp).\n";
await writeFile(path.join(dist, "licences.txt"), notices);
for (const f of ["index.html", "app.css", "icon.svg"]) await copyFile(path.join(root, "static", f), path.join(dist, f));
await writeFile(path.join(dist, "icon-192.png"), png(192));
await writeFile(path.join(dist, "icon-512.png"), png(512));
const manifest = {
  name: "Bothy",
  short_name: "Bothy",
  description: "Offline-first records for community health projects",
  lang: "en",
  start_url: "./",
  scope: "./",
  display: "standalone",
  orientation: "portrait",
  background_color: "#ffffff",
  theme_color: "#1d4d3a",
  icons: [
    { src: "icon.svg", sizes: "any", type: "image/svg+xml" },
    { src: "icon-192.png", sizes: "192x192", type: "image/png" },
    { src: "icon-512.png", sizes: "512x512", type: "image/png" },
    { src: "icon-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
  ],
};
await writeFile(path.join(dist, "manifest.webmanifest"), JSON.stringify(manifest, null, 2) + "\n");

// The service worker caches every file above but the QR decoder (enrolment needs the server
// anyway, so scanning offline is of no use); its cache name changes whenever any file does.
const files = (await readdir(dist)).sort();
const hash = createHash("sha256");
for (const f of files) hash.update(f).update(await readFile(path.join(dist, f)));
const version = hash.digest("hex").slice(0, 16);
const shell = ["./", ...files.filter((f) => f !== "index.html" && f !== "licences.txt" && !LAZY.includes(f) && !f.endsWith(".br"))];
await build({
  ...common,
  entryPoints: [path.join(root, "src/sw.ts")],
  outfile: path.join(dist, "sw.js"),
  format: "iife",
  platform: "browser",
  define: { __SHELL__: JSON.stringify(shell), __VERSION__: JSON.stringify(version) },
});

// Brotli copies (quality 11, deterministic) of every compressible file, which the server sends
// to browsers that accept `br`: the app's first load over 3G is mostly the WebAssembly.
const { brotliCompressSync, gzipSync, constants } = await import("node:zlib");
const compressible = /\.(html|js|css|wasm|svg|webmanifest)$/;
let total = 0, totalGz = 0, totalBr = 0, lazyBr = 0;
for (const f of (await readdir(dist)).sort()) {
  const b = await readFile(path.join(dist, f));
  const gz = gzipSync(b, { level: 9 }).length;
  let br = b.length;
  if (compressible.test(f)) {
    const out = brotliCompressSync(b, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: b.length },
    });
    await writeFile(path.join(dist, `${f}.br`), out);
    br = out.length;
  }
  total += b.length;
  totalGz += gz;
  totalBr += br;
  if (LAZY.includes(f)) lazyBr += br;
  console.log(`${f.padEnd(22)} ${String(b.length).padStart(9)} B  gzip ${String(gz).padStart(8)} B  brotli ${String(br).padStart(8)} B`);
}
console.log(`${"total".padEnd(22)} ${String(total).padStart(9)} B  gzip ${String(totalGz).padStart(8)} B  brotli ${String(totalBr).padStart(8)} B`);
console.log(`of which loaded only to scan a QR code (${LAZY.join(", ")}): brotli ${lazyBr} B`);
