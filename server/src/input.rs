//! The rules for the values requests carry (slugs, names, reasons, roles...), each kept as a
//! check the handlers call and the JSON Schema the OpenAPI document declares, side by side, so
//! that what the document allows is what the server accepts. Schemas are attached to request
//! fields with `#[schema(schema_with = ...)]`; path parameters get theirs in
//! [`crate::openapi`]. The schema-driven fuzz (`ops/fuzz/api`) holds the two to each other.

use crate::error::{ApiError, ApiResult};
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, Object, ObjectBuilder, OneOfBuilder, SchemaFormat, Type,
};
use utoipa::openapi::{RefOr, Schema, schema::SchemaType};

/// A slug: lowercase ASCII letters, digits and hyphens.
pub const SLUG_PATTERN: &str = "^[a-z0-9-]+$";
/// The longest slug.
pub const SLUG_MAX: usize = 64;
/// The longest project, site or activity name.
pub const NAME_MAX: usize = 200;
/// The longest device name.
pub const DEVICE_NAME_MAX: usize = 100;
/// The longest app description a device gives (`bothy-cli/0.1.0`).
pub const APP_MAX: usize = 200;
/// The longest reason for revoking a device or removing a user.
pub const REASON_MAX: usize = 500;
/// The longest reason for a quarantine decision.
pub const DECISION_REASON_MAX: usize = 2000;
/// A username: ASCII letters, digits and `. _ - @`.
pub const USERNAME_PATTERN: &str = "^[A-Za-z0-9._@-]+$";
/// The longest username.
pub const USERNAME_MAX: usize = 64;
/// The shortest password.
pub const PASSWORD_MIN: usize = 10;
/// A language tag (`en`, `cy`, `gd-GB`).
pub const LANGUAGE_PATTERN: &str = "^[A-Za-z0-9-]+$";
/// The longest language tag.
pub const LANGUAGE_MAX: usize = 35;
/// The longest licence note of an instrument wording.
pub const LICENCE_MAX: usize = 1000;
/// The longest enrolment code lifetime, in hours (30 days).
pub const ENROLMENT_HOURS_MAX: i64 = 24 * 30;
/// A text with at least one character that is not white space. White space is what Rust's
/// `str::trim` removes (Unicode `White_Space`), spelled out because regex dialects differ.
pub const NOT_BLANK_PATTERN: &str = "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";

/// A text that is trimmed before use: at most `max` characters as sent and not only white
/// space. Returns it trimmed; the error names the field.
pub fn text(field: &str, code: &'static str, value: &str, max: usize) -> ApiResult<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() || value.chars().count() > max {
        return Err(ApiError::bad(
            code,
            format!("{field}: must be 1-{max} characters, not only spaces"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// An optional trimmed text: `None` when absent or only white space, else at most `max`
/// characters as sent.
pub fn optional_text(
    field: &str,
    code: &'static str,
    value: Option<&str>,
    max: usize,
) -> ApiResult<Option<String>> {
    match value {
        Some(v) if v.chars().count() > max => Err(ApiError::bad(
            code,
            format!("{field}: at most {max} characters"),
        )),
        Some(v) if !v.trim().is_empty() => Ok(Some(v.trim().to_owned())),
        _ => Ok(None),
    }
}

/// A JSON number as a whole number: JSON Schema's `integer` includes `5.0`, so a fraction of
/// zero is whole too. `None` for a fraction or a number outside `i64`.
pub fn as_whole(n: &serde_json::Number) -> Option<i64> {
    n.as_i64().or_else(|| {
        // 2^63: the first whole number above `i64::MAX`.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && (-LIMIT..LIMIT).contains(f))
            .map(|f| f as i64)
    })
}

/// Deserializes an optional whole number as [`as_whole`] reads it.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::Deserialize;
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => as_whole(&n)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("expected a whole number, not {n}"))),
    }
}

/// Whether `s` is a slug of at most [`SLUG_MAX`] characters.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= SLUG_MAX
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn nullable(types: Type) -> SchemaType {
    SchemaType::from_iter([types, Type::Null])
}

fn not_blank(max: usize) -> ObjectBuilder {
    string()
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(NOT_BLANK_PATTERN))
}

/// A slug (projects, sites, activities).
pub fn slug_schema() -> Object {
    string()
        .min_length(Some(1))
        .max_length(Some(SLUG_MAX))
        .pattern(Some(SLUG_PATTERN))
        .build()
}

/// A project, site or activity name.
pub fn name_schema() -> Object {
    not_blank(NAME_MAX).build()
}

/// A name that may be left out or `null` (no change).
pub fn name_change_schema() -> Object {
    not_blank(NAME_MAX)
        .schema_type(nullable(Type::String))
        .build()
}

/// A device name.
pub fn device_name_schema() -> Object {
    not_blank(DEVICE_NAME_MAX).build()
}

/// What app a device runs, if it says.
pub fn app_schema() -> Object {
    string()
        .schema_type(nullable(Type::String))
        .max_length(Some(APP_MAX))
        .build()
}

