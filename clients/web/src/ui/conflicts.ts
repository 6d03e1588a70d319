// Conflicts on the phone: fields two devices set to different values at the same time. Automerge
// keeps every competing value and shows one; the sync screen lists each record with conflicts,
// the field in words and each value (names, not ids, where the phone holds them), and the user
// keeps one: it is written again as a new change, which replaces the others everywhere once
// synced. Text fields (a story's body, notes) merge character by character and never conflict.
import * as A from "@automerge/automerge/slim";
import { t } from "../i18n";
import { formatDate } from "../i18n/format";
import { view, type FieldValue } from "../records";
import { field as schemaField, type Field, type RecordKind } from "../schema";
import { read } from "../store";
import * as dev from "../device";
import { h } from "./dom";
import { participantName, show } from "./common";
import { choiceLabel, labelOf } from "./fields";

export { conflictsOf, type Competing, type FieldConflict } from "../competing";
import { conflictsOf, type FieldConflict } from "../competing";

export interface RecordConflicts {
  id: string;
  kind: RecordKind;
  fields: FieldConflict[];
}

/** Every record on the device with conflicts, in the order they are stored. Only the documents
 * stored with conflicts (or stored before records said whether they had any) are loaded. */
export async function findConflicts(): Promise<RecordConflicts[]> {
  const flagged = (await dev.recordStates()).filter((r) => r.conflicts !== false);
  const rows = flagged.length ? await read(async (tx) => (await Promise.all(flagged.map((r) => tx.getRecord(r.id)))).filter((r) => r !== undefined)) : [];
  const out: RecordConflicts[] = [];
  for (const r of rows) {
    const doc = A.load(r.doc);
    const fields = conflictsOf(doc);
    const v = view(doc);
    if (fields.length && v) out.push({ id: r.id, kind: v.kind, fields });
  }
  return out;
}

/** Keeps one value of a conflicting field: written again as a new change of this device. */
export function keep(id: string, path: string, value: FieldValue): Promise<boolean> {
  return dev.edit(id, (e) => e.set(path, value));
}

// ---------- in words ----------

/** What the phone knows to name things with: its records by id and participants' names. */
export interface Names {
  records: ReadonlyMap<string, dev.Loaded>;
  contacts: ReadonlyMap<string, string>;
}

export async function namesOnDevice(): Promise<Names> {
  const all = await dev.listRecords();
  return { records: new Map(all.map((r) => [r.id, r])), contacts: dev.contactNamesIn(all) };
}

function personName(id: string | undefined, names: Names): string {
  if (!id) return t("common.none");
  const p = names.records.get(id);
  return p ? participantName(p, names.contacts) : names.contacts.get(id) ?? id;
}

/** A record in words: the session's activity, site and start; a participant's name or code; a
 * questionnaire's participant and date; a story's title. */
export function recordName(id: string, kind: RecordKind, names: Names): string {
  const r = names.records.get(id);
  const v = r?.view;
  let name = id;
  if (v) {
    if (kind === "session") name = [v.s("activity"), v.s("site"), show(v.s("start"))].filter(Boolean).join(" · ");
    else if (kind === "participant") name = personName(id, names);
    else if (kind === "contact") name = personName(v.s("participant"), names);
    else if (kind === "wellbeing") name = [personName(v.s("participant"), names), formatDate(v.s("date"))].filter(Boolean).join(" · ");
    else if (kind === "story") name = v.s("title") ?? id;
  }
  return t(`conflicts.kind.${kind}`, { name: name || id });
}

function fieldOf(kind: RecordKind, path: string): { f?: Field; sub?: string; outer?: Field } {
  const [top, sub] = [path.split(".")[0]!, path.split(".").slice(1).join(".")];
  const outer = schemaField(kind, top);
  if (!sub) return { f: outer };
  const ty = outer?.ty;
  const inner = ty?.t === "map" && typeof ty.spec === "object" ? ty.spec.fields.find((x) => x.name === sub) : undefined;
  return { f: inner, sub, outer };
}

