//! The sign-in pages: a link from chat (`/ui/signin/TOKEN`) shows a button, and pressing
//! it (`POST /ui/signin`) consumes the link and sets the session cookie. The link is only
//! consumed by that POST, so a chat client that previews links cannot use it up. Also the
//! home page (`/ui/`) and signing out.

use axum::{
    Form,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use maud::html;
use serde::Deserialize;

use super::{
    WebConsole,
    error::WebError,
    layout,
    session::{self, SignedIn},
    sign_in::SignInError,
    token,
};

/// `/ui/signin/TOKEN`: "Sign in" (the link is not used until the button is pressed).
pub async fn confirm(Path(link): Path<String>) -> Result<Response, WebError> {
    if !token::well_formed(&link) {
        return Err(WebError::Bad(
            "this is not a sign-in link; type `web` in chat for one".into(),
        ));
    }
    Ok(layout::bare(
        "Sign in to opsbot",
        html! {
            p { "This one-time link signs you in as the chat identity that asked for it." }
            form method="post" action="/ui/signin" {
                input type="hidden" name="token" value=(link);
                button #sign-in type="submit" { "Sign in" }
            }
        },
    ))
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    token: String,
}

/// `POST /ui/signin`: consumes the link (once) and sets the session cookie.
pub async fn sign_in(
    State(console): State<WebConsole>,
    Form(form): Form<SignInForm>,
) -> Result<Response, WebError> {
    let now = jiff::Timestamp::now();
    let session = match console.sign_ins().consume(&form.token, now).await {
        Ok(session) => session,
        Err(SignInError::InvalidLink) => {
            return Err(WebError::Forbidden(SignInError::InvalidLink.to_string()));
        }
        Err(SignInError::Random(why)) => return Err(WebError::Failed(why)),
        Err(SignInError::Store(error)) => return Err(WebError::Store(error)),
    };
    tracing::info!(actor = %session.actor.key(), "signed in to the web console");
    let cookie = session::set_cookie(&session, console.secure_cookies(), now);
    Ok((
        StatusCode::SEE_OTHER,
        [(header::SET_COOKIE, cookie)],
        Redirect::to("/ui/"),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /ui/signout`: ends the session.
pub async fn sign_out(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    super::actions::check_csrf(&signed_in, &form.csrf)?;
    console.sign_ins().end(&signed_in.session.token).await?;
    Ok((
        StatusCode::SEE_OTHER,
        [(
            header::SET_COOKIE,
            session::clear_cookie(console.secure_cookies()),
        )],
        Redirect::to("/ui/signin"),
    )
        .into_response())
}

/// `GET /ui/signin`: where signing out (or a session that ended) leads.
pub async fn signed_out() -> Response {
    layout::bare(
        "Signed out",
        html! { p { "Type `web` in chat for a new sign-in link." } },
    )
}

/// `/ui/`: the incidents when the roles allow them, else what the roles allow.
pub async fn home(signed_in: SignedIn) -> Response {
    let access = &signed_in.access;
    if access.incidents {
        return Redirect::to("/ui/incidents").into_response();
    }
    layout::page(
        "opsbot",
        access,
        html! {
            @if access.audit || access.runbooks || access.services {
                @if access.audit { p { a href="/ui/audit" { "Search the audit log" } } }
                @if access.runbooks { p { a href="/ui/runbooks" { "Runbook runs" } } }
                @if access.services { p { a href="/ui/services" { "Services" } } }
            } @else {
                p { "Your roles allow no page of the web console. `whoami` in chat says what they allow." }
            }
        },
    )
}
