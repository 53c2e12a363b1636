//! Block Kit rendering of the neutral [`Reply`]: the status colour is the bar of one
//! attachment holding the blocks (Block Kit itself has no colour); the title is a bold
//! section with the status emoji, body lines one `mrkdwn` section, fields a fields
//! section (Slack allows ten per section), buttons an actions block whose `value` is the
//! command text a press runs, with a Block Kit confirm dialog where the button asks
//! "are you sure?". The top-level `text` is the plain-text fallback for notifications.
//!
//! Files: a reply with an attachment (the `/cost` chart, an incident's Markdown record)
//! is shared as an uploaded file whose message is the reply's blocks
//! ([`file_share_blocks`]; the file share message has no colour bar). Where no file can
//! go (an ephemeral message) [`render`] names the file in a context line instead.
//!
//! Slack's limits are kept: section text 3,000 characters, button labels 75, values
//! 2,000, 25 buttons, 50 blocks.

use opsbot_commands::{Button, Reply, Status, reply::ButtonStyle};
use slack_morphism::prelude::{
    SlackActionId, SlackActionsBlock, SlackBlock, SlackBlockButtonElement, SlackBlockButtonStyle,
    SlackBlockConfirmItem, SlackBlockMarkDownText, SlackBlockPlainText, SlackBlockText,
    SlackContextBlock, SlackContextBlockElement, SlackMessageAttachment, SlackMessageContent,
    SlackSectionBlock,
};

const SECTION_TEXT_MAX: usize = 3_000;
const FIELD_MAX: usize = 2_000;
const FIELDS_PER_SECTION: usize = 10;
const BUTTON_LABEL_MAX: usize = 75;
const BUTTON_VALUE_MAX: usize = 2_000;
const BUTTONS_MAX: usize = 25;
const FALLBACK_MAX: usize = 3_000;

/// The attachment bar colour of a status.
pub fn colour(status: Status) -> &'static str {
    match status {
        Status::Info => "#439fe0",
        Status::Success => "#2eb67d",
        Status::Warning => "#ecb22e",
        Status::Danger => "#e01e5a",
    }
}

/// `text` cut to at most `max` characters (an ellipsis marks the cut).
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Escapes `&`, `<` and `>`, which Slack treats as control characters in text.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn markdown(text: String) -> SlackBlockText {
    SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text))
}

fn plain(text: &str) -> SlackBlockPlainText {
    SlackBlockPlainText::new(text.to_string())
}

fn button(index: usize, button: &Button) -> SlackBlockButtonElement {
    let mut element =
        SlackBlockButtonElement::new(plain(&cut(&button.label, BUTTON_LABEL_MAX)).into())
            .with_action_id(SlackActionId(format!("opsbot:{index}")))
            .with_value(cut(&button.command, BUTTON_VALUE_MAX));
    element.style = match button.style {
        ButtonStyle::Default => None,
        ButtonStyle::Primary => Some(SlackBlockButtonStyle::Primary),
        ButtonStyle::Danger => Some(SlackBlockButtonStyle::Danger),
    };
    if let Some(question) = &button.confirm {
        let mut confirm = SlackBlockConfirmItem::new(
            plain("Are you sure?").into(),
            markdown(cut(&escape(question), 300)),
            plain(&cut(&button.label, 30)).into(),
            plain("Cancel").into(),
        );
        if button.style == ButtonStyle::Danger {
            confirm.style = Some("danger".into());
        }
        element.confirm = Some(confirm);
    }
    element
}

/// The blocks of `reply` (without the colour bar).
pub fn blocks(reply: &Reply) -> Vec<SlackBlock> {
    let mut blocks: Vec<SlackBlock> = Vec::new();
    let title = format!("{} *{}*", reply.status.emoji(), escape(&reply.title));
    blocks.push(
        SlackSectionBlock::new()
            .with_text(markdown(cut(&title, SECTION_TEXT_MAX)))
            .into(),
    );
    if !reply.lines.is_empty() {
        let body: Vec<String> = reply.lines.iter().map(|l| escape(l)).collect();
        // Long bodies (logs) are split over sections of at most 3,000 characters.
        let mut chunk = String::new();
        for line in body {
            if !chunk.is_empty() && chunk.len() + line.len() + 1 > SECTION_TEXT_MAX {
                blocks.push(
                    SlackSectionBlock::new()
                        .with_text(markdown(std::mem::take(&mut chunk)))
                        .into(),
                );
            }
            if !chunk.is_empty() {
                chunk.push('\n');
            }
            chunk.push_str(&cut(&line, SECTION_TEXT_MAX));
        }
        if !chunk.is_empty() {
            blocks.push(SlackSectionBlock::new().with_text(markdown(chunk)).into());
        }
    }
    for fields in reply.fields.chunks(FIELDS_PER_SECTION) {
        let fields: Vec<SlackBlockText> = fields
            .iter()
            .map(|f| {
                markdown(cut(
                    &format!("*{}*\n{}", escape(&f.name), escape(&f.value)),
                    FIELD_MAX,
                ))
            })
            .collect();
        blocks.push(SlackSectionBlock::new().with_fields(fields).into());
    }
    if let Some(file) = &reply.attachment {
        blocks.push(
            SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
                SlackBlockMarkDownText::new(format!(
                    "{} {} ({} bytes, not uploaded to Slack)",
                    if file.is_image() { "🖼" } else { "📄" },
                    escape(&file.title),
                    file.bytes.len()
                )),
            )])
            .into(),
        );
    }
    if !reply.buttons.is_empty() {
        let elements = reply
            .buttons
            .iter()
            .take(BUTTONS_MAX)
            .enumerate()
            .map(|(index, b)| button(index, b).into())
            .collect();
        blocks.push(SlackActionsBlock::new(elements).into());
    }
    blocks.truncate(50);
    blocks
}

