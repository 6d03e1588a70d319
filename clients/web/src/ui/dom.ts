// Small DOM helpers: elements, labelled form fields with errors announced beside them.
import { t } from "../i18n";
import { errorMessage, type FieldError } from "../records";

type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  // The browser keeps no copy of what is typed (session restore would write it to disk in clear).
  if (tag === "form" && !("autocomplete" in attrs)) el.setAttribute("autocomplete", "off");
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  // "(optional)" tells a field apart from required ones: in a form where nothing is required
  // (a registration's details, a setting) it is only noise.
  if (tag === "form" && !el.querySelector('[aria-required="true"]')) for (const o of el.querySelectorAll(".opt")) o.remove();
  return el;
}

let uid = 0;
export const nextId = (p: string) => `${p}-${++uid}`;

export interface FieldOpts {
  label: string;
  name: string;
  type?: string;
  value?: string;
  hint?: string;
  required?: boolean;
  options?: [string, string][];
  /** No "(optional)" beside the label even though an answer is not required: for a form whose
   * every answer may be left out (a questionnaire's items) or that edits one field alone. */
  quiet?: boolean;
  attrs?: Attrs;
}

/** Whether a field's label says "(optional)": only where leaving it empty is a choice the user
 * makes among required fields; never for a list that always holds one of its values. */
const marksOptional = (o: FieldOpts) => !o.required && !o.quiet && !(o.options && !o.options.some(([v]) => v === ""));

/** A corrected answer loses its error at once: on input or change inside the field, its own
 * message and aria-invalid go, and the form's summary too once no field has an error. */
function clearsOwnError(wrap: HTMLElement): HTMLElement {
  const clear = () => {
    if (wrap.querySelector(".error")?.hasAttribute("hidden") !== false) return;
    setError(wrap, undefined);
    const form = wrap.closest("form");
    if (form && !form.querySelector(".error:not([hidden])")) form.querySelector(".form-alert")?.remove();
  };
  wrap.addEventListener("input", clear);
  wrap.addEventListener("change", clear);
  return wrap;
}

/** A labelled control with a hint and an error slot (aria-describedby / aria-invalid). */
export function field(o: FieldOpts): HTMLElement {
  const id = nextId(o.name.replace(/[^a-z0-9]/gi, "-"));
  const hintId = o.hint ? `${id}-hint` : undefined;
  let control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  if (o.options) {
    control = h("select", { id, name: o.name, ...o.attrs });
    for (const [v, label] of o.options) control.append(h("option", { value: v, selected: v === o.value }, label));
  } else if (o.type === "textarea") {
    control = h("textarea", { id, name: o.name, rows: 8, ...o.attrs });
    control.value = o.value ?? "";
  } else {
    control = h("input", { id, name: o.name, type: o.type ?? "text", ...o.attrs });
    control.value = o.value ?? "";
  }
  if (o.required) control.setAttribute("aria-required", "true");
  if (hintId) control.setAttribute("aria-describedby", hintId);
  const wrap = h(
    "div",
    { class: "field", "data-field": o.name },
    h("label", { for: id }, o.label, marksOptional(o) ? h("span", { class: "opt" }, ` ${t("common.optional")}`) : null),
    o.hint ? h("p", { class: "hint", id: hintId }, o.hint) : null,
    control,
    h("p", { class: "error", id: `${id}-error`, hidden: true }),
  );
  return clearsOwnError(wrap);
}

export function checkbox(label: string, name: string, checked = false, attrs: Attrs = {}, hint?: string): HTMLElement {
  const id = nextId(name.replace(/[^a-z0-9]/gi, "-"));
  const hintId = hint ? `${id}-hint` : undefined;
  const input = h("input", { type: "checkbox", id, name, checked, "aria-describedby": hintId, ...attrs });
  return clearsOwnError(h(
    "div",
    { class: "field check", "data-field": name },
    input,
    h("label", { for: id }, label),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    h("p", { class: "error", id: `${id}-error`, hidden: true }),
  ));
}

/** A field's control as `FieldOpts` describe it: a tick box for `type: "checkbox"` (ticked when
 * `value` is "true"; unticked is an answer too, so never marked required), else a labelled field. */
export function control(o: FieldOpts): HTMLElement {
  if (o.type === "checkbox") return checkbox(o.label, o.name, o.value === "true", o.attrs, o.hint);
  return field(o);
}

export interface ChoicesOpts {
  legend: string;
  name: string;
  /** Value and label of each choice, in order; a third element is the part of the label shown
   * on its tile (the rest is read out, not shown: "0" of "0 Not at all"). */
  options: ([string, string] | [string, string, string])[];
  hint?: string;
  value?: string;
  /** Lay the choices out in a column of full-width tiles (long labels) rather than a grid of
   * tiles side by side (at most 6 a row). */
  column?: boolean;
  /** Shown under the tiles, for sighted users only (the labels already say it): the meaning of
   * the scale's ends ("0 Not at all · 10 Completely"). */
  ends?: string;
  attrs?: Attrs;
}

