//! Accessible inline SVG charts for the server-rendered dashboard. Pure functions: numbers in,
//! an `<svg>` string out, with nothing fetched and no script.
//!
//! Every chart:
//! * has `role="img"`, a `<title>` and a `<desc>` (the caller's description followed by the
//!   values in words, because a screen reader reads an image's title and description, not the
//!   text drawn inside it);
//! * is drawn in a `viewBox` about as wide as a phone (360 units) and scales to its container,
//!   so its text stays legible on a 360 px screen and grows on a wide one;
//! * writes every value as text next to its mark, so colour is never the only carrier of
//!   meaning; the colours (Okabe–Ito blue and vermillion, Paul Tol green and wine) are told
//!   apart with the common colour-vision deficiencies and have at least 3:1 contrast with the
//!   white background (text has at least 4.5:1);
//! * uses the reader's system fonts;
//! * HTML-escapes every caller-supplied string.
//!
//! A value of `None` is a figure withheld for disclosure control (fewer than five people): no
//! mark is drawn and the label says "suppressed (<5)". An empty input gives a chart that says
//! "no data".

use std::fmt::Write;

/// The width of every chart's `viewBox`, in user units.
pub const WIDTH: f64 = 360.0;

/// What a withheld figure is called.
pub const SUPPRESSED: &str = "suppressed (<5)";

/// Series colours, in order.
pub const PALETTE: [&str; 5] = ["#0072B2", "#D55E00", "#117733", "#882255", "#555555"];

const TEXT: &str = "#1f1f1f";
const MUTED: &str = "#595959";
const GRID: &str = "#c8c8c8";
const FONT: &str = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif";
const PAD: f64 = 8.0;

/// One bar of a [`bar_chart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// What the bar counts.
    pub label: String,
    /// Its value; `None` when suppressed for disclosure control.
    pub value: Option<f64>,
    /// A short note written after the value (e.g. "n = 12").
    pub note: Option<String>,
}

impl Bar {
    /// A bar with a value and no note.
    pub fn new(label: impl Into<String>, value: Option<f64>) -> Self {
        Bar {
            label: label.into(),
            value,
            note: None,
        }
    }
}

/// Escapes text for HTML and XML (element content and quoted attribute values).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if c.is_control() && !matches!(c, '\n' | '\t') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A number for people: whole numbers without decimals, others with at most two.
pub fn format_value(v: f64) -> String {
    if !v.is_finite() {
        return "not available".into();
    }
    if (v - v.round()).abs() < 1e-9 {
        return format!("{:.0}", v.round());
    }
    let digits = if v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

fn value_text(v: Option<f64>) -> String {
    match v {
        None => SUPPRESSED.into(),
        Some(v) => format_value(v),
    }
}

/// A stable id for the title and description, from the chart's content.
fn chart_id(kind: &str, title: &str, desc: &str, extra: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in [kind, "\0", title, "\0", desc, "\0", extra]
        .iter()
        .flat_map(|s| s.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("chart-{h:016x}")
}

/// Opens the `<svg>` with its title and description (`summary` is appended to `desc`).
fn open(kind: &str, title: &str, desc: &str, summary: &str, height: f64) -> String {
    let id = chart_id(kind, title, desc, summary);
    let full_desc = match (desc.trim().is_empty(), summary.is_empty()) {
        (true, _) => summary.to_owned(),
        (false, true) => desc.to_owned(),
        (false, false) => format!("{} {summary}", desc.trim_end()),
    };
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart chart-{kind}\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"100%\" preserveAspectRatio=\"xMinYMin meet\" role=\"img\" \
         aria-labelledby=\"{id}-t {id}-d\" font-family=\"{FONT}\" font-size=\"13\" fill=\"{TEXT}\">\
         <title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>\
         <rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{height}\" fill=\"#ffffff\"/>",
        escape(title),
        escape(&full_desc),
    )
}

fn no_data(kind: &str, title: &str, desc: &str) -> String {
    let mut svg = open(kind, title, desc, "No data.", 48.0);
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"29\" text-anchor=\"middle\" fill=\"{MUTED}\">no data</text></svg>",
        WIDTH / 2.0
    );
    svg
}

/// A linear scale from `[lo, hi]` (always containing zero) onto `[a, b]`.
#[derive(Clone, Copy)]
struct Scale {
    lo: f64,
    hi: f64,
    a: f64,
    b: f64,
}