/// The message of a file share carrying `reply`'s attachment: the reply's blocks, without
/// the line naming the file (the file is there).
pub fn file_share_blocks(reply: &Reply) -> Vec<SlackBlock> {
    let without_file = Reply {
        attachment: None,
        ..reply.clone()
    };
    blocks(&without_file)
}

/// The whole message content of `reply`: fallback text and a coloured attachment with
/// the blocks.
pub fn render(reply: &Reply) -> SlackMessageContent {
    let fallback = cut(
        &format!("{} {}", reply.status.emoji(), reply.title),
        FALLBACK_MAX,
    );
    let attachment = SlackMessageAttachment::new()
        .with_color(colour(reply.status).to_string())
        .with_fallback(fallback.clone())
        .with_blocks(blocks(reply));
    SlackMessageContent::new()
        .with_text(fallback)
        .with_attachments(vec![attachment])
}

#[cfg(test)]
mod tests {
    use opsbot_commands::{Button, reply::Attachment};
    use serde_json::json;

    use super::*;

    fn rendered(reply: &Reply) -> serde_json::Value {
        serde_json::to_value(render(reply)).unwrap()
    }

    #[test]
    fn title_lines_fields_and_colour() {
        let reply = Reply::danger("gateway <down>")
            .line("503 from /healthz")
            .line("since 10:02")
            .field("Severity", "critical")
            .field("Service", "wrkhrs-gateway (prod)");
        let value = rendered(&reply);
        assert_eq!(value["text"], "❌ gateway <down>");
        let attachment = &value["attachments"][0];
        assert_eq!(attachment["color"], "#e01e5a");
        let blocks = attachment["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "section");
        assert_eq!(blocks[0]["text"]["type"], "mrkdwn");
        assert_eq!(blocks[0]["text"]["text"], "❌ *gateway &lt;down&gt;*");
        assert_eq!(blocks[1]["text"]["text"], "503 from /healthz\nsince 10:02");
        assert_eq!(blocks[2]["fields"][0]["text"], "*Severity*\ncritical");
        assert_eq!(
            blocks[2]["fields"][1]["text"],
            "*Service*\nwrkhrs-gateway (prod)"
        );
        assert_eq!(blocks.len(), 3);
    }

    #[test]
    fn buttons_carry_command_text_and_confirm_dialogs() {
        let reply = Reply::warning("Incident #7")
            .button(Button::new("Acknowledge", "incident ack 7").primary())
            .button(
                Button::new("Restart", "restart wrkhrs-gateway")
                    .danger()
                    .confirming("Restart wrkhrs-gateway?"),
            );
        let value = rendered(&reply);
        let blocks = value["attachments"][0]["blocks"].as_array().unwrap();
        let actions = blocks.last().unwrap();
        assert_eq!(actions["type"], "actions");
        let ack = &actions["elements"][0];
        assert_eq!(ack["type"], "button");
        assert_eq!(ack["value"], "incident ack 7");
        assert_eq!(ack["style"], "primary");
        assert_eq!(ack["action_id"], "opsbot:0");
        assert!(ack.get("confirm").is_none());
        let restart = &actions["elements"][1];
        assert_eq!(restart["style"], "danger");
        assert_eq!(restart["value"], "restart wrkhrs-gateway");
        assert_eq!(
            restart["confirm"],
            json!({
                "title": {"type": "plain_text", "text": "Are you sure?"},
                "text": {"type": "mrkdwn", "text": "Restart wrkhrs-gateway?"},
                "confirm": {"type": "plain_text", "text": "Restart"},
                "deny": {"type": "plain_text", "text": "Cancel"},
                "style": "danger"
            })
        );
    }

    #[test]
    fn limits_are_kept() {
        let long = "x".repeat(2_500);
        let mut reply = Reply::info("logs");
        for _ in 0..5 {
            reply = reply.line(long.clone());
        }
        for i in 0..12 {
            reply = reply.field(format!("f{i}"), "v");
        }
        for i in 0..30 {
            reply = reply.button(Button::new("y".repeat(100), format!("health s{i}")));
        }
        let value = rendered(&reply);
        let blocks = value["attachments"][0]["blocks"].as_array().unwrap();
        for block in blocks {
            if let Some(text) = block["text"]["text"].as_str() {
                assert!(text.chars().count() <= SECTION_TEXT_MAX);
            }
        }
        let sections_with_fields: Vec<_> = blocks
            .iter()
            .filter(|b| b.get("fields").is_some())
            .collect();
        assert_eq!(sections_with_fields.len(), 2);
        let actions = blocks.last().unwrap();
        let elements = actions["elements"].as_array().unwrap();
        assert_eq!(elements.len(), 25);
        assert_eq!(
            elements[0]["text"]["text"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            75
        );
    }

    #[test]
    fn an_image_is_named() {
        let mut reply = Reply::info("cost");
        reply.attachment = Some(Attachment::png("cost by day", vec![0; 42]));
        let value = rendered(&reply);
        let text = value.to_string();
        assert!(text.contains("cost by day (42 bytes"), "{text}");
        let shared = serde_json::to_value(file_share_blocks(&reply)).unwrap();
        assert!(!shared.to_string().contains("42 bytes"), "{shared}");
        assert_eq!(shared[0]["text"]["text"], "ℹ️ *cost*");
    }
}
