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

// The service worker caches every file above; its cache name changes whenever any of them does.
const files = (await readdir(dist)).sort();
const hash = createHash("sha256");
for (const f of files) hash.update(f).update(await readFile(path.join(dist, f)));
const version = hash.digest("hex").slice(0, 16);
const shell = ["./", ...files.filter((f) => f !== "index.html")];
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
let total = 0, totalGz = 0, totalBr = 0;
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
  console.log(`${f.padEnd(22)} ${String(b.length).padStart(9)} B  gzip ${String(gz).padStart(8)} B  brotli ${String(br).padStart(8)} B`);
}
console.log(`${"total".padEnd(22)} ${String(total).padStart(9)} B  gzip ${String(totalGz).padStart(8)} B  brotli ${String(totalBr).padStart(8)} B`);
