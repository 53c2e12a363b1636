//! A neutral [`Reply`] as a Discord message: one embed (title, body lines, fields, the
//! status as its colour, a file as an attachment, shown in the embed when it is an
//! image) and rows of buttons whose
//! `custom_id` carries the command a press runs ([`crate::custom_id`]).
//!
//! Discord's limits are kept by cutting (title 256, description 4096, 25 fields of
//! 256/1024, 5 rows of 5 buttons); a button whose command does not fit in a `custom_id`
//! becomes a "type `COMMAND`" line instead. Mentions in the body (`<@id>`, `<@&role>`)
//! are repeated in the message content, because mentions inside embeds notify nobody.
//! Every body says `components` and `content` explicitly, so an edit also removes the
//! buttons and mentions of what it replaces.

use opsbot_commands::{
    Reply, Status,
    reply::{ButtonStyle, Visibility},
};
use serde_json::{Value, json};
use serenity::{
    builder::{CreateActionRow, CreateButton, CreateEmbed},
    model::application::ButtonStyle as DiscordButtonStyle,
};

use crate::custom_id::ButtonAction;

const MAX_TITLE: usize = 256;
const MAX_DESCRIPTION: usize = 4096;
const MAX_FIELDS: usize = 25;
const MAX_FIELD_NAME: usize = 256;
const MAX_FIELD_VALUE: usize = 1024;
/// Title, description and fields of an embed together.
const MAX_EMBED: usize = 6000;
const BUTTONS_PER_ROW: usize = 5;
const MAX_ROWS: usize = 5;
/// `flags` bit of an ephemeral message (only the person who ran the command sees it).
pub const EPHEMERAL: u64 = 1 << 6;
/// The file name an image is attached under (other files keep their own name).
pub const IMAGE_FILE: &str = "image.png";

/// A message ready to send: the JSON body and the files to attach (multipart).
#[derive(Clone, Debug, PartialEq)]
pub struct MessageBody {
    pub json: Value,
    /// `(file name, bytes)`
    pub files: Vec<(String, Vec<u8>)>,
    /// Whether the reply is meant for its requester only.
    pub only_actor: bool,
}

/// The longest nonce Discord takes.
pub const MAX_NONCE: usize = 25;

impl MessageBody {
    /// Marks the message ephemeral (interaction responses and follow-ups only).
    pub fn ephemeral(mut self) -> Self {
        self.json["flags"] = json!(EPHEMERAL);
        self
    }

    /// Makes a channel message idempotent: sent with `nonce` and `enforce_nonce`, Discord
    /// creates it once, and a second create with the same nonce by the same bot within a
    /// few minutes returns the message created first instead of posting again
    /// (https://discord.com/developers/docs/resources/message#create-message). At most
    /// [`MAX_NONCE`] characters; a longer one is not set (the message is still posted).
    pub fn with_nonce(mut self, nonce: &str) -> Self {
        if !nonce.is_empty() && nonce.len() <= MAX_NONCE {
            self.json["nonce"] = json!(nonce);
            self.json["enforce_nonce"] = json!(true);
        }
        self
    }
}

