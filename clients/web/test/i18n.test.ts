// The message files and their use: plural forms chosen by each language's CLDR rules (English,
// Welsh, Scottish Gaelic, with a message table made up for the test: the app ships no Welsh or
// Gaelic), every key the sources use exists in English and every English key is used, every
// {placeholder} of a message is given by the calls that pass their parameters in place, the
// pseudo-locale covers every message, and dates and numbers follow the language, in London time.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterEach, test } from "node:test";
import { en } from "../src/i18n/en";
import { formatDate, formatDateTime, formatNumber, formatRelative, formatTime } from "../src/i18n/format";
import { directionOf, LANGUAGE_KEY, language, languages, locale, match, pluralForm, registerLanguage, setLanguage, startLanguage, t, type Message, type Messages } from "../src/i18n/index";
import { isPseudo, pseudoMessages, pseudoText, registerPseudo } from "../src/i18n/pseudo";
import { ONS4_ITEMS } from "../src/scoring";
import { ACTIVITY_TYPES, KINDS, STORY_CONSENT_SCOPES, TIMEPOINTS } from "../src/schema";
import { duration } from "../src/vault";

// `npm test` runs from clients/web.
const ROOT = process.cwd();
const SRC = path.join(ROOT, "src");

afterEach(() => void setLanguage("en"));

// ---------- plurals ----------

// Test-only tables: the categories each language's rules use, with the category in the text.
const forms = (cats: string[]) => Object.fromEntries(cats.map((c) => [c, `${c}: {count} cath`])) as unknown as Message;
const fixture = (cats: string[]) => ({ "test.cats": forms(cats), "home.attendees": forms(cats) }) as unknown as Messages;
registerLanguage({ code: "test-cy", name: "Cymraeg (test)", locale: "cy", messages: fixture(["zero", "one", "two", "few", "many", "other"]) });
registerLanguage({ code: "test-gd", name: "Gàidhlig (test)", locale: "gd", messages: fixture(["one", "two", "few", "other"]) });

const category = (code: string, n: number) => {
  setLanguage(code);
  return t("test.cats", { count: n }).split(":")[0];
};

test("English chooses one or other", () => {
  assert.equal(t("home.unsynced", { count: 1 }), "1 record not yet synced");
  assert.equal(t("home.unsynced", { count: 0 }), "0 records not yet synced");
  assert.equal(t("home.unsynced", { count: 2 }), "2 records not yet synced");
  assert.equal(t("home.unsynced", { count: 1234 }), "1,234 records not yet synced");
  assert.equal(t("sync.withdrawn", { count: 1 }), "1 record no longer shared with you was removed from this phone.");
  assert.equal(t("sync.replaced", { count: 3 }), "3 records rewritten by the server were replaced with its copy.");
  assert.equal(duration(75_000), "1 minute 15 seconds");
  assert.equal(duration(3_600_000), "1 hour");
  assert.equal(duration(1000), "1 second");
  assert.equal(duration(7_200_000 + 120_000), "2 hours 2 minutes");
});

test("Welsh uses zero, one, two, few, many and other", () => {
  const got = [0, 1, 2, 3, 4, 5, 6, 7, 10, 100].map((n) => category("test-cy", n));
  assert.deepEqual(got, ["zero", "one", "two", "few", "other", "other", "many", "other", "other", "other"]);
  assert.equal(t("test.cats", { count: 3 }), "few: 3 cath");
});

test("Scottish Gaelic uses one, two, few and other", () => {
  const got = [0, 1, 2, 3, 10, 11, 12, 13, 19, 20, 21].map((n) => category("test-gd", n));
  assert.deepEqual(got, ["other", "one", "two", "few", "few", "one", "two", "few", "few", "other", "other"]);
});

test("a message a language lacks is shown in English, with English plural rules", () => {
  setLanguage("test-cy");
  assert.equal(t("home.unsynced", { count: 2 }), "2 records not yet synced");
  assert.equal(t("home.attendees", { count: 2 }), "two: 2 cath");
  // A category a message lacks falls back to `other`.
  assert.equal(pluralForm({ other: "o" }, 1, "cy"), "o");
  assert.equal(t("no.such.key"), "no.such.key");
  assert.equal(t("app.failed", { error: "x" }), "The app could not start: x");
});

