//! `web`: a one-time link, shown only to the person who asked, that signs them in to the
//! web console as their chat identity (what they may see and do there is what their roles
//! allow here).

use std::time::Duration;

use crate::{
    CommandError, Ctx, Reply,
    command::{Command, Handler},
    language::Call,
    registry::{Safety, ServiceArg},
};

pub static COMMAND: Command = Command {
    name: "web",
    summary: "Get a one-time link that signs you in to the web console",
    service: ServiceArg::None,
    args: &[],
    flags: &[],
    safety: Safety::ReadOnly,
    timeout: Duration::from_secs(10),
    examples: &["web"],
    handler: Handler::Runs {
        run: |call, ctx| Box::pin(run(call, ctx)),
        precheck: None,
    },
};

pub async fn run(_call: &Call<'_>, ctx: Ctx<'_>) -> Result<Reply, CommandError> {
    let link = ctx
        .web
        .link(&ctx.invocation.actor)
        .await
        .map_err(CommandError::Failed)?;
    Ok(Reply::success("Your sign-in link to the web console")
        .line(link.url)
        .line(format!(
            "It works once, for {}, and signs you in as {}. Do not share it.",
            in_words(link.valid_for),
            ctx.invocation.actor.label()
        ))
        .only_actor())
}

/// `5 minutes`, `90 seconds`.
fn in_words(valid_for: Duration) -> String {
    let secs = valid_for.as_secs();
    match secs {
        60 => "1 minute".into(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        Actor, Status,
        builtin::testing::run_with_web,
        web_sign_in::{NO_WEB_CONSOLE, NoWebConsole, SignInLink, WebSignIn},
    };

    struct FixedLinks;

    #[async_trait::async_trait]
    impl WebSignIn for FixedLinks {
        async fn link(&self, actor: &Actor) -> Result<SignInLink, String> {
            Ok(SignInLink {
                url: format!("https://ops.example/ui/signin/{}", actor.id),
                valid_for: Duration::from_secs(300),
            })
        }
    }

    async fn run_web(web: &dyn WebSignIn) -> Result<Reply, CommandError> {
        run_with_web("web", web).await
    }

    #[tokio::test]
    async fn answers_only_the_asker_with_their_link() {
        let reply = run_web(&FixedLinks).await.unwrap();
        assert_eq!(reply.status, Status::Success);
        assert_eq!(reply.visibility, crate::reply::Visibility::OnlyActor);
        assert_eq!(reply.lines[0], "https://ops.example/ui/signin/tester");
        assert!(reply.lines[1].contains("5 minutes"), "{:?}", reply.lines);
        assert!(
            reply.lines[1].contains("Tester (console:tester)"),
            "{:?}",
            reply.lines
        );
    }

    #[tokio::test]
    async fn says_why_when_there_is_no_web_console() {
        let error = run_web(&NoWebConsole).await.unwrap_err();
        assert_eq!(error.to_string(), NO_WEB_CONSOLE);
    }

    #[test]
    fn lifetimes_read_as_people_say_them() {
        assert_eq!(in_words(Duration::from_secs(60)), "1 minute");
        assert_eq!(in_words(Duration::from_secs(600)), "10 minutes");
        assert_eq!(in_words(Duration::from_secs(90)), "90 seconds");
    }
}
