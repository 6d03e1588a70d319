// The QR decoder for browsers without a native `BarcodeDetector` (iPhones, Firefox, Chromium on
// Linux): ZXing-C++ compiled to WebAssembly (the zxing-wasm package). It is a file of its own
// (qrdecode.js, with zxing_reader.wasm beside it), loaded only when the user scans a code, so
// the app's first load does not carry it. The WebAssembly comes from the app's own origin, never
// from a CDN.
import { prepareZXingModule, readBarcodes } from "zxing-wasm/reader";

let ready: Promise<unknown> | undefined;

function load(): Promise<unknown> {
  ready ??= prepareZXingModule({
    overrides: {
      locateFile: (path: string, prefix: string) => (path.endsWith(".wasm") ? new URL("zxing_reader.wasm", import.meta.url).href : prefix + path),
    },
    fireImmediately: true,
  }).catch((e: unknown) => {
    // Offline, say: the next attempt tries again.
    ready = undefined;
    throw e;
  });
  return ready;
}

/** The texts of the QR codes in an image. */
export async function decode(image: ImageData): Promise<string[]> {
  await load();
  const found = await readBarcodes(image, { formats: ["QRCode"], tryHarder: true, tryInvert: true, maxNumberOfSymbols: 4 });
  return found.filter((r) => r.isValid).map((r) => r.text);
}