/**
 * A group of radio buttons: a fieldset (role radiogroup) whose legend is the question, with a
 * hint and an error slot; `aria-describedby` and `aria-invalid` go on the group, and the choices
 * are labelled one by one. Each choice is a tile at least 48 px high that a tap anywhere on
 * selects; the radio buttons stay real ones, so arrow keys and screen readers work as usual.
 */
export function choices(o: ChoicesOpts): HTMLElement {
  const id = nextId(o.name.replace(/[^a-z0-9]/gi, "-"));
  const hintId = o.hint ? `${id}-hint` : undefined;
  const cols = Math.min(o.options.length, 6);
  return clearsOwnError(h(
    "fieldset",
    { class: "field choices", "data-field": o.name, role: "radiogroup", id, "aria-describedby": hintId },
    h("legend", {}, o.legend),
    o.hint ? h("p", { class: "hint", id: hintId }, o.hint) : null,
    h(
      "div",
      { class: o.column ? "options column" : `options grid cols-${cols}` },
      o.options.map(([v, label, shown], k) =>
        h(
          "div",
          { class: "option" },
          h("input", { type: "radio", id: `${id}-${k}`, name: o.name, value: v, checked: v === o.value, ...o.attrs }),
          h("label", { for: `${id}-${k}` }, shown !== undefined && label.startsWith(shown) ? [shown, h("span", { class: "sr-only" }, label.slice(shown.length))] : label),
        ),
      ),
    ),
    o.ends ? h("p", { class: "ends", "aria-hidden": "true" }, o.ends) : null,
    h("p", { class: "error", id: `${id}-error`, hidden: true }),
  ));
}

const wrapOf = (form: HTMLElement, name: string) => form.querySelector<HTMLElement>(`[data-field="${CSS.escape(name)}"]`);
const isGroup = (wrap: Element | null) => wrap?.getAttribute("role") === "radiogroup";

export function controlOf(form: HTMLElement, name: string): HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement | null {
  return form.querySelector(`[data-field="${CSS.escape(name)}"] input, [data-field="${CSS.escape(name)}"] select, [data-field="${CSS.escape(name)}"] textarea`);
}
/** A field's value: the text typed or chosen, or the checked radio button's (empty for none). */
export function value(form: HTMLElement, name: string): string {
  const wrap = wrapOf(form, name);
  if (isGroup(wrap)) return wrap!.querySelector<HTMLInputElement>("input:checked")?.value ?? "";
  return controlOf(form, name)?.value.trim() ?? "";
}

export function clearErrors(form: HTMLElement): void {
  for (const wrap of form.querySelectorAll<HTMLElement>("[data-field]")) setError(wrap, undefined);
  form.querySelector(".form-alert")?.remove();
}

function setError(wrap: HTMLElement, message: string | undefined): void {
  // A group of radio buttons is described and marked invalid as a whole.
  const control = isGroup(wrap) ? wrap : wrap.querySelector<HTMLElement>("input, select, textarea");
  const err = wrap.querySelector<HTMLElement>(".error");
  if (!control || !err) return;
  const ids = (control.getAttribute("aria-describedby") ?? "").split(" ").filter((x) => x && x !== err.id);
  if (message) {
    err.textContent = message;
    err.hidden = false;
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", [...ids, err.id].join(" "));
  } else {
    err.textContent = "";
    err.hidden = true;
    control.removeAttribute("aria-invalid");
    if (ids.length) control.setAttribute("aria-describedby", ids.join(" "));
    else control.removeAttribute("aria-describedby");
  }
}

export function errorText(e: FieldError): string {
  return errorMessage(e);
}

/** Shows each error beside its field (or at the top), and focuses the first bad field. */
export function showErrors(form: HTMLElement, errors: FieldError[], fieldMap: (path: string) => string = (p) => p): void {
  clearErrors(form);
  const general: string[] = [];
  let first: HTMLElement | null = null;
  for (const e of errors) {
    const wrap = wrapOf(form, fieldMap(e.field));
    if (wrap) {
      setError(wrap, errorText(e));
      first ??= wrap.querySelector("input, select, textarea");
    } else general.push(`${e.field}: ${errorText(e)}`);
  }
  const alert = h("div", { class: "form-alert", role: "alert" }, t("common.fix"), general.length ? h("ul", {}, general.map((g) => h("li", {}, g))) : null);
  form.prepend(alert);
  first?.focus();
}

export function status(text: string, kind: "ok" | "error" | "info" = "info"): HTMLElement {
  return h("p", { class: `status ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}
