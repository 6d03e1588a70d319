import assert from "node:assert/strict";
import { before, test } from "node:test";
import { createRecord, view } from "../src/records";
import { SCHEMA } from "../src/schema";
import { newPersonDates, personControls, personGroups, registrationFields } from "../src/ui/participants";
import { ukDate } from "../src/time";
import { controls, installFakeDocument, type FakeElement } from "./fakedom";
import { initAutomerge } from "./wasm";

before(async () => {
  installFakeDocument();
  await initAutomerge();
});

const ACTOR = "daf70e345b69069ce9a5865db6e60aee";
const NOW = 1795645050;

/** The participant's fields as the CLI's `participant add` flags name them (its checklist). */
const CLI_FIELDS = [
  "age_band", "gender", "ethnic_group", "imd_decile", "rurality", "registered_on",
  "referral.source", "referral.date", "referral.reason",
  "consent.data_use", "consent.story_sharing", "consent.contact", "consent.date", "consent.version",
];
const CONTACT = ["contact.name", "contact.phone", "contact.postcode_district", "contact.notes"];

test("a person's form asks for every field of the participant and contact records but the code", () => {
  const rendered = controls(personControls({ contact: true, contactHint: "Kept private." }));
  for (const name of [...CLI_FIELDS, ...CONTACT]) assert.equal(rendered.get(name)?.length, 1, `the form has one control for ${name}`);
  assert.equal(rendered.get("code"), undefined, "the code is the device's to give");
  // Every field of the schema's participant record is there: plain ones, and each of a map's.
  for (const f of SCHEMA.participant) {
    if (f.name === "code") continue;
    const names = f.ty.t === "map" && typeof f.ty.spec === "object" ? f.ty.spec.fields.map((x) => `${f.name}.${x.name}`) : [f.name];
    for (const n of names) assert.ok(rendered.has(n), `the schema's ${n} is on the form`);
  }
  // Without the right to write contact records, no contact field.
  const noContact = controls(personControls({ contact: false }));
  for (const name of CONTACT) assert.equal(noContact.get(name), undefined, name);
  assert.ok(noContact.has("age_band"));
});

test("labels and choices are words, never the stored names", () => {
  const rendered = controls(personControls({ contact: true }));
  for (const [name, [r]] of rendered) {
    const label = r!.label.replace(/ \(optional\)$/, "");
    assert.ok(label.length > 0 && !label.includes("_") && !label.includes("."), `${name} is labelled “${label}”`);
  }
  assert.equal(rendered.get("imd_decile")![0]!.label.replace(/ \(optional\)$/, ""), "IMD decile");
  assert.equal(rendered.get("referral.source")![0]!.label.replace(/ \(optional\)$/, ""), "Referred by");
  assert.equal(rendered.get("consent.date")![0]!.label.replace(/ \(optional\)$/, ""), "Date consent was given");
  // The maps are fieldsets with their schema label as legend.
  assert.deepEqual(personGroups().map((g) => g.legend), [undefined, "Consent", "Referral"]);
});

test("editing shows the person's values, a map's fields included", () => {
  const doc = createRecord(ACTOR, "participant", "glen-affric", [
    ["code", "TC7E-0001"], ["gender", "non_binary"], ["imd_decile", 4], ["consent.data_use", true], ["consent.date", "2026-11-02"], ["referral.source", "gp"],
  ], NOW);
  const contact = createRecord(ACTOR, "contact", "glen-affric", [["participant", "0192f0c4-0000-7000-8000-000000000001"], ["name", "Morven"], ["phone", "07700 900123"]], NOW);
  const roots = personControls({ contact: true, participant: view(doc)!, contactRecord: view(contact)! }) as unknown as FakeElement[];
  const els = roots.flatMap((r) => [...r.all()]);
  const control = (name: string) => els.find((e) => e.getAttribute("name") === name)!;
  const selected = (name: string) => control(name).children.find((o) => (o as FakeElement).hasAttribute?.("selected")) as FakeElement | undefined;
  assert.equal(selected("gender")?.getAttribute("value"), "non_binary");
  assert.equal(selected("referral.source")?.getAttribute("value"), "gp");
  assert.equal(control("imd_decile").value, "4");
  assert.equal(control("consent.date").value, "2026-11-02");
  assert.ok(control("consent.data_use").hasAttribute("checked"), "consent to data use is ticked");
  assert.ok(!control("consent.contact").hasAttribute("checked"), "consent to contact is not");
  assert.equal(control("contact.name").value, "Morven");
  assert.equal(control("contact.phone").value, "07700 900123");
});

