"""Makes tests/data/analysis_outcomes.json: questionnaire answers for an end-to-end outcomes
test, and the statistics expected of them, computed with SciPy (independently of Bothy).

Run from the repository root: python3 tests/data/analysis_outcomes.py > tests/data/analysis_outcomes.json
"""
import csv
import json
import random

import numpy as np
import scipy
from scipy import stats

METRIC = {}
with open("sync-core/tests/data/swemwbs_metric.csv") as f:
    for row in csv.DictReader(f):
        METRIC[int(row["raw"])] = float(row["metric"])

SWEMWBS_ITEMS = [1, 2, 3, 6, 7, 9, 11]  # of WEMWBS
rng = random.Random(20261125)


def items_summing(total, count, rng):
    """Answers 1..5 for `count` items summing to `total`."""
    items = [1] * count
    left = total - count
    while left > 0:
        i = rng.randrange(count)
        if items[i] < 5:
            items[i] += 1
            left -= 1
    return items


def summary(before, after, threshold, strict):
    b = np.array(before, dtype=float)
    a = np.array(after, dtype=float)
    d = a - b
    n = len(d)
    sd = d.std(ddof=1)
    t, p = stats.ttest_rel(a, b)
    half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)
    return {
        "n": n,
        "mean_before": b.mean(),
        "mean_after": a.mean(),
        "mean_change": d.mean(),
        "sd_change": sd,
        "ci95_low": d.mean() - half,
        "ci95_high": d.mean() + half,
        "t": float(t),
        "df": n - 1,
        "p": float(p),
        "cohens_dz": d.mean() / sd,
        "improved": int((d >= threshold - 1e-9).sum()),
        "deteriorated": int((d <= -threshold + 1e-9).sum()),
        "improved_strict": int((d >= strict - 1e-9).sum()),
    }


people = []
# 14 participants answer WEMWBS at baseline and end.
for _ in range(14):
    before = rng.randint(30, 56)
    after = max(14, min(70, before + rng.randint(-6, 12)))
    people.append({
        "instrument": "WEMWBS",
        "baseline": items_summing(before, 14, rng),
        "end": items_summing(after, 14, rng),
    })
# 8 more answer SWEMWBS.
for _ in range(8):
    before = rng.randint(14, 26)
    after = max(7, min(35, before + rng.randint(-3, 6)))
    people.append({
        "instrument": "SWEMWBS",
        "baseline": items_summing(before, 7, rng),
        "end": items_summing(after, 7, rng),
    })

wb, we, sb, se = [], [], [], []
for p in people:
    if p["instrument"] == "WEMWBS":
        wb.append(sum(p["baseline"]))
        we.append(sum(p["end"]))
        sb.append(METRIC[sum(p["baseline"][i - 1] for i in SWEMWBS_ITEMS)])
        se.append(METRIC[sum(p["end"][i - 1] for i in SWEMWBS_ITEMS)])
    else:
        sb.append(METRIC[sum(p["baseline"])])
        se.append(METRIC[sum(p["end"])])

print(json.dumps({
    "about": "Answers for tests/tests/scenarios/analysis.rs and the statistics expected of "
             "them, computed with SciPy " + scipy.__version__ + " (scipy.stats.ttest_rel, "
             "scipy.stats.t.ppf) by tests/data/analysis_outcomes.py. SWEMWBS pairs include the "
             "SWEMWBS items of the WEMWBS forms, converted with the published metric table.",
    "people": people,
    "expected": {
        "wemwbs": summary(wb, we, 3, 9),
        "swemwbs": summary(sb, se, 3, 2.87),
    },
}, indent=1))
