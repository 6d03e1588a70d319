//! Accessible inline SVG charts for the server-rendered dashboard. Pure functions: numbers in,
//! an `<svg>` string out, with nothing fetched and no script.
//!
//! Every chart:
//! * has `role="img"`, a `<title>` and a `<desc>` (the caller's description followed by the
//!   values in words, because a screen reader reads an image's title and description, not the
//!   text drawn inside it); the page shows the title as a visible heading above the chart;
//! * is drawn in a `viewBox` about as wide as a phone (360 units) and scales to its container,
//!   so its text stays legible on a 360 px screen and grows on a wide one;
//! * lays its text out so that no two labels overlap and nothing leaves the `viewBox`: widths
//!   are estimated generously ([`text_width`]), long labels are wrapped or shortened with an
//!   ellipsis (the full text in a `<title>` inside the label), and the line chart's x labels
//!   are thinned to every second, third... label as the width requires;
//! * writes every value as text next to its mark, so colour is never the only carrier of
//!   meaning; the colours (Okabe–Ito blue and vermillion, Paul Tol green and wine) are told
//!   apart with the common colour-vision deficiencies and have at least 3:1 contrast with the
//!   white background (text has at least 4.5:1);
//! * uses the reader's system fonts;
//! * HTML-escapes every caller-supplied string.
//!
//! A figure withheld for disclosure control is a [`Value::Withheld`] with its [`Mark`]: no mark
//! of the value is drawn, only the mark's label: "<5" for a count below five ([`Mark::Small`])
//! and "hidden ‡" for a figure hidden because it would reveal a small count elsewhere
//! ([`Mark::Protecting`]). An empty input gives a short chart that says "no data" (the
//! dashboard shows a sentence instead of such a chart).

use std::fmt::Write;

/// The width of every chart's `viewBox`, in user units.
pub const WIDTH: f64 = 360.0;

/// Series colours, in order.
pub const PALETTE: [&str; 5] = ["#0072B2", "#D55E00", "#117733", "#882255", "#555555"];

const TEXT: &str = "#1f1f1f";
const MUTED: &str = "#595959";
const GRID: &str = "#c8c8c8";
const FONT: &str = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif";
const PAD: f64 = 8.0;
/// The size of the smaller text (axis labels, values): 12 units, about 11 px on a 360 px phone.
const SMALL: f64 = 12.0;

/// Why a figure is withheld for disclosure control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mark {
    /// A count below five (or a figure computed from one).
    Small,
    /// A figure hidden because, with the published totals, it would reveal a small count.
    Protecting,
}

impl Mark {
    /// The mark drawn in place of the figure.
    pub const fn label(self) -> &'static str {
        match self {
            Mark::Small => "<5",
            Mark::Protecting => "hidden \u{2021}",
        }
    }

    /// A shorter mark, for narrow places.
    pub const fn short_label(self) -> &'static str {
        match self {
            Mark::Small => "<5",
            Mark::Protecting => "\u{2021}",
        }
    }

    /// Its name in a table (`small` or `protecting`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Mark::Small => "small",
            Mark::Protecting => "protecting",
        }
    }

    /// What the mark means, in words.
    pub const fn meaning(self) -> &'static str {
        match self {
            Mark::Small => "fewer than 5, not shown",
            Mark::Protecting => "hidden to protect a small count elsewhere",
        }
    }
}

/// A plotted figure: a number, or a figure withheld for disclosure control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A published number.
    Shown(f64),
    /// A withheld figure, and why.
    Withheld(Mark),
    /// No figure, for a reason other than disclosure control (e.g. nothing was measured):
    /// written "n/a".
    Missing,
}

impl Value {
    /// The number, when one is shown (and finite).
    pub fn number(self) -> Option<f64> {
        match self {
            Value::Shown(v) if v.is_finite() => Some(v),
            _ => None,
        }
    }

    /// The mark, when withheld.
    pub fn mark(self) -> Option<Mark> {
        match self {
            Value::Withheld(m) => Some(m),
            Value::Shown(_) | Value::Missing => None,
        }
    }
}

