// Enrolment and registration (docs/http-api.md): the device obtains its id, credential and the
// Automerge actor every change it makes must be authored under. Enrolment may be repeated
// safely after a lost answer (see `pendingEnrolmentId`).
import type { Identity, Membership } from "./store";
import { APP } from "./device";

export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
    public code: string,
  ) {
    super(message);
  }
}

/** Plain HTTP only to this machine (development); everything else over HTTPS. */
export function checkServer(server: string): string {
  let u: URL;
  try {
    u = new URL(server);
  } catch {
    throw new ApiError("bad server address", 0, "bad_server");
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname) || u.hostname.startsWith("127.");
  if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) throw new ApiError("https required", 0, "https_required");
  return u.origin;
}

/** Where the web app's enrolment screen is in an enrolment link, after the server's address. */
export const ENROL_LINK_PATH = "/app/#/enrol?";

/** The parameters of a query (`a=1&b=2`), percent-decoded; `+` stays `+`. Undefined if one
 * holds a `%` not followed by two hex digits. */
function queryParams(q: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  try {
    for (const part of q.split("&")) {
      const eq = part.indexOf("=");
      if (eq < 0) continue;
      out.set(decodeURIComponent(part.slice(0, eq)), decodeURIComponent(part.slice(eq + 1).replace(/\+/g, "%2B")));
    }
  } catch {
    return undefined;
  }
  return out;
}

/** Reads what an enrolment QR code holds: the link `<server>/app/#/enrol?code=<code>`, or the
 * older `bothy-enrol:?server=...&code=...`. Undefined for any other text (a typed code, another
 * link); a value missing or badly encoded is left out. */
export function parseEnrolPayload(text: string): { server?: string; code?: string } | undefined {
  const t = text.trim();
  const out: { server?: string; code?: string } = {};
  if (t.toLowerCase().startsWith("bothy-enrol:")) {
    const q = t.indexOf("?") < 0 ? "" : t.slice(t.indexOf("?") + 1);
    const params = queryParams(q);
    if (params?.get("server")) out.server = params.get("server");
    if (params?.get("code")) out.code = params.get("code");
    return out;
  }
  if (!/^https?:\/\//i.test(t)) return undefined;
  const at = t.indexOf(ENROL_LINK_PATH);
  if (at < 0) return undefined;
  const server = t.slice(0, at);
  if (/[#?]/.test(server)) return undefined;
  try {
    new URL(server);
  } catch {
    return undefined;
  }
  out.server = server;
  const code = queryParams(t.slice(at + ENROL_LINK_PATH.length))?.get("code");
  if (code) out.code = code;
  return out;
}

/** The enrolment code an address's fragment carries (`#/enrol?code=...`), if any: what opening
 * an enrolment link in the app gives. */
export function enrolLinkCode(hash: string): string | undefined {
  const m = /^#\/?enrol\?(.*)$/.exec(hash);
  if (!m) return undefined;
  return queryParams(m[1]!)?.get("code")?.trim() || undefined;
}

async function post(url: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError("network", 0, "network");
  }
  const j = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(j?.error?.message ?? res.statusText, res.status, j?.error?.code ?? `http_${res.status}`);
  return j;
}

function identityFrom(server: string, j: Record<string, unknown>): Identity {
  const user = j.user as { id: string; username: string };
  return {
    server,
    deviceId: String(j.device_id),
    deviceToken: String(j.device_token),
    actor: String(j.actor),
    user: { id: user.id, username: user.username },
    memberships: (j.memberships as Membership[]) ?? [],
  };
}

// An enrolment sent but not answered yet is kept (server, code, enrolment id) before it is
// sent: if the answer is lost, enrolling again with the same code sends the same id and the
// server returns the same device instead of "already used" (docs/protocol.md, enrolment).
const PENDING_ENROLMENT = "bothy.pendingEnrolment";

interface PendingEnrolment {
  server: string;
  code: string;
  id: string;
}

/** A typed code as the server reads it: case and separators do not matter. */
export function normaliseCode(code: string): string {
  return code.replace(/[^0-9a-z]/gi, "").toUpperCase();
}

function newEnrolmentId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The enrolment id to send with `code` to `server`: the kept one of an unanswered try of the
 * same enrolment, or a new one, kept before it is sent. `storage` is the browser's. */
export function pendingEnrolmentId(server: string, code: string, storage: Pick<Storage, "getItem" | "setItem">): string {
  const wanted = normaliseCode(code);
  try {
    const kept = JSON.parse(storage.getItem(PENDING_ENROLMENT) ?? "null") as PendingEnrolment | null;
    if (kept && kept.server === server && kept.code === wanted && typeof kept.id === "string") return kept.id;
  } catch {
    // Unreadable: start again.
  }
  const pending: PendingEnrolment = { server, code: wanted, id: newEnrolmentId() };
  storage.setItem(PENDING_ENROLMENT, JSON.stringify(pending));
  return pending.id;
}

export async function enrol(server: string, code: string, name: string, storage: Storage = localStorage): Promise<Identity> {
  const s = checkServer(server);
  const enrolmentId = pendingEnrolmentId(s, code, storage);
  let answer: Record<string, unknown>;
  try {
    answer = await post(`${s}/api/v1/devices/enrol`, { code: code.trim(), name, app: APP, enrolment_id: enrolmentId });
  } catch (e) {
    // Refused: the code will not work again, nor its id. Unreachable or failing: keep both.
    if (e instanceof ApiError && e.status >= 400 && e.status < 500) storage.removeItem(PENDING_ENROLMENT);
    throw e;
  }
  storage.removeItem(PENDING_ENROLMENT);
  return identityFrom(s, answer);
}

export async function loginAndRegister(server: string, username: string, password: string, name: string): Promise<Identity> {
  const s = checkServer(server);
  const login = await post(`${s}/api/v1/auth/login`, { username, password });
  return identityFrom(s, await post(`${s}/api/v1/devices/register`, { name, app: APP }, String(login.access_token)));
}