test("languages are matched by code, then by base language; the start language is the stored one, else the browser's", () => {
  assert.equal(match("EN-gb"), "en");
  assert.equal(match("fr"), undefined);
  assert.equal(directionOf("ar-XB"), "rtl");
  assert.equal(directionOf("cy"), "ltr");
  assert.equal(setLanguage("fr"), "en");
  const g = globalThis as unknown as { localStorage?: unknown; navigator?: unknown };
  const saved = { localStorage: Object.getOwnPropertyDescriptor(g, "localStorage"), navigator: Object.getOwnPropertyDescriptor(g, "navigator") };
  const store = new Map<string, string>();
  Object.defineProperty(g, "localStorage", { configurable: true, value: { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => store.set(k, v) } });
  Object.defineProperty(g, "navigator", { configurable: true, value: { languages: ["fr-FR", "test-gd-GB", "en"], language: "fr-FR" } });
  try {
    assert.equal(startLanguage(), "test-gd", "the first of the browser's languages the app has");
    store.set(LANGUAGE_KEY, "test-cy");
    assert.equal(startLanguage(), "test-cy", "the language chosen on the device");
    store.set(LANGUAGE_KEY, "xx");
    assert.equal(startLanguage(), "test-gd", "a stored language the app no longer has is ignored");
    Object.defineProperty(g, "navigator", { configurable: true, value: { languages: ["fr"], language: "fr" } });
    assert.equal(startLanguage(), "en");
  } finally {
    for (const [k, d] of Object.entries(saved)) {
      if (d) Object.defineProperty(g, k, d);
      else delete (g as Record<string, unknown>)[k];
    }
  }
});

test("the shipped languages each have a name in their own language; English is first", () => {
  const shipped = languages().filter((l) => !l.code.startsWith("test-") && !/-X[AB]$/.test(l.code));
  assert.deepEqual(
    shipped.map((l) => [l.code, l.name, l.locale, l.dir]),
    [["en", "English", "en-GB", "ltr"]],
  );
});

// ---------- the sources and the message file ----------

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}
const files = sources(SRC)
  .filter((f) => !f.startsWith(path.join(SRC, "i18n")))
  .map((f) => ({ file: path.relative(ROOT, f), text: readFileSync(f, "utf8") }));
const html = readFileSync(path.join(ROOT, "static", "index.html"), "utf8");
const KEYS = new Set(Object.keys(en));
const KEY_RE = /^[A-Za-z]\w*(\.[\w-]+)+$/;

/** Keys built at run time from a prefix, with the values they take. */
const reportKinds = [...readFileSync(path.join(SRC, "protocol.ts"), "utf8").matchAll(/export type ReportKind =([^;]+);/g)].flatMap((m) => [...m[1]!.matchAll(/"(\w+)"/g)].map((x) => x[1]!));
const errorCodes = [...new Set(files.flatMap(({ text }) => [...text.matchAll(/\bcode: "(\w+)"/g)].map((m) => m[1]!)))];
const DYNAMIC: Record<string, readonly string[]> = {
  activityType: ACTIVITY_TYPES,
  timepoint: TIMEPOINTS,
  scope: STORY_CONSENT_SCOPES,
  "ons4": ONS4_ITEMS,
  band: ["very_low", "low", "medium", "high", "very_high"],
  report: reportKinds,
  // Sync-core's error codes, as the app's own checks raise them (server codes it does not know
  // are shown by their message).
  err: errorCodes,
  // Only when the server's value is one of these (`has` is checked first).
  role: ["admin", "coordinator", "researcher", "peer_worker", "analyst"],
  kinds: KINDS,
};

/** Every key written out in the sources: `t("key"`, `has("key"`, a key as a branch of a
 * conditional argument, `data-i18n="key"` in the page. */
