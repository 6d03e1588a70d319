//! The mobile web app (`clients/web/`), embedded in the binary at build time and served at
//! `/app/`. Files are served with an ETag (a `304` costs a few bytes on a weak signal) and
//! `Cache-Control: no-cache`; the app's service worker keeps its own offline copy.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

mod files {
    include!(concat!(env!("OUT_DIR"), "/webapp.rs"));
}

/// The Content-Security-Policy of the app: its own scripts and WebAssembly only, talking only
/// to this server.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
                       style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
                       worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; \
                       base-uri 'none'; form-action 'self'";

/// The names of the embedded files (empty when the app was not built).
pub fn file_names() -> Vec<&'static str> {
    files::FILES.iter().map(|f| f.0).collect()
}

fn find(name: &str) -> Option<&'static (&'static str, &'static str, &'static str, &'static [u8])> {
    files::FILES.iter().find(|f| f.0 == name)
}

/// Whether the request accepts Brotli (`br` in `Accept-Encoding`, not with `q=0`).
fn accepts_brotli(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| {
            let mut parts = token.split(';').map(str::trim);
            parts.next() == Some("br")
                && parts.all(|p| !matches!(p.strip_prefix("q="), Some(q) if q.parse::<f32>().is_ok_and(|q| q == 0.0)))
        })
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    // Brotli copies made at build time are served as such to browsers that take them (the
    // WebAssembly is most of a first load over 3G); they are not files of their own.
    let original = find(name).filter(|_| !name.ends_with(".br"));
    let brotli = original
        .filter(|_| accepts_brotli(headers))
        .and_then(|_| find(&format!("{name}.br")));
    let Some((ctype, etag, bytes)) = original.map(|o| match brotli {
        Some(b) => (o.1, b.2, b.3),
        None => (o.1, o.2, o.3),
    }) else {
        let message = if files::FILES.is_empty() {
            "the web app was not built into this server: run `npm ci && npm run build` in clients/web and rebuild"
        } else {
            "no such file in the web app"
        };
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            message,
        )
            .into_response();
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(ctype))],
            bytes,
        )
            .into_response()
    };
    let h = resp.headers_mut();
    if brotli.is_some() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::ETAG, HeaderValue::from_static(etag));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if name == "sw.js" {
        h.insert("service-worker-allowed", HeaderValue::from_static("/app/"));
    }
    resp
}

/// `GET /app`: to `/app/`, so the app's relative URLs and service worker scope resolve.
#[utoipa::path(
    get,
    path = "/app",
    tag = "app",
    responses((status = 308, description = "Redirect to `/app/`")),
)]
pub async fn redirect() -> Redirect {
    Redirect::permanent("/app/")
}

/// `GET /app/`: the web app's page.
#[utoipa::path(
    get,
    path = "/app/",
    tag = "app",
    responses(
        (status = 200, description = "The web app (HTML)", content_type = "text/html"),
        (status = 304, description = "Not modified (ETag)"),
        (status = 404, description = "The app was not built into this server", content_type = "text/plain"),
    ),
)]
pub async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /app/{file}`: one file of the web app (scripts, styles, WebAssembly, icons, manifest,
/// service worker).
#[utoipa::path(
    get,
    path = "/app/{file}",
    tag = "app",
    params(("file" = String, Path, description = "A file name of the app, e.g. `app.js`")),
    responses(
        (status = 200, description = "The file, with its content type and an ETag"),
        (status = 304, description = "Not modified (ETag)"),
        (status = 404, description = "No such file", content_type = "text/plain"),
    ),
)]
pub async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}
