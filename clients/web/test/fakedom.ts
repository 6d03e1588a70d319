// Just enough of a document for the form helpers (src/ui/dom.ts) to build their elements in
// Node, so the tests read the controls a screen renders: tags, attributes, children and text.

export class FakeText {
  constructor(public data: string) {}
  get textContent(): string {
    return this.data;
  }
}

export class FakeElement {
  readonly attributes = new Map<string, string>();
  readonly children: (FakeElement | FakeText)[] = [];
  value = "";
  constructor(readonly tagName: string) {}
  setAttribute(name: string, value: string): void {
    this.attributes.set(name, String(value));
  }
  getAttribute(name: string): string | null {
    return this.attributes.get(name) ?? null;
  }
  hasAttribute(name: string): boolean {
    return this.attributes.has(name);
  }
  removeAttribute(name: string): void {
    this.attributes.delete(name);
  }
  addEventListener(): void {}
  append(...nodes: (FakeElement | FakeText | string)[]): void {
    for (const n of nodes) this.children.push(typeof n === "string" ? new FakeText(n) : n);
  }
  get textContent(): string {
    return this.children.map((c) => c.textContent).join("");
  }
  /** This element and every element under it, in document order. */
  *all(): Generator<FakeElement> {
    yield this;
    for (const c of this.children) if (c instanceof FakeElement) yield* c.all();
  }
}

/** Installs the fake document for the rest of the test file. */
export function installFakeDocument(): void {
  (globalThis as unknown as { document: unknown }).document = {
    createElement: (tag: string) => new FakeElement(tag),
    createTextNode: (text: string) => new FakeText(text),
  };
}

/** A rendered control: its tag, type, attributes, label and hint as a person would meet them. */
export interface Rendered {
  tag: string;
  type: string | null;
  attrs: Map<string, string>;
  label: string;
  hint: string | undefined;
  options: string[];
}

/** Every named control (input, select, textarea) under `roots`, by name, with its label (the
 * `<label for>` naming its id) and its hint (the element its `aria-describedby` names). */
export function controls(roots: unknown[]): Map<string, Rendered[]> {
  const els = (roots as FakeElement[]).flatMap((r) => [...r.all()]);
  const byId = new Map(els.filter((e) => e.getAttribute("id")).map((e) => [e.getAttribute("id")!, e]));
  const out = new Map<string, Rendered[]>();
  for (const e of els) {
    if (!["input", "select", "textarea"].includes(e.tagName)) continue;
    const name = e.getAttribute("name");
    if (!name) continue;
    const id = e.getAttribute("id");
    const label = els.find((l) => l.tagName === "label" && id !== null && l.getAttribute("for") === id);
    const hintId = (e.getAttribute("aria-describedby") ?? "").split(" ").find((x) => x.endsWith("-hint"));
    const r: Rendered = {
      tag: e.tagName,
      type: e.getAttribute("type"),
      attrs: e.attributes,
      label: label?.textContent ?? "",
      hint: hintId ? byId.get(hintId)?.textContent : undefined,
      options: e.tagName === "select" ? e.children.filter((c): c is FakeElement => c instanceof FakeElement).map((o) => o.getAttribute("value") ?? "") : [],
    };
    out.set(name, [...(out.get(name) ?? []), r]);
  }
  return out;
}
