//! The pseudonymous view analysts get, decided in one place so that every analyst path (exports,
//! reports, the dashboard, and the record, conflicts and history endpoints) shows the same
//! thing:
//!
//! * free text typed in the field goes through [`Redactor::redact`]: the project's known
//!   participant names and phone numbers become `[name]` and `[phone]`, UK postcodes and
//!   postcode districts `[postcode]`, other phone-like numbers `[phone]` and e-mail addresses
//!   `[email]`;
//! * each field of a record is shown, redacted or withheld for analysts by [`analyst_field`]:
//!   direct identifiers, participant codes, postcode districts, referral reasons, session
//!   notes, locations and facilitators, and story authors are withheld.
//!
//! Redaction is a safety net for text typed in the field, not a guarantee: a nickname, a
//! misspelt name or a street address is not recognised.

use crate::storage::Db;
use bothy_sync_core::RecordKind;
use bothy_sync_core::record::RecordView;
use bothy_sync_core::schema::{self, Analysts};
use serde_json::Value;
use std::collections::HashSet;

/// Replaces identifying text: the project's known participant names and phone numbers, and
/// anything shaped like a UK postcode, a phone number or an e-mail address.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    names: HashSet<String>,
    phones: Vec<String>,
}

/// Every UK postcode area (the letters before the first digit of a postcode).
const POSTCODE_AREAS: &[&str] = &[
    "AB", "AL", "B", "BA", "BB", "BD", "BF", "BH", "BL", "BN", "BR", "BS", "BT", "CA", "CB", "CF",
    "CH", "CM", "CO", "CR", "CT", "CV", "CW", "DA", "DD", "DE", "DG", "DH", "DL", "DN", "DT", "DY",
    "E", "EC", "EH", "EN", "EX", "FK", "FY", "G", "GL", "GU", "GY", "HA", "HD", "HG", "HP", "HR",
    "HS", "HU", "HX", "IG", "IM", "IP", "IV", "JE", "KA", "KT", "KW", "KY", "L", "LA", "LD", "LE",
    "LL", "LN", "LS", "LU", "M", "ME", "MK", "ML", "N", "NE", "NG", "NN", "NP", "NR", "NW", "OL",
    "OX", "PA", "PE", "PH", "PL", "PO", "PR", "RG", "RH", "RM", "S", "SA", "SE", "SG", "SK", "SL",
    "SM", "SN", "SO", "SP", "SR", "SS", "ST", "SW", "SY", "TA", "TD", "TF", "TN", "TQ", "TR", "TS",
    "TW", "UB", "W", "WA", "WC", "WD", "WF", "WN", "WR", "WS", "WV", "YO", "ZE",
];

/// Digits a phone number has at least and at most (UK numbers have 10 or 11; E.164 allows 15).
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 10..=15;

impl Redactor {
    /// Loads the project's direct identifiers (bounded by the number of participants).
    pub async fn load(db: &Db, project: &str) -> Result<Redactor, sqlx::Error> {
        let mut r = Redactor::default();
        for c in crate::storage::analysis::contact_identifiers(&db.pool, project).await? {
            r.add(c.name.as_deref(), c.phone.as_deref());
        }
        Ok(r)
    }

