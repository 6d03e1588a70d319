// Participants: the project's list with a search, one person's page (their details, sessions,
// questionnaires and what is due), and registering or editing a person with every field of the
// participant record and of their contact record. The form is the session screen's too.
import { locale, t } from "../i18n";
import { formatDate } from "../i18n/format";
import { isBuiltin, lookup, scoreWith, type Definition } from "../instrument";
import { items, type FieldError, type FieldValue, type View } from "../records";
import { SCHEMA, type Field } from "../schema";
import { score } from "../scoring";
import { control, controlOf, field, h, showErrors, status } from "./dom";
import { controlOpts, labelOf, plainFields, readField, shown, valueOf } from "./fields";
import * as dev from "../device";
import { CONTACT_FIELDS, conflictNotice, contactControl, fieldErrors, localDate, nav, participantName, requireIdentity, screen, show } from "./common";
import { dueStep, dueText, questionnaireHref, standingsIn, stepText, timepointText } from "./followups";

/** At most this many people are listed at once; a search narrows the rest. */
export const LIST_LIMIT = 100;

// ---------- the form ----------

/** A group of the participant's fields: the plain ones, or the fields of one of its maps
 * (consent, referral), each named by its path (`consent.date`). */
interface Group {
  legend?: string;
  fields: Field[];
}

/** The participant record's fields a person's form asks for, grouped, in schema order: every
 * plain field but the code (the device assigns it), then each map of named fields. */
export function personGroups(): Group[] {
  const plain = plainFields("participant").filter((f) => f.name !== "code");
  const maps = SCHEMA.participant.flatMap((f) => {
    if (f.ty.t !== "map" || typeof f.ty.spec !== "object") return [];
    const top = f;
    return [{ legend: labelOf("participant", f), fields: f.ty.spec.fields.map((inner) => ({ ...inner, name: `${top.name}.${inner.name}` })) }];
  });
  return [{ fields: plain }, ...maps];
}

/** A participant field's value on a record (`consent.date` reads inside its map). */
function personValue(v: View, f: Field): FieldValue | undefined {
  const dot = f.name.indexOf(".");
  if (dot < 0) return valueOf(v, f);
  const x = v.map(f.name.slice(0, dot))[f.name.slice(dot + 1)];
  if (x === undefined) return undefined;
  if (f.ty.t === "bool") return typeof x === "boolean" ? x : undefined;
  if (f.ty.t === "int") return typeof x === "number" ? x : undefined;
  return typeof x === "string" ? x : undefined;
}

const asControlValue = (x: FieldValue | undefined) => (x === undefined ? undefined : String(x));

export interface PersonFormOpts {
  /** The contact record's fields are asked for (the role may write contact records). */
  contact: boolean;
  /** Said under the contact details: who sees them, and whether they stay on this device. */
  contactHint?: string;
  /** The participant being edited, and their contact record if this device holds one. */
  participant?: View;
  contactRecord?: View;
}

/** The fields a new person's form shows today's UK date in, for the user to keep or change. */
export const DATED_TODAY = ["registered_on", "referral.date"];

/** Every control of a person's form: contact details (when asked for), the plain fields, then a
 * fieldset for each map (consent, referral). A new person's registration and referral dates
 * show today's UK date. */
export function personControls(o: PersonFormOpts): HTMLElement[] {
  const out: HTMLElement[] = [];
  if (o.contact) {
    out.push(
      h(
        "fieldset",
        { class: "contact", "aria-describedby": o.contactHint ? "contact-hint" : undefined },
        h("legend", {}, t("session.contactDetails")),
        o.contactHint ? h("p", { class: "hint", id: "contact-hint" }, o.contactHint) : null,
        CONTACT_FIELDS.map((f) => contactControl(f, asControlValue(o.contactRecord && valueOf(o.contactRecord, f)))),
      ),
    );
  }
  for (const g of personGroups()) {
    const initial = (f: Field) =>
      o.participant ? asControlValue(personValue(o.participant, f)) : DATED_TODAY.includes(f.name) ? localDate() : undefined;
    const controls = g.fields.map((f) => control(controlOpts("participant", f, initial(f))));
    out.push(g.legend ? h("fieldset", { class: "group" }, h("legend", {}, g.legend), controls) : h("div", { class: "group" }, controls));
  }
  return out;
}

export interface PersonInput {
  /** Each participant field's path and value (undefined: left empty). */
  participant: [string, FieldValue | undefined][];
  /** Each contact field's name and value (undefined: left empty); empty when not asked for. */
  contact: [string, FieldValue | undefined][];
  errors: FieldError[];
}

/** What a person's form holds, typed for each field. Consent is always recorded yes or no; a
 * consent given without a date is dated today. Errors name the form's controls. */
