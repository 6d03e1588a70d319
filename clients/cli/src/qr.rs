//! Enrolment QR codes: what they hold, and how they are drawn (terminal, SVG, PNG).
//!
//! The payload is `bothy-enrol:?server=<URL>&code=<CODE>`, with `%`, `&`, `=`, `#`, `+`,
//! spaces, control and non-ASCII characters in the values percent-encoded (UTF-8).

use anyhow::{Context, Result, anyhow, bail};
use qrcode::render::{svg, unicode};
use qrcode::{Color, EcLevel, QrCode};
use std::path::Path;

const SCHEME: &str = "bothy-enrol:";

fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_graphic() && !matches!(b, b'%' | b'&' | b'=' | b'#' | b'+') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn decode(value: &str) -> Result<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    anyhow!("a `%` in the QR payload is not followed by two hex digits")
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| anyhow!("the QR payload is not valid UTF-8"))
}

/// The text an enrolment QR code holds.
pub fn payload(server: &str, code: &str) -> String {
    format!("{SCHEME}?server={}&code={}", encode(server), encode(code))
}

/// The server and the code in a QR payload.
pub fn parse_payload(text: &str) -> Result<(String, String)> {
    let query = text
        .trim()
        .strip_prefix(SCHEME)
        .and_then(|rest| rest.strip_prefix('?'))
        .ok_or_else(|| {
            anyhow!("not an enrolment QR payload: it should start with `{SCHEME}?server=`")
        })?;
    let (mut server, mut code) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "server" => server = Some(decode(v)?),
            "code" => code = Some(decode(v)?),
            _ => {} // Later versions may add fields.
        }
    }
    match (server, code) {
        (Some(s), Some(c)) if !s.is_empty() && !c.is_empty() => Ok((s, c)),
        _ => bail!("the enrolment QR payload lacks the server or the code"),
    }
}

fn qr(text: &str) -> Result<QrCode> {
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .context("cannot make a QR code of the enrolment")
}

/// The QR code drawn with Unicode half blocks, dark on light, with its quiet zone.
pub fn terminal(text: &str) -> Result<String> {
    Ok(qr(text)?
        .render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// Writes the QR code as an SVG image.
pub fn write_svg(text: &str, path: &Path) -> Result<()> {
    let image = qr(text)?
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build();
    std::fs::write(path, image).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the QR code as a black-and-white PNG image (8 pixels a module, 4 modules of margin).
pub fn write_png(text: &str, path: &Path) -> Result<()> {
    const SCALE: usize = 8;
    const MARGIN: usize = 4;
    let code = qr(text)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * MARGIN) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (mx, my) = (i % modules + MARGIN, i / modules + MARGIN);
            for y in my * SCALE..(my + 1) * SCALE {
                pixels[y * side + mx * SCALE..y * side + (mx + 1) * SCALE].fill(0);
            }
        }
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let side = u32::try_from(side).context("QR code too large")?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .with_context(|| format!("cannot write {}", path.display()))?;
    writer
        .write_image_data(&pixels)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writer
        .finish()
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let p = payload("https://bothy.example.org:8443/a?b=c&d", "TC7ED-GGU3T");
        assert!(p.starts_with("bothy-enrol:?server=https://bothy.example.org:8443/a?b%3Dc%26d"));
        let (server, code) = parse_payload(&p).unwrap();
        assert_eq!(server, "https://bothy.example.org:8443/a?b=c&d");
        assert_eq!(code, "TC7ED-GGU3T");
        assert!(parse_payload("https://example.org").is_err());
        assert!(parse_payload("bothy-enrol:?server=x").is_err());
        assert!(parse_payload("bothy-enrol:?server=x&code=%G1").is_err());
    }

    #[test]
    fn images_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let text = payload("http://127.0.0.1:8080", "ABCDE-FGHJK");
        assert!(terminal(&text).unwrap().contains('▀') || terminal(&text).unwrap().contains('█'));
        write_svg(&text, &dir.path().join("c.svg")).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("c.svg")).unwrap();
        assert!(svg.contains("<svg"));
        write_png(&text, &dir.path().join("c.png")).unwrap();
        let png = std::fs::read(dir.path().join("c.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
