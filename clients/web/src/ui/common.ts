// Helpers every screen shares: the screen frame, dates and times, names, and the header badge.
import { t } from "../i18n";
import { InvalidRecord, type FieldError } from "../records";
import { type Field } from "../schema";
import { type Identity } from "../store";
import { field, h } from "./dom";
import { controlOpts, plainFields } from "./fields";
import * as dev from "../device";
import { ukDate, utcToUkLocal } from "../time";
import { formatDateTime } from "../i18n/format";

export const main = () => document.getElementById("main")!;

// ---------- helpers ----------

export const pad = (n: number) => String(n).padStart(2, "0");
// Dates and times are the UK's (Europe/London, whatever zone the phone is set to): see ../time.
/** The UK date of an instant, as a `date` value ("2026-06-01"). */
export const localDate = (d = new Date()) => ukDate(d);
/** An instant as a UK `datetime-local` value ("2026-06-01T10:00"). */
export const localDateTime = (d: Date) => utcToUkLocal(d);
/** A UTC time for people, in UK time, as the app's language writes it ("1 Jun 2026, 10:00"). */
export const show = (iso: string | undefined) => formatDateTime(iso);
export const nav = (hash: string) => {
  location.hash = hash;
};

export function screen(title: string, ...body: (Node | null | false | undefined)[]): void {
  const heading = h("h1", { tabindex: -1 }, title);
  const m = main();
  m.replaceChildren(heading, ...body.filter((x): x is Node => !!x));
  document.title = `${title} · ${t("app.name")}`;
  heading.focus();
}

export function fieldErrors(e: unknown): FieldError[] | undefined {
  return e instanceof InvalidRecord ? e.errors : undefined;
}

export async function requireIdentity(): Promise<Identity | undefined> {
  const id = await dev.identity();
  if (!id) nav("#/enrol");
  return id;
}

/** A participant as people know them: the name their contact record gives them, with their
 * code, when this device holds one (see `dev.contactNames`), else their code. */
export function participantName(v: dev.Loaded, names: ReadonlyMap<string, string>): string {
  const code = v.view.s("code") ?? v.id;
  const name = names.get(v.id);
  return name ? `${name} (${code})` : code;
}

/** The contact record's fields a registration asks for (all but the participant it names), in
 * schema order, with controls chosen by their types. */
export const CONTACT_FIELDS = plainFields("contact").filter((f) => f.name !== "participant");

export function contactControl(f: Field, value?: string): HTMLElement {
  const o = controlOpts("contact", f, value);
  const name = `${dev.CONTACT_PREFIX}${f.name}`;
  const attrs = { ...o.attrs, autocomplete: "off" };
  if (f.name === "phone") return field({ ...o, name, type: "tel", attrs });
  if (f.name === "postcode_district") return field({ ...o, name, attrs: { ...attrs, autocapitalize: "characters", spellcheck: "false" } });
  if (f.name === "notes") return field({ ...o, name, type: "textarea", attrs: { ...attrs, rows: 3 } });
  return field({ ...o, name, attrs });
}

export async function conflictNotice(rid: string): Promise<HTMLElement | null> {
  const fields = await dev.conflicts(rid);
  return fields.length ? h("div", { class: "notice" }, h("p", {}, t("report.conflict")), h("p", {}, t("report.field", { field: fields.join(", ") }))) : null;
}

/** Shows the unsynced count in the header. */
export async function refreshBadge(): Promise<void> {
  const el = document.getElementById("sync-badge");
  if (!el) return;
  const id = await dev.identity();
  if (!id) {
    el.textContent = "";
    return;
  }
  const n = await dev.unsyncedCount();
  el.textContent = n ? String(n) : "";
  el.hidden = n === 0;
}