export function readPerson(form: HTMLElement, o: PersonFormOpts): PersonInput {
  const errors: FieldError[] = [];
  const participant: [string, FieldValue | undefined][] = [];
  for (const g of personGroups()) {
    for (const f of g.fields) {
      if (f.ty.t === "bool") {
        const ticked = (controlOf(form, f.name) as HTMLInputElement | null)?.checked === true;
        participant.push([f.name, f.name.includes(".") ? ticked : readField(f, ticked).value]);
        continue;
      }
      const r = readField(f, value(form, f.name));
      if (r.error) errors.push(r.error);
      else participant.push([f.name, r.value]);
    }
  }
  const consentGiven = participant.some(([p, v]) => p.startsWith("consent.") && v === true);
  const date = participant.find(([p]) => p === "consent.date");
  if (consentGiven && date && date[1] === undefined) date[1] = localDate();
  if (!o.participant) newPersonDates(participant, localDate());
  const contact: [string, FieldValue | undefined][] = [];
  if (o.contact) {
    for (const f of CONTACT_FIELDS) {
      const r = readField(f, value(form, `${dev.CONTACT_PREFIX}${f.name}`));
      if (r.error) errors.push({ ...r.error, field: `${dev.CONTACT_PREFIX}${f.name}` });
      else contact.push([f.name, r.value]);
    }
  }
  return { participant, contact, errors };
}

const value = (form: HTMLElement, name: string) => controlOf(form, name)?.value.trim() ?? "";

/** A new person's dates, as the device gives them: registered today (UK) when the date is left
 * empty; referred today when a source is given without a date; and no referral date without a
 * source when it is only the date the form showed. */
export function newPersonDates(participant: [string, FieldValue | undefined][], today: string): void {
  const at = (path: string) => participant.find(([p]) => p === path);
  const registered = at("registered_on");
  if (registered && registered[1] === undefined) registered[1] = today;
  const source = at("referral.source")?.[1];
  const referred = at("referral.date");
  if (referred && source !== undefined && referred[1] === undefined) referred[1] = today;
  if (referred && source === undefined && referred[1] === today) referred[1] = undefined;
}

/** A new person's fields as `dev.createParticipant` takes them (contact fields prefixed). */
export function registrationFields(x: PersonInput): [string, FieldValue][] {
  const out: [string, FieldValue][] = [];
  for (const [p, v] of x.participant) if (v !== undefined) out.push([p, v]);
  for (const [p, v] of x.contact) if (v !== undefined) out.push([`${dev.CONTACT_PREFIX}${p}`, v]);
  return out;
}

/** Where a role's contact details go, for the form's hint. */
export function contactHintFor(id: Parameters<typeof dev.canReceive>[0], project: string): string {
  return dev.canReceive(id, project, "contact") ? t("session.contactHint") : t("session.contactHintLeaves");
}

// ---------- the list ----------

interface Row {
  id: string;
  label: string;
  key: string;
  due?: string;
  overdue?: boolean;
}

const fold = (s: string) => s.toLocaleLowerCase(locale()).replace(/[^\p{L}\p{N}]+/gu, "");

export async function peopleScreen(): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const project = dev.defaultProject(id);
  if (!project) return screen(t("people.title"), status(t("enrol.noProject"), "error"));
  const all = await dev.listRecords();
  const names = dev.contactNamesIn(all);
  const standings = await standingsIn(all, project);
  const collator = new Intl.Collator(locale(), { numeric: true, sensitivity: "base" });
  const rows: Row[] = all
    .filter((r) => r.view.kind === "participant" && r.view.project === project)
    .map((p) => {
      const label = participantName(p, names);
      const due = dueStep(standings.get(p.id));
      return { id: p.id, label, key: fold(label), ...(due ? { due: dueText(due), overdue: due.overdue } : {}) };
    })
    .sort((a, b) => collator.compare(a.label, b.label));
  const searchable = names.size > 0;
  const list = h("ul", { class: "cards people" });
  const count = h("p", { class: "hint", id: "people-count", role: "status", "aria-live": "polite" });
  const render = (q: string) => {
    const f = fold(q);
    const found = f ? rows.filter((r) => r.key.includes(f)) : rows;
    list.replaceChildren(
      ...found.slice(0, LIST_LIMIT).map((r) =>
        h(
          "li",
          {},
          h(
            "a",
            { href: `#/person/${r.id}`, class: "card person" },
            h("strong", {}, r.label),
            r.due ? h("span", { class: r.overdue ? "due overdue" : "due" }, r.due) : null,
          ),
        ),
      ),
    );
    count.textContent =
      found.length > LIST_LIMIT
        ? t("people.showing", { shown: LIST_LIMIT, count: found.length })
        : f
          ? t("people.found", { count: found.length })
          : t("people.count", { count: rows.length });
  };
  const search = field({
    label: searchable ? t("people.search") : t("people.searchCode"),
    name: "q",
    type: "search",
    attrs: { autocomplete: "off", spellcheck: "false", "aria-controls": "people-list", oninput: (e: Event) => render((e.target as HTMLInputElement).value) },
  });
  list.id = "people-list";
  render("");
  const canRegister = dev.canWrite(id, project, "participant");
  screen(
    t("people.title"),
    canRegister ? h("div", { class: "actions" }, h("a", { href: "#/person/new", class: "button primary" }, t("people.new"))) : null,
    h("form", { role: "search", onsubmit: (e: Event) => e.preventDefault() }, search),
    count,
    rows.length ? list : h("p", {}, t("people.none")),
  );
}

