// Looks up the text for a key in the current language, filling in {placeholders} and choosing
// plural forms by the language's CLDR plural rules. The languages the app can show are those
// with a message file registered below; the one chosen on the settings screen is kept on the
// device (localStorage: it is needed before the PIN opens the store, and is not personal).
import { en, type MessageKey } from "./en";

/** The forms of a message that depends on a number, by CLDR plural category. `other` is always
 * there; a language uses the categories `Intl.PluralRules` gives it (English: one, other;
 * Welsh: zero, one, two, few, many, other; Scottish Gaelic: one, two, few, other). */
export interface Plural {
  zero?: string;
  one?: string;
  two?: string;
  few?: string;
  many?: string;
  other: string;
}
export type Message = string | Plural;
export type Messages = Partial<Record<MessageKey, Message>>;
export type Params = Record<string, string | number>;

/** A language the app can show: its messages, its name in itself (as the picker lists it), the
 * locale that formats its dates and numbers, and its writing direction. */
export interface Language {
  code: string;
  name: string;
  locale: string;
  dir: "ltr" | "rtl";
  messages: Messages;
}

/** Languages written right to left (by their base code). */
const RTL = new Set(["ar", "arc", "ckb", "dv", "fa", "he", "ps", "sd", "ug", "ur", "yi"]);

export const directionOf = (code: string): "ltr" | "rtl" => (RTL.has(code.toLowerCase().split("-")[0]!) ? "rtl" : "ltr");

const LANGUAGES = new Map<string, Language>();

/** Makes a language available (a message file: `registerLanguage({ code: "cy", name:
 * "Cymraeg", locale: "cy-GB", messages: cy })`). Keys it lacks are shown in English. */
export function registerLanguage(lang: Omit<Language, "dir"> & { dir?: "ltr" | "rtl" }): void {
  LANGUAGES.set(lang.code, { ...lang, dir: lang.dir ?? directionOf(lang.code) });
}

registerLanguage({ code: "en", name: "English", locale: "en-GB", messages: en });

/** The languages that have a message file, English first. */
export const languages = (): Language[] => [...LANGUAGES.values()];

const ENGLISH = () => LANGUAGES.get("en")!;
let current: Language = ENGLISH();

/** Where the chosen language is kept on the device. */
export const LANGUAGE_KEY = "bothy.language";

/** The code of the registered language that best matches `wanted`, if any: the same code, else
 * the code without its last subtags ("cy-GB" → "cy"). */
export function match(wanted: string): string | undefined {
  const parts = wanted.toLowerCase().split("-");
  for (let n = parts.length; n > 0; n--) {
    const tag = parts.slice(0, n).join("-");
    for (const code of LANGUAGES.keys()) if (code.toLowerCase() === tag) return code;
  }
  return undefined;
}

function storage(): Storage | undefined {
  try {
    return globalThis.localStorage ?? undefined;
  } catch {
    return undefined; // storage disabled by the browser
  }
}

/** The language to start in: the one chosen on this device, else the first of the browser's
 * languages the app has, else English. */
export function startLanguage(): string {
  const stored = storage()?.getItem(LANGUAGE_KEY);
  const chosen = stored ? match(stored) : undefined;
  if (chosen) return chosen;
  const browser = typeof navigator === "undefined" ? [] : (navigator.languages ?? [navigator.language]);
  for (const l of browser) {
    const found = l ? match(l) : undefined;
    if (found) return found;
  }
  return "en";
}

/** Shows the app in `code` (English when the app does not have it) from now on: sets the page's
 * `lang` and `dir`. Returns the code of the language in use. */
export function setLanguage(code: string): string {
  current = LANGUAGES.get(match(code) ?? "en") ?? ENGLISH();
  if (typeof document !== "undefined" && document.documentElement) {
    document.documentElement.lang = current.code;
    document.documentElement.dir = current.dir;
  }
  return current.code;
}

/** Sets the language and keeps the choice on this device for the next start. */
export function chooseLanguage(code: string): string {
  const chosen = setLanguage(code);
  try {
    storage()?.setItem(LANGUAGE_KEY, chosen);
  } catch {
    // storage full or disabled: the choice lasts until the app is closed
  }
  return chosen;
}

export const language = () => current.code;
/** The locale dates and numbers are formatted in (English: en-GB). */
export const locale = () => current.locale;
export const direction = () => current.dir;

const rules = new Map<string, Intl.PluralRules>();
function pluralRules(locale: string): Intl.PluralRules {
  let r = rules.get(locale);
  if (!r) rules.set(locale, (r = new Intl.PluralRules(locale)));
  return r;
}

// One number format per language: making one costs more than the lists' many counts.
const numbers = new Map<string, Intl.NumberFormat>();
function numberFormat(locale: string): Intl.NumberFormat {
  let f = numbers.get(locale);
  if (!f) numbers.set(locale, (f = new Intl.NumberFormat(locale)));
  return f;
}

/** The form of a plural message for `count` in `locale`: its CLDR category, else `other`. */
export function pluralForm(message: Plural, count: number, locale: string): string {
  const category = pluralRules(locale).select(count) as keyof Plural;
  return message[category] ?? message.other;
}

function fill(text: string, params: Params): string {
  return text.replace(/\{(\w+)\}/g, (_, k: string) => (k in params ? String(params[k]) : `{${k}}`));
}

/** The text of `key` in the current language (in English when it has no translation yet, and the
 * key itself when no language has it). A plural message takes its form from `params.count`. */
export function t(key: MessageKey | string, params: Params = {}): string {
  let message = (current.messages as Record<string, Message | undefined>)[key];
  let lang = current;
  if (message === undefined) {
    message = (ENGLISH().messages as Record<string, Message | undefined>)[key];
    lang = ENGLISH();
  }
  if (message === undefined) return key;
  if (typeof message !== "string") {
    const count = Number(params.count);
    message = pluralForm(message, Number.isFinite(count) ? count : 0, lang.locale);
    // The count as the language writes numbers ("1,000" in English).
    if (typeof params.count === "number") params = { ...params, count: numberFormat(lang.locale).format(params.count) };
  }
  return fill(message, params);
}

export function has(key: string): boolean {
  return key in en;
}

/** Translates the page's fixed text (elements marked `data-i18n` and `data-i18n-label`). */
export function translatePage(root: ParentNode = document): void {
  root.querySelectorAll<HTMLElement>("[data-i18n]").forEach((el) => (el.textContent = t(el.dataset.i18n!)));
  root.querySelectorAll<HTMLElement>("[data-i18n-label]").forEach((el) => el.setAttribute("aria-label", t(el.dataset.i18nLabel!)));
}

/** Draws the page again in the current language: its fixed text, then the screen shown (the
 * app redraws the current route when the hash changes). */
export function redraw(): void {
  translatePage();
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}