    /// Adds one person's identifiers.
    pub fn add(&mut self, name: Option<&str>, phone: Option<&str>) {
        if let Some(n) = name {
            let n = n.replace('’', "'");
            for word in n.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '-') {
                // The whole word (`smith-jones`, `o'brien`) and each of its parts.
                let parts = word.split(['-', '\'']).chain(std::iter::once(word));
                for part in parts {
                    if part.chars().count() >= 2 {
                        self.names.insert(part.to_lowercase());
                    }
                }
            }
        }
        if let Some(p) = phone {
            let digits: String = p.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 6 {
                self.phones.push(digits);
            }
        }
    }

    /// The text as analysts see it: e-mail addresses replaced by `[email]`, UK postcodes and
    /// postcode districts by `[postcode]`, known and phone-like numbers by `[phone]` and the
    /// words of known names by `[name]`.
    pub fn redact(&self, text: &str) -> String {
        let text = text.replace('’', "'");
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::with_capacity(text.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let at_start = i == 0 || !chars[i - 1].is_alphanumeric();
            if at_start && let Some(end) = email_at(&chars, i) {
                out.push_str("[email]");
                i = end;
            } else if at_start && let Some(end) = postcode_at(&chars, i) {
                out.push_str("[postcode]");
                i = end;
            } else if at_start && let Some(end) = phone_at(&chars, i) {
                out.push_str("[phone]");
                i = end;
            } else if c.is_alphanumeric() && !c.is_ascii_digit() {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '\'' || chars[i] == '-')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let bare = word.trim_end_matches(['\'', '-']);
                let stem = bare.strip_suffix("'s").unwrap_or(bare);
                if self.names.contains(&stem.to_lowercase()) {
                    out.push_str("[name]");
                    out.push_str(&word[stem.len()..]);
                } else {
                    // `morag-croft`: each part of a hyphenated word on its own.
                    let parts: Vec<String> = word
                        .split('-')
                        .map(|part| {
                            let stem = part.strip_suffix("'s").unwrap_or(part);
                            if stem.chars().count() >= 2
                                && self.names.contains(&stem.to_lowercase())
                            {
                                format!("[name]{}", &part[stem.len()..])
                            } else {
                                part.to_owned()
                            }
                        })
                        .collect();
                    out.push_str(&parts.join("-"));
                }
            } else if c.is_ascii_digit() || c == '+' || c == '(' {
                let start = i;
                let mut end = i + 1;
                while end < chars.len()
                    && (chars[end].is_ascii_digit() || " -+().".contains(chars[end]))
                {
                    end += 1;
                }
                let run: String = chars[start..end].iter().collect();
                if self.is_known_phone(&run) {
                    i = end;
                    let trailing: String = run
                        .chars()
                        .rev()
                        .take_while(|c| !c.is_ascii_digit())
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    out.push_str("[phone]");
                    out.push_str(&trailing);
                } else {
                    // Not a known number: keep this group of digits and look again after it
                    // (a phone-like number may follow a count or a date).
                    i += 1;
                    while i < chars.len() && chars[i].is_ascii_digit() && c.is_ascii_digit() {
                        i += 1;
                    }
                    out.extend(&chars[start..i]);
                }
            } else {
                out.push(c);
                i += 1;
            }
        }
        out
    }

    /// Whether a run of digits and separators holds a known phone number (national or +44).
    fn is_known_phone(&self, run: &str) -> bool {
        let digits: String = run.chars().filter(char::is_ascii_digit).collect();
        if digits.len() < 6 {
            return false;
        }
        let uk = digits.strip_prefix("44").map(|d| format!("0{d}"));
        self.phones.iter().any(|p| {
            let p_uk = p.strip_prefix("44").map(|d| format!("0{d}"));
            digits.contains(p.as_str())
                || uk.as_deref().is_some_and(|u| u.contains(p.as_str()))
                || p_uk.as_deref().is_some_and(|pu| digits.contains(pu))
        })
    }
}

/// Whether position `i` is at the end of a word (end of text or not a letter or digit).
fn word_ends(chars: &[char], i: usize) -> bool {
    chars.get(i).is_none_or(|c| !c.is_alphanumeric())
}

/// An e-mail address starting at `i` (`local@domain.tld`): the index after it.
fn email_at(chars: &[char], i: usize) -> Option<usize> {
    let local = |c: char| c.is_alphanumeric() || "._%+-'".contains(c);
    let mut j = i;
    while j < chars.len() && local(chars[j]) {
        j += 1;
    }
    if j == i || chars.get(j) != Some(&'@') {
        return None;
    }
    j += 1;
    let domain_start = j;
    while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '-' || chars[j] == '.') {
        j += 1;
    }
    // A sentence's full stop after the address is not part of it.
    while j > domain_start && chars[j - 1] == '.' {
        j -= 1;
    }
    let domain: String = chars[domain_start..j].iter().collect();
    let tld = domain.rsplit_once('.')?.1;
    (tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic)).then_some(j)
}

