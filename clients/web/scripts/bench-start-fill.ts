// Fills the app's IndexedDB with a programme's worth of records for the start benchmark
// (scripts/bench-start.mjs), made with the app's own record code and stored sealed under a PIN
// as the app stores them: participants with every demographic field, a contact record with a
// name for each (as a researcher's phone holds them), sessions with attendance, WEMWBS
// baselines and stories, all synced (acknowledged by the server).
import * as A from "@automerge/automerge/slim";
import { storedFrom } from "../src/device";
import { uuidv7 } from "../src/protocol";
import { createRecord, type FieldValue } from "../src/records";
import type { RecordKind } from "../src/schema";
import { setPin, write, type Identity, type StoredRecord } from "../src/store";

const ACTOR = "5e1f0c2d3e4f5a6b7c8d9e0f1a2b3c4e";
const PROJECT = "bench-project";
const NOW = Math.floor(Date.now() / 1000);
const FIRST = ["Morag", "Ewan", "Catriona", "Angus", "Isla", "Ruaridh", "Eilidh", "Calum", "Mairi", "Fraser"];
const LAST = ["Macleod", "Mackenzie", "Fraser", "Munro", "Ross", "Sutherland", "Grant", "Macdonald"];
const AGES = ["16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75-84", "85+"];
const GENDERS = ["woman", "man", "non_binary", "prefer_not_to_say"];

/** Participant `i`'s name: "Morag Macleod 17". Searchable by any part. */
export const nameOf = (i: number) => `${FIRST[i % FIRST.length]} ${LAST[Math.floor(i / FIRST.length) % LAST.length]} ${i}`;

function records(total: number, participants: number): StoredRecord[] {
  const out: StoredRecord[] = [];
  const make = (kind: RecordKind, fields: [string, FieldValue][], at: number) => {
    const id = uuidv7();
    const doc = createRecord(ACTOR, kind, PROJECT, fields, at);
    // Synced: the server has acknowledged these heads, so nothing waits to be sent.
    out.push(storedFrom(id, doc, A.getHeads(doc), at));
    return id;
  };
  const people: string[] = [];
  for (let i = 0; i < participants; i++) {
    const pid = make(
      "participant",
      [
        ["code", `BENCH-${String(i).padStart(4, "0")}`],
        ["consent.data_use", true],
        ["consent.date", "2026-05-01"],
        ["age_band", AGES[i % AGES.length]!],
        ["gender", GENDERS[i % GENDERS.length]!],
        ["imd_decile", 1 + (i % 10)],
      ],
      NOW - i,
    );
    people.push(pid);
    make("contact", [["participant", pid], ["name", nameOf(i)], ["phone", `07700 9${String(i).padStart(5, "0")}`], ["postcode_district", "IV26"]], NOW - i);
  }
  const rest = total - out.length;
  const sessions = Math.round(rest * 0.25);
  const stories = Math.round(rest * 0.25);
  for (let i = 0; i < sessions; i++) {
    const marks: [string, FieldValue][] = people.slice((i * 8) % people.length, ((i * 8) % people.length) + 8).map((p) => [`attendance.${p}`, "present"]);
    const start = new Date((NOW - i * 86_400) * 1000).toISOString().replace(/\.\d+Z$/, "Z");
    make("session", [["site", "ullapool-hall"], ["activity", "heritage-crafts"], ["activity_type", "heritage"], ["start", start], ...marks], NOW - i);
  }
  for (let i = 0; i < stories; i++) {
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
    benchStartFill(total: number, participants: number, pin: string, server: string): Promise<{ records: number; kinds: Record<string, number>; bytes: number; ms: number }>;
  }
}

window.benchStartFill = async (total, participants, pin, server) => {
  await A.initializeWasm(new URL("automerge.wasm", document.baseURI).href);
  const t0 = performance.now();
  const rows = records(total, participants);
  const identity: Identity = {
    server,
    deviceId: "0192f0c4000070008000000000000be1",
    deviceToken: "bd1_0192f0c4000070008000000000000be1_bench",
    actor: ACTOR,
    user: { id: "0192f0c4-0000-7000-8000-0000000000bf", username: "bench" },
    memberships: [{ project: PROJECT, role: "researcher" }],
    project: PROJECT,
  };
  await setPin(pin, identity);
  for (let i = 0; i < rows.length; i += 500) {
    await write(async (tx) => {
      for (const r of rows.slice(i, i + 500)) await tx.putRecord(r);
    });
  }
  const kinds: Record<string, number> = {};
  for (const r of rows) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
  return { records: rows.length, kinds, bytes: rows.reduce((s, r) => s + r.doc.length, 0), ms: Math.round(performance.now() - t0) };
};
