// Fills the app's IndexedDB with a field season's worth of records for the unlock benchmark
// (scripts/bench-unlock.mjs): participants, sessions with attendance, WEMWBS responses and
// stories, made with the app's own record code, stored sealed under a PIN (as the app stores
// them) or in clear (as a device enrolled before encryption at rest held them).
import * as A from "@automerge/automerge/slim";
import { storedFrom } from "../src/device";
import { uuidv7 } from "../src/protocol";
import { createRecord, type FieldValue } from "../src/records";
import type { RecordKind } from "../src/schema";
import { open, req, setPin, write, type Identity, type StoredRecord } from "../src/store";

const ACTOR = "5e1f0c2d3e4f5a6b7c8d9e0f1a2b3c4d";
const PROJECT = "bench-project";
const NOW = Math.floor(Date.now() / 1000);

function records(total: number): StoredRecord[] {
  const out: StoredRecord[] = [];
  const make = (kind: RecordKind, fields: [string, FieldValue][], at: number) => {
    const id = uuidv7();
    out.push(storedFrom(id, createRecord(ACTOR, kind, PROJECT, fields, at), null, at));
    return id;
  };
  const people: string[] = [];
  const n = { participant: Math.round(total * 0.3), session: Math.round(total * 0.1), story: Math.round(total * 0.2) };
  for (let i = 0; i < n.participant; i++) {
    people.push(make("participant", [["code", `BENCH-${i}`], ["identifiers.name", `Participant ${i} Macleod`], ["age_band", "65-74"], ["consent.data_use", true], ["consent.date", "2026-05-01"]], NOW - i));
  }
  for (let i = 0; i < n.session; i++) {
    const marks: [string, FieldValue][] = people.slice((i * 8) % people.length, ((i * 8) % people.length) + 8).map((p) => [`attendance.${p}`, "present"]);
    const start = new Date((NOW - i * 86_400) * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    make("session", [["site", "ullapool-hall"], ["activity", "heritage-crafts"], ["activity_type", "heritage"], ["start", start], ...marks], NOW - i);
  }
  for (let i = 0; i < n.story; i++) {
    const body = `Story ${i}. `.padEnd(400, "She had not woven since her mother died; now she teaches the others at the hall. ");
    make("story", [["title", `Story ${i}`], ["consent_scope", "project"], ["author", "bench"], ["participant", people[i % people.length]!], ["body", body]], NOW - i);
  }
  for (let i = 0; out.length < total; i++) {
    const items: [string, FieldValue][] = Array.from({ length: 14 }, (_, k) => [`items.${k + 1}`, 1 + ((i + k) % 5)]);
    make("wellbeing", [["participant", people[i % people.length]!], ["instrument", "WEMWBS"], ["timepoint", "baseline"], ["date", "2026-05-01"], ...items], NOW - i);
  }
  return out;
}

declare global {
  interface Window {
    benchFill(total: number, pin: string | null, server: string): Promise<{ records: number; bytes: number; ms: number }>;
  }
}

window.benchFill = async (total, pin, server) => {
  await A.initializeWasm(new URL("automerge.wasm", document.baseURI).href);
  const t0 = performance.now();
  const rows = records(total);
  const identity: Identity = {
    server,
    deviceId: "0192f0c4000070008000000000000be0",
    deviceToken: "bd1_0192f0c4000070008000000000000be0_bench",
    actor: ACTOR,
    user: { id: "0192f0c4-0000-7000-8000-0000000000be", username: "bench" },
    memberships: [{ project: PROJECT, role: "researcher" }],
    project: PROJECT,
  };
  if (pin) {
    await setPin(pin, identity);
    for (let i = 0; i < rows.length; i += 500) {
      await write(async (tx) => {
        for (const r of rows.slice(i, i + 500)) await tx.putRecord(r);
      });
    }
  } else {
    const db = await open();
    const t = db.transaction(["records", "meta"], "readwrite");
    for (const r of rows) t.objectStore("records").put(r);
    t.objectStore("meta").put(identity, "identity");
    await req(t.objectStore("meta").put(rows.length, "counter"));
    await new Promise((resolve) => (t.oncomplete = resolve));
  }
  return { records: rows.length, bytes: rows.reduce((s, r) => s + r.doc.length, 0), ms: performance.now() - t0 };
};