/// A UK postcode (`IV27 4XX`, `SW1A1AA`) or postcode district (`IV27`, `EH1`) starting at
/// `i`, in any case: the index after it.
fn postcode_at(chars: &[char], i: usize) -> Option<usize> {
    let letters = chars[i..]
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    if !(1..=2).contains(&letters) {
        return None;
    }
    let area: String = chars[i..i + letters].iter().collect::<String>();
    if !POSTCODE_AREAS.contains(&area.to_ascii_uppercase().as_str()) {
        return None;
    }
    let mut j = i + letters;
    if !chars.get(j).is_some_and(char::is_ascii_digit) {
        return None;
    }
    j += 1;
    // The district: one digit, two digits, or a digit and a letter.
    let mut outward_ends = vec![j];
    if chars.get(j).is_some_and(char::is_ascii_alphanumeric) {
        outward_ends.push(j + 1);
    }
    // The longest reading wins: a full postcode, then a district.
    for &end in outward_ends.iter().rev() {
        for gap in [1, 0] {
            let k = end + gap;
            if gap == 1 && chars.get(end) != Some(&' ') {
                continue;
            }
            let inward = chars.get(k).is_some_and(char::is_ascii_digit)
                && chars.get(k + 1).is_some_and(char::is_ascii_alphabetic)
                && chars.get(k + 2).is_some_and(char::is_ascii_alphabetic);
            if inward && word_ends(chars, k + 3) {
                return Some(k + 3);
            }
        }
    }
    outward_ends
        .into_iter()
        .rev()
        .find(|&e| word_ends(chars, e))
}

/// A phone-like number starting at `i`: it begins with `0`, `+` or `(`, and is digits in
/// groups separated by spaces, hyphens, dots or brackets, 10 to 15 digits in all (`07700
/// 900123`, `+44 (0)1854 612345`). Dates and amounts do not begin with `0` or `+`. The index
/// after its last digit.
fn phone_at(chars: &[char], i: usize) -> Option<usize> {
    let first = chars[i];
    let opening = match first {
        '+' | '(' => chars.get(i + 1).is_some_and(char::is_ascii_digit),
        '0' => true,
        _ => false,
    };
    if !opening {
        return None;
    }
    let mut j = if first == '0' { i } else { i + 1 };
    let mut digits = 0;
    let mut best = None;
    loop {
        // A group of digits.
        let start = j;
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
        digits += j - start;
        if digits > *PHONE_DIGITS.end() {
            break;
        }
        if PHONE_DIGITS.contains(&digits) && word_ends(chars, j) {
            best = Some(j);
        }
        // Up to two separators (`) `, ` (`) before the next group.
        let mut k = j;
        while k < chars.len() && k - j < 2 && " -.()".contains(chars[k]) {
            k += 1;
        }
        if k == j || !chars.get(k).is_some_and(char::is_ascii_digit) {
            break;
        }
        j = k;
    }
    best
}

/// What analysts get of one field of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRule {
    /// Shown as it is.
    Show,
    /// Shown through [`Redactor::redact`].
    Redact,
    /// Never shown: its value is `null` (and a set's members are not named).
    Withhold,
}

/// What analysts get of a field, by its path in the record (`notes`, `referral.reason`,
/// `facilitators.<name>`, `consent.version`): the rule the record schema gives the field
/// ([`schema::analysts`]), so a new field carries its rule with it.
pub fn analyst_field(kind: RecordKind, path: &str) -> FieldRule {
    match schema::analysts(kind, path) {
        Analysts::Show => FieldRule::Show,
        Analysts::Redact => FieldRule::Redact,
        Analysts::Withhold => FieldRule::Withhold,
    }
}

/// A field path as analysts see it: the members of a withheld set are not named
/// (`facilitators.Jo` is `facilitators`), those of a redacted set are redacted.
pub fn analyst_path(kind: RecordKind, path: &str, r: &Redactor) -> String {
    let Some((top, key)) = path.split_once('.') else {
        return path.to_owned();
    };
    match (kind, top, analyst_field(kind, path)) {
        (RecordKind::Session, "facilitators", _) => top.to_owned(),
        (_, _, FieldRule::Redact) if top == "themes" => format!("{top}.{}", r.redact(key)),
        _ => path.to_owned(),
    }
}

/// A value of a field as analysts see it (`None` when withheld).
pub fn analyst_value(kind: RecordKind, path: &str, value: &str, r: &Redactor) -> Option<String> {
    match analyst_field(kind, path) {
        FieldRule::Show => Some(value.to_owned()),
        FieldRule::Redact => Some(r.redact(value)),
        FieldRule::Withhold => None,
    }
}

