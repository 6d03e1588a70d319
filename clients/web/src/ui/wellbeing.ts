// Questionnaires: a new one for a participant, and one saved, with its score.
import { has, language, t } from "../i18n";
import { formatDate } from "../i18n/format";
import { allowed, bounds, groupOf, isBuiltin, itemOf, labelOf, lookup, offered, scoredItems, scoreWith, type Band, type Definition, type Item, type Scoring, type Total } from "../instrument";
import type { InstrumentWording } from "../protocol";
import { items, type FieldError, type FieldValue } from "../records";
import { TIMEPOINTS } from "../schema";
import { score, type Score } from "../scoring";
import { answerLabel, instrumentName, itemText, suppliedWording } from "../wording";
import { choices, controlOf, errorText, field, h, showErrors, status, value } from "./dom";
import * as dev from "../device";
import { questionTrack } from "./stepper";
import { localDate, nav, screen, fieldErrors, requireIdentity, participantName } from "./common";
import { baselineGuard, defaultTimepoint } from "./followups";

/** Radio buttons for a scale of at most this many answers (ONS4's 0 to 10); a wider range is typed. */
const MAX_CHOICES = 11;

const fmtScore = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));

/** A band's name for people: the definition's label, else the app's word for it, else its name. */
function bandText(bands: readonly Band[] | undefined, name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  return bands?.find((b) => b.name === name)?.label ?? (has(`band.${name}`) ? t(`band.${name}`) : name);
}

/** The instruments whose scores have sentences of their own (score names, the SWEMWBS metric). */
const OWN_SENTENCES = ["WEMWBS", "SWEMWBS", "ONS4"];

/** The score of a form, in sentences: WEMWBS, SWEMWBS and ONS4 in their own; any other
 * definition from the scoring engine (its score, band and further scores, or each answer with
 * its label and band). */
function scoreLines(def: Definition, answers: Record<number, number>): string[] {
  const incomplete = (missing: number[]) => {
    const count = scoredItems(def, def.scoring).length;
    return [t("wellbeing.score.incomplete", { answered: count - missing.length, count, missing: missing.join(", ") })];
  };
  if (isBuiltin(def) && OWN_SENTENCES.includes(def.id)) {
    const s: Score = score(def.id, answers);
    switch (s.status) {
      case "wemwbs":
        return [t("wellbeing.score.wemwbs", { total: s.total, metric: s.swemwbs_metric.toFixed(2), raw: s.swemwbs_raw })];
      case "swemwbs":
        return [t("wellbeing.score.swemwbs", { metric: s.metric.toFixed(2), raw: s.raw })];
      case "ons4":
        return s.answers.map((a) => t("wellbeing.score.ons4", { item: t(`ons4.${a.item}`), value: a.value, band: t(`band.${a.band}`) }));
      default:
        return incomplete(s.missing);
    }
  }
  const s = scoreWith(def, answers);
  switch (s.status) {
    case "incomplete":
      return incomplete(s.missing);
    case "total": {
      const line = (rule: Scoring, total: Total, name: string) => {
        const band = bandText(rule.bands, total.band);
        const params = { instrument: name, score: fmtScore(total.score), raw: fmtScore(total.raw) };
        const head = total.raw === total.score ? t("wellbeing.score.total", params) : t("wellbeing.score.totalRaw", params);
        return band ? `${head} ${t("wellbeing.score.band", { band })}` : head;
      };
      return [
        line(def.scoring, s.total, def.id),
        ...(s.also ?? []).map((x) => line(def.scoring.also?.find((r) => r.name === x.name) ?? def.scoring, x, x.name ?? def.id)),
      ];
    }
    case "per_item":
      return s.answers.map((a) => {
        const answer = a.label ? `${a.value} ${a.label}` : String(a.value);
        const band = bandText(groupOf(def.scoring, a.number)?.bands, a.band);
        const params = { item: t("wellbeing.item", { n: a.number }), answer };
        return band ? t("wellbeing.score.itemBand", { ...params, band }) : t("wellbeing.score.item", params);
      });
  }
}

