#!/usr/bin/env python3
"""Expected values for the paired outcome statistics tests (server/src/stats.rs).

Reads the datasets (name, description, before, after) from paired_outcomes.json beside this
script, computes every expected value independently with SciPy and NumPy, and prints the whole
fixture as JSON. Regenerate with:

    pip install scipy
    python3 paired_outcomes.py --write      # rewrites paired_outcomes.json in place
    python3 paired_outcomes.py              # prints it instead

Conventions (the same as the Rust code's documented contract):
* change = after - before; the t test is scipy.stats.ttest_rel(after, before);
* sd_change is the sample SD (ddof = 1); the 95% interval is scipy's own confidence_interval()
  of the paired test, cross-checked against mean +/- t.ppf(0.975, n - 1) * sd / sqrt(n);
* with fewer than two pairs sd, df, t, p, the interval and d_z are null; with zero SD of the
  changes t, p, the interval and d_z are null (SciPy would give an infinite or undefined t).
"""

import json
import math
import pathlib
import sys

import numpy as np
import scipy
from scipy import stats

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE / "paired_outcomes.json"


def expected(before, after):
    b = np.asarray(before, dtype=float)
    a = np.asarray(after, dtype=float)
    d = a - b
    n = len(d)
    out = {
        "n": n,
        "mean_before": float(np.mean(b)),
        "mean_after": float(np.mean(a)),
        "mean_change": float(np.mean(d)),
        "sd_change": None,
        "ci95_low": None,
        "ci95_high": None,
        "t": None,
        "df": None,
        "p": None,
        "cohens_dz": None,
    }
    if n < 2:
        return out
    sd = float(np.std(d, ddof=1))
    out["sd_change"] = sd
    out["df"] = float(n - 1)
    if sd == 0.0:
        return out
    res = stats.ttest_rel(a, b)
    ci = res.confidence_interval(confidence_level=0.95)
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    assert abs((out["mean_change"] - half) - ci.low) < 1e-9
    assert abs((out["mean_change"] + half) - ci.high) < 1e-9
    assert float(res.df) == n - 1
    out["ci95_low"] = float(ci.low)
    out["ci95_high"] = float(ci.high)
    out["t"] = float(res.statistic)
    out["p"] = float(res.pvalue)
    out["cohens_dz"] = out["mean_change"] / sd
    return out


def main():
    fixture = json.loads(FIXTURE.read_text())
    fixture["computed_with"] = (
        f"scipy {scipy.__version__} (scipy.stats.ttest_rel, scipy.stats.t.ppf), "
        f"numpy {np.__version__}"
    )
    fixture["generator"] = "paired_outcomes.py"
    for ds in fixture["datasets"]:
        assert len(ds["before"]) == len(ds["after"]), ds["name"]
        ds["expected"] = expected(ds["before"], ds["after"])
    text = json.dumps(fixture, indent=2) + "\n"
    if "--write" in sys.argv[1:]:
        FIXTURE.write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
