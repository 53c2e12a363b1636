//! The page chrome every console page shares: the document, the stylesheet and script
//! (served from [`super::assets`]), the navigation (only the pages the identity's roles
//! allow), and the security headers of every page (no framing, no caching, scripts and
//! styles from this origin only).

use axum::{
    http::header,
    response::{IntoResponse, Response},
};
use maud::{DOCTYPE, Markup, html};

use super::access::Access;

/// Headers on every console page.
const SECURITY_HEADERS: [(header::HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CACHE_CONTROL, "no-store"),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// A page of a signed-in identity: navigation, who they are, sign out.
pub fn page(title: &str, access: &Access, body: Markup) -> Response {
    document(
        title,
        html! {
            nav {
                strong { "opsbot" }
                @if access.incidents { a href="/ui/incidents" { "Incidents" } a href="/ui/stats" { "Stats" } }
                @if access.runbooks { a href="/ui/runbooks" { "Runbooks" } }
                @if access.services { a href="/ui/services" { "Services" } }
                @if access.audit { a href="/ui/audit" { "Audit" } }
                span.who { "Signed in as " (access.actor.label()) }
                form method="post" action="/ui/signout" {
                    input type="hidden" name="csrf" value=(access.csrf);
                    button type="submit" { "Sign out" }
                }
            }
            main { h1 { (title) } (body) }
        },
    )
}

/// A page without navigation (sign-in, errors).
pub fn bare(title: &str, body: Markup) -> Response {
    document(title, html! { main { h1 { (title) } (body) } })
}

fn document(title: &str, content: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · opsbot" }
                link rel="stylesheet" href="/ui/assets/console.css";
                script src="/ui/assets/console.js" defer {}
            }
            body { (content) }
        }
    };
    fragment(markup)
}

/// A piece of a page (live updates replace part of a page with it).
pub fn fragment(markup: Markup) -> Response {
    (
        SECURITY_HEADERS,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        markup.into_string(),
    )
        .into_response()
}