/// The path in the record of a field of [`RecordView`]'s JSON (`consent_version` is
/// `consent.version`).
fn record_path(kind: RecordKind, key: &str) -> String {
    if kind == RecordKind::Participant {
        for map in ["consent", "referral"] {
            if let Some(rest) = key.strip_prefix(map).and_then(|k| k.strip_prefix('_')) {
                return format!("{map}.{rest}");
            }
        }
    }
    key.to_owned()
}

/// A record's fields as analysts see them: withheld fields are `null`, free text is redacted.
pub fn analyst_record(view: &RecordView, r: &Redactor) -> Value {
    let mut data = serde_json::to_value(&view.data).unwrap_or(Value::Null);
    if let Value::Object(fields) = &mut data {
        for (key, value) in fields.iter_mut() {
            match analyst_field(view.kind, &record_path(view.kind, key)) {
                FieldRule::Show => {}
                FieldRule::Withhold => *value = Value::Null,
                FieldRule::Redact => redact_json(value, r),
            }
        }
    }
    data
}

fn redact_json(value: &mut Value, r: &Redactor) {
    match value {
        Value::String(s) => *s = r.redact(s),
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(v, r)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn morag() -> Redactor {
        let mut r = Redactor::default();
        r.add(Some("Morag MacLeod"), Some("07700 900123"));
        r
    }

    #[test]
    fn known_names_and_phones_are_replaced() {
        let out = morag()
            .redact("Morag's walk with morag macleod; call 07700-900123 or +44 7700 900123.");
        assert_eq!(
            out,
            "[name]'s walk with [name] [name]; call [phone] or [phone]."
        );
        assert_eq!(
            morag().redact("Morag-croft and the MacLeod's-hall"),
            "[name]-croft and the [name]'s-hall"
        );
        assert_eq!(
            morag().redact("Moraga is not a name here"),
            "Moraga is not a name here"
        );
    }

    #[test]
    fn postcodes_are_replaced() {
        let r = Redactor::default();
        assert_eq!(
            r.redact("She lives in IV27, near IV27 4XX; he is in sw1a1aa (EH1)."),
            "She lives in [postcode], near [postcode]; he is in [postcode] ([postcode])."
        );
        // Not postcodes: no such area, or part of a longer word.
        assert_eq!(
            r.redact("Q1 report, A9 road, XIV27"),
            "Q1 report, A9 road, XIV27"
        );
    }

    #[test]
    fn phone_like_numbers_and_emails_are_replaced() {
        let r = Redactor::default();
        assert_eq!(
            r.redact("Ring 01854 612345 or +44 (0)1854 612346, or write to jo.b-1@example.co.uk."),
            "Ring [phone] or [phone], or write to [email]."
        );
        assert_eq!(r.redact("07700900123 07700900124"), "[phone] [phone]");
        // Dates, times, scores and counts stay.
        let plain = "On 2026-07-06 at 10:00, 12 voices scored 45; 0.5 of 40 came back.";
        assert_eq!(r.redact(plain), plain);
    }

    #[test]
    fn analysts_get_no_direct_identifiers() {
        use RecordKind::{Contact, Participant, Session, Story};
        for field in ["name", "phone", "postcode_district", "notes", "participant"] {
            assert_eq!(
                analyst_field(Contact, field),
                FieldRule::Withhold,
                "{field}"
            );
        }
        assert_eq!(analyst_field(Participant, "code"), FieldRule::Withhold);
        assert_eq!(
            analyst_field(Participant, "referral.reason"),
            FieldRule::Withhold
        );
        assert_eq!(
            analyst_field(Participant, "referral.source"),
            FieldRule::Show
        );
        assert_eq!(
            analyst_field(Session, "facilitators.Jo"),
            FieldRule::Withhold
        );
        assert_eq!(analyst_field(Story, "author"), FieldRule::Withhold);
        assert_eq!(analyst_field(Story, "body"), FieldRule::Redact);
        let r = morag();
        assert_eq!(
            analyst_path(Session, "facilitators.Jo Bloggs", &r),
            "facilitators"
        );
        assert_eq!(analyst_path(Story, "themes.Morag", &r), "themes.[name]");
        assert_eq!(
            record_path(Participant, "consent_version"),
            "consent.version"
        );
        assert_eq!(record_path(Contact, "phone"), "phone");
    }
}