// ---------- one person ----------

/** A questionnaire's score in a few words: the total (WEMWBS with its SWEMWBS metric), or that
 * it is not scored. */
function scoreSummary(def: Definition | undefined, answers: Record<number, number>): string {
  if (!def) return t("people.scoreUnknown");
  if (isBuiltin(def) && (def.id === "WEMWBS" || def.id === "SWEMWBS")) {
    const s = score(def.id, answers);
    if (s.status === "wemwbs") return t("people.score", { score: s.total });
    if (s.status === "swemwbs") return t("people.score", { score: s.metric.toFixed(2) });
  }
  const s = scoreWith(def, answers);
  if (s.status === "total") return t("people.score", { score: Number.isInteger(s.total.score) ? s.total.score : s.total.score.toFixed(2) });
  if (s.status === "per_item") return t("people.scorePerItem");
  return t("people.scoreIncomplete");
}

function contactOf(all: readonly dev.Loaded[], pid: string): dev.Loaded | undefined {
  return all.filter((r) => r.view.kind === "contact" && r.view.s("participant") === pid).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0];
}

const dl = (pairs: [string, string][]) => h("dl", { class: "details person" }, pairs.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));

export async function personScreen(pid: string): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const setup = await dev.setup();
  const all = await dev.listRecords();
  const p = all.find((r) => r.id === pid && r.view.kind === "participant");
  if (!p) return screen(t("people.person"), status(t("common.notFound"), "error"));
  const project = p.view.project;
  const names = dev.contactNamesIn(all);
  const contact = contactOf(all, pid);
  const st = (await standingsIn(all, project, pid)).get(pid);
  const due = dueStep(st);
  const activities = new Map((setup?.projects?.find((x) => x.project === project)?.activities ?? []).map((a) => [a.slug, a.name]));
  const sites = new Map((setup?.projects?.find((x) => x.project === project)?.sites ?? []).map((a) => [a.slug, a.name]));

  const details: [string, string][] = [[t("people.code"), p.view.s("code") ?? ""]];
  if (contact) {
    for (const f of CONTACT_FIELDS) {
      const x = valueOf(contact.view, f);
      if (x !== undefined) details.push([labelOf("contact", f), shown("contact", f, x)]);
    }
  }
  const groups = personGroups().map((g) => {
    const pairs = g.fields.flatMap((f) => {
      const x = personValue(p.view, f);
      return x === undefined ? [] : [[labelOf("participant", f), shown("participant", f, x)] as [string, string]];
    });
    return { legend: g.legend, pairs };
  });
  for (const pair of groups[0]?.pairs ?? []) details.push(pair);

  const sessions = all
    .filter((r) => r.view.kind === "session" && r.view.project === project && r.view.map("attendance")[pid] === "present")
    .sort((a, b) => (b.view.s("start") ?? "").localeCompare(a.view.s("start") ?? ""));
  const questionnaires = all
    .filter((r) => r.view.kind === "wellbeing" && r.view.s("participant") === pid)
    .sort((a, b) => (b.view.s("date") ?? "").localeCompare(a.view.s("date") ?? ""));
  const canQuestionnaire = dev.canWrite(id, project, "wellbeing");
  const canEdit = dev.canWrite(id, project, "participant");
  screen(
    participantName(p, names),
    await conflictNotice(pid),
    h(
      "div",
      { class: "actions" },
      canQuestionnaire ? h("a", { href: questionnaireHref(pid, due?.timepoint), class: "button primary" }, t("people.newQuestionnaire")) : null,
      canEdit ? h("a", { href: `#/person/${pid}/edit`, class: "button secondary" }, t("people.edit")) : null,
    ),
    due ? h("p", { class: due.overdue ? "due overdue" : "due" }, dueText(due)) : null,
    dl(details),
    ...groups.slice(1).flatMap((g) => [h("h2", {}, g.legend ?? ""), g.pairs.length ? dl(g.pairs) : h("p", {}, t("people.nothingRecorded"))]),
    h("h2", {}, t("people.followups")),
    st ? h("ul", { class: "steps" }, st.steps.map((s) => h("li", { class: `step ${s.state}${s.state === "due" && s.overdue ? " overdue" : ""}` }, stepText(s)))) : null,
    h("h2", {}, t("people.questionnaires")),
    questionnaires.length
      ? h(
          "ul",
          { class: "cards" },
          questionnaires.map((w) => {
            const instrument = w.view.s("instrument") ?? "";
            const def = lookup(project, instrument, w.view.i("instrument_version"));
            return h(
              "li",
              {},
              h(
                "a",
                { href: `#/wellbeing/${w.id}`, class: "card" },
                h("strong", {}, `${instrument} · ${timepointText(w.view.s("timepoint") ?? "")}`),
                h("span", {}, `${formatDate(w.view.s("date"))} · ${scoreSummary(def, items(w.view))}`, w.unsynced ? ` · ${t("common.unsyncedMark")}` : ""),
              ),
            );
          }),
        )
      : h("p", {}, t("people.noQuestionnaires")),
    h("h2", {}, t("people.sessions")),
    sessions.length
      ? h(
          "ul",
          { class: "cards" },
          sessions.map((s) => {
            const act = s.view.s("activity") ?? "";
            const site = s.view.s("site") ?? "";
            return h(
              "li",
              {},
              h("a", { href: `#/session/${s.id}`, class: "card" }, h("strong", {}, `${activities.get(act) ?? act}${site ? ` · ${sites.get(site) ?? site}` : ""}`), h("span", {}, show(s.view.s("start")))),
            );
          }),
        )
      : h("p", {}, t("people.noSessions")),
  );
}