impl Scale {
    fn new(values: impl Iterator<Item = f64>, max: Option<f64>, a: f64, b: f64) -> Scale {
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for v in values.filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if let Some(m) = max.filter(|m| m.is_finite() && *m > 0.0) {
            hi = hi.max(m);
        }
        if hi - lo < 1e-12 {
            hi = lo + 1.0;
        }
        Scale { lo, hi, a, b }
    }

    fn at(&self, v: f64) -> f64 {
        let v = v.clamp(self.lo, self.hi);
        self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)
    }
}

fn summary_of(items: impl Iterator<Item = (String, String)>) -> String {
    let parts: Vec<String> = items.map(|(l, v)| format!("{l}: {v}")).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("{}.", parts.join("; "))
    }
}

/// One horizontal bar with its value written after it (or "suppressed (<5)" and no bar).
fn h_bar(
    svg: &mut String,
    scale: &Scale,
    y: f64,
    height: f64,
    value: Option<f64>,
    colour: &str,
    note: Option<&str>,
) {
    let zero = scale.at(0.0);
    let mut text = value_text(value);
    if let Some(n) = note.filter(|n| !n.is_empty()) {
        text = format!("{text} ({n})");
    }
    let text_y = y + height / 2.0 + 4.5;
    match value.filter(|v| v.is_finite()) {
        Some(v) => {
            let end = scale.at(v);
            let (x, w) = if end >= zero {
                (zero, end - zero)
            } else {
                (end, zero - end)
            };
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"{colour}\"/>",
                w.max(0.5)
            );
            // The value goes after the bar's end, or inside it when the bar is nearly full.
            let after = if v >= 0.0 { end + 4.0 } else { zero + 4.0 };
            if after + 7.0 * text.chars().count() as f64 > WIDTH - PAD && v >= 0.0 {
                let _ = write!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{text_y:.1}\" text-anchor=\"end\" fill=\"#ffffff\" font-weight=\"600\">{}</text>",
                    end - 4.0,
                    escape(&text)
                );
            } else {
                let _ = write!(
                    svg,
                    "<text x=\"{after:.1}\" y=\"{text_y:.1}\">{}</text>",
                    escape(&text)
                );
            }
        }
        None => {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{text_y:.1}\" fill=\"{MUTED}\" font-style=\"italic\">{}</text>",
                zero + 2.0,
                escape(&text)
            );
        }
    }
}

/// A horizontal bar chart: each bar's label on its own line above the bar (long labels fit a
/// phone), the value after the bar. A suppressed bar is drawn as no bar with the words
/// "suppressed (<5)".
pub fn bar_chart(title: &str, desc: &str, bars: &[Bar]) -> String {
    if bars.is_empty() {
        return no_data("bar", title, desc);
    }
    let row = 40.0;
    let height = PAD * 2.0 + row * bars.len() as f64;
    let scale = Scale::new(
        bars.iter().filter_map(|b| b.value),
        None,
        PAD,
        WIDTH - PAD - 96.0,
    );
    let summary = summary_of(bars.iter().map(|b| {
        let mut v = value_text(b.value);
        if let Some(n) = b.note.as_deref().filter(|n| !n.is_empty()) {
            v = format!("{v} ({n})");
        }
        (b.label.clone(), v)
    }));
    let mut svg = open("bar", title, desc, &summary, height);
    for (i, b) in bars.iter().enumerate() {
        let y = PAD + row * i as f64;
        let _ = write!(
            svg,
            "<text x=\"{PAD}\" y=\"{:.1}\">{}</text>",
            y + 13.0,
            escape(&b.label)
        );
        h_bar(
            &mut svg,
            &scale,
            y + 18.0,
            16.0,
            b.value,
            PALETTE[0],
            b.note.as_deref(),
        );
    }
    axis_line_vertical(&mut svg, scale.at(0.0), PAD, height - PAD);
    svg.push_str("</svg>");
    svg
}

fn axis_line_vertical(svg: &mut String, x: f64, y1: f64, y2: f64) {
    let _ = write!(
        svg,
        "<line x1=\"{x:.1}\" y1=\"{y1:.1}\" x2=\"{x:.1}\" y2=\"{y2:.1}\" stroke=\"{MUTED}\" stroke-width=\"1\"/>"
    );
}