/// Embed colour of a status (Discord's palette).
pub fn colour(status: Status) -> u32 {
    match status {
        Status::Info => 0x5865F2,
        Status::Success => 0x57F287,
        Status::Warning => 0xFEE75C,
        Status::Danger => 0xED4245,
    }
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn style(style: ButtonStyle) -> DiscordButtonStyle {
    match style {
        ButtonStyle::Default => DiscordButtonStyle::Secondary,
        ButtonStyle::Primary => DiscordButtonStyle::Primary,
        ButtonStyle::Danger => DiscordButtonStyle::Danger,
    }
}

/// Renders `reply` as a message body.
pub fn render(reply: &Reply) -> MessageBody {
    let mut lines = reply.lines.clone();
    let mut buttons = Vec::new();
    for button in &reply.buttons {
        let action = match &button.confirm {
            Some(_) => ButtonAction::Ask(button.command.clone()),
            None => ButtonAction::Run(button.command.clone()),
        };
        match action.encode() {
            Some(id) if buttons.len() < BUTTONS_PER_ROW * MAX_ROWS => buttons.push(
                CreateButton::new(id)
                    .label(cut(&button.label, 80))
                    .style(style(button.style)),
            ),
            _ => lines.push(format!("{}: type `{}`", button.label, button.command)),
        }
    }
    let rows: Vec<CreateActionRow> = buttons
        .chunks(BUTTONS_PER_ROW)
        .map(|row| CreateActionRow::Buttons(row.to_vec()))
        .collect();
    let title = cut(
        &format!("{} {}", reply.status.emoji(), reply.title),
        MAX_TITLE,
    );
    let mut budget = MAX_EMBED - title.chars().count();
    let mut embed = CreateEmbed::new().title(title).colour(colour(reply.status));
    let description = lines.join("\n");
    if !description.is_empty() {
        let description = cut(&description, MAX_DESCRIPTION.min(budget));
        budget -= description.chars().count();
        embed = embed.description(description);
    }
    for field in reply.fields.iter().take(MAX_FIELDS) {
        let value = if field.value.trim().is_empty() {
            "-"
        } else {
            &field.value
        };
        let name = cut(&field.name, MAX_FIELD_NAME);
        let value = cut(value, MAX_FIELD_VALUE);
        let size = name.chars().count() + value.chars().count();
        if size > budget {
            break;
        }
        budget -= size;
        embed = embed.field(name, value, field.inline);
    }
    let mut files = Vec::new();
    let mut attachments = Vec::new();
    if let Some(file) = &reply.attachment {
        let name = if file.is_image() {
            embed = embed.image(format!("attachment://{IMAGE_FILE}"));
            IMAGE_FILE.to_string()
        } else {
            file.name.clone()
        };
        files.push((name.clone(), file.bytes.clone()));
        attachments.push(json!({"id": 0, "filename": name, "description": cut(&file.title, 1024)}));
    }
    let mut json = json!({
        "content": mentions(&lines).join(" "),
        "embeds": [embed],
        "components": rows,
        "allowed_mentions": {"parse": ["users", "roles"]},
    });
    if !attachments.is_empty() {
        json["attachments"] = Value::Array(attachments);
    }
    MessageBody {
        json,
        files,
        only_actor: reply.visibility == Visibility::OnlyActor,
    }
}

/// `<@123>`, `<@!123>` and `<@&456>` tokens in `lines`, once each.
fn mentions(lines: &[String]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for line in lines {
        let mut rest = line.as_str();
        while let Some(start) = rest.find("<@") {
            let tail = &rest[start..];
            let Some(end) = tail.find('>') else { break };
            let token = &tail[..=end];
            let id = token[2..token.len() - 1].trim_start_matches(['!', '&']);
            if !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !found.iter().any(|f| f == token)
            {
                found.push(token.to_string());
            }
            rest = &tail[end + 1..];
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use opsbot_commands::{Button, reply::Attachment};

    use super::*;

    #[test]
    fn replies_become_an_embed_with_buttons() {
        let reply = Reply::danger("wrkhrs-gateway is down")
            .line("paging <@&41771983423143936> and <@80351110224678912>")
            .field("Service", "wrkhrs-gateway")
            .field("Empty", "")
            .button(Button::new("Acknowledge", "incident ack 4").primary())
            .button(
                Button::new("Restart", "restart wrkhrs-gateway")
                    .danger()
                    .confirming("Restart?"),
            )
            .button(Button::new("Too long", format!("note {}", "x".repeat(120))));
        let body = render(&reply);
        let embed = &body.json["embeds"][0];
        assert_eq!(embed["title"], "❌ wrkhrs-gateway is down");
        assert_eq!(embed["color"], 0xED4245);
        assert_eq!(
            embed["fields"][0],
            json!({"name": "Service", "value": "wrkhrs-gateway", "inline": true})
        );
        assert_eq!(embed["fields"][1]["value"], "-");
        assert!(
            embed["description"]
                .as_str()
                .unwrap()
                .contains("Too long: type `note xxx")
        );
        assert_eq!(
            body.json["content"],
            "<@&41771983423143936> <@80351110224678912>"
        );
        let row = &body.json["components"][0];
        assert_eq!(row["type"], 1);
        assert_eq!(row["components"].as_array().unwrap().len(), 2);
        assert_eq!(row["components"][0]["custom_id"], "run:incident ack 4");
        assert_eq!(row["components"][0]["style"], 1);
        assert_eq!(
            row["components"][1]["custom_id"],
            "ask:restart wrkhrs-gateway"
        );
        assert_eq!(row["components"][1]["style"], 4);
        assert!(!body.only_actor && body.files.is_empty());
    }

    #[test]
    fn edits_clear_buttons_and_images_are_attached() {
        let mut reply = Reply::success("resolved").only_actor();
        reply.attachment = Some(Attachment::png("cost", vec![0x89, b'P', b'N', b'G']));
        let body = render(&reply).ephemeral();
        assert_eq!(body.json["components"], json!([]));
        assert_eq!(body.json["content"], "");
        assert_eq!(body.json["flags"], 64);
        assert_eq!(
            body.json["embeds"][0]["image"]["url"],
            "attachment://image.png"
        );
        assert_eq!(
            body.files,
            vec![(IMAGE_FILE.to_string(), vec![0x89, b'P', b'N', b'G'])]
        );
        assert!(body.only_actor);
    }

    #[test]
    fn other_files_are_attached_under_their_name_outside_the_embed() {
        let reply = Reply::info("Incident #4 timeline").attach(Attachment::markdown(
            "Incident #4",
            "incident-4-timeline",
            "# Incident #4".into(),
        ));
        let body = render(&reply);
        assert!(body.json["embeds"][0]["image"].is_null(), "{}", body.json);
        assert_eq!(
            body.json["attachments"][0]["filename"],
            "incident-4-timeline.md"
        );
        assert_eq!(
            body.files,
            vec![(
                "incident-4-timeline.md".to_string(),
                b"# Incident #4".to_vec()
            )]
        );
    }

    #[test]
    fn limits_are_kept() {
        let mut reply = Reply::info("t".repeat(300));
        for i in 0..30 {
            reply = reply.field(format!("f{i}"), "v".repeat(2000));
            reply = reply.button(Button::new(format!("b{i}"), format!("health s{i}")));
        }
        let body = render(&reply);
        let embed = &body.json["embeds"][0];
        assert_eq!(embed["title"].as_str().unwrap().chars().count(), 256);
        let fields = embed["fields"].as_array().unwrap();
        assert_eq!(fields[0]["value"].as_str().unwrap().chars().count(), 1024);
        let total: usize = [&embed["title"], &embed["description"]]
            .into_iter()
            .chain(fields.iter().flat_map(|f| [&f["name"], &f["value"]]))
            .map(|v| v.as_str().unwrap().chars().count())
            .sum();
        assert!(
            total <= 6000 && fields.len() == 5,
            "{total} in {} fields",
            fields.len()
        );
        let rows = body.json["components"].as_array().unwrap();
        assert_eq!(rows.len(), 5);
        assert!(
            embed["description"]
                .as_str()
                .unwrap()
                .contains("b29: type `health s29`")
        );
    }
}