// ---------- registering and editing ----------

export async function personFormScreen(pid?: string): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const all = pid ? await dev.listRecords() : [];
  const p = pid ? all.find((r) => r.id === pid && r.view.kind === "participant") : undefined;
  if (pid && !p) return screen(t("people.editTitle"), status(t("common.notFound"), "error"));
  const project = p?.view.project ?? dev.defaultProject(id);
  if (!project) return screen(t("people.newTitle"), status(t("enrol.noProject"), "error"));
  if (!dev.canWrite(id, project, "participant")) return screen(p ? t("people.editTitle") : t("people.newTitle"), status(t("people.notAllowed"), "error"));
  const contact = pid ? contactOf(all, pid) : undefined;
  // An edit shows contact details only to a role that holds them: one that never receives them
  // (a peer worker) cannot see those already given, and would make a second record.
  const canContact = dev.canWrite(id, project, "contact") && (!p || dev.canReceive(id, project, "contact") || contact !== undefined);
  const opts: PersonFormOpts = { contact: canContact, contactHint: contactHintFor(id, project), participant: p?.view, contactRecord: contact?.view };
  const form = h(
    "form",
    { novalidate: true },
    personControls(opts),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, p ? t("common.save") : t("people.register")),
      h("a", { href: p ? `#/person/${p.id}` : "#/people", class: "button secondary" }, t("common.cancel")),
    ),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = readPerson(form, opts);
    if (input.errors.length) return showErrors(form, input.errors);
    try {
      if (!p) {
        const made = await dev.createParticipant(project, registrationFields(input));
        return nav(`#/person/${made.id}`);
      }
      // Only what changed is written, so saving an unchanged form makes no change to sync.
      const before = new Map(personGroups().flatMap((g) => g.fields).map((f) => [f.name, personValue(p.view, f)]));
      const changed = input.participant.filter(([path, v]) => v !== before.get(path) && !(v === false && before.get(path) === undefined));
      if (changed.length) {
        await dev.edit(p.id, (ed) => {
          for (const [path, v] of changed) {
            if (v === undefined) ed.clear(path);
            else ed.set(path, v);
          }
        });
      }
      if (canContact) {
        try {
          const c = contact;
          const changedContact = c ? input.contact.filter(([name, v]) => v !== c.view.s(name)) : [];
          if (c && changedContact.length) {
            await dev.edit(c.id, (ed) => {
              for (const [name, v] of changedContact) {
                if (v === undefined) ed.clear(name);
                else ed.set(name, v);
              }
            });
          } else if (!c && input.contact.some(([, v]) => v !== undefined)) {
            await dev.createContact(p.id, input.contact.filter((x): x is [string, FieldValue] => x[1] !== undefined));
          }
        } catch (e) {
          const fe = fieldErrors(e);
          if (fe) return showErrors(form, fe.map((x) => ({ ...x, field: `${dev.CONTACT_PREFIX}${x.field}` })));
          throw e;
        }
      }
      nav(`#/person/${p.id}`);
    } catch (e) {
      const fe = fieldErrors(e);
      if (fe) showErrors(form, fe);
      else throw e;
    }
  });
  const names = p ? dev.contactNamesIn(all) : new Map<string, string>();
  screen(p ? t("people.editTitleOf", { name: participantName(p, names) }) : t("people.newTitle"), form);
}

