//! Embeds the built web app (`clients/web/dist/`, committed to the repository) in the server
//! binary, so the server serves it at `/app/` with no Node.js on the machine. Writes a table
//! of (file name, content type, ETag, bytes) to `$OUT_DIR/webapp.rs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("wasm") => "application/wasm",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// FNV-1a, 64 bits: enough to tell versions of a file apart for an ETag.
fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    // `sqlx::migrate!` embeds the migrations: rebuild when one is added.
    println!("cargo:rerun-if-changed=migrations");
    let dist = manifest.join("../clients/web/dist");
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dist)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = String::from(
        "/// The web app's files: (name, content type, ETag, bytes).\n\
         pub static FILES: &[(&str, &str, &str, &[u8])] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let bytes = std::fs::read(f).expect("readable web app file");
        let _ = writeln!(
            out,
            "    ({name:?}, {:?}, \"\\\"{:016x}\\\"\", include_bytes!({:?})),",
            content_type(name),
            fnv(&bytes),
            absolute(f)
        );
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo")).join("webapp.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}

fn absolute(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}
