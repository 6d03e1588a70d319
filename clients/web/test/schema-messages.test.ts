// The record schema's words are the app's messages: every field of every record kind, every
// field of a map of named fields (consent.data_use, referral.source), every hint the schema has
// help for, every choice (and attendance mark) and every built-in instrument's name has a message
// in src/i18n/en.ts. A field or choice added to sync-core's schema (src/generated/schema.json)
// fails here until it gets its words, so no screen shows the schema's English in another
// language.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { en } from "../src/i18n/en";
import { has, setLanguage } from "../src/i18n/index";
import { isPseudo, registerPseudo } from "../src/i18n/pseudo";
import { BUILTINS, type Definition } from "../src/instrument";
import { ATTENDANCE_MARKS, KINDS, SCHEMA, type Field, type RecordKind } from "../src/schema";
import { choiceKey, choiceLabel, hintOf, labelOf } from "../src/ui/fields";
import { instrumentName, itemText, neutralItem } from "../src/wording";

afterEach(() => void setLanguage("en"));

/** A field as the app names it, with the map's fields by their path (`consent.data_use`). */
interface Named {
  kind: RecordKind;
  field: Field;
}

/** Every field a screen can name: each field of each kind, and each field of its maps of named
 * fields, by path. */
function namedFields(schema: Record<RecordKind, Field[]>): Named[] {
  return KINDS.flatMap((kind) =>
    schema[kind].flatMap((f) => {
      const inner = f.ty.t === "map" && typeof f.ty.spec === "object" ? f.ty.spec.fields.map((x) => ({ kind, field: { ...x, name: `${f.name}.${x.name}` } })) : [];
      return [{ kind, field: f }, ...inner];
    }),
  );
}

/** What has no message: labels, hints (where the schema has help), choices and attendance marks. */
function missingMessages(schema: Record<RecordKind, Field[]>): string[] {
  const missing: string[] = [];
  for (const { kind, field: f } of namedFields(schema)) {
    const key = `field.${kind}.${f.name}`;
    if (!has(key)) missing.push(`${key} (label "${f.label}")`);
    if (f.help && !has(`${key}.hint`)) missing.push(`${key}.hint (help "${f.help}")`);
    if (f.ty.t === "choice") {
      for (const v of f.ty.options) if (!choiceKey(kind, f.name, v)) missing.push(`choice.${kind}.${f.name}.${v}`);
    }
    if (f.ty.t === "map" && f.ty.spec === "attendance") {
      for (const v of ATTENDANCE_MARKS) if (!choiceKey(kind, f.name, v)) missing.push(`choice.${kind}.${f.name}.${v}`);
    }
  }
  return missing;
}

test("every field, map field, hint and choice of the schema has a message", () => {
  const missing = missingMessages(SCHEMA);
  assert.deepEqual(missing, [], `the record schema has words with no message in src/i18n/en.ts; add:\n${missing.join("\n")}`);
});

test("the check names a field, a map's field, a hint and a choice the schema gains", () => {
  const grown = structuredClone(SCHEMA);
  grown.participant.push({ name: "housing", ty: { t: "choice", options: ["rented", "owned"] }, required: false, label: "Housing", help: "Where they live", analysts: "show" });
  const referral = grown.participant.find((f) => f.name === "referral")!;
  assert.ok(referral.ty.t === "map" && typeof referral.ty.spec === "object");
  referral.ty.spec.fields.push({ name: "urgency", ty: { t: "choice", options: ["routine"] }, required: false, label: "Urgency", analysts: "show" });
  const gender = grown.participant.find((f) => f.name === "gender")!;
  assert.ok(gender.ty.t === "choice");
  gender.ty = { t: "choice", options: [...gender.ty.options, "agender"] };
  assert.deepEqual(missingMessages(grown), [
    "choice.participant.gender.agender",
    'field.participant.referral.urgency (label "Urgency")',
    "choice.participant.referral.urgency.routine",
    'field.participant.housing (label "Housing")',
    'field.participant.housing.hint (help "Where they live")',
    "choice.participant.housing.rented",
    "choice.participant.housing.owned",
  ]);
});

test("in another language no field, hint or choice is the schema's English", () => {
  registerPseudo();
  setLanguage("en-XA");
  for (const { kind, field: f } of namedFields(SCHEMA)) {
    assert.ok(isPseudo(labelOf(kind, f)), `${kind}.${f.name}: "${labelOf(kind, f)}"`);
    const hint = hintOf(kind, f);
    if (f.help) assert.ok(hint && isPseudo(hint), `${kind}.${f.name} hint: "${hint}"`);
    const values = f.ty.t === "choice" ? f.ty.options : f.ty.t === "map" && f.ty.spec === "attendance" ? ATTENDANCE_MARKS : [];
    for (const v of values) assert.ok(isPseudo(choiceLabel(kind, f, v)), `${kind}.${f.name} = ${v}: "${choiceLabel(kind, f, v)}"`);
  }
});

test("English keeps the schema's words where forms and tests find controls by them", () => {
  const label = (kind: RecordKind, name: string) => labelOf(kind, namedFields(SCHEMA).find((x) => x.kind === kind && x.field.name === name)!.field);
  assert.equal(label("participant", "age_band"), "Age band");
  assert.equal(label("contact", "postcode_district"), "Postcode district");
  assert.equal(label("session", "unregistered_attendees"), "Unregistered attendees");
  assert.equal(label("participant", "consent.data_use"), "Agrees to their data being used");
  const gender = SCHEMA.participant.find((f) => f.name === "gender")!;
  assert.equal(choiceLabel("participant", gender, "woman"), "Woman");
  const source = namedFields(SCHEMA).find((x) => x.field.name === "referral.source")!.field;
  assert.equal(choiceLabel("participant", source, "gp"), "GP");
});

test("built-in instruments are named by messages, a project's own by the project", () => {
  for (const def of BUILTINS) {
    assert.ok(`instrument.${def.id}.name` in en, `instrument.${def.id}.name is not in src/i18n/en.ts`);
    assert.equal(instrumentName(def), (en as Record<string, string>)[`instrument.${def.id}.name`]);
  }
  const own: Definition = { id: "CONNECT", version: 1, name: "Feeling connected", items: [{ number: 1, scale: { min: 0, max: 1 } }], scoring: { method: "sum", higher_is_better: true } };
  assert.equal(instrumentName(own), "Feeling connected");
  registerPseudo();
  setLanguage("en-XA");
  for (const def of BUILTINS) assert.ok(isPseudo(instrumentName(def)), def.id);
  assert.equal(instrumentName(own), "Feeling connected");
  const wemwbs = BUILTINS.find((d) => d.id === "WEMWBS")!;
  assert.equal(neutralItem(wemwbs, 3), "[WEMWBS íţéɱ 3]");
  assert.equal(itemText(undefined, wemwbs, wemwbs.items[0]!), "[WEMWBS íţéɱ 1]");
});