/// A reason kept in the audit log.
pub fn reason_schema() -> Object {
    not_blank(REASON_MAX).build()
}

/// A reason for a quarantine decision.
pub fn decision_reason_schema() -> Object {
    not_blank(DECISION_REASON_MAX).build()
}

/// A username.
pub fn username_schema() -> Object {
    string()
        .min_length(Some(1))
        .max_length(Some(USERNAME_MAX))
        .pattern(Some(USERNAME_PATTERN))
        .build()
}

/// A new password, or `null` for a generated one.
pub fn password_schema() -> Object {
    string()
        .schema_type(nullable(Type::String))
        .min_length(Some(PASSWORD_MIN))
        .build()
}

/// A project role.
pub fn role_schema() -> Object {
    string()
        .enum_values(Some(crate::access::roles::Role::NAMES))
        .build()
}

/// An activity type.
pub fn activity_type_schema() -> Object {
    string()
        .enum_values(Some(
            bothy_sync_core::schema::ACTIVITY_TYPES.iter().copied(),
        ))
        .build()
}

/// An activity type, or `null` for no change.
pub fn activity_type_change_schema() -> Object {
    let values = bothy_sync_core::schema::ACTIVITY_TYPES
        .iter()
        .map(|t| serde_json::Value::from(*t))
        .chain([serde_json::Value::Null]);
    ObjectBuilder::new()
        .schema_type(nullable(Type::String))
        .enum_values(Some(values))
        .build()
}

/// An activity's site: a site's slug, `""` for none, or `null` (none, or no change).
pub fn site_ref_schema() -> Object {
    string()
        .schema_type(nullable(Type::String))
        .max_length(Some(SLUG_MAX))
        .pattern(Some("^[a-z0-9-]*$"))
        .build()
}

/// Hours until an enrolment code expires (default 72).
pub fn enrolment_hours_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(nullable(Type::Integer))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .maximum(Some(ENROLMENT_HOURS_MAX))
        .build()
}

/// A language tag.
pub fn language_schema() -> Object {
    string()
        .min_length(Some(1))
        .max_length(Some(LANGUAGE_MAX))
        .pattern(Some(LANGUAGE_PATTERN))
        .build()
}

/// A licence note (optional).
pub fn licence_schema() -> Object {
    string()
        .schema_type(nullable(Type::String))
        .max_length(Some(LICENCE_MAX))
        .build()
}

/// The items or answer labels of a wording: numbers (as text) to text.
pub fn wording_map_schema(min: usize, max: usize) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(Schema::Object(
            string().build(),
        )))))
        .min_properties(Some(min))
        .max_properties(Some(max))
        .build()
}

/// A wording's items: one per item of the instrument (ONS4 has 4, WEMWBS 14).
pub fn wording_items_schema() -> Object {
    wording_map_schema(4, 14)
}

/// A wording's answer labels (at most one per answer value, 0 to 10).
pub fn wording_responses_schema() -> Object {
    wording_map_schema(0, 11)
}

/// The value a reviewer keeps: text, a whole number or true/false.
pub fn conflict_value_schema() -> RefOr<Schema> {
    RefOr::T(Schema::OneOf(
        OneOfBuilder::new()
            .item(string().build())
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(i64::MIN))
                    .maximum(Some(i64::MAX))
                    .build(),
            )
            .item(ObjectBuilder::new().schema_type(Type::Boolean).build())
            .build(),
    ))
}

/// The schema of a new password: text of at least [`PASSWORD_MIN`] characters.
pub fn new_password_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(PASSWORD_MIN))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_blank_pattern_lists_what_trim_removes() {
        // Every white-space character below U+3001 is named in the pattern, and nothing else.
        let named: Vec<char> = (0..=0x3000u32)
            .filter_map(char::from_u32)
            .filter(|c| c.is_whitespace())
            .collect();
        for c in named {
            let escaped = format!("\\u{:04x}", c as u32);
            let listed = NOT_BLANK_PATTERN.contains(&escaped)
                || match c {
                    '\t' => NOT_BLANK_PATTERN.contains("\\t"),
                    '\n' => NOT_BLANK_PATTERN.contains("\\n"),
                    '\u{c}' => NOT_BLANK_PATTERN.contains("\\f"),
                    '\r' => NOT_BLANK_PATTERN.contains("\\r"),
                    ' ' => NOT_BLANK_PATTERN.contains(' '),
                    '\u{2000}'..='\u{200a}' => NOT_BLANK_PATTERN.contains("\\u2000-\\u200a"),
                    _ => false,
                };
            assert!(
                listed,
                "U+{:04X} is white space but not in the pattern",
                c as u32
            );
        }
    }

    #[test]
    fn text_counts_what_was_sent() {
        assert_eq!(text("name", "invalid_name", " Hall ", 10).unwrap(), "Hall");
        assert!(text("name", "invalid_name", "   ", 10).is_err());
        assert!(text("name", "invalid_name", &format!("a{}", " ".repeat(10)), 10).is_err());
        assert!(is_slug("a-1") && !is_slug("A") && !is_slug("") && !is_slug(&"a".repeat(65)));
    }
}
