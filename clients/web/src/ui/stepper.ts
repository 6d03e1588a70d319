// A questionnaire's questions one at a time: the questions side by side in a row that scrolls
// sideways, one question wide (swipe, or the Previous and Next buttons), moving on to the next
// question by itself once one is answered by a tap. Every question stays in the page, in order,
// so a screen reader reads them all, Tab and the arrow keys reach every answer (the browser
// brings a focused question into view, and a keyboard answer never moves on by itself), and a
// refused answer is found by focusing it.
import { t } from "../i18n";
import { h } from "./dom";

/** How long after a pointer press (tap, click) a change counts as made by it, in ms. */
const TAP_WINDOW = 1500;

/** The questions in a row, with Previous and Next either side of `status` (how many are
 * answered), else of "Question 3 of 14". */
export function questionTrack(questions: HTMLElement[], status?: HTMLElement): HTMLElement {
  const track = h("div", { class: "track" }, questions);
  const where = h("span", { class: "where" });
  const prev = h("button", { type: "button", class: "secondary" }, t("forms.previous"));
  const next = h("button", { type: "button", class: "secondary" }, t("forms.next"));
  const nav = h("div", { class: "stepper" }, prev, status ?? where, next);
  const box = h("div", { class: "questions" }, track, nav);

  /** The question most in view. */
  const current = (): number => {
    const r = track.getBoundingClientRect();
    const mid = (r.left + r.right) / 2;
    let best = 0;
    let bestDist = Infinity;
    questions.forEach((q, k) => {
      const qr = q.getBoundingClientRect();
      const d = Math.abs((qr.left + qr.right) / 2 - mid);
      if (d < bestDist) [best, bestDist] = [k, d];
    });
    return best;
  };
  const show = () => {
    const k = current();
    where.textContent = t("forms.position", { n: k + 1, count: questions.length });
    prev.disabled = k === 0;
    next.disabled = k === questions.length - 1;
  };
  /** Brings question `k` into view (at once: no animation to wait for). */
  const go = (k: number) => {
    const q = questions[Math.max(0, Math.min(questions.length - 1, k))];
    if (!q) return;
    track.scrollTo({ left: track.scrollLeft + q.getBoundingClientRect().left - track.getBoundingClientRect().left, behavior: "instant" });
    show();
  };
  prev.addEventListener("click", () => go(current() - 1));
  next.addEventListener("click", () => go(current() + 1));
  let frame = 0;
  track.addEventListener("scroll", () => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(show);
  });
  // A tap on an answer moves on to the next question; a keyboard choice does not (the arrow keys
  // move between the answers of one question).
  let pressed = 0;
  track.addEventListener("pointerdown", () => (pressed = Date.now()));
  track.addEventListener("change", (e) => {
    const input = e.target as HTMLInputElement;
    if (input.type !== "radio" || Date.now() - pressed > TAP_WINDOW) return;
    pressed = 0;
    const k = questions.findIndex((q) => q.contains(input));
    if (k >= 0 && k < questions.length - 1) go(k + 1);
  });
  // Shown once laid out.
  requestAnimationFrame(show);
  where.textContent = t("forms.position", { n: 1, count: questions.length });
  prev.disabled = true;
  next.disabled = questions.length < 2;
  return box;
}
