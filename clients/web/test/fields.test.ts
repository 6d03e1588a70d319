import assert from "node:assert/strict";
import { before, test } from "node:test";
import generated from "../src/generated/schema.json";
import { createRecord, view } from "../src/records";
import { SCHEMA, type Field, type FieldType } from "../src/schema";
import { control } from "../src/ui/dom";
import { controlOpts, details, readField, sessionForm, SESSION_VIEW, toUtc, type SessionFormContext } from "../src/ui/fields";
import { controls, installFakeDocument, type Rendered } from "./fakedom";
import { initAutomerge } from "./wasm";

before(async () => {
  installFakeDocument();
  await initAutomerge();
});

const ACTOR = "daf70e345b69069ce9a5865db6e60aee";
const NOW = 1795645050;
const PLAIN = ["str", "choice", "date", "datetime", "int", "bool", "ref"];

/** The plain session fields as the generated schema lists them (read from the file itself). */
const plainSessionFields = () =>
  (generated.kinds.session as unknown as Field[]).filter((f) => PLAIN.includes(f.ty.t));

const bare: SessionFormContext = { sites: [], activities: [], facilitator: "morag", start: "2026-11-01T10:00" };
const setUp: SessionFormContext = {
  sites: [{ slug: "ullapool-hall", name: "Ullapool Village Hall" }],
  activities: [{ slug: "weaving", name: "Weaving" }],
  facilitator: "morag",
  start: "2026-11-01T10:00",
};

const render = (c: SessionFormContext) => controls(sessionForm(c).controls.map(control));

/** Checks that a control is the one its field's type calls for, labelled and hinted from the schema. */
function assertControlFor(f: Field, r: Rendered): void {
  const ty: FieldType = f.ty;
  const what = `${f.name} (${ty.t})`;
  // A time is entered in UK time, and says so.
  const label = r.label.replace(/ \(optional\)$/, "");
  assert.equal(ty.t === "datetime" ? label.replace(/ \(UK time\)$/, "") : label, f.label, `${what} is labelled with its schema label`);
  if (ty.t === "datetime") assert.match(label, / \(UK time\)$/, `${what} says it is UK time`);
  assert.equal(r.hint, f.help, `${what}'s hint is its schema help`);
  switch (ty.t) {
    case "str":
      assert.equal(r.tag, "input", what);
      assert.equal(r.type, "text", what);
      assert.equal(r.attrs.get("maxlength"), String(ty.max), what);
      break;
    case "choice":
      assert.equal(r.tag, "select", what);
      assert.deepEqual(r.options, ["", ...ty.options], what);
      break;
    case "int":
      assert.equal(r.type, "number", what);
      assert.equal(r.attrs.get("min"), String(ty.min), what);
      assert.equal(r.attrs.get("max"), String(ty.max), what);
      assert.equal(r.attrs.get("step"), "1", what);
      break;
    case "date":
      assert.equal(r.type, "date", what);
      break;
    case "datetime":
      assert.equal(r.type, "datetime-local", what);
      break;
    case "bool":
      assert.equal(r.type, "checkbox", what);
      break;
    case "ref":
      assert.equal(r.type, "text", what);
      break;
    default:
      assert.fail(`${what} is not a plain field`);
  }
  assert.equal(r.attrs.get("aria-required") === "true", f.required && ty.t !== "bool", `${what}: required as the schema says`);
}

test("the session form renders a labelled input for every plain session field of schema.json", () => {
  const plain = plainSessionFields();
  assert.ok(plain.length >= 7, "the generated schema has the session's plain fields");
  for (const c of [bare, setUp]) {
    const rendered = render(c);
    for (const f of plain) {
      const found = rendered.get(f.name) ?? [];
      assert.equal(found.length, 1, `one control for session field ${f.name}, found ${found.length}`);
      assert.ok(found[0]!.label.trim() !== "", `the control of ${f.name} has a label`);
    }
    // Those the form does not handle itself get the control their type calls for.
    const { others } = sessionForm(c);
    assert.ok(others.some((f) => f.name === "unregistered_attendees"), "unregistered_attendees has no control of its own");
    for (const f of others) assertControlFor(f, rendered.get(f.name)![0]!);
  }
  // The form's own controls stay its own: a list of the project's sites when it has some.
  assert.equal(render(setUp).get("site")![0]!.tag, "select");
  assert.equal(render(bare).get("site")![0]!.tag, "input");
  assert.equal(render(bare).get("activity_type")![0]!.options.length, 1 + (generated.kinds.session.find((f) => f.name === "activity_type")!.ty as { options: string[] }).options.length);
});

