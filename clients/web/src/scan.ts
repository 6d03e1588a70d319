// Reading QR codes, from camera frames or a photo, by one code path: the browser's own
// `BarcodeDetector` where it has one that reads QR codes, else the ZXing decoder of
// src/qrdecode.ts, fetched (from this app's origin) the first time it is needed.

/** An image a QR code is read from: a camera's video, or a photo. */
export type QrSource = HTMLVideoElement | ImageBitmap;

/** Reads the texts of the QR codes in an image. */
export type QrReader = (source: QrSource) => Promise<string[]>;

/** The largest side, in pixels, an image is decoded at (a phone's photo is scaled down). */
const MAX_SIDE = 1600;

type NativeDetector = { detect(source: QrSource): Promise<{ rawValue: string }[]> };
type NativeDetectorClass = {
  new (options: { formats: string[] }): NativeDetector;
  getSupportedFormats?: () => Promise<string[]>;
};

/** Why no QR reader could be had. */
export class ReaderUnavailable extends Error {}

let reader: Promise<QrReader> | undefined;

/** The QR reader of this browser (the same one for every scan). */
export function qrReader(): Promise<QrReader> {
  reader ??= makeReader().catch((e: unknown) => {
    reader = undefined;
    throw e;
  });
  return reader;
}

async function makeReader(): Promise<QrReader> {
  const Native = (globalThis as unknown as { BarcodeDetector?: NativeDetectorClass }).BarcodeDetector;
  if (Native) {
    const formats = await Native.getSupportedFormats?.().catch(() => [] as string[]);
    if (!formats || formats.includes("qr_code")) {
      const detector = new Native({ formats: ["qr_code"] });
      return async (source) => (await detector.detect(source)).map((f) => f.rawValue);
    }
  }
  let lib: { decode(image: ImageData): Promise<string[]> };
  try {
    // A file of its own, not bundled into app.js: built by scripts/build.mjs.
    lib = await import(new URL("qrdecode.js", document.baseURI).href);
  } catch (e) {
    throw new ReaderUnavailable(e instanceof Error ? e.message : String(e));
  }
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  if (!context) throw new ReaderUnavailable("no 2D canvas");
  return async (source) => {
    const [w, h] = source instanceof HTMLVideoElement ? [source.videoWidth, source.videoHeight] : [source.width, source.height];
    if (!w || !h) return [];
    const scale = Math.min(1, MAX_SIDE / Math.max(w, h));
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    try {
      return await lib.decode(context.getImageData(0, 0, canvas.width, canvas.height));
    } catch (e) {
      throw new ReaderUnavailable(e instanceof Error ? e.message : String(e));
    }
  };
}

/** Why the camera could not be used: none, not allowed, or another failure. */
export function cameraProblem(e: unknown): "noCamera" | "denied" | "failed" {
  const name = (e as { name?: string } | undefined)?.name;
  if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") return "denied";
  if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError" || name === "TypeError") return "noCamera";
  return "failed";
}