/// Horizontal bars in groups, one bar per series in each group (e.g. the share of each group's
/// participants retained at each timepoint), with a legend. `max` fixes the end of the scale
/// (e.g. `Some(100.0)` for percentages); otherwise the largest value sets it.
pub fn grouped_bar_chart(
    title: &str,
    desc: &str,
    series_names: &[String],
    groups: &[(String, Vec<Option<f64>>)],
    max: Option<f64>,
) -> String {
    if groups.is_empty() || series_names.is_empty() {
        return no_data("grouped", title, desc);
    }
    let n = series_names.len();
    let legend_rows = n.div_ceil(2);
    let legend_h = 20.0 * legend_rows as f64 + 6.0;
    let bar_h = 13.0;
    let group_h = 20.0 + (bar_h + 3.0) * n as f64 + 10.0;
    let height = PAD * 2.0 + legend_h + group_h * groups.len() as f64;
    let scale = Scale::new(
        groups.iter().flat_map(|(_, v)| v.iter().flatten().copied()),
        max,
        PAD,
        WIDTH - PAD - 96.0,
    );
    let summary = summary_of(groups.iter().map(|(g, values)| {
        let parts: Vec<String> = series_names
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s} {}", value_text(values.get(i).copied().flatten())))
            .collect();
        (g.clone(), parts.join(", "))
    }));
    let mut svg = open("grouped", title, desc, &summary, height);
    for (i, name) in series_names.iter().enumerate() {
        let x = PAD + (WIDTH / 2.0) * (i % 2) as f64;
        let y = PAD + 20.0 * (i / 2) as f64;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            y + 2.0,
            PALETTE[i % PALETTE.len()],
            x + 17.0,
            y + 12.5,
            escape(name)
        );
    }
    let top = PAD + legend_h;
    for (g, (label, values)) in groups.iter().enumerate() {
        let y = top + group_h * g as f64;
        let _ = write!(
            svg,
            "<text x=\"{PAD}\" y=\"{:.1}\" font-weight=\"600\">{}</text>",
            y + 13.0,
            escape(label)
        );
        for i in 0..n {
            let by = y + 20.0 + (bar_h + 3.0) * i as f64;
            let v = values.get(i).copied().flatten();
            h_bar(
                &mut svg,
                &scale,
                by,
                bar_h,
                v,
                PALETTE[i % PALETTE.len()],
                None,
            );
        }
    }
    axis_line_vertical(&mut svg, scale.at(0.0), top, height - PAD);
    svg.push_str("</svg>");
    svg
}

