//! Enrolment QR codes: what they hold, and how they are drawn (terminal, SVG, PNG).
//!
//! The payload is a link to the server's web app, `<URL>/app/#/enrol?code=<CODE>`: a phone's
//! camera opens it, and the web app enrols with the code (which, in the fragment, is never sent
//! to the server). `%`, `&`, `=`, `#`, `+`, spaces, control and non-ASCII characters in the
//! code are percent-encoded (UTF-8). The older form, `bothy-enrol:?server=<URL>&code=<CODE>`
//! (both values encoded so), is still read.

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

/// Where the web app's enrolment screen is, after the server's address.
const LINK_PATH: &str = "/app/#/enrol?";

/// The text an enrolment QR code holds: a link that opens the server's web app on its
/// enrolment screen with the code filled in.
pub fn payload(server: &str, code: &str) -> String {
    format!(
        "{}{LINK_PATH}code={}",
        server.trim_end_matches('/'),
        encode(code)
    )
}

/// The server and the code in a QR payload: a link (`<URL>/app/#/enrol?code=<CODE>`) or the
/// older `bothy-enrol:?server=<URL>&code=<CODE>`.
pub fn parse_payload(text: &str) -> Result<(String, String)> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix(SCHEME) {
        let query = rest.strip_prefix('?').ok_or_else(|| {
            anyhow!("not an enrolment QR payload: it should start with `{SCHEME}?server=`")
        })?;
        return parse_query(query, None);
    }
    let lower = text.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        bail!(
            "not an enrolment QR payload: it should be a link like \
             `https://bothy.example.org{LINK_PATH}code=CODE` (or start with `{SCHEME}?server=`)"
        );
    }
    let (server, query) = text.split_once(LINK_PATH).ok_or_else(|| {
        anyhow!("this link is not a Bothy enrolment link: it should end in `{LINK_PATH}code=CODE`")
    })?;
    if server.contains('#') || server.contains('?') {
        bail!("this link is not a Bothy enrolment link: the server's address holds `#` or `?`");
    }
    parse_query(query, Some(server.to_owned()))
}

/// The `server` (unless the link gave it) and `code` parameters of a payload.
fn parse_query(query: &str, link_server: Option<String>) -> Result<(String, String)> {
    let from_link = link_server.is_some();
    let (mut server, mut code) = (link_server, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "server" if !from_link => server = Some(decode(v)?),
            "code" => code = Some(decode(v)?),
            _ => {} // Later versions may add fields.
        }
    }
    match (server, code) {
        (Some(s), Some(c)) if !s.is_empty() && !c.is_empty() => Ok((s, c)),
        _ if from_link => bail!("the enrolment link lacks the code"),
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
    fn links_round_trip() {
        let p = payload("https://bothy.example.org:8443/", "TC7ED-GGU3T");
        assert_eq!(
            p,
            "https://bothy.example.org:8443/app/#/enrol?code=TC7ED-GGU3T"
        );
        let (server, code) = parse_payload(&p).unwrap();
        assert_eq!(server, "https://bothy.example.org:8443");
        assert_eq!(code, "TC7ED-GGU3T");
        // A server under a path, and a code that needs encoding.
        let p = payload("http://127.0.0.1:8080/bothy", "A&B=C#D+E F\u{e9}");
        assert_eq!(
            p,
            "http://127.0.0.1:8080/bothy/app/#/enrol?code=A%26B%3DC%23D%2BE%20F%C3%A9"
        );
        let (server, code) = parse_payload(&format!("  {p}\n")).unwrap();
        assert_eq!(server, "http://127.0.0.1:8080/bothy");
        assert_eq!(code, "A&B=C#D+E F\u{e9}");
        // Later versions may add parameters; a `server` in the fragment does not override the
        // link's own address.
        let (server, code) =
            parse_payload("https://a.example/app/#/enrol?v=2&server=https://b.example&code=X")
                .unwrap();
        assert_eq!((server.as_str(), code.as_str()), ("https://a.example", "X"));
    }

    #[test]
    fn old_payloads_are_still_read() {
        let (server, code) = parse_payload(
            "bothy-enrol:?server=https://bothy.example.org:8443/a?b%3Dc%26d&code=TC7ED-GGU3T",
        )
        .unwrap();
        assert_eq!(server, "https://bothy.example.org:8443/a?b=c&d");
        assert_eq!(code, "TC7ED-GGU3T");
        assert!(parse_payload("bothy-enrol:?server=x").is_err());
        assert!(parse_payload("bothy-enrol:?server=x&code=%G1").is_err());
    }

    #[test]
    fn other_text_is_refused_with_a_reason() {
        let e = parse_payload("https://example.org")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a Bothy enrolment link"), "{e}");
        let e = parse_payload("TC7ED-GGU3T").unwrap_err().to_string();
        assert!(e.contains("not an enrolment QR payload"), "{e}");
        let e = parse_payload("https://example.org/app/#/enrol?x=1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lacks the code"), "{e}");
        assert!(parse_payload("https://example.org/app/#/enrol?code=").is_err());
        assert!(parse_payload("https://example.org/app/#/enrol?code=%G1").is_err());
        assert!(parse_payload("https://example.org/x#y/app/#/enrol?code=A").is_err());
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
