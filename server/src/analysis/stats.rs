//! Paired (baseline → end) outcome statistics for wellbeing scores such as WEMWBS and SWEMWBS.
//!
//! Every participant contributes one pair: a score at baseline (`before`) and one at the end
//! (`after`). The analysis works on the changes `dᵢ = afterᵢ − beforeᵢ`:
//!
//! * mean change `d̄ = Σ dᵢ / n`;
//! * sample standard deviation of the changes `s = √(Σ (dᵢ − d̄)² / (n − 1))`;
//! * standard error `se = s / √n`;
//! * paired t statistic `t = d̄ / se` on `df = n − 1` degrees of freedom;
//! * two-sided p value `p = 2 · P(T_df ≥ |t|)`;
//! * 95% confidence interval for the mean change `d̄ ∓ t(0.975, df) · se`;
//! * standardised effect size Cohen's `d_z = d̄ / s`.
//!
//! With one pair there is no spread (`s`, `t`, `p`, the interval and `d_z` are `None`); when
//! every change is the same (`s = 0`) the test statistic is undefined and only `s` and `df` are
//! given besides the means. The module is pure: no I/O, no allocation beyond the changes.
//!
//! The t distribution comes from `statrs` ([`student_t_cdf`] and [`student_t_quantile`]), which
//! evaluates it through the regularised incomplete beta function.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The outcome statistics of paired scores; see the module documentation for the formulas.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedStats {
    /// Number of pairs.
    pub n: usize,
    /// Mean of the baseline scores.
    pub mean_before: f64,
    /// Mean of the end scores.
    pub mean_after: f64,
    /// Mean of the changes (after − before); equals `mean_after − mean_before` up to rounding.
    pub mean_change: f64,
    /// Sample standard deviation (divisor n − 1) of the changes; `None` when n < 2.
    pub sd_change: Option<f64>,
    /// Lower end of the 95% confidence interval for the mean change,
    /// `mean_change − t(0.975, n − 1) · sd_change / √n`; `None` when n < 2 or the SD is 0.
    pub ci95_low: Option<f64>,
    /// Upper end of the 95% confidence interval for the mean change.
    pub ci95_high: Option<f64>,
    /// Paired t statistic `mean_change / (sd_change / √n)`; `None` when n < 2 or the SD is 0.
    pub t: Option<f64>,
    /// Degrees of freedom, n − 1; `None` when n < 2.
    pub df: Option<f64>,
    /// Two-sided p value of the paired t test, `2 · P(T_df ≥ |t|)`; `None` when `t` is.
    pub p: Option<f64>,
    /// Cohen's d_z, `mean_change / sd_change`; `None` when `t` is.
    pub cohens_dz: Option<f64>,
}