/// A histogram: vertical bars over bins labelled by the caller (e.g. "-10 to -6"), counts
/// above the bars. A suppressed bin has no bar and a "‡" mark, explained under the chart.
pub fn histogram(title: &str, desc: &str, bins: &[(String, Option<u64>)]) -> String {
    if bins.is_empty() {
        return no_data("histogram", title, desc);
    }
    let any_suppressed = bins.iter().any(|(_, c)| c.is_none());
    let plot_top = PAD + 16.0;
    let plot_h = 150.0;
    let base = plot_top + plot_h;
    // Bin labels are written at an angle when the bins are narrow.
    let slot = (WIDTH - 2.0 * PAD) / bins.len() as f64;
    let longest = bins
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0) as f64;
    let slanted = longest * 6.5 > slot - 2.0;
    let label_h = if slanted {
        (longest * 5.2).min(110.0) + 16.0
    } else {
        22.0
    };
    let note_h = if any_suppressed { 20.0 } else { 0.0 };
    let height = base + label_h + note_h + PAD;
    let scale = Scale::new(
        bins.iter().filter_map(|(_, c)| c.map(|c| c as f64)),
        None,
        base,
        plot_top,
    );
    let summary = summary_of(
        bins.iter()
            .map(|(l, c)| (l.clone(), value_text(c.map(|c| c as f64)))),
    );
    let mut svg = open("histogram", title, desc, &summary, height);
    let _ = write!(
        svg,
        "<line x1=\"{PAD}\" y1=\"{base:.1}\" x2=\"{:.1}\" y2=\"{base:.1}\" stroke=\"{MUTED}\"/>",
        WIDTH - PAD
    );
    for (i, (label, count)) in bins.iter().enumerate() {
        let x = PAD + slot * i as f64;
        let cx = x + slot / 2.0;
        match count {
            Some(c) => {
                let top = scale.at(*c as f64);
                let _ = write!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"/>\
                     <text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"12\">{c}</text>",
                    x + 1.0,
                    (slot - 2.0).max(1.0),
                    (base - top).max(0.0),
                    PALETTE[0],
                    top - 4.0
                );
            }
            None => {
                let _ = write!(
                    svg,
                    "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{MUTED}\">\u{2021}</text>",
                    base - 5.0
                );
            }
        }
        if slanted {
            let _ = write!(
                svg,
                "<text transform=\"translate({:.1} {:.1}) rotate(-50)\" text-anchor=\"end\" font-size=\"11\">{}</text>",
                cx + 3.0,
                base + 12.0,
                escape(label)
            );
        } else {
            let _ = write!(
                svg,
                "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\">{}</text>",
                base + 15.0,
                escape(label)
            );
        }
    }
    if any_suppressed {
        let _ = write!(
            svg,
            "<text x=\"{PAD}\" y=\"{:.1}\" fill=\"{MUTED}\" font-size=\"12\">\u{2021} {}</text>",
            base + label_h + 14.0,
            escape(SUPPRESSED)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A line chart of values in order (e.g. attendees per session by date): points joined by a
/// line, the y axis labelled `y_label`, the first and last x labels (and some between) written
/// under the axis, and each point's value in its tooltip and in the description.
pub fn line_chart(title: &str, desc: &str, points: &[(String, f64)], y_label: &str) -> String {
    let points: Vec<&(String, f64)> = points.iter().filter(|(_, v)| v.is_finite()).collect();
    if points.is_empty() {
        return no_data("line", title, desc);
    }
    let left = 44.0;
    let right = WIDTH - 14.0;
    let top = PAD + 22.0;
    let base = top + 150.0;
    let height = base + 40.0;
    let scale = Scale::new(points.iter().map(|(_, v)| *v), None, base, top);
    let nice_top = nice_ceiling(scale.hi);
    let scale = Scale {
        hi: nice_top.max(scale.hi),
        ..scale
    };
    let x_at = |i: usize| {
        if points.len() == 1 {
            (left + right) / 2.0
        } else {
            left + (right - left) * i as f64 / (points.len() - 1) as f64
        }
    };
    let summary = if points.len() <= 24 {
        summary_of(points.iter().map(|(l, v)| (l.clone(), format_value(*v))))
    } else {
        let (min, max) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, v)| {
                (a.min(*v), b.max(*v))
            });
        format!(
            "{} points from {} ({}) to {} ({}); lowest {}, highest {}.",
            points.len(),
            points[0].0,
            format_value(points[0].1),
            points[points.len() - 1].0,
            format_value(points[points.len() - 1].1),
            format_value(min),
            format_value(max)
        )
    };
    let mut svg = open("line", title, desc, &summary, height);
    let _ = write!(
        svg,
        "<text x=\"{PAD}\" y=\"{:.1}\" fill=\"{MUTED}\" font-size=\"12\">{}</text>",
        PAD + 10.0,
        escape(y_label)
    );
    // Gridlines and y labels at 0, a half and the top.
    for frac in [0.0, 0.5, 1.0] {
        let v = scale.lo + (scale.hi - scale.lo) * frac;
        let y = scale.at(v);
        let _ = write!(
            svg,
            "<line x1=\"{left:.1}\" y1=\"{y:.1}\" x2=\"{right:.1}\" y2=\"{y:.1}\" stroke=\"{}\" stroke-width=\"1\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"12\" fill=\"{MUTED}\">{}</text>",
            if frac == 0.0 { MUTED } else { GRID },
            left - 5.0,
            y + 4.0,
            format_value(v)
        );
    }
    if points.len() > 1 {
        let path: Vec<String> = points
            .iter()
            .enumerate()
            .map(|(i, (_, v))| format!("{:.1},{:.1}", x_at(i), scale.at(*v)))
            .collect();
        let _ = write!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\"/>",
            path.join(" "),
            PALETTE[0]
        );
    }
    let r = if points.len() > 60 { 1.5 } else { 3.5 };
    for (i, (label, v)) in points.iter().enumerate() {
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\" fill=\"{}\"><title>{}: {}</title></circle>",
            x_at(i),
            scale.at(*v),
            PALETTE[0],
            escape(label),
            format_value(*v)
        );
    }
    // X labels: first and last, and up to two between when there is room.
    let mut shown = vec![0];
    if points.len() >= 5 {
        shown.push((points.len() - 1) / 3);
        shown.push(2 * (points.len() - 1) / 3);
    }
    if points.len() > 1 {
        shown.push(points.len() - 1);
    }
    shown.dedup();
    for i in shown {
        let anchor = if points.len() == 1 {
            "middle"
        } else if i == 0 {
            "start"
        } else if i == points.len() - 1 {
            "end"
        } else {
            "middle"
        };
        let x = if anchor == "start" {
            x_at(i) - 4.0
        } else if anchor == "end" {
            x_at(i) + 4.0
        } else {
            x_at(i)
        };
        let _ = write!(
            svg,
            "<line x1=\"{0:.1}\" y1=\"{base:.1}\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"{MUTED}\"/>\
             <text x=\"{x:.1}\" y=\"{2:.1}\" text-anchor=\"{anchor}\" font-size=\"11\">{3}</text>",
            x_at(i),
            base + 4.0,
            base + 17.0,
            escape(&points[i].0)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A round number at or above `v` (1, 2, 2.5, 5 times a power of ten).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * p >= v - 1e-9 {
            return m * p;
        }
    }
    10.0 * p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small well-formedness check: tags balance, attributes are quoted, and text and
    /// attribute values hold no raw `<` and only known entities.
    fn assert_well_formed(svg: &str) {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        check_text(&rest[..rest.find('<').unwrap_or(rest.len())]);
        while let Some(start) = rest.find('<') {
            let end = rest[start..]
                .find('>')
                .map(|e| start + e)
                .unwrap_or_else(|| panic!("unclosed tag in {svg}"));
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "`<` inside a tag: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack.pop().unwrap_or_else(|| panic!("stray </{name}>"));
                assert_eq!(open, name.trim(), "mismatched tags in {svg}");
            } else {
                let self_closing = tag.ends_with('/');
                let body = tag.trim_end_matches('/');
                let name: String = body.chars().take_while(|c| !c.is_whitespace()).collect();
                assert!(
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == ':'),
                    "bad tag name {name:?}"
                );
                check_attributes(&body[name.len()..]);
                if !self_closing {
                    stack.push(name);
                }
            }
            rest = &rest[end + 1..];
            let text_end = rest.find('<').unwrap_or(rest.len());
            check_text(&rest[..text_end]);
            if stack.is_empty() {
                assert!(rest.trim().is_empty(), "content after the root: {rest}");
            }
        }
        assert!(stack.is_empty(), "unclosed {stack:?}");
    }

    fn check_attributes(mut s: &str) {
        loop {
            s = s.trim_start();
            if s.is_empty() {
                return;
            }
            let eq = s
                .find('=')
                .unwrap_or_else(|| panic!("attribute without value: {s}"));
            let name = &s[..eq];
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'),
                "bad attribute name {name:?}"
            );
            let after = &s[eq + 1..];
            assert!(after.starts_with('"'), "unquoted attribute {name}");
            let close = after[1..].find('"').expect("closing quote");
            check_text(&after[1..1 + close]);
            s = &after[close + 2..];
        }
    }

    fn check_text(t: &str) {
        let mut rest = t;
        while let Some(i) = rest.find('&') {
            let after = &rest[i + 1..];
            let semi = after.find(';').expect("entity ends with ;");
            let entity = &after[..semi];
            assert!(
                ["amp", "lt", "gt", "quot", "apos", "#39"].contains(&entity),
                "unknown entity &{entity};"
            );
            rest = &after[semi + 1..];
        }
    }

    fn all_kinds(label: &str) -> Vec<String> {
        vec![
            bar_chart(
                label,
                label,
                &[
                    Bar::new(label, Some(3.0)),
                    Bar {
                        label: "b".into(),
                        value: Some(12.5),
                        note: Some(label.into()),
                    },
                ],
            ),
            grouped_bar_chart(
                label,
                label,
                &[label.to_owned(), "s2".into()],
                &[(label.to_owned(), vec![Some(0.4), None])],
                Some(1.0),
            ),
            histogram(
                label,
                label,
                &[(label.to_owned(), Some(3)), ("x".into(), None)],
            ),
            line_chart(
                label,
                label,
                &[
                    (label.to_owned(), 4.0),
                    ("b".into(), 7.0),
                    ("c".into(), 2.0),
                ],
                label,
            ),
        ]
    }

    #[test]
    fn charts_are_well_formed_and_accessible() {
        for svg in all_kinds("Weekly choir & walk")
            .into_iter()
            .chain(all_kinds("a"))
        {
            assert_well_formed(&svg);
            assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
            assert!(svg.contains("role=\"img\""));
            assert!(svg.contains("viewBox=\"0 0 360 "));
            assert!(svg.contains("<title id=") && svg.contains("<desc id="));
            assert!(!svg.contains("<script"));
            assert!(!svg.contains("@import") && !svg.contains("url("));
        }
    }

    #[test]
    fn labels_are_escaped() {
        let evil = "<script>alert('x')</script>\"&";
        for svg in all_kinds(evil) {
            assert_well_formed(&svg);
            assert!(!svg.contains("<script"), "{svg}");
            assert!(svg.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"));
        }
        assert_eq!(escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
    }

    #[test]
    fn suppressed_bars_are_drawn_without_a_bar() {
        let svg = bar_chart(
            "Sessions",
            "",
            &[Bar::new("Hall", None), Bar::new("Park", None)],
        );
        assert_well_formed(&svg);
        assert_eq!(
            svg.matches("<rect").count(),
            1,
            "only the background: {svg}"
        );
        assert_eq!(svg.matches(">suppressed (&lt;5)</text>").count(), 2);
        let svg = bar_chart(
            "Sessions",
            "",
            &[Bar::new("Hall", Some(7.0)), Bar::new("Park", None)],
        );
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("Park: suppressed (&lt;5)"), "described: {svg}");

        let svg = grouped_bar_chart("R", "", &["a".into()], &[("g".into(), vec![None])], None);
        assert_eq!(
            svg.matches("<rect").count(),
            2,
            "background and legend only"
        );
        assert!(svg.contains(">suppressed (&lt;5)</text>"));

        let svg = histogram("H", "", &[("0".into(), None), ("1".into(), Some(6))]);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("suppressed (&lt;5)"));
    }

    #[test]
    fn empty_input_says_no_data() {
        for svg in [
            bar_chart("t", "d", &[]),
            grouped_bar_chart("t", "d", &["a".into()], &[], None),
            grouped_bar_chart("t", "d", &[], &[("g".into(), vec![])], None),
            histogram("t", "d", &[]),
            line_chart("t", "d", &[], "y"),
            line_chart("t", "d", &[("a".into(), f64::NAN)], "y"),
        ] {
            assert_well_formed(&svg);
            assert!(svg.contains(">no data</text>"), "{svg}");
            assert!(svg.contains("role=\"img\""));
        }
    }

    #[test]
    fn odd_values_stay_inside_the_chart() {
        for svg in [
            bar_chart(
                "t",
                "",
                &[Bar::new("neg", Some(-3.0)), Bar::new("pos", Some(1e9))],
            ),
            bar_chart("t", "", &[Bar::new("zero", Some(0.0))]),
            line_chart("t", "", &[("only".into(), 0.0)], "y"),
            line_chart("t", "", &[("a".into(), -2.0), ("b".into(), 5.0)], "y"),
            grouped_bar_chart(
                "t",
                "",
                &["a".into()],
                &[("g".into(), vec![Some(2.0)])],
                Some(1.0),
            ),
        ] {
            assert_well_formed(&svg);
            for part in svg.split(" x=\"").skip(1) {
                let x: f64 = part[..part.find('"').unwrap()]
                    .parse()
                    .unwrap_or_else(|_| panic!("x not a number: {part}"));
                assert!((-1.0..=WIDTH + 1.0).contains(&x), "x {x} in {svg}");
            }
        }
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(0.456), "0.46");
        assert_eq!(format_value(12.25), "12.2");
        assert_eq!(format_value(12.0), "12");
        assert_eq!(format_value(-1.5), "-1.5");
        assert_eq!(format_value(f64::NAN), "not available");
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(23.0), 25.0);
    }
}
