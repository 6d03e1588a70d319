// Loads Automerge's WebAssembly from the package, as the app does from its own copy.
import * as A from "@automerge/automerge/slim";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

export async function initAutomerge(): Promise<void> {
  if (A.isWasmInitialized()) return;
  const require = createRequire(import.meta.url);
  const file = require.resolve("@automerge/automerge/automerge.wasm");
  await A.initializeWasm(new Uint8Array(await readFile(file)));
}