/// One bar of a [`bar_chart`].
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// What the bar counts.
    pub label: String,
    /// Its value, or why it is withheld.
    pub value: Value,
    /// A short note written after the value (e.g. "n = 12").
    pub note: Option<String>,
}

impl Bar {
    /// A bar with a value and no note.
    pub fn new(label: impl Into<String>, value: Value) -> Self {
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

/// A number with its unit: `45%`, `+1.5 points`, `12 sessions` (no unit for `""`). Changes in
/// points carry their sign.
pub fn format_with_unit(v: f64, unit: &str) -> String {
    let s = format_value(v);
    match unit {
        "" => s,
        "%" => format!("{s}%"),
        "points" if v > 0.0 && v.is_finite() => format!("+{s} points"),
        u => format!("{s} {u}"),
    }
}

/// How a value is written on the chart: the number with its unit, or the mark.
fn value_label(v: Value, unit: &str) -> String {
    match v {
        Value::Shown(x) => format_with_unit(x, unit),
        Value::Withheld(m) => m.label().to_owned(),
        Value::Missing => "n/a".to_owned(),
    }
}

/// How a value is read out in the description: the number with its unit, or the mark's
/// meaning.
fn value_words(v: Value, unit: &str) -> String {
    match v {
        Value::Shown(x) => format_with_unit(x, unit),
        Value::Withheld(m) => format!("{} ({})", m.label(), m.meaning()),
        Value::Missing => "not available".to_owned(),
    }
}

/// A generous estimate of the width of `s` written at `size` (the widest common system font,
/// DejaVu Sans, averages about 0.6 em a character; capitals and digits are wider).
pub fn text_width(s: &str, size: f64) -> f64 {
    s.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | ' ' => 0.38,
            'm' | 'w' | 'M' | 'W' | '%' | '@' => 0.95,
            c if c.is_uppercase() => 0.74,
            _ => 0.64,
        })
        .sum::<f64>()
        * size
}

/// `s` shortened with an ellipsis to fit `room` units at `size`; `true` when shortened.
fn fit(s: &str, size: f64, room: f64) -> (String, bool) {
    if text_width(s, size) <= room {
        return (s.to_owned(), false);
    }
    let mut out = String::new();
    for c in s.chars() {
        let next = format!("{out}{c}\u{2026}");
        if text_width(&next, size) > room {
            break;
        }
        out.push(c);
    }
    (format!("{}\u{2026}", out.trim_end()), true)
}

/// A `<text>` element holding `s` shortened to `room` (with the full text in a `<title>` when
/// shortened). `attrs` are the element's other attributes.
fn fitted_text(svg: &mut String, attrs: &str, s: &str, size: f64, room: f64) {
    let (shown, cut) = fit(s, size, room);
    let title = if cut {
        format!("<title>{}</title>", escape(s))
    } else {
        String::new()
    };
    let _ = write!(svg, "<text {attrs}>{title}{}</text>", escape(&shown));
}