/** The instrument's name for the picker: its name, with its id unless the name holds it. */
const instrumentLabel = (def: Definition) => {
  const name = instrumentName(def);
  return name.includes(def.id) ? name : `${name} (${def.id})`;
};

/** One question of a form: radio buttons for each answer (labelled where the wording or the
 * scale labels it), or a number field for a scale too wide to list. */
function itemControl(def: Definition, item: Item, supplied: InstrumentWording | undefined, onChange: () => void): HTMLElement {
  const name = `items.${item.number}`;
  const question = `${item.number}. ${itemText(supplied, def, item)}`;
  const answers = allowed(item.scale);
  if (answers.length <= MAX_CHOICES) {
    const labels = answers.map((v) => answerLabel(supplied, item, v));
    // Every answer labelled ("1 None of the time"...): a column of full-width tiles. Else a grid
    // of number tiles, the labels of the ends (ONS4's "0 Not at all") read out with their
    // number and shown once under the grid.
    const column = labels.every((l) => l !== undefined);
    const ends = answers.flatMap((v, k) => (labels[k] ? [`${v} ${labels[k]}`] : []));
    return choices({
      legend: question,
      name,
      options: answers.map((v, k): [string, string, string] | [string, string] =>
        labels[k] ? (column ? [String(v), `${v} ${labels[k]}`] : [String(v), `${v} ${labels[k]}`, String(v)]) : [String(v), String(v)],
      ),
      column,
      ends: !column && ends.length ? ends.join(" · ") : undefined,
      attrs: { onchange: onChange },
    });
  }
  const [lo, hi] = bounds(item.scale)!;
  return field({ label: question, name, type: "number", hint: t("wellbeing.answerRange", { lo, hi }), quiet: true, attrs: { inputmode: "numeric", min: lo, max: hi, step: 1, oninput: onChange } });
}