test("a field added to the schema gets a control by its type, is read back typed and is shown", () => {
  const added: Field[] = [
    { name: "added_room", ty: { t: "str", max: 200 }, required: false, label: "Room", help: "The room within the site.", analysts: "show" },
    { name: "added_weather", ty: { t: "choice", options: ["dry", "wet_and_windy"] }, required: false, label: "Weather", analysts: "show" },
    { name: "added_volunteers", ty: { t: "int", min: 0, max: 50 }, required: true, label: "Volunteers", help: "How many volunteers helped.", analysts: "show" },
    { name: "added_booked_on", ty: { t: "date" }, required: false, label: "Booked on", analysts: "show" },
    { name: "added_doors_open", ty: { t: "datetime" }, required: false, label: "Doors open", analysts: "show" },
    { name: "added_hearing_loop", ty: { t: "bool" }, required: false, label: "Hearing loop", help: "A hearing loop was working.", analysts: "show" },
    { name: "added_follows", ty: { t: "ref" }, required: false, label: "Follows", analysts: "show" },
  ];
  // Names no real field has, so the test holds whatever the schema gains.
  for (const f of added) assert.equal(SCHEMA.session.some((x) => x.name === f.name), false, `the schema already has ${f.name}`);
  SCHEMA.session.push(...added);
  try {
    const rendered = render(bare);
    for (const f of added) {
      const found = rendered.get(f.name) ?? [];
      assert.equal(found.length, 1, `one control for the new field ${f.name}`);
      assertControlFor(f, found[0]!);
    }
    const [room, weather, volunteers, , doors, loop] = added as [Field, Field, Field, Field, Field, Field, Field];
    assert.deepEqual(controlOpts("session", weather).options, [["", "Choose…"], ["dry", "Dry"], ["wet_and_windy", "Wet and windy"]]);

    // Read back typed for the field: text, a number, a time in UTC, a tick.
    assert.deepEqual(readField(room, " Back room "), { value: "Back room" });
    assert.deepEqual(readField(room, ""), {});
    assert.deepEqual(readField(volunteers, "3"), { value: 3 });
    assert.deepEqual(readField(volunteers, "3.5"), { error: { field: "added_volunteers", code: "must_be_whole_number", params: { got: "3.5" } } });
    assert.deepEqual(readField(volunteers, ""), { error: { field: "added_volunteers", code: "required" } });
    assert.deepEqual(readField(doors, "2026-11-01T09:30"), { value: toUtc("2026-11-01T09:30") });
    assert.match(toUtc("2026-11-01T09:30"), /^2026-11-01T\d{2}:30:00Z$/);
    assert.deepEqual(readField(loop, true), { value: true });
    assert.deepEqual(readField(loop, false), {});
    assert.deepEqual(readField({ ...loop, required: true }, false), { value: false });

    // Saved like the others, and shown on the session's screen by label.
    const doc = createRecord(ACTOR, "session", "highland-heritage", [
      ["site", "ullapool-hall"],
      ["activity", "weaving"],
      ["activity_type", "heritage"],
      ["start", "2026-11-01T10:00:00Z"],
      ["added_room", readField(room, "Back room").value!],
      ["added_weather", "wet_and_windy"],
      ["added_volunteers", readField(volunteers, "3").value!],
      ["added_hearing_loop", true],
    ], NOW);
    const shown = details(view(doc)!, SESSION_VIEW);
    assert.deepEqual(shown, [
      ["Activity type", "Heritage"],
      ["Room", "Back room"],
      ["Weather", "Wet and windy"],
      ["Volunteers", "3"],
      ["Hearing loop", "Yes"],
    ]);
  } finally {
    SCHEMA.session.splice(SCHEMA.session.length - added.length, added.length);
  }
  assert.equal(render(bare).get("added_room"), undefined, "the added fields are gone again");
});

test("the session screen shows the fields it does not show by hand", () => {
  const doc = createRecord(ACTOR, "session", "highland-heritage", [
    ["site", "ullapool-hall"],
    ["activity", "weaving"],
    ["activity_type", "peer_support"],
    ["start", "2026-11-01T10:00:00Z"],
    ["end", "2026-11-01T12:00:00Z"],
    ["location", "Back room"],
    ["unregistered_attendees", 2],
  ], NOW);
  assert.deepEqual(details(view(doc)!, SESSION_VIEW), [
    ["Activity type", "Peer support"],
    ["Location", "Back room"],
    ["Unregistered attendees", "2"],
  ]);
});