/// `s` in at most `max_lines` lines no wider than `room` at `size`, broken between words (the
/// last line shortened with an ellipsis if need be); `true` when shortened.
fn wrap(s: &str, size: f64, room: f64, max_lines: usize) -> (Vec<String>, bool) {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in s.split_whitespace() {
        let candidate = if current.is_empty() {
            word.to_owned()
        } else {
            format!("{current} {word}")
        };
        if text_width(&candidate, size) <= room || current.is_empty() {
            current = candidate;
        } else {
            lines.push(std::mem::take(&mut current));
            current = word.to_owned();
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    let mut cut = false;
    if lines.len() > max_lines {
        let rest = lines.split_off(max_lines - 1).join(" ");
        lines.push(rest);
    }
    for line in &mut lines {
        let (shown, c) = fit(line, size, room);
        cut |= c;
        *line = shown;
    }
    (lines, cut)
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

/// The room a horizontal chart keeps right of its longest bar for the values written after
/// the bars.
fn value_room(labels: impl Iterator<Item = String>, size: f64) -> f64 {
    labels
        .map(|l| text_width(&l, size) + 8.0)
        .fold(40.0f64, f64::max)
        .min(WIDTH / 2.0)
}

/// One horizontal bar from zero with its value written after it (or, withheld, only the
/// mark). The value's text is vertically centred on the bar, at `size`.
#[allow(clippy::too_many_arguments)]
fn h_bar(
    svg: &mut String,
    scale: &Scale,
    y: f64,
    height: f64,
    value: Value,
    unit: &str,
    colour: &str,
    note: Option<&str>,
    size: f64,
) {
    let zero = scale.at(0.0);
    let mut text = value_label(value, unit);
    if let Some(n) = note.filter(|n| !n.is_empty()) {
        text = format!("{text} ({n})");
    }
    let text_y = y + height / 2.0 + size * 0.35;
    let room = WIDTH - PAD - (zero + 4.0);
    match value.number() {
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
            // The value goes after the bar's end (a negative bar's after the zero line).
            let after = end.max(zero) + 4.0;
            fitted_text(
                svg,
                &format!("x=\"{after:.1}\" y=\"{text_y:.1}\" font-size=\"{size}\""),
                &text,
                size,
                WIDTH - PAD - after,
            );
        }
        None => {
            fitted_text(
                svg,
                &format!(
                    "x=\"{:.1}\" y=\"{text_y:.1}\" font-size=\"{size}\" fill=\"{MUTED}\" font-style=\"italic\"",
                    zero + 4.0
                ),
                &text,
                size,
                room,
            );
        }
    }
}

/// A horizontal bar chart: each bar's label on its own line above the bar (shortened with an
/// ellipsis when too long for the width, the full label in its `<title>`), the value and its
/// `unit` after the bar. A withheld bar is drawn as no bar with its mark.
pub fn bar_chart(title: &str, desc: &str, bars: &[Bar], unit: &str) -> String {
    if bars.is_empty() {
        return no_data("bar", title, desc);
    }
    let row = 40.0;
    let height = PAD * 2.0 + row * bars.len() as f64;
    let labels = |b: &Bar| {
        let mut v = value_label(b.value, unit);
        if let Some(n) = b.note.as_deref().filter(|n| !n.is_empty()) {
            v = format!("{v} ({n})");
        }
        v
    };
    let room = value_room(bars.iter().map(labels), 13.0);
    let scale = Scale::new(
        bars.iter().filter_map(|b| b.value.number()),
        None,
        PAD,
        WIDTH - PAD - room,
    );
    let summary = summary_of(bars.iter().map(|b| {
        let mut v = value_words(b.value, unit);
        if let Some(n) = b.note.as_deref().filter(|n| !n.is_empty()) {
            v = format!("{v} ({n})");
        }
        (b.label.clone(), v)
    }));
    let mut svg = open("bar", title, desc, &summary, height);
    for (i, b) in bars.iter().enumerate() {
        let y = PAD + row * i as f64;
        fitted_text(
            &mut svg,
            &format!("x=\"{PAD}\" y=\"{:.1}\"", y + 13.0),
            &b.label,
            13.0,
            WIDTH - 2.0 * PAD,
        );
        h_bar(
            &mut svg,
            &scale,
            y + 18.0,
            16.0,
            b.value,
            unit,
            PALETTE[0],
            b.note.as_deref(),
            13.0,
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

/// Horizontal bars in groups, one bar per series in each group (e.g. each group's participants
/// and those attending 4 or more sessions), with a legend. `max` fixes the end of the scale
/// (e.g. `Some(100.0)` for percentages); otherwise the largest value sets it. Values are
/// written with `unit`.
pub fn grouped_bar_chart(
    title: &str,
    desc: &str,
    series_names: &[String],
    groups: &[(String, Vec<Value>)],
    max: Option<f64>,
    unit: &str,
) -> String {
    if groups.is_empty() || series_names.is_empty() {
        return no_data("grouped", title, desc);
    }
    let n = series_names.len();
    let legend_rows = n.div_ceil(2);
    let legend_h = 20.0 * legend_rows as f64 + 6.0;
    let bar_h = 14.0;
    let gap = 4.0;
    let group_h = 20.0 + (bar_h + gap) * n as f64 + 8.0;
    let height = PAD * 2.0 + legend_h + group_h * groups.len() as f64;
    let get = |values: &Vec<Value>, i: usize| {
        values
            .get(i)
            .copied()
            .unwrap_or(Value::Withheld(Mark::Small))
    };
    let room = value_room(
        groups
            .iter()
            .flat_map(|(_, v)| (0..n).map(|i| value_label(get(v, i), unit))),
        SMALL,
    );
    let scale = Scale::new(
        groups
            .iter()
            .flat_map(|(_, v)| v.iter().filter_map(|x| x.number())),
        max,
        PAD,
        WIDTH - PAD - room,
    );
    let summary = summary_of(groups.iter().map(|(g, values)| {
        let parts: Vec<String> = series_names
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s} {}", value_words(get(values, i), unit)))
            .collect();
        (g.clone(), parts.join(", "))
    }));
    let mut svg = open("grouped", title, desc, &summary, height);
    let column = (WIDTH - 2.0 * PAD) / 2.0;
    for (i, name) in series_names.iter().enumerate() {
        let x = PAD + column * (i % 2) as f64;
        let y = PAD + 20.0 * (i / 2) as f64;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>",
            y + 2.0,
            PALETTE[i % PALETTE.len()],
        );
        fitted_text(
            &mut svg,
            &format!("x=\"{:.1}\" y=\"{:.1}\"", x + 17.0, y + 12.5),
            name,
            13.0,
            column - 23.0,
        );
    }
    let top = PAD + legend_h;
    for (g, (label, values)) in groups.iter().enumerate() {
        let y = top + group_h * g as f64;
        let (shown, cut) = fit(label, 13.0 * 1.08, WIDTH - 2.0 * PAD);
        let _ = write!(
            svg,
            "<text x=\"{PAD}\" y=\"{:.1}\" font-weight=\"600\">{}{}</text>",
            y + 13.0,
            if cut {
                format!("<title>{}</title>", escape(label))
            } else {
                String::new()
            },
            escape(&shown)
        );
        for i in 0..n {
            let by = y + 20.0 + (bar_h + gap) * i as f64;
            h_bar(
                &mut svg,
                &scale,
                by,
                bar_h,
                get(values, i),
                unit,
                PALETTE[i % PALETTE.len()],
                None,
                SMALL,
            );
        }
    }
    axis_line_vertical(&mut svg, scale.at(0.0), top, height - PAD);
    svg.push_str("</svg>");
    svg
}

/// A histogram: vertical bars over bins labelled by the caller (e.g. "-6 to -3"), counts
/// above the bars, the bins' labels wrapped onto up to three lines under them and `x_label`
/// (what the bins measure) under those. A withheld bin has no bar, only its mark.
pub fn histogram(title: &str, desc: &str, bins: &[(String, Value)], x_label: &str) -> String {
    if bins.is_empty() {
        return no_data("histogram", title, desc);
    }
    let plot_top = PAD + 16.0;
    let plot_h = 130.0;
    let base = plot_top + plot_h;
    let slot = (WIDTH - 2.0 * PAD) / bins.len() as f64;
    let line_h = SMALL * 1.25;
    let wrapped: Vec<(Vec<String>, bool)> = bins
        .iter()
        .map(|(l, _)| wrap(l, SMALL, slot - 4.0, 3))
        .collect();
    let lines = wrapped.iter().map(|(l, _)| l.len()).max().unwrap_or(1) as f64;
    let labels_bottom = base + 6.0 + line_h * lines;
    let x_label_y = labels_bottom + 16.0;
    let height = if x_label.is_empty() {
        labels_bottom + PAD
    } else {
        x_label_y + 4.0 + PAD
    };
    let scale = Scale::new(
        bins.iter().filter_map(|(_, c)| c.number()),
        None,
        base,
        plot_top,
    );
    let summary = summary_of(bins.iter().map(|(l, c)| (l.clone(), value_words(*c, ""))));
    let mut svg = open("histogram", title, desc, &summary, height);
    let _ = write!(
        svg,
        "<line x1=\"{PAD}\" y1=\"{base:.1}\" x2=\"{:.1}\" y2=\"{base:.1}\" stroke=\"{MUTED}\"/>",
        WIDTH - PAD
    );
    for (i, ((_, count), (label_lines, cut))) in bins.iter().zip(&wrapped).enumerate() {
        let x = PAD + slot * i as f64;
        let cx = x + slot / 2.0;
        match (count.number(), count.mark()) {
            (Some(c), _) => {
                let top = scale.at(c);
                let _ = write!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"/>",
                    x + 1.0,
                    (slot - 2.0).max(1.0),
                    (base - top).max(0.0),
                    PALETTE[0],
                );
                fitted_text(
                    &mut svg,
                    &format!(
                        "x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"{SMALL}\"",
                        top - 4.0
                    ),
                    &format_value(c),
                    SMALL,
                    slot - 2.0,
                );
            }
            (None, mark) => {
                let (label, meaning) = match mark {
                    Some(m) if text_width(m.label(), SMALL) <= slot - 4.0 => {
                        (m.label(), m.meaning())
                    }
                    Some(m) => (m.short_label(), m.meaning()),
                    None => ("n/a", "not available"),
                };
                let _ = write!(
                    svg,
                    "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"{SMALL}\" \
                     fill=\"{MUTED}\" font-style=\"italic\"><title>{}</title>{}</text>",
                    base - 5.0,
                    escape(meaning),
                    escape(label)
                );
            }
        }
        let full = if *cut {
            format!("<title>{}</title>", escape(&bins[i].0))
        } else {
            String::new()
        };
        let _ = write!(
            svg,
            "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"{SMALL}\">{full}",
            base + 6.0 + SMALL
        );
        for (k, line) in label_lines.iter().enumerate() {
            let dy = if k == 0 { 0.0 } else { line_h };
            let _ = write!(
                svg,
                "<tspan x=\"{cx:.1}\" dy=\"{dy}\">{}</tspan>",
                escape(line)
            );
        }
        svg.push_str("</text>");
    }
    if !x_label.is_empty() {
        fitted_text(
            &mut svg,
            &format!(
                "x=\"{:.1}\" y=\"{x_label_y:.1}\" text-anchor=\"middle\" font-size=\"{SMALL}\" fill=\"{MUTED}\"",
                WIDTH / 2.0
            ),
            x_label,
            SMALL,
            WIDTH - 2.0 * PAD,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Which of `n` evenly spaced x labels, each up to `label_w` wide, `slot` apart, can be written
/// without touching: every `step`-th one from the first, `step` as small as the width allows.
pub fn thinned(n: usize, slot: f64, label_w: f64) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let step = if slot <= 0.0 {
        n
    } else {
        ((label_w + 8.0) / slot).ceil().max(1.0) as usize
    };
    (0..n).step_by(step.max(1)).collect()
}

/// A line chart of values in order (e.g. attendees per session by month): points joined by a
/// line, the y axis labelled `y_label`, the x labels under the axis (every one, or every
/// second, third... when the width requires), each point's value in its tooltip and in the
/// description. A withheld point breaks the line and is named in the description.
pub fn line_chart(title: &str, desc: &str, points: &[(String, Value)], y_label: &str) -> String {
    if points.iter().all(|(_, v)| v.number().is_none()) {
        return no_data("line", title, desc);
    }
    let label_w = points
        .iter()
        .map(|(l, _)| text_width(l, SMALL))
        .fold(0.0f64, f64::max);
    let top = PAD + 30.0;
    let base = top + 130.0;
    let height = base + 20.0 + SMALL + PAD;
    let scale = Scale::new(
        points.iter().filter_map(|(_, v)| v.number()),
        None,
        base,
        top,
    );
    let nice_top = nice_ceiling(scale.hi);
    let scale = Scale {
        hi: nice_top.max(scale.hi),
        ..scale
    };
    let ticks: Vec<(f64, String)> = [0.0, 0.5, 1.0]
        .iter()
        .map(|frac| {
            let v = scale.lo + (scale.hi - scale.lo) * frac;
            (v, format_value(v))
        })
        .collect();
    let tick_w = ticks
        .iter()
        .map(|(_, t)| text_width(t, SMALL))
        .fold(0.0f64, f64::max);
    let left = (PAD + tick_w + 6.0)
        .max(PAD + label_w / 2.0 + 2.0)
        .max(36.0);
    let right = WIDTH - (PAD + label_w / 2.0 + 2.0).max(14.0);
    let x_at = |i: usize| {
        if points.len() == 1 {
            (left + right) / 2.0
        } else {
            left + (right - left) * i as f64 / (points.len() - 1) as f64
        }
    };
    let words = |v: Value| value_words(v, "");
    let summary = if points.len() <= 24 {
        summary_of(points.iter().map(|(l, v)| (l.clone(), words(*v))))
    } else {
        let shown: Vec<(&String, f64)> = points
            .iter()
            .filter_map(|(l, v)| Some((l, v.number()?)))
            .collect();
        let (min, max) = shown
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, v)| {
                (a.min(*v), b.max(*v))
            });
        format!(
            "{} points from {} to {}; lowest {}, highest {}; {} withheld.",
            points.len(),
            points[0].0,
            points[points.len() - 1].0,
            format_value(min),
            format_value(max),
            points.len() - shown.len()
        )
    };
    let mut svg = open("line", title, desc, &summary, height);
    fitted_text(
        &mut svg,
        &format!(
            "x=\"{PAD}\" y=\"{:.1}\" fill=\"{MUTED}\" font-size=\"{SMALL}\"",
            PAD + 11.0
        ),
        y_label,
        SMALL,
        WIDTH - 2.0 * PAD,
    );
    // Gridlines and y labels at 0, a half and the top.
    for (i, (v, text)) in ticks.iter().enumerate() {
        let y = scale.at(*v);
        let _ = write!(
            svg,
            "<line x1=\"{left:.1}\" y1=\"{y:.1}\" x2=\"{right:.1}\" y2=\"{y:.1}\" stroke=\"{}\" stroke-width=\"1\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"{SMALL}\" fill=\"{MUTED}\">{text}</text>",
            if i == 0 { MUTED } else { GRID },
            left - 5.0,
            y + 4.0,
        );
    }
    // The line, broken where a point is withheld.
    let mut run: Vec<String> = Vec::new();
    let mut runs: Vec<Vec<String>> = Vec::new();
    for (i, (_, v)) in points.iter().enumerate() {
        match v.number() {
            Some(v) => run.push(format!("{:.1},{:.1}", x_at(i), scale.at(v))),
            None => runs.push(std::mem::take(&mut run)),
        }
    }
    runs.push(run);
    for r in runs.iter().filter(|r| r.len() > 1) {
        let _ = write!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\"/>",
            r.join(" "),
            PALETTE[0]
        );
    }
    let r = if points.len() > 60 { 1.5 } else { 3.5 };
    for (i, (label, v)) in points.iter().enumerate() {
        if let Some(x) = v.number() {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\" fill=\"{}\"><title>{}: {}</title></circle>",
                x_at(i),
                scale.at(x),
                PALETTE[0],
                escape(label),
                format_value(x)
            );
        }
    }
    let slot = if points.len() > 1 {
        (right - left) / (points.len() - 1) as f64
    } else {
        WIDTH
    };
    for i in thinned(points.len(), slot, label_w) {
        let x = x_at(i);
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{base:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{MUTED}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"{SMALL}\">{}</text>",
            base + 4.0,
            base + 6.0 + SMALL,
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
                    Bar::new(label, Value::Shown(3.0)),
                    Bar {
                        label: "b".into(),
                        value: Value::Shown(12.5),
                        note: Some(label.into()),
                    },
                ],
                "",
            ),
            grouped_bar_chart(
                label,
                label,
                &[label.to_owned(), "s2".into()],
                &[(
                    label.to_owned(),
                    vec![Value::Shown(40.0), Value::Withheld(Mark::Protecting)],
                )],
                Some(100.0),
                "%",
            ),
            histogram(
                label,
                label,
                &[
                    (label.to_owned(), Value::Shown(3.0)),
                    ("x".into(), Value::Withheld(Mark::Small)),
                ],
                label,
            ),
            line_chart(
                label,
                label,
                &[
                    (label.to_owned(), Value::Shown(4.0)),
                    ("b".into(), Value::Shown(7.0)),
                    ("c".into(), Value::Shown(2.0)),
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
    fn withheld_figures_carry_their_own_mark() {
        let small = Value::Withheld(Mark::Small);
        let protecting = Value::Withheld(Mark::Protecting);
        let svg = bar_chart(
            "Sessions",
            "",
            &[Bar::new("Hall", small), Bar::new("Park", protecting)],
            "sessions",
        );
        assert_well_formed(&svg);
        assert_eq!(
            svg.matches("<rect").count(),
            1,
            "only the background: {svg}"
        );
        assert_eq!(svg.matches(">&lt;5</text>").count(), 1, "{svg}");
        assert_eq!(svg.matches(">hidden \u{2021}</text>").count(), 1, "{svg}");
        assert!(
            svg.contains("Hall: &lt;5 (fewer than 5, not shown)")
                && svg
                    .contains("Park: hidden \u{2021} (hidden to protect a small count elsewhere)"),
            "described: {svg}"
        );
        let svg = bar_chart(
            "Sessions",
            "",
            &[Bar::new("Hall", Value::Shown(7.0)), Bar::new("Park", small)],
            "sessions",
        );
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(">7 sessions</text>"), "{svg}");
        assert!(
            !svg.contains("hidden"),
            "a small count is never called hidden: {svg}"
        );

        let svg = grouped_bar_chart(
            "R",
            "",
            &["a".into(), "b".into()],
            &[("g".into(), vec![protecting, small])],
            None,
            "",
        );
        assert_eq!(
            svg.matches("<rect").count(),
            3,
            "background and legend only"
        );
        assert!(svg.contains(">hidden \u{2021}</text>") && svg.contains(">&lt;5</text>"));

        let svg = histogram(
            "H",
            "",
            &[
                ("0".into(), small),
                ("1".into(), Value::Shown(6.0)),
                ("2".into(), protecting),
            ],
            "points",
        );
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(">&lt;5</text>") && svg.contains(">hidden \u{2021}</text>"));
        // A narrow bin gets the short mark, still not "<5".
        let bins: Vec<(String, Value)> = (0..12).map(|i| (i.to_string(), protecting)).collect();
        let svg = histogram("H", "", &bins, "");
        assert_eq!(svg.matches(">\u{2021}</text>").count(), 12, "{svg}");
        assert!(!svg.contains("&lt;5"));
        // A figure missing for another reason is neither mark.
        let svg = bar_chart("B", "", &[Bar::new("p99", Value::Missing)], "ms");
        assert!(svg.contains(">n/a</text>") && !svg.contains("&lt;5") && !svg.contains("hidden"));
        assert_eq!(Mark::Small.as_str(), "small");
        assert_eq!(Mark::Protecting.as_str(), "protecting");
    }

    #[test]
    fn empty_input_says_no_data() {
        for svg in [
            bar_chart("t", "d", &[], ""),
            grouped_bar_chart("t", "d", &["a".into()], &[], None, ""),
            grouped_bar_chart("t", "d", &[], &[("g".into(), vec![])], None, ""),
            histogram("t", "d", &[], ""),
            line_chart("t", "d", &[], "y"),
            line_chart("t", "d", &[("a".into(), Value::Shown(f64::NAN))], "y"),
            line_chart("t", "d", &[("a".into(), Value::Withheld(Mark::Small))], "y"),
        ] {
            assert_well_formed(&svg);
            assert!(svg.contains(">no data</text>"), "{svg}");
            assert!(svg.contains("role=\"img\""));
        }
    }

    /// The x positions of every `<text>` and `<tspan>` element.
    fn text_xs(svg: &str) -> Vec<f64> {
        svg.split(" x=\"")
            .skip(1)
            .map(|part| {
                part[..part.find('"').unwrap()]
                    .parse()
                    .unwrap_or_else(|_| panic!("x not a number: {part}"))
            })
            .collect()
    }

    #[test]
    fn odd_values_stay_inside_the_chart() {
        for svg in [
            bar_chart(
                "t",
                "",
                &[
                    Bar::new("neg", Value::Shown(-3.0)),
                    Bar::new("pos", Value::Shown(1e9)),
                ],
                "points",
            ),
            bar_chart("t", "", &[Bar::new("zero", Value::Shown(0.0))], ""),
            line_chart("t", "", &[("only".into(), Value::Shown(0.0))], "y"),
            line_chart(
                "t",
                "",
                &[
                    ("a".into(), Value::Shown(-2.0)),
                    ("b".into(), Value::Shown(5.0)),
                ],
                "y",
            ),
            grouped_bar_chart(
                "t",
                "",
                &["a".into()],
                &[("g".into(), vec![Value::Shown(2.0)])],
                Some(1.0),
                "",
            ),
        ] {
            assert_well_formed(&svg);
            for x in text_xs(&svg) {
                assert!((-1.0..=WIDTH + 1.0).contains(&x), "x {x} in {svg}");
            }
        }
    }

    #[test]
    fn month_labels_are_thinned_to_fit() {
        assert_eq!(thinned(5, 100.0, 50.0), vec![0, 1, 2, 3, 4]);
        assert_eq!(thinned(12, 25.0, 60.0), vec![0, 3, 6, 9]);
        assert_eq!(thinned(0, 10.0, 10.0), Vec::<usize>::new());
        let months: Vec<(String, Value)> = (1..=24)
            .map(|m| (format!("Mon {m:02}"), Value::Shown(f64::from(m))))
            .collect();
        let svg = line_chart("t", "", &months, "attendees per session");
        assert_well_formed(&svg);
        let labels: Vec<f64> = svg
            .split("<text x=\"")
            .skip(1)
            .filter(|p| p[..p.find("</text>").unwrap()].contains(">Mon "))
            .map(|p| p[..p.find('"').unwrap()].parse().unwrap())
            .collect();
        assert!(labels.len() >= 3 && labels.len() < 24, "{labels:?}");
        let w = text_width("Mon 24", SMALL);
        for pair in labels.windows(2) {
            assert!(pair[1] - pair[0] >= w, "labels overlap: {labels:?}");
        }
        for x in &labels {
            assert!(x - w / 2.0 >= 0.0 && x + w / 2.0 <= WIDTH, "{x} outside");
        }
    }

    #[test]
    fn long_labels_are_shortened_with_the_full_text_kept() {
        let long = "A very long activity name that would never fit on a phone's narrow screen";
        let svg = bar_chart("t", "", &[Bar::new(long, Value::Shown(3.0))], "sessions");
        assert_well_formed(&svg);
        assert!(svg.contains('\u{2026}'), "{svg}");
        assert!(svg.contains(&format!("<title>{}</title>", escape(long))));
        let (lines, cut) = wrap("between -3 and 3", SMALL, 60.0, 3);
        assert!(!cut && lines.len() >= 2, "{lines:?}");
        for l in &lines {
            assert!(text_width(l, SMALL) <= 60.0, "{l}");
        }
        let (short, cut) = fit("short", 13.0, 100.0);
        assert_eq!((short.as_str(), cut), ("short", false));
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
