// Encryption at rest (src/vault.ts) with Node's WebCrypto, as the browser's: the data key is
// wrapped by the PIN and opens only with it, sealed values open only in their own place and
// unchanged, and wrong PINs are counted in the store, so a reload does not reset the wait.
import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as A from "@automerge/automerge/slim";
import { createRecord } from "../src/records";
import { changePin, createVault, duration, FIRST_WAIT_MS, FREE_TRIES, isSealed, MAX_WAIT_MS, MIN_PIN_LENGTH, MustWait, PBKDF2_ITERATIONS, pinProblem, placeOf, seal, Tampered, unlock, unseal, waitAfter, WrongPin } from "../src/vault";
import { MemoryVaultStore } from "./memory";
import { initAutomerge } from "./wasm";

before(initAutomerge);

// A few iterations keep the tests quick; the app uses PBKDF2_ITERATIONS.
const FAST = 1_000;
const PIN = "482913";
const T0 = 1_795_645_050_000;
const PLACE = placeOf("records", "0192f0c4-0000-7000-8000-000000000001", "doc");

async function vaultFor(pin = PIN) {
  const store = new MemoryVaultStore();
  const { record, key } = await createVault(pin, FAST);
  await store.putVault(record);
  return { store, key };
}

const rejects = async (p: Promise<unknown>, cls: new (...a: never[]) => Error): Promise<Error> => {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    return e as Error;
  }
  assert.fail(`expected ${cls.name}, got success`);
};

test("the data key is wrapped by the PIN, opens only with it, and never leaves WebCrypto", async () => {
  assert.ok(PBKDF2_ITERATIONS >= 600_000);
  const { store, key } = await vaultFor();
  const v = store.vault!;
  assert.equal(v.kdf, "PBKDF2-SHA-256");
  assert.equal(v.iterations, FAST);
  assert.equal(v.salt.length, 16);
  assert.equal(v.wrapped.length, 40, "AES-KW of a 256-bit key");
  assert.equal(key.extractable, false);
  await assert.rejects(crypto.subtle.exportKey("raw", key));

  const sealed = await seal(key, new TextEncoder().encode("Morven's story"), PLACE);
  const opened = await unlock(store, PIN, T0);
  assert.equal(opened.extractable, false);
  assert.deepEqual(opened.algorithm, { name: "AES-GCM", length: 256 });
  assert.equal(new TextDecoder().decode(await unseal(opened, sealed, PLACE)), "Morven's story");

  // Another vault (another device, or the same PIN again) has another key and salt.
  const other = await vaultFor();
  assert.notDeepEqual(other.store.vault!.salt, v.salt);
  await rejects(unseal(other.key, sealed, PLACE), Tampered);
});

test("a sealed value is ciphertext with a fresh IV, and any change or move is detected", async () => {
  const { key } = await vaultFor();
  const doc = A.save(createRecord("daf70e345b69069ce9a5865db6e60aee", "contact", "highland-heritage", [["participant", "0192f0c4-5e6a-7b3c-8d9e-0123456789ab"], ["name", "Morven Cruickshank"]], 1795645050));
  const a = await seal(key, doc, PLACE);
  const b = await seal(key, doc, PLACE);
  assert.ok(isSealed(a));
  assert.equal(a.length, 1 + 12 + doc.length + 16);
  assert.notDeepEqual(a.subarray(1, 13), b.subarray(1, 13), "a fresh IV each time");
  assert.notDeepEqual(a, b);
  assert.ok(!Buffer.from(a).includes(Buffer.from("Morven")), "the name is not in the sealed bytes");
  assert.ok(!isSealed(doc), "an Automerge document is not taken for a sealed value");
  assert.deepEqual(await unseal(key, a, PLACE), doc);

  for (const at of [0, 1, 12, 13, a.length - 1]) {
    const bad = a.slice();
    bad[at] = bad[at]! ^ 0x01;
    await rejects(unseal(key, bad, PLACE), Tampered);
  }
  await rejects(unseal(key, a.subarray(0, a.length - 1), PLACE), Tampered);
  await rejects(unseal(key, a.subarray(0, 20), PLACE), Tampered);
  await rejects(unseal(key, doc, PLACE), Tampered);
  await rejects(unseal(key, "not bytes", PLACE), Tampered);
  // Bound to its record and field: moved elsewhere it does not open.
  await rejects(unseal(key, a, placeOf("records", "0192f0c4-0000-7000-8000-000000000002", "doc")), Tampered);
  await rejects(unseal(key, a, placeOf("setAside", "0192f0c4-0000-7000-8000-000000000001", "doc")), Tampered);
  const e = await rejects(unseal(key, a, placeOf("meta", "identity", "value")), Tampered);
  assert.match(e.message, /was changed or damaged/);
});