function literalUses(): Map<string, string[]> {
  const uses = new Map<string, string[]>();
  const add = (key: string, where: string) => uses.set(key, [...(uses.get(key) ?? []), where]);
  for (const { file, text } of files) {
    for (const m of text.matchAll(/\b(?:t|has)\(\s*"([^"]+)"/g)) add(m[1]!, file);
    // t(cond ? "a" : "b")
    for (const m of text.matchAll(/\bt\(\s*[^()"]*\?\s*"([^"]+)"\s*:\s*"([^"]+)"/g)) {
      add(m[1]!, file);
      add(m[2]!, file);
    }
  }
  for (const m of html.matchAll(/data-i18n(?:-label)?="([^"]+)"/g)) add(m[1]!, "static/index.html");
  return uses;
}

/** Prefixes of keys built at run time: t(`prefix.${...}`) or has(`prefix.${...}`). */
function dynamicPrefixes(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const { file, text } of files) {
    for (const m of text.matchAll(/\b(?:t|has)\(\s*`([\w.]+)\.\$\{/g)) found.set(m[1]!, [...(found.get(m[1]!) ?? []), file]);
  }
  return found;
}

test("every key the sources use is in en.ts", (ctx) => {
  const missing: string[] = [];
  for (const [key, where] of literalUses()) if (!KEYS.has(key)) missing.push(`${key} (used in ${[...new Set(where)].join(", ")})`);
  const unknown: string[] = [];
  for (const [prefix, where] of dynamicPrefixes()) {
    const values = DYNAMIC[prefix];
    // A prefix whose values this test does not know is skipped, and named in the test's output
    // so its values can be listed in DYNAMIC.
    if (!values) {
      unknown.push(`${prefix}.* (built at run time in ${[...new Set(where)].join(", ")})`);
      continue;
    }
    for (const v of values) if (!KEYS.has(`${prefix}.${v}`)) missing.push(`${prefix}.${v} (built at run time in ${where.join(", ")})`);
  }
  if (unknown.length) ctx.diagnostic(`keys built at run time and not checked: ${unknown.join("; ")}`);
  assert.deepEqual(missing, [], `keys used but not in src/i18n/en.ts:\n${missing.join("\n")}`);
});

// Keys in en.ts that no source names are reported, not refused: some are looked up with a
// prefix held in a variable (fields.ts: `${prefix}.${value}`), and text for screens being
// written comes before its use. Check the report before a release.
test("keys in en.ts that nothing uses are reported", (ctx) => {
  const uses = literalUses();
  // The schema's and the built-in instruments' words are looked up with keys held in a variable
  // (src/ui/fields.ts, src/wording.ts); test/schema-messages.test.ts checks those families.
  const prefixes = [...dynamicPrefixes().keys(), "field", "choice", "instrument"];
  // Messages that exist for keys built at run time with a prefix the sources use.
  const dynamic = (k: string) => prefixes.some((p) => k.startsWith(`${p}.`));
  // A key written anywhere in the sources as a string (passed on to a helper that calls t).
  const mentioned = (k: string) => files.some(({ text }) => text.includes(`"${k}"`));
  const unused = [...KEYS].filter((k) => !uses.has(k) && !dynamic(k) && !mentioned(k));
  if (unused.length) ctx.diagnostic(`keys in src/i18n/en.ts no source names (${unused.length}): ${unused.join(", ")}`);
  // The check itself finds a key that is not used, and does not report one that is.
  assert.ok(!unused.includes("sync.button") && uses.has("sync.button"));
  assert.ok(KEYS.has("settings.languageTitle") && !unused.includes("settings.languageTitle"));
});

/** The placeholders of a message (of every form of a plural one). */
const placeholders = (m: Message) =>
  new Set((typeof m === "string" ? [m] : Object.values(m)).flatMap((s) => [...(s as string).matchAll(/\{(\w+)\}/g)].map((x) => x[1]!)));

/** The names of an object literal's top-level properties, from its opening brace. */
function objectKeys(text: string, open: number): string[] | undefined {
  let depth = 0;
  let end = -1;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "(" || c === "[") depth++;
    else if (c === "}" || c === ")" || c === "]") {
      depth--;
      if (depth === 0) {
        end = i;
        break;
      }
    }
  }
  if (end < 0) return undefined;
  const body = text.slice(open + 1, end);
  // Only the top level: drop nested brackets and strings.
  let flat = "";
  let d = 0;
  for (const c of body.replace(/["'](\w+)["']\s*:/g, "$1:").replace(/`[^`]*`|"[^"]*"|'[^']*'/g, '""')) {
    if ("{([".includes(c)) d++;
    else if ("})]".includes(c)) d--;
    else if (d === 0) flat += c;
  }
  if (flat.includes("...")) return undefined; // spread: not known here
  return flat
    .split(",")
    .map((p) => p.trim().split(/\s*:/)[0]!.trim())
    .filter(Boolean);
}

test("every {placeholder} of a message is given where the parameters are written in place", () => {
  const call = 't("x", { a: 1, b, c: f(d, { e: 2 }), "g": `${h}` })';
  assert.deepEqual(objectKeys(call, call.indexOf("{")), ["a", "b", "c", "g"]);
  const problems: string[] = [];
  for (const { file, text } of files) {
    for (const m of text.matchAll(/\bt\(\s*"([^"]+)"\s*(,\s*\{|\))/g)) {
      const key = m[1]!;
      const message = (en as Record<string, Message>)[key];
      if (!message) continue; // reported by the test above
      const wanted = placeholders(message);
      const given = m[2] === ")" ? [] : objectKeys(text, m.index! + m[0].length - 1);
      if (!given) continue;
      const missing = [...wanted].filter((p) => !given.includes(p));
      if (missing.length) problems.push(`${file}: t("${key}") does not give {${missing.join("}, {")}}`);
    }
  }
  assert.deepEqual(problems, [], problems.join("\n"));
});

test("a plural message has an `other` form showing {count}, and only CLDR categories", () => {
  for (const [key, m] of Object.entries(en) as [string, Message][]) {
    if (typeof m === "string") {
      assert.doesNotMatch(m, /\(s\)|\w\(es\)/, `${key} fakes a plural: make it { one, other }`);
      continue;
    }
    assert.ok(m.other, `${key} has no "other" form`);
    for (const [cat, form] of Object.entries(m)) {
      assert.ok(["zero", "one", "two", "few", "many", "other"].includes(cat), `${key}: "${cat}" is not a CLDR plural category`);
    }
    // "one" may say "1" in English; in other languages "one" covers more numbers (21 in Russian),
    // so a translation shows {count} wherever its rules need it.
    assert.match(m.other, /\{count\}/, `${key}.other does not show {count}`);
  }
});

// ---------- the pseudo-locale ----------

test("the pseudo-locale covers every message, keeps placeholders and is right to left as ar-XB", () => {
  assert.equal(pseudoText("Sync now"), "[Šýñç ñöŵ]");
  assert.equal(pseudoText("{count} present"), "[{count} þŕéšéñţ]");
  const pseudo = pseudoMessages();
  assert.deepEqual(Object.keys(pseudo).sort(), [...KEYS].sort());
  registerPseudo();
  assert.equal(setLanguage("en-XA"), "en-XA");
  for (const key of KEYS) {
    const m = (en as Record<string, Message>)[key]!;
    const params = Object.fromEntries([...placeholders(m)].map((p) => [p, p === "count" ? 2 : `<${p}>`]));
    const text = t(key, params);
    assert.ok(isPseudo(text), `${key}: "${text}" is not pseudo-translated`);
    assert.doesNotMatch(text.replace(/<\w+>/g, ""), /[A-Za-z]/, `${key}: "${text}" keeps plain letters`);
    assert.doesNotMatch(text, /\{\w+\}/, `${key}: "${text}" has a placeholder not filled`);
  }
  assert.equal(setLanguage("ar-XB"), "ar-XB");
  assert.equal(languages().find((l) => l.code === "ar-XB")?.dir, "rtl");
  assert.equal(t("nav.sync"), "[Šýñç]");
});

// ---------- dates, times and numbers ----------

test("dates, times and numbers are in British English and London time", () => {
  assert.equal(language(), "en");
  assert.equal(locale(), "en-GB");
  assert.equal(formatDate("2026-03-29"), "29 Mar 2026");
  assert.equal(formatDate("2026-03-29", "long"), "29 March 2026");
  // Summer time: 08:30 UTC is 09:30 in London; winter: the same.
  assert.equal(formatDateTime("2026-07-01T08:30:00Z"), "1 Jul 2026, 09:30");
  assert.equal(formatDateTime("2026-01-15T08:30:00Z"), "15 Jan 2026, 08:30");
  assert.equal(formatTime(new Date("2026-07-01T23:30:00Z")), "00:30");
  // Just before midnight UTC in summer is already the next day in London.
  assert.equal(formatDate("2026-07-01T23:30:00Z"), "2 Jul 2026");
  assert.equal(formatDate(undefined), "");
  assert.equal(formatDateTime("not a date"), "not a date");
  assert.equal(formatNumber(1234.5), "1,234.5");
  const now = Date.parse("2026-05-01T12:00:00Z");
  assert.equal(formatRelative(now + 21 * 86_400_000, now), "in 3 weeks");
  assert.equal(formatRelative(now - 2 * 86_400_000, now), "2 days ago");
  assert.equal(formatRelative(now - 86_400_000, now), "yesterday");
  assert.equal(formatRelative(now + 5 * 60_000, now), "in 5 minutes");
  assert.equal(formatRelative(now, now), "now");
});

test("dates follow the language's locale", () => {
  setLanguage("test-cy");
  assert.equal(locale(), "cy");
  assert.equal(formatDate("2026-03-29", "long"), new Intl.DateTimeFormat("cy", { dateStyle: "long", timeZone: "UTC" }).format(new Date("2026-03-29T12:00:00Z")));
  assert.notEqual(formatDate("2026-03-29", "long"), "29 March 2026");
});
