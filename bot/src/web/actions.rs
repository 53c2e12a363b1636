//! `POST /ui/incidents/ID/ACTION` (ack, resolve, reopen, note): each is the chat command
//! it stands for (`incident ack 7`), run through the engine as the signed-in identity via
//! [`Platform::Web`], so it is authorized by the same policy and audited like chat. A
//! POST without the session's CSRF token is refused before anything runs.

use axum::{
    Form,
    extract::{Path, State},
    response::Response,
};
use opsbot_commands::{Invocation, Platform, context::NoProgress};
use serde::Deserialize;

use super::{WebConsole, error::WebError, incident_page, session::SignedIn, token};

/// The audit channel of web actions.
pub const CHANNEL: &str = "web";

#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
}

/// Refuses a form without the session's CSRF token.
pub fn check_csrf(signed_in: &SignedIn, offered: &str) -> Result<(), WebError> {
    if token::csrf_matches(&signed_in.session.token, offered) {
        Ok(())
    } else {
        Err(WebError::Forbidden(
            "refused: the form lacks this session's CSRF token; reload the page and try again"
                .into(),
        ))
    }
}

/// The chat command a button stands for.
fn command(id: i64, action: &str, note: &str) -> Result<String, WebError> {
    match action {
        "ack" | "resolve" | "reopen" => Ok(format!("incident {action} {id}")),
        "note" => {
            let note = note.split_whitespace().collect::<Vec<_>>().join(" ");
            if note.is_empty() {
                return Err(WebError::Bad("a note needs some text".into()));
            }
            Ok(format!("incident note {id} {note}"))
        }
        other => Err(WebError::NotFound(format!(
            "`{other}` is not an action on incidents (ack, resolve, reopen, note)"
        ))),
    }
}

pub async fn act(
    State(console): State<WebConsole>,
    signed_in: SignedIn,
    Path((id, action)): Path<(i64, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, WebError> {
    check_csrf(&signed_in, &form.csrf)?;
    let text = command(id, &action, &form.text)?;
    let invocation =
        Invocation::new(signed_in.session.actor.clone(), CHANNEL, text).via(Platform::Web);
    let reply = console.engine().handle(&invocation, &NoProgress).await;
    incident_page::render(&console, &signed_in.access, id, Some(&reply)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_stand_for_incident_commands() {
        assert_eq!(command(7, "ack", "").unwrap(), "incident ack 7");
        assert_eq!(command(7, "resolve", "x").unwrap(), "incident resolve 7");
        assert_eq!(
            command(7, "note", " rolled\nback  the gateway ").unwrap(),
            "incident note 7 rolled back the gateway"
        );
        assert!(matches!(command(7, "note", "  "), Err(WebError::Bad(_))));
        assert!(matches!(
            command(7, "delete", ""),
            Err(WebError::NotFound(_))
        ));
    }
}