test("a wrong PIN is refused, says how many tries are left, and the right one then opens", async () => {
  const { store } = await vaultFor();
  const e = await rejects(unlock(store, "482914", T0), WrongPin);
  assert.equal((e as WrongPin).failures, 1);
  assert.equal((e as WrongPin).waitMs, 0);
  assert.equal(e.message, `Wrong PIN. Tries left before the app makes you wait: ${FREE_TRIES - 1}.`);
  assert.deepEqual(store.failures, { count: 1, until: 0 });
  await rejects(unlock(store, "", T0), WrongPin);
  await unlock(store, PIN, T0);
  assert.deepEqual(store.failures, { count: 0, until: 0 }, "the count starts again after the right PIN");
});

test("after five wrong PINs in a row each try waits longer, and a reload does not reset the wait", async () => {
  const { store } = await vaultFor();
  for (let i = 1; i < FREE_TRIES; i++) await rejects(unlock(store, `wrong-${i}`, T0), WrongPin);
  const fifth = (await rejects(unlock(store, "wrong-5", T0), WrongPin)) as WrongPin;
  assert.equal(fifth.failures, 5);
  assert.equal(fifth.waitMs, FIRST_WAIT_MS);
  assert.equal(fifth.message, "Wrong PIN. Too many wrong PINs in a row: wait 30 seconds before trying again.");
  assert.deepEqual(store.failures, { count: 5, until: T0 + 30_000 });

  // A reload: a new page reads the same store. Even the right PIN must wait, and is not tried.
  const reloaded = new MemoryVaultStore();
  reloaded.vault = store.vault;
  reloaded.failures = structuredClone(store.failures);
  const wait = (await rejects(unlock(reloaded, PIN, T0 + 10_000), MustWait)) as MustWait;
  assert.equal(wait.waitMs, 20_000);
  assert.equal(wait.message, "Too many wrong PINs in a row: wait 20 seconds before trying again.");
  assert.deepEqual(reloaded.failures, { count: 5, until: T0 + 30_000 }, "a refused try changes nothing");

  // Past the wait, another wrong PIN doubles it.
  const sixth = (await rejects(unlock(reloaded, "wrong-6", T0 + 30_000), WrongPin)) as WrongPin;
  assert.equal(sixth.waitMs, 60_000);
  assert.match(sixth.message, /wait 1 minute before/);
  await rejects(unlock(reloaded, PIN, T0 + 89_000), MustWait);
  // A clock set back does not make the wait longer than the rule gives.
  const back = (await rejects(unlock(reloaded, PIN, T0 - 86_400_000), MustWait)) as MustWait;
  assert.equal(back.waitMs, 60_000);
  await unlock(reloaded, PIN, T0 + 90_000);
  assert.deepEqual(reloaded.failures, { count: 0, until: 0 });

  assert.deepEqual([1, 4, 5, 6, 7, 10, 11, 12, 40].map(waitAfter), [0, 0, 30_000, 60_000, 120_000, 960_000, 1_920_000, MAX_WAIT_MS, MAX_WAIT_MS]);
});

test("changing the PIN keeps the data key: what was sealed opens with the new PIN, not the old", async () => {
  const { store, key } = await vaultFor();
  const sealed = await seal(key, new Uint8Array([1, 2, 3]), PLACE);
  await rejects(changePin(store, "000000", "new-pin-1", T0), WrongPin);
  assert.equal(store.failures!.count, 1, "a wrong current PIN counts as a wrong PIN");
  const salt = store.vault!.salt;
  await changePin(store, PIN, "new-pin-1", T0);
  assert.notDeepEqual(store.vault!.salt, salt);
  assert.ok(store.vault!.iterations >= PBKDF2_ITERATIONS, "a new wrapping uses the current PBKDF2 count");
  await rejects(unlock(store, PIN, T0), WrongPin);
  const k = await unlock(store, "new-pin-1", T0);
  assert.deepEqual(await unseal(k, sealed, PLACE), new Uint8Array([1, 2, 3]));
});

test("a new PIN has at least six characters and is typed the same twice", () => {
  assert.equal(MIN_PIN_LENGTH, 6);
  assert.deepEqual(pinProblem("12345", "12345"), { code: "pin_too_short", field: "pin", params: { min: 6 } });
  assert.deepEqual(pinProblem("123456", "123465"), { code: "pin_mismatch", field: "pin-confirm" });
  assert.equal(pinProblem("123456", "123456"), undefined);
  assert.equal(pinProblem("lochan", "lochan"), undefined);
  assert.equal(pinProblem("🐑🐑🐑🐑🐑", "🐑🐑🐑🐑🐑")?.code, "pin_too_short", "characters, not UTF-16 units");
});

test("waits are said in words", () => {
  assert.equal(duration(30_000), "30 seconds");
  assert.equal(duration(1_000), "1 second");
  assert.equal(duration(60_000), "1 minute");
  assert.equal(duration(75_500), "1 minute 16 seconds");
  assert.equal(duration(16 * 60_000), "16 minutes");
  assert.equal(duration(MAX_WAIT_MS), "1 hour");
});
