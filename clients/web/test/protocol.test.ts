import assert from "node:assert/strict";
import { test } from "node:test";
import { decode, encode, firstTag } from "../src/cbor";
import { decodeResponse, encodeRequest, frame, fromHex, inflateRaw, requestCbor, responseFromCbor, toHex, unframe, uuidBytes, uuidText, deflateRaw, uuidv7 } from "../src/protocol";

// docs/protocol.md section 19.
const REQUEST = "a366637572736f72a163736571182a647075736881a2626964500192f0c45e6a7b3c8d9e0123456789ab676368616e6765738144856f4a83636170706f626f7468792d636c692f302e312e30";
const REQUEST_DOC = "a266637572736f72a163736571182a647075736881a2626964500192f0c45e6a7b3c8d9e0123456789ab68646f63756d656e7444856f4a83";
const BOOTSTRAP = "a166637572736f72a2637365710068736e617073686f74a2626174076561667465725000000000000000000000000000000000";
const SMALLEST = "a366637572736f72a163736571182b646d6f7265f46b7365727665725f74696d651a6ae70da0";
const SMALLEST_DEFLATE = "42544859000101005b9c965c5a549c5fb430b938b550423b2537bf28f54b76716a51596a517c49666eaa54d673de0500";
const REQUEST_DEFLATE =
  "42544859000101005b9c965c5a549c5fb430b938b550422ba5a0b438a3715152664a00e3a40f47e2b2aa6d7ae7312abba677ae4e4fce48cc4b4f2d6e7469cdf76a4e4e2c28c84fca2fc9a8d44dcec9d437d033d4330000";
const RESPONSE =
  "a667756e61636b656481500192f0c45e6a7b3c8d9e0123456789ac677265706f72747382a5626964500192f0c45e6a7b3c8d9e0123456789ab646b696e646b71756172616e74696e656464636f64656d696e76616c69645f76616c7565656669656c6463656e64676d657373616765616da4626964500192f0c45e6a7b3c8d9e0123456789ac646b696e64677265667573656464636f64656d666f726569676e5f6163746f72676d657373616765616d677265636f72647382a4626964500192f0c45e6a7b3c8d9e0123456789ab646b696e646773657373696f6e6770726f6a65637461706464617461a168736e617073686f74420102a4626964500192f0c45e6a7b3c8d9e0123456789ad646b696e646573746f72796770726f6a65637461706464617461a1676368616e67657381410366637572736f72a163736571182b646d6f7265f46b7365727665725f74696d651a6ae70da0";
const A_ID = "0192f0c4-5e6a-7b3c-8d9e-0123456789ab";

test("request CBOR matches the test vector byte for byte", () => {
  const cbor = requestCbor({ cursor: { seq: 42 }, push: [{ id: uuidBytes(A_ID), changes: [fromHex("856f4a83")] }], app: "bothy-cli/0.1.0" });
  assert.equal(toHex(cbor), REQUEST);
});

test("request with a document, and empty lists left out", () => {
  const cbor = requestCbor({ cursor: { seq: 42 }, push: [{ id: uuidBytes(A_ID), changes: [], document: fromHex("856f4a83") }] });
  assert.equal(toHex(cbor), REQUEST_DOC);
});

test("bootstrap cursor", () => {
  const cbor = requestCbor({ cursor: { seq: 0, snapshot: { at: 7, after: new Uint8Array(16) } }, push: [] });
  assert.equal(toHex(cbor), BOOTSTRAP);
});

test("a cursor's generation comes back as received", () => {
  const generation = fromHex("0192f0c45e6a7b3c8d9e0123456789ab");
  const r = responseFromCbor(encode({ cursor: { seq: 3, generation }, more: false, server_time: 1 }));
  assert.deepEqual(r.cursor.generation, generation);
  const sent = decode(requestCbor({ cursor: r.cursor })) as { cursor: Record<string, unknown> };
  assert.deepEqual(sent.cursor, { seq: 3, generation });
  const old = responseFromCbor(encode({ cursor: { seq: 3 }, more: false, server_time: 1 }));
  assert.equal(old.cursor.generation, undefined);
});

test("large integers stay CBOR integers", () => {
  const cbor = requestCbor({ cursor: { seq: 2 ** 40 } });
  assert.equal(toHex(cbor), "a166637572736f72a1637365711b0000010000000000");
  assert.deepEqual(decode(cbor), { cursor: { seq: 2 ** 40 } });
});

test("the smallest response decodes, with every list empty", () => {
  const r = responseFromCbor(fromHex(SMALLEST));
  assert.deepEqual(r, { unacked: [], reports: [], records: [], erased: [], withdrawn: [], replaced: [], cursor: { seq: 43 }, more: false, server_time: 1793527200, reconcile: false });
});

