//! How a [`Reply`] is stored in the `outbox.reply` column: JSON through a private mirror
//! of its shape, so the commands crate stays free of serde and its types keep their
//! public shape. Attachments travel as base64: a chart PNG in the `image` member older
//! replicas read too, any other file (an incident's Markdown record) in `file`. Unknown
//! enum names read back as the default (a newer replica's style on an older one
//! degrades, never fails delivery).

use base64::Engine as _;
use opsbot_commands::{
    Button, Field, Reply, Status,
    reply::{Attachment, ButtonStyle, Visibility},
};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct ReplyDoc {
    #[serde(default)]
    title: String,
    #[serde(default)]
    status: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    lines: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    buttons: Vec<ButtonDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image: Option<ImageDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<FileDoc>,
    #[serde(default)]
    visibility: String,
}

#[derive(Serialize, Deserialize)]
struct FieldDoc {
    name: String,
    value: String,
    #[serde(default)]
    inline: bool,
}

#[derive(Serialize, Deserialize)]
struct ButtonDoc {
    label: String,
    command: String,
    #[serde(default)]
    style: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    confirm: Option<String>,
}

/// A PNG named after its title ([`Attachment::png`]), as every version stores it.
#[derive(Serialize, Deserialize)]
struct ImageDoc {
    title: String,
    /// Base64 (standard alphabet, padded).
    png: String,
}

/// Any other attachment.
#[derive(Serialize, Deserialize)]
struct FileDoc {
    title: String,
    name: String,
    media_type: String,
    /// Base64 (standard alphabet, padded).
    data: String,
}

/// A chart PNG stored the way replicas without [`FileDoc`] read it.
fn is_plain_png(file: &Attachment) -> bool {
    file.is_image() && file.name == Attachment::png(file.title.as_str(), Vec::new()).name
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Info => "info",
        Status::Success => "success",
        Status::Warning => "warning",
        Status::Danger => "danger",
    }
}

fn status_of(name: &str) -> Status {
    match name {
        "success" => Status::Success,
        "warning" => Status::Warning,
        "danger" => Status::Danger,
        _ => Status::Info,
    }
}

fn style_name(style: ButtonStyle) -> &'static str {
    match style {
        ButtonStyle::Default => "default",
        ButtonStyle::Primary => "primary",
        ButtonStyle::Danger => "danger",
    }
}

fn style_of(name: &str) -> ButtonStyle {
    match name {
        "primary" => ButtonStyle::Primary,
        "danger" => ButtonStyle::Danger,
        _ => ButtonStyle::Default,
    }
}

/// The JSON text stored for `reply`.
pub(crate) fn to_json(reply: &Reply) -> String {
    let doc = ReplyDoc {
        title: reply.title.clone(),
        status: status_name(reply.status).to_string(),
        lines: reply.lines.clone(),
        fields: reply
            .fields
            .iter()
            .map(|f| FieldDoc {
                name: f.name.clone(),
                value: f.value.clone(),
                inline: f.inline,
            })
            .collect(),
        buttons: reply
            .buttons
            .iter()
            .map(|b| ButtonDoc {
                label: b.label.clone(),
                command: b.command.clone(),
                style: style_name(b.style).to_string(),
                confirm: b.confirm.clone(),
            })
            .collect(),
        image: reply
            .attachment
            .as_ref()
            .filter(|file| is_plain_png(file))
            .map(|i| ImageDoc {
                title: i.title.clone(),
                png: base64::engine::general_purpose::STANDARD.encode(&i.bytes),
            }),
        file: reply
            .attachment
            .as_ref()
            .filter(|file| !is_plain_png(file))
            .map(|f| FileDoc {
                title: f.title.clone(),
                name: f.name.clone(),
                media_type: f.media_type.clone(),
                data: base64::engine::general_purpose::STANDARD.encode(&f.bytes),
            }),
        visibility: match reply.visibility {
            Visibility::Channel => "channel",
            Visibility::OnlyActor => "only_actor",
        }
        .to_string(),
    };
    // Strings, bools and vectors only: serialization cannot fail.
    serde_json::to_string(&doc).unwrap_or_default()
}

/// The reply stored as `json`.
pub(crate) fn from_json(json: &str) -> Result<Reply, String> {
    let doc: ReplyDoc = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let engine = base64::engine::general_purpose::STANDARD;
    let attachment = match (doc.image, doc.file) {
        (_, Some(file)) => Some(Attachment {
            title: file.title,
            name: file.name,
            media_type: file.media_type,
            bytes: engine
                .decode(file.data.as_bytes())
                .map_err(|e| format!("file: {e}"))?,
        }),
        (Some(image), None) => Some(Attachment::png(
            image.title,
            engine
                .decode(image.png.as_bytes())
                .map_err(|e| format!("image: {e}"))?,
        )),
        (None, None) => None,
    };
    Ok(Reply {
        title: doc.title,
        status: status_of(&doc.status),
        lines: doc.lines,
        fields: doc
            .fields
            .into_iter()
            .map(|f| Field {
                name: f.name,
                value: f.value,
                inline: f.inline,
            })
            .collect(),
        buttons: doc
            .buttons
            .into_iter()
            .map(|b| Button {
                label: b.label,
                command: b.command,
                style: style_of(&b.style),
                confirm: b.confirm,
            })
            .collect(),
        attachment,
        visibility: match doc.visibility.as_str() {
            "only_actor" => Visibility::OnlyActor,
            _ => Visibility::Channel,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_part() {
        let mut reply = Reply::danger("gateway is down")
            .line("probe `http` failed: 503")
            .field("service", "gateway")
            .button(
                Button::new("Restart", "restart gateway")
                    .danger()
                    .confirming("Sure?"),
            )
            .button(Button::new("Health", "health gateway").primary())
            .only_actor();
        reply.fields.push(Field {
            name: "block".into(),
            value: "x".into(),
            inline: false,
        });
        reply.attachment = Some(Attachment::png(
            "cost",
            vec![0x89, b'P', b'N', b'G', 0, 255],
        ));
        let json = to_json(&reply);
        assert_eq!(from_json(&json).unwrap(), reply);
        // A chart keeps the member older replicas read; another file has its own.
        assert!(json.contains(r#""image":{"title":"cost","png":"#), "{json}");
        let record = Reply::info("timeline").attach(Attachment::markdown(
            "Incident #3",
            "incident-3-timeline",
            "# Incident #3\n".into(),
        ));
        let json = to_json(&record);
        assert!(json.contains(r#""media_type":"text/markdown""#), "{json}");
        assert!(!json.contains(r#""image""#), "{json}");
        assert_eq!(from_json(&json).unwrap(), record);
        let plain = Reply::info("hi");
        assert_eq!(from_json(&to_json(&plain)).unwrap(), plain);
        assert_eq!(
            to_json(&plain),
            r#"{"title":"hi","status":"info","visibility":"channel"}"#
        );
    }

    #[test]
    fn tolerates_unknown_names_and_rejects_garbage() {
        let reply =
            from_json(r#"{"title":"t","status":"purple","visibility":"?","extra":1}"#).unwrap();
        assert_eq!(reply, Reply::info("t"));
        assert!(from_json("not json").is_err());
    }
}