/// Arithmetic mean `Σ xᵢ / n`; `None` for an empty slice.
pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    Some(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation `√(Σ (xᵢ − x̄)² / (n − 1))` (two passes: the mean first, then the
/// squared deviations); `None` with fewer than two values.
pub fn sample_sd(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// Paired statistics of `before` and `after` (pair i is `(before[i], after[i])`).
///
/// Returns `None` when there are no pairs. Both slices must have the same length (checked with
/// an assertion). A standard deviation of the changes that is only rounding noise (below
/// `1e-12` times the largest absolute change, as when every decimal score rises by the same
/// 2.29) counts as zero, so no absurd t statistic is reported.
pub fn paired(before: &[f64], after: &[f64]) -> Option<PairedStats> {
    assert_eq!(
        before.len(),
        after.len(),
        "paired statistics need as many end scores as baseline scores"
    );
    let n = before.len();
    if n == 0 {
        return None;
    }
    let changes: Vec<f64> = before.iter().zip(after).map(|(b, a)| a - b).collect();
    let mean_change = mean(&changes)?;
    let mut stats = PairedStats {
        n,
        mean_before: mean(before)?,
        mean_after: mean(after)?,
        mean_change,
        sd_change: None,
        ci95_low: None,
        ci95_high: None,
        t: None,
        df: None,
        p: None,
        cohens_dz: None,
    };
    let Some(sd) = sample_sd(&changes) else {
        return Some(stats);
    };
    let largest = changes.iter().fold(0.0_f64, |m, d| m.max(d.abs()));
    let sd = if sd <= 1e-12 * largest { 0.0 } else { sd };
    let df = (n - 1) as f64;
    stats.sd_change = Some(sd);
    stats.df = Some(df);
    if sd == 0.0 || !sd.is_finite() {
        return Some(stats);
    }
    let se = sd / (n as f64).sqrt();
    let t = mean_change / se;
    let half_width = student_t_quantile(0.975, df) * se;
    stats.ci95_low = Some(mean_change - half_width);
    stats.ci95_high = Some(mean_change + half_width);
    stats.t = Some(t);
    stats.p = Some(two_sided_p(t, df));
    stats.cohens_dz = Some(mean_change / sd);
    Some(stats)
}

fn students_t(df: f64) -> Option<StudentsT> {
    StudentsT::new(0.0, 1.0, df).ok()
}

/// `2 · P(T_df ≥ |t|)`, from the upper tail directly so that small p values keep their
/// precision (1 − cdf would round them away).
fn two_sided_p(t: f64, df: f64) -> f64 {
    match students_t(df) {
        Some(dist) => (2.0 * dist.sf(t.abs())).min(1.0),
        None => f64::NAN,
    }
}

/// Cumulative distribution function of Student's t distribution with `df` degrees of freedom,
/// `P(T ≤ t)`.
///
/// For `x = df / (df + t²)` it is `½ · I_x(df/2, ½)` when `t ≤ 0` and `1 − ½ · I_x(df/2, ½)`
/// otherwise, where `I` is the regularised incomplete beta function. `df` may be any positive
/// real (infinity gives the standard normal); a non-positive or NaN `df`, or a NaN `t`, gives
/// NaN.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() {
        return f64::NAN;
    }
    match students_t(df) {
        Some(dist) => dist.cdf(t),
        None => f64::NAN,
    }
}

/// Quantile (inverse CDF) of Student's t distribution: the `t` with `P(T ≤ t) = p`, e.g.
/// `student_t_quantile(0.975, 10.0) ≈ 2.228139`.
///
/// Computed by inverting the regularised incomplete beta function: for `q = min(p, 1 − p)`,
/// `x = I⁻¹_{2q}(df/2, ½)` and `|t| = √(df · (1 − x) / x)`, negative when `p < ½`. `p = 0`
/// and `p = 1` give −∞ and +∞; a `p` outside [0, 1], a NaN, or a non-positive `df` gives NaN.
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.5 {
        return 0.0;
    }
    match students_t(df) {
        Some(dist) => dist.inverse_cdf(p),
        None => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    const FIXTURE: &str = include_str!("../../tests/data/paired_outcomes.json");

    /// Three decimal places, as the values are reported.
    fn close(what: &str, got: f64, want: f64) {
        assert!(
            (got - want).abs() < 5e-4,
            "{what}: got {got}, expected {want}"
        );
    }

    fn numbers(v: &Value) -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    }

    fn check_opt(name: &str, field: &str, got: Option<f64>, want: &Value) {
        let what = format!("{name}.{field}");
        match (got, want.as_f64()) {
            (Some(g), Some(w)) => close(&what, g, w),
            (None, None) => assert!(want.is_null(), "{what}: fixture has {want}"),
            (g, _) => panic!("{what}: got {g:?}, expected {want}"),
        }
    }

    #[test]
    fn fixture_matches_scipy() {
        let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
        assert!(
            fixture["computed_with"]
                .as_str()
                .unwrap()
                .starts_with("scipy ")
        );
        let datasets = fixture["datasets"].as_array().unwrap();
        assert!(datasets.len() >= 5);
        for ds in datasets {
            let name = ds["name"].as_str().unwrap();
            let before = numbers(&ds["before"]);
            let after = numbers(&ds["after"]);
            let e = &ds["expected"];
            let s = paired(&before, &after).unwrap();
            assert_eq!(s.n as u64, e["n"].as_u64().unwrap(), "{name}.n");
            close(
                &format!("{name}.mean_before"),
                s.mean_before,
                e["mean_before"].as_f64().unwrap(),
            );
            close(
                &format!("{name}.mean_after"),
                s.mean_after,
                e["mean_after"].as_f64().unwrap(),
            );
            close(
                &format!("{name}.mean_change"),
                s.mean_change,
                e["mean_change"].as_f64().unwrap(),
            );
            check_opt(name, "sd_change", s.sd_change, &e["sd_change"]);
            check_opt(name, "ci95_low", s.ci95_low, &e["ci95_low"]);
            check_opt(name, "ci95_high", s.ci95_high, &e["ci95_high"]);
            check_opt(name, "t", s.t, &e["t"]);
            check_opt(name, "df", s.df, &e["df"]);
            check_opt(name, "p", s.p, &e["p"]);
            check_opt(name, "cohens_dz", s.cohens_dz, &e["cohens_dz"]);
        }
    }

    #[test]
    fn fixture_covers_the_none_cases() {
        let fixture: Value = serde_json::from_str(FIXTURE).unwrap();
        let find = |name: &str| {
            let ds = fixture["datasets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["name"] == name)
                .unwrap();
            paired(&numbers(&ds["before"]), &numbers(&ds["after"])).unwrap()
        };
        let zero = find("zero_variance");
        assert_eq!(zero.sd_change, Some(0.0));
        assert_eq!(zero.df, Some(4.0));
        assert_eq!(
            (
                zero.t,
                zero.p,
                zero.ci95_low,
                zero.ci95_high,
                zero.cohens_dz
            ),
            (None, None, None, None, None)
        );
        let one = find("single_pair");
        assert_eq!(one.n, 1);
        assert_eq!(one.mean_change, 6.0);
        assert_eq!(
            (
                one.sd_change,
                one.df,
                one.t,
                one.p,
                one.ci95_low,
                one.cohens_dz
            ),
            (None, None, None, None, None, None)
        );
    }

    #[test]
    fn empty_input_gives_none() {
        assert_eq!(paired(&[], &[]), None);
        assert_eq!(mean(&[]), None);
        assert_eq!(sample_sd(&[]), None);
        assert_eq!(sample_sd(&[3.0]), None);
    }

    #[test]
    #[should_panic(expected = "as many end scores")]
    fn unequal_lengths_panic() {
        let _ = paired(&[1.0, 2.0], &[1.0]);
    }

    #[test]
    fn mean_and_sd_by_hand() {
        assert_eq!(mean(&[2.0, 4.0, 9.0]), Some(5.0));
        // Deviations -3, -1, 4: squares sum to 26, over n - 1 = 2 gives 13.
        close("sd", sample_sd(&[2.0, 4.0, 9.0]).unwrap(), 13f64.sqrt());
        assert_eq!(sample_sd(&[7.0, 7.0, 7.0]), Some(0.0));
    }

    #[test]
    fn equal_decimal_changes_count_as_zero_spread() {
        // Every SWEMWBS metric score rises by 2.29: the changes differ only by rounding.
        let before = [19.25, 17.43, 21.54, 20.73, 16.36];
        let after: Vec<f64> = before.iter().map(|b| b + 2.29).collect();
        let s = paired(&before, &after).unwrap();
        assert_eq!(s.sd_change, Some(0.0));
        assert_eq!((s.t, s.p, s.cohens_dz), (None, None, None));
        close("mean_change", s.mean_change, 2.29);
    }

    #[test]
    fn p_value_is_symmetric_and_matches_the_interval() {
        let before = [40.0, 35.0, 48.0, 52.0];
        let after = [45.0, 36.0, 50.0, 51.0];
        let up = paired(&before, &after).unwrap();
        let down = paired(&after, &before).unwrap();
        assert_eq!(up.p, down.p);
        assert_eq!(up.t.map(|t| -t), down.t);
        // p > 0.05 exactly when the 95% interval contains 0.
        let contains_zero = up.ci95_low.unwrap() <= 0.0 && up.ci95_high.unwrap() >= 0.0;
        assert_eq!(up.p.unwrap() > 0.05, contains_zero);
    }

    /// Reference values: R's qt/pt and scipy.stats.t (ppf/cdf), printed to 15 significant digits.
    #[test]
    fn t_quantiles_at_known_points() {
        let cases = [
            (0.975, 10.0, 2.228_138_851_986_274),
            (0.975, 1.0, 12.706_204_736_174_694),
            (0.975, 2.0, 4.302_652_729_749_462),
            (0.975, 11.0, 2.200_985_160_091_639),
            (0.995, 3.0, 5.840_909_309_733_355),
            (0.025, 5.0, -2.570_581_835_636_316),
            (0.6, 30.0, 0.255_605_364_951_912_8),
            (0.975, 1000.0, 1.962_339_080_826_408),
        ];
        for (p, df, want) in cases {
            let got = student_t_quantile(p, df);
            assert!(
                (got - want).abs() < 1e-9,
                "t({p}, {df}) = {got}, expected {want}"
            );
            let back = student_t_cdf(got, df);
            assert!(
                (back - p).abs() < 1e-12,
                "cdf(quantile({p}, {df})) = {back}"
            );
        }
        assert_eq!(student_t_quantile(0.5, 7.0), 0.0);
        assert_eq!(student_t_quantile(1.0, 7.0), f64::INFINITY);
        assert_eq!(student_t_quantile(0.0, 7.0), f64::NEG_INFINITY);
        assert!(student_t_quantile(1.5, 7.0).is_nan());
        assert!(student_t_quantile(-0.1, 7.0).is_nan());
        assert!(student_t_quantile(0.9, 0.0).is_nan());
    }

    #[test]
    fn t_cdf_at_known_points() {
        // Cauchy (df = 1): F(t) = 1/2 + atan(t) / pi, exactly.
        for t in [-30.0_f64, -2.0, -0.5, 0.0, 0.3, 1.0, 4.0] {
            let want = 0.5 + f64::atan(t) / std::f64::consts::PI;
            assert!((student_t_cdf(t, 1.0) - want).abs() < 1e-12, "t = {t}");
        }
        // df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2)), exactly.
        for t in [-5.0_f64, -1.0, 0.25, 2.0, 9.0] {
            let want = 0.5 + t / (2.0 * (2.0 + t * t).sqrt());
            assert!((student_t_cdf(t, 2.0) - want).abs() < 1e-12, "t = {t}");
        }
        let cases = [
            // (t, df, P(T <= t)) from scipy.stats.t.cdf
            (2.228_138_851_986_274, 10.0, 0.975),
            (-1.5, 4.0, 0.104),
            (3.0, 20.0, 0.996_462_050_604_394_4),
        ];
        for (t, df, want) in cases {
            let got = student_t_cdf(t, df);
            assert!(
                (got - want).abs() < 1e-9,
                "cdf({t}, {df}) = {got}, expected {want}"
            );
        }
        assert_eq!(student_t_cdf(0.0, 5.0), 0.5);
        assert!(student_t_cdf(1.0, -1.0).is_nan());
        assert!(student_t_cdf(f64::NAN, 3.0).is_nan());
        // Infinite df is the standard normal.
        assert!((student_t_cdf(1.959_963_984_540_054, f64::INFINITY) - 0.975).abs() < 1e-10);
    }

    #[test]
    fn tiny_p_values_keep_their_precision() {
        // 2 * scipy.stats.t.sf(8.5, 11)
        let p = two_sided_p(8.5, 11.0);
        let want = 3.653_762_179_536_676e-6;
        assert!((p - want).abs() / want < 1e-9, "p = {p}");
    }
}