test("a new person's registration and referral dates show today's UK date; an edit shows the stored ones", () => {
  const roots = personControls({ contact: false }) as unknown as FakeElement[];
  const els = roots.flatMap((r) => [...r.all()]);
  const control = (name: string) => els.find((e) => e.getAttribute("name") === name)!;
  assert.equal(control("registered_on").getAttribute("type"), "date");
  assert.equal(control("registered_on").value, ukDate());
  assert.equal(control("referral.date").value, ukDate());
  assert.equal(control("consent.date").value, "", "consent is dated when given, not before");

  const doc = createRecord(ACTOR, "participant", "glen-affric", [["code", "TC7E-0001"], ["registered_on", "2026-03-30"], ["consent.data_use", true]], NOW);
  const edit = (personControls({ contact: false, participant: view(doc)! }) as unknown as FakeElement[]).flatMap((r) => [...r.all()]);
  const edited = (name: string) => edit.find((e) => e.getAttribute("name") === name)!;
  assert.equal(edited("registered_on").value, "2026-03-30");
  assert.equal(edited("referral.date").value, "", "no referral date was recorded");
});

test("a new person's dates as saved: today's when left empty, a referral's only with its source", () => {
  const read = (entries: [string, string | undefined][]) => {
    const participant: [string, string | undefined][] = entries.map(([p, v]) => [p, v]);
    newPersonDates(participant, "2026-06-16");
    return Object.fromEntries(participant);
  };
  assert.deepEqual(read([["registered_on", undefined], ["referral.source", undefined], ["referral.date", "2026-06-16"]]), {
    registered_on: "2026-06-16", "referral.source": undefined, "referral.date": undefined,
  });
  assert.deepEqual(read([["registered_on", "2026-03-30"], ["referral.source", "gp"], ["referral.date", undefined]]), {
    registered_on: "2026-03-30", "referral.source": "gp", "referral.date": "2026-06-16",
  });
  assert.deepEqual(read([["registered_on", "2026-03-30"], ["referral.source", "gp"], ["referral.date", "2026-03-02"]]), {
    registered_on: "2026-03-30", "referral.source": "gp", "referral.date": "2026-03-02",
  });
  // A referral date typed without a source is kept unless it is only the one the form showed.
  assert.deepEqual(read([["registered_on", "2026-03-30"], ["referral.source", undefined], ["referral.date", "2026-03-02"]])["referral.date"], "2026-03-02");
});

test("a registration's fields: empty ones left out, contact fields prefixed", () => {
  assert.deepEqual(
    registrationFields({ participant: [["age_band", "16-24"], ["gender", undefined], ["consent.data_use", false]], contact: [["name", "Morven"], ["phone", undefined]], errors: [] }),
    [["age_band", "16-24"], ["consent.data_use", false], ["contact.name", "Morven"]],
  );
});

test("a participant's history: their questionnaires, the sessions they were present at, their registration", async () => {
  const { historiesIn } = await import("../src/ui/followups");
  const P = "0192f0c4-0000-7000-8000-000000000001";
  const Q = "0192f0c4-0000-7000-8000-000000000002";
  const loaded = (id: string, kind: "participant" | "session" | "wellbeing", project: string, fields: [string, string | number | boolean][]) =>
    ({ id, view: view(createRecord(ACTOR, kind, project, fields, NOW))!, heads: [], unsynced: false });
  const items = Array.from({ length: 14 }, (_, k) => [`items.${k + 1}`, 3] as [string, number]);
  const records = [
    loaded(P, "participant", "glen-affric", [["code", "TC7E-0001"]]),
    loaded(Q, "participant", "glen-affric", [["code", "TC7E-0002"]]),
    loaded("s1", "session", "glen-affric", [["site", "hall"], ["activity", "weaving"], ["activity_type", "arts"], ["start", "2026-11-02T11:00:00Z"], [`attendance.${P}`, "present"], [`attendance.${Q}`, "absent"]]),
    loaded("s2", "session", "other-project", [["site", "hall"], ["activity", "weaving"], ["activity_type", "arts"], ["start", "2026-11-09T11:00:00Z"], [`attendance.${P}`, "present"]]),
    loaded("w1", "wellbeing", "glen-affric", [["participant", P], ["instrument", "WEMWBS"], ["timepoint", "baseline"], ["date", "2026-11-02"], ...items]),
  ];
  const h = historiesIn(records, "glen-affric");
  assert.deepEqual(h.get(P)?.questionnaires, [{ timepoint: "baseline", date: "2026-11-02" }]);
  assert.deepEqual(h.get(P)?.attended, ["2026-11-02"], "present at the project's session only");
  assert.deepEqual(h.get(Q)?.attended, [], "absent is not attended");
  assert.match(h.get(Q)?.registered ?? "", /^\d{4}-\d{2}-\d{2}$/);
  // Only one person's, when asked.
  assert.deepEqual([...historiesIn(records, "glen-affric", Q).keys()], [Q]);
});
