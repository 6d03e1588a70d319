// Human-facing participant codes made without talking to anyone: a 4-character prefix from the
// device id (the same as the terminal client's) and a counter kept on the device: `K7Q2-0007`.
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export function devicePrefix(deviceId: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(deviceId.trim().toLowerCase())) {
    hash ^= BigInt(b);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  const bits = (hash ^ (hash >> 32n)) & 0xfffffn;
  let out = "";
  for (let i = 3; i >= 0; i--) out += ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)];
  return out;
}

export const participantCode = (prefix: string, n: number) => `${prefix}-${String(n).padStart(4, "0")}`;