export async function wellbeingNewScreen(pid: string, sid?: string, timepoint?: string): Promise<void> {
  const id = await requireIdentity();
  if (!id) return;
  const p = await dev.getRecord(pid);
  if (!p || p.view.kind !== "participant") return screen(t("wellbeing.title"), status(t("common.notFound"), "error"));
  // Refused before any answer is typed when the user's role may not record questionnaires.
  if (!dev.canWrite(id, p.view.project, "wellbeing")) return screen(t("wellbeing.title"), status(errorText(dev.notAllowedError(id, p.view.project, "wellbeing")), "error"));
  const setup = await dev.setup();
  // One list for the participant's name, their next step and earlier baselines.
  const all = await dev.listRecords();
  // Every built-in, then the newest version of each of the project's own instruments.
  const defs = offered(p.view.project);
  let def: Definition = defs.find((d) => d.id === "WEMWBS") ?? defs[0]!;
  const itemsBox = h("fieldset", { class: "items" });
  const live = h("div", { class: "score", "aria-live": "polite" });
  // How many questions have an answer, between Previous and Next, announced politely.
  const progress = h("p", { class: "progress", "aria-live": "polite" });
  const form = h(
    "form",
    { novalidate: true },
    h("p", {}, `${t("wellbeing.participant")}: ${participantName(p, dev.contactNamesIn(all))}`),
    field({ label: t("wellbeing.instrument"), name: "instrument", value: def.id, required: true, options: defs.map((d) => [d.id, instrumentLabel(d)] as [string, string]) }),
    field({ label: t("wellbeing.timepoint"), name: "timepoint", value: await defaultTimepoint(p, timepoint, TIMEPOINTS, all), required: true, options: TIMEPOINTS.map((x) => [x, t(`timepoint.${x}`)] as [string, string]) }),
    field({ label: t("wellbeing.date"), name: "date", type: "date", value: localDate(), required: true }),
    itemsBox,
    live,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("wellbeing.submit"))),
  );
  const readItems = () => {
    const out: Record<number, number> = {};
    const errs: FieldError[] = [];
    for (const item of def.items) {
      const raw = value(form, `items.${item.number}`);
      if (raw === "") continue;
      const n = Number(raw);
      if (!Number.isInteger(n)) errs.push({ field: `items.${item.number}`, code: "must_be_whole_number", params: { got: raw } });
      else out[item.number] = n;
    }
    return { out, errs };
  };
  const updateLive = () => {
    const answered = readItems().out;
    live.replaceChildren(h("h2", {}, t("wellbeing.liveScore")), ...scoreLines(def, answered).map((l) => h("p", {}, l)));
    progress.textContent = t("forms.progress", { answered: Object.keys(answered).length, count: def.items.length });
  };
  const renderItems = () => {
    const supplied = suppliedWording(setup, p.view.project, def.id, language());
    const items = [...def.items].sort((a, b) => a.number - b.number);
    itemsBox.replaceChildren(
      h("legend", {}, instrumentName(def)),
      questionTrack(items.map((item) => itemControl(def, item, supplied, updateLive)), progress),
    );
    updateLive();
  };
  controlOf(form, "instrument")!.addEventListener("change", () => {
    def = defs.find((d) => d.id === value(form, "instrument")) ?? def;
    renderItems();
  });
  renderItems();
  // A second baseline of the same instrument is saved only once the warning is ticked.
  const guard = baselineGuard(form, pid, all);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const { out, errs } = readItems();
    if (errs.length) return showErrors(form, errs);
    if (!guard.ok()) return;
    const fields: [string, FieldValue][] = [
      ["participant", pid],
      ["instrument", def.id],
      ["timepoint", value(form, "timepoint")],
      ["date", value(form, "date")],
    ];
    // A project's own instrument is recorded with the version its form was shown from.
    if (!isBuiltin(def)) fields.push(["instrument_version", def.version]);
    if (sid) fields.push(["session", sid]);
    for (const [k, v] of Object.entries(out)) fields.push([`items.${k}`, v]);
    try {
      const wid = await dev.createWellbeing(fields);
      nav(`#/wellbeing/${wid}`);
    } catch (e) {
      const fe = fieldErrors(e);
      if (fe) showErrors(form, fe, (f) => (f === "instrument_version" ? "instrument" : f));
      else throw e;
    }
  });
  screen(t("wellbeing.title"), form);
}

export async function wellbeingScreen(wid: string): Promise<void> {
  const w = await dev.getRecord(wid);
  if (!w || w.view.kind !== "wellbeing") return screen(t("wellbeing.resultTitle"), status(t("common.notFound"), "error"));
  await dev.setup();
  const instrument = w.view.s("instrument") ?? "";
  const version = w.view.i("instrument_version");
  const def = lookup(w.view.project, instrument, version);
  const it = items(w.view);
  const p = await dev.getRecord(w.view.s("participant") ?? "");
  const sid = w.view.s("session");
  const answer = (k: number) => {
    const item = def && itemOf(def, k);
    const label = item && labelOf(item.scale, it[k]!);
    return label ? `${it[k]} ${label}` : String(it[k]);
  };
  screen(
    t("wellbeing.resultTitle"),
    status(t("common.saved"), "ok"),
    h("p", {}, `${t("wellbeing.participant")}: ${p ? participantName(p, await dev.contactNames()) : (w.view.s("participant") ?? "")}`),
    h("p", {}, `${def ? instrumentLabel(def) : instrument}${version !== undefined ? ` · ${t("wellbeing.version", { version })}` : ""} · ${t(`timepoint.${w.view.s("timepoint")}`)} · ${formatDate(w.view.s("date"))}`),
    h(
      "div",
      { class: "score", id: "score" },
      ...(def ? scoreLines(def, it) : [t("wellbeing.unknownInstrument", { instrument, version: version ?? 1 })]).map((l) => h("p", {}, l)),
    ),
    h("ol", { class: "answers" }, Object.keys(it).sort((a, b) => +a - +b).map((k) => h("li", { value: k }, answer(+k)))),
    sid ? h("p", {}, h("a", { href: `#/session/${sid}`, class: "button secondary" }, t("nav.back"))) : null,
  );
}
