//! The console's only static files, vendored here and compiled in: a small stylesheet and
//! a small script (live updates of an incident page over server-sent events). No build
//! chain, no CDN.

use axum::{http::header, response::IntoResponse};

pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("console.css"),
    )
}

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        include_str!("console.js"),
    )
}
