// Looks up the text for a key in the current language, filling in {placeholders}.
import { en, type MessageKey } from "./en";

const LANGUAGES: Record<string, Partial<Record<MessageKey, string>>> = { en };
let current = "en";

export function setLanguage(lang: string): string {
  current = LANGUAGES[lang] ? lang : "en";
  return current;
}
export const language = () => current;

export function t(key: MessageKey | string, params: Record<string, string | number> = {}): string {
  const table = LANGUAGES[current] as Record<string, string>;
  const text = table[key] ?? (en as Record<string, string>)[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k: string) => (k in params ? String(params[k]) : `{${k}}`));
}

export function has(key: string): boolean {
  return key in en;
}