/** A field in words: its label on forms; an attendance mark names the participant. */
export function fieldName(kind: RecordKind, path: string, names: Names): string {
  const { f, sub, outer } = fieldOf(kind, path);
  if (kind === "session" && path.startsWith("attendance.")) return t("conflicts.attendance", { name: personName(sub, names) });
  if (sub === undefined) return f ? labelOf(kind, f) : path;
  const outerLabel = outer ? labelOf(kind, outer) : path.split(".")[0]!;
  // A map's field is named by its path (`field.participant.consent.data_use`).
  return f ? `${outerLabel}: ${labelOf(kind, { ...f, name: path })}` : `${outerLabel}: ${sub}`;
}

/** A value in words: a choice as its label, yes or no, a time in local time, a participant by
 * name. */
export function valueText(kind: RecordKind, path: string, value: FieldValue, names: Names): string {
  if (typeof value === "boolean") return value ? t("common.yes") : t("common.no");
  if (typeof value === "number") return String(value);
  if (value === "") return t("conflicts.empty");
  const { f } = fieldOf(kind, path);
  if (kind === "session" && path.startsWith("attendance.")) {
    return choiceLabel(kind, { name: "attendance", ty: { t: "set" }, required: false, label: "", analysts: "show" }, value);
  }
  switch (f?.ty.t) {
    case "choice":
      return choiceLabel(kind, { ...f, name: path }, value);
    case "datetime":
      return show(value);
    case "date":
      return formatDate(value);
    case "ref":
      return names.records.get(value)?.view.kind === "participant" ? personName(value, names) : value;
    default:
      return value;
  }
}

/** The section of the sync screen: every record with conflicts, each field and its values,
 * with a button to keep each. `onKept` is told what was kept (or why it could not be). */
export function conflictsSection(list: RecordConflicts[], names: Names, me: string, onKept: (note: string, ok: boolean) => void): HTMLElement {
  return h(
    "section",
    { id: "conflicts", "aria-labelledby": "conflicts-title" },
    h("h2", { id: "conflicts-title" }, t("conflicts.title")),
    h("p", {}, t("conflicts.intro")),
    h(
      "ul",
      { class: "conflicts" },
      list.map((r) =>
        h(
          "li",
          { class: "conflict" },
          h("h3", {}, recordLink(r, names)),
          r.fields.map((c) => {
            const label = fieldName(r.kind, c.path, names);
            return h(
              "div",
              { class: "conflict-field", role: "group", "aria-label": label },
              h("p", { class: "conflict-name" }, label),
              h(
                "ul",
                { class: "conflict-values" },
                c.values.map((x) => {
                  const text = valueText(r.kind, c.path, x.value, names);
                  const button = h("button", { type: "button", class: "secondary", "data-path": c.path }, t("conflicts.keep", { value: text }));
                  button.addEventListener("click", async () => {
                    button.disabled = true;
                    try {
                      await keep(r.id, c.path, x.value);
                      onKept(t("conflicts.kept", { value: text, field: label }), true);
                    } catch (e) {
                      button.disabled = false;
                      onKept(t("conflicts.failed", { error: e instanceof Error ? e.message : String(e) }), false);
                    }
                  });
                  return h("li", {}, button, " ", h("span", { class: "muted" }, x.actor === me ? t("conflicts.byThisPhone") : t("conflicts.byOther")));
                }),
              ),
            );
          }),
        ),
      ),
    ),
  );
}

function recordLink(r: RecordConflicts, names: Names): HTMLElement | string {
  const text = recordName(r.id, r.kind, names);
  const route = r.kind === "session" ? `#/session/${r.id}` : r.kind === "story" ? `#/story/${r.id}` : r.kind === "wellbeing" ? `#/wellbeing/${r.id}` : undefined;
  return route ? h("a", { href: route }, text) : text;
}
