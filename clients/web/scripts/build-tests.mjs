// Bundles the unit tests (TypeScript) for `node --test`.
import { build } from "esbuild";
import { readdir, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const out = path.join(root, "test-build");
await rm(out, { recursive: true, force: true });
const tests = (await readdir(path.join(root, "test"))).filter((f) => f.endsWith(".test.ts")).map((f) => path.join(root, "test", f));
await build({
  entryPoints: tests,
  outdir: out,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  packages: "external",
  logLevel: "warning",
});