test("withdrawn and replaced records decode as lists of ids, empty when absent", () => {
  const one = uuidBytes(A_ID);
  const two = uuidBytes("0192f0c4-5e6a-7b3c-8d9e-0123456789ac");
  const r = responseFromCbor(encode({ erased: [one], withdrawn: [one, two], replaced: [two], cursor: { seq: 3 }, more: false, server_time: 1 }));
  assert.deepEqual(r.erased.map(uuidText), [A_ID]);
  assert.deepEqual(r.withdrawn.map(uuidText), [A_ID, uuidText(two)]);
  assert.deepEqual(r.replaced.map(uuidText), [uuidText(two)]);
  const older = responseFromCbor(encode({ cursor: { seq: 3 }, more: false, server_time: 1, withdrawn: null }));
  assert.deepEqual([older.withdrawn, older.replaced], [[], []]);
  assert.throws(() => responseFromCbor(encode({ cursor: { seq: 3 }, more: false, server_time: 1, withdrawn: [A_ID] })), /withdrawn to hold record ids/);
  assert.throws(() => responseFromCbor(encode({ cursor: { seq: 3 }, more: false, server_time: 1, replaced: one })), /expected a list/);
});

test("reconcile decodes as sent, false when absent, and must be a bool", () => {
  // The smallest response with `reconcile: true` last, as the server's encoder writes it.
  const r = responseFromCbor(fromHex(SMALLEST.replace(/^a3/, "a4") + "69" + "7265636f6e63696c65" + "f5"));
  assert.equal(r.reconcile, true);
  assert.equal(r.cursor.seq, 43);
  assert.equal(responseFromCbor(encode({ cursor: { seq: 1 }, more: false, server_time: 1, reconcile: false })).reconcile, false);
  assert.equal(responseFromCbor(fromHex(SMALLEST)).reconcile, false);
  assert.throws(() => responseFromCbor(encode({ cursor: { seq: 1 }, more: false, server_time: 1, reconcile: 1 })), /expected reconcile/);
});

test("the smallest response as a framed DEFLATE message", async () => {
  const r = await decodeResponse(fromHex(SMALLEST_DEFLATE));
  assert.equal(r.cursor.seq, 43);
  assert.equal(r.server_time, 1793527200);
});

test("the reference DEFLATE request inflates to the test vector", async () => {
  assert.equal(toHex(await inflateRaw(unframe(fromHex(REQUEST_DEFLATE)))), REQUEST);
});

test("the full response vector", () => {
  const r = responseFromCbor(fromHex(RESPONSE));
  assert.deepEqual(r.unacked.map(uuidText), ["0192f0c4-5e6a-7b3c-8d9e-0123456789ac"]);
  assert.equal(r.reports.length, 2);
  assert.deepEqual({ ...r.reports[0], id: uuidText(r.reports[0]!.id) }, { id: A_ID, kind: "quarantined", code: "invalid_value", field: "end", message: "m" });
  assert.equal(r.reports[1]!.kind, "refused");
  assert.equal(r.reports[1]!.field, undefined);
  assert.equal(r.records.length, 2);
  assert.deepEqual(r.records[0]!.data, { snapshot: fromHex("0102") });
  assert.deepEqual(r.records[1]!.data, { changes: [fromHex("03")] });
  assert.equal(r.records[1]!.kind, "story");
  assert.deepEqual(r.erased, []);
});

test("framing round trip and header checks", async () => {
  const msg = await encodeRequest({ cursor: { seq: 42 }, push: [{ id: uuidBytes(A_ID), changes: [fromHex("856f4a83")] }], app: "bothy-cli/0.1.0" });
  assert.equal(toHex(msg.subarray(0, 8)), "4254485900010100");
  assert.equal(toHex(await inflateRaw(unframe(msg))), REQUEST);
  assert.throws(() => unframe(fromHex("42544859")), /truncated/);
  assert.throws(() => unframe(fromHex("4254485800010100")), /not a sync message/);
  assert.throws(() => unframe(fromHex("4254485900020100")), /version 2/);
  assert.throws(() => unframe(frame(new Uint8Array(0), 2)), /encoding 2/);
  assert.deepEqual(await inflateRaw(await deflateRaw(fromHex(RESPONSE))), fromHex(RESPONSE));
});

test("UUIDs", () => {
  assert.equal(uuidText(uuidBytes(A_ID)), A_ID);
  for (const other of [A_ID.toUpperCase(), A_ID.replace(/-/g, ""), `{${A_ID}}`]) {
    assert.throws(() => uuidBytes(other), /lower case with hyphens/);
  }
  const id = uuidv7(0x0192f0c45e6a);
  assert.match(id, /^0192f0c4-5e6a-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test("a response with a CBOR tag is refused", () => {
  // The smallest response with tag 37 put before the cursor's map.
  const smallest = fromHex(SMALLEST);
  const at = SMALLEST.indexOf("a163736571") / 2;
  const tagged = new Uint8Array([...smallest.subarray(0, at), 0xd8, 0x25, ...smallest.subarray(at)]);
  assert.throws(() => responseFromCbor(tagged), /CBOR tag 37 at byte 8/);
  // Bytes that look like tags inside a byte string are content.
  assert.equal(firstTag(fromHex("4ad8250102c6c0dbffff00")), undefined);
  assert.deepEqual(firstTag(fromHex("5f41c6ffd90100")), { tag: 256, at: 4 });
  assert.doesNotThrow(() => responseFromCbor(smallest));
});
