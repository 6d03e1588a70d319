// Pseudo-translations for checking the app, never offered to users: "en-XA" shows every English
// message in [brackets] with accented letters ("[Šýñç ñöŵ]"), so text that does not come from
// the message files stands out, and "ar-XB" is the same written right to left, to check the
// layout in that direction. Placeholders ({count}) are kept as they are.
import { en } from "./en";
import { redraw, registerLanguage, setLanguage, type Message, type Messages } from "./index";

const ACCENTED: Record<string, string> = {
  a: "á", b: "ƀ", c: "ç", d: "ð", e: "é", f: "ƒ", g: "ĝ", h: "ĥ", i: "í", j: "ĵ", k: "ķ", l: "ļ", m: "ɱ",
  n: "ñ", o: "ö", p: "þ", q: "ǫ", r: "ŕ", s: "š", t: "ţ", u: "ú", v: "ṽ", w: "ŵ", x: "ẋ", y: "ý", z: "ž",
  A: "Å", B: "Ɓ", C: "Ç", D: "Ð", E: "É", F: "Ƒ", G: "Ĝ", H: "Ĥ", I: "Í", J: "Ĵ", K: "Ķ", L: "Ļ", M: "Ṁ",
  N: "Ñ", O: "Ö", P: "Þ", Q: "Ǫ", R: "Ŕ", S: "Š", T: "Ţ", U: "Û", V: "Ṽ", W: "Ŵ", X: "Ẋ", Y: "Ý", Z: "Ž",
};

/** One text pseudo-translated: accented letters outside {placeholders}, in brackets. */
export function pseudoText(text: string): string {
  const parts = text.split(/(\{\w+\})/);
  return `[${parts.map((p, i) => (i % 2 ? p : p.replace(/[A-Za-z]/g, (c) => ACCENTED[c] ?? c))).join("")}]`;
}

const pseudoMessage = (m: Message): Message =>
  typeof m === "string" ? pseudoText(m) : (Object.fromEntries(Object.entries(m).map(([k, v]) => [k, pseudoText(v as string)])) as unknown as Message);

/** Every English message pseudo-translated. */
export function pseudoMessages(): Messages {
  return Object.fromEntries(Object.entries(en).map(([k, v]) => [k, pseudoMessage(v as Message)])) as Messages;
}

/** Is this text a pseudo-translation (or made of them)? */
export const isPseudo = (text: string) => /^\[[^\]]*\]/.test(text.trim());

/** Makes the pseudo-languages available ("en-XA" left to right, "ar-XB" right to left). */
export function registerPseudo(): void {
  const messages = pseudoMessages();
  registerLanguage({ code: "en-XA", name: "[Éñĝļíšĥ]", locale: "en-GB", messages });
  registerLanguage({ code: "ar-XB", name: "[Ŕţļ]", locale: "en-GB", dir: "rtl", messages });
}

/** For the app's test hook: shows the app in a pseudo-language ("en-XA", or "ar-XB" right to
 * left) without keeping the choice on the device. */
export function usePseudo(code: "en-XA" | "ar-XB" = "en-XA"): string {
  registerPseudo();
  const used = setLanguage(code);
  redraw();
  return used;
}
