// Accessibility checks with axe-core (WCAG 2.0, 2.1 and 2.2, levels A and AA: labels, names,
// contrast, landmarks, focusable controls...), run inside the page. `page.evaluate` is not
// subject to the page's Content-Security-Policy, so the pages keep forbidding inline scripts.

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const source = await readFile(require.resolve("axe-core/axe.min.js"), "utf8");

/** The WCAG A/AA violations on the page as it is now, as readable lines. */
export async function violations(page) {
  const found = await page.evaluate(async (axeSource) => {
    if (!window.axe) (0, eval)(axeSource);
    const result = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  }, source);
  return found.map((v) => `${v.id}: ${v.help} (${v.nodes.join(", ")})`);
}
