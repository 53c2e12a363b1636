//! The neutral rich reply every command returns and every chat adapter renders.
//!
//! A reply is data (title, text, fields, status colour, buttons, an optional file
//! [`Attachment`]: a chart PNG, an incident record in Markdown);
//! Slack turns it into Block Kit, Discord into an embed with components, the console
//! into plain lines. Buttons carry the command text their press runs, so a press goes
//! through the same pipeline (RBAC, audit) as typing that text.

/// Severity colour of a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Status {
    #[default]
    Info,
    Success,
    Warning,
    Danger,
}

impl Status {
    pub fn emoji(self) -> &'static str {
        match self {
            Status::Info => "ℹ️",
            Status::Success => "✅",
            Status::Warning => "⚠️",
            Status::Danger => "❌",
        }
    }
}

/// A labelled value; `inline` fields may be laid out side by side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: String,
    pub inline: bool,
}

/// How a button looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ButtonStyle {
    #[default]
    Default,
    Primary,
    Danger,
}

/// A button whose press runs `command` as the person who pressed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub command: String,
    pub style: ButtonStyle,
    /// When set, the platform asks "are you sure?" with this text before running.
    pub confirm: Option<String>,
}

impl Button {
    pub fn new(label: impl Into<String>, command: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            command: command.into(),
            style: ButtonStyle::Default,
            confirm: None,
        }
    }

    pub fn primary(mut self) -> Self {
        self.style = ButtonStyle::Primary;
        self
    }

    pub fn danger(mut self) -> Self {
        self.style = ButtonStyle::Danger;
        self
    }

    pub fn confirming(mut self, question: impl Into<String>) -> Self {
        self.confirm = Some(question.into());
        self
    }
}

/// The media type of a PNG [`Attachment`].
pub const PNG: &str = "image/png";
/// The media type of a Markdown [`Attachment`].
pub const MARKDOWN: &str = "text/markdown";

/// A file attached to a reply: a cost chart (PNG), an incident's timeline or postmortem
/// draft (Markdown). Slack uploads it, Discord attaches it (an image is also shown in the
/// embed), the console saves it and prints where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// What it is, for people (the Slack file title, the Discord description).
    pub title: String,
    /// The file name, with its extension (`incident-42-timeline.md`).
    pub name: String,
    /// `image/png`, `text/markdown`.
    pub media_type: String,
    pub bytes: Vec<u8>,
}

impl Attachment {
    /// A PNG named after its title (`alice-openai-daily-spend.png`).
    pub fn png(title: impl Into<String>, png: Vec<u8>) -> Self {
        let title = title.into();
        Self {
            name: format!("{}.png", file_stem(&title, "chart")),
            title,
            media_type: PNG.to_string(),
            bytes: png,
        }
    }

    /// A Markdown document named `NAME.md` (`name` reduced to a safe file stem).
    pub fn markdown(title: impl Into<String>, name: &str, text: String) -> Self {
        Self {
            title: title.into(),
            name: format!("{}.md", file_stem(name, "document")),
            media_type: MARKDOWN.to_string(),
            bytes: text.into_bytes(),
        }
    }

    /// Whether it is a picture that may be shown inline (a PNG).
    pub fn is_image(&self) -> bool {
        self.media_type == PNG
    }

    /// The file name's extension (`png`, `md`), empty when it has none.
    pub fn extension(&self) -> &str {
        self.name.rsplit_once('.').map_or("", |(_, ext)| ext)
    }
}

/// `text` with every character but ASCII letters and digits made a dash, without dashes
/// at either end, at most 60 characters; `fallback` when nothing is left. Safe as a file
/// name on every platform (no dots, no slashes).
pub fn file_stem(text: &str, fallback: &str) -> String {
    let stem: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let stem = stem.trim_matches('-');
    if stem.is_empty() {
        fallback.to_string()
    } else {
        stem.chars().take(60).collect()
    }
}

/// Who sees a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Visibility {
    /// Everyone in the channel or thread.
    #[default]
    Channel,
    /// Only the person who ran the command (Slack ephemeral, Discord ephemeral flag).
    OnlyActor,
}

/// A platform-neutral rich message.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Reply {
    pub title: String,
    pub status: Status,
    /// Body lines, plain text with `code` spans.
    pub lines: Vec<String>,
    pub fields: Vec<Field>,
    pub buttons: Vec<Button>,
    /// A file that goes with the reply (a chart, a Markdown record).
    pub attachment: Option<Attachment>,
    pub visibility: Visibility,
}

impl Reply {
    pub fn new(status: Status, title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            status,
            ..Self::default()
        }
    }

    pub fn info(title: impl Into<String>) -> Self {
        Self::new(Status::Info, title)
    }

    pub fn success(title: impl Into<String>) -> Self {
        Self::new(Status::Success, title)
    }

    pub fn warning(title: impl Into<String>) -> Self {
        Self::new(Status::Warning, title)
    }

    pub fn danger(title: impl Into<String>) -> Self {
        Self::new(Status::Danger, title)
    }

    pub fn line(mut self, line: impl Into<String>) -> Self {
        self.lines.push(line.into());
        self
    }

    pub fn lines(mut self, lines: impl IntoIterator<Item = String>) -> Self {
        self.lines.extend(lines);
        self
    }

    pub fn field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
            inline: true,
        });
        self
    }

    pub fn button(mut self, button: Button) -> Self {
        self.buttons.push(button);
        self
    }

    pub fn attach(mut self, attachment: Attachment) -> Self {
        self.attachment = Some(attachment);
        self
    }

    pub fn only_actor(mut self) -> Self {
        self.visibility = Visibility::OnlyActor;
        self
    }

    /// A one-line summary for audit rows and logs: the title, followed by the first line
    /// when the reply is a warning or a failure (that line says why).
    pub fn summary(&self) -> String {
        let mut summary = self.title.clone();
        if let Some(first) = self.lines.first() {
            if summary.is_empty() {
                summary = first.clone();
            } else if matches!(self.status, Status::Warning | Status::Danger) {
                summary = format!("{summary}: {first}");
            }
        }
        if summary.len() > 200 {
            let mut end = 200;
            while !summary.is_char_boundary(end) {
                end -= 1;
            }
            summary.truncate(end);
            summary.push('…');
        }
        summary
    }

    /// Plain text rendering used by the console and by tests.
    pub fn to_plain_text(&self) -> String {
        let mut out = format!("{} {}", self.status.emoji(), self.title);
        for line in &self.lines {
            out.push('\n');
            out.push_str(line);
        }
        for field in &self.fields {
            out.push_str(&format!("\n  {}: {}", field.name, field.value));
        }
        if !self.buttons.is_empty() {
            out.push_str("\n  ");
            let labels: Vec<String> = self
                .buttons
                .iter()
                .map(|b| format!("[{}: `{}`]", b.label, b.command))
                .collect();
            out.push_str(&labels.join(" "));
        }
        if let Some(file) = &self.attachment {
            let kind = if file.is_image() { "image" } else { "file" };
            out.push_str(&format!(
                "\n  ({kind}: {}, {} bytes)",
                file.title,
                file.bytes.len()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_file_names_are_safe() {
        let name = |title: &str| Attachment::png(title, Vec::new()).name;
        assert_eq!(name("Cost by day (EUR)"), "Cost-by-day--EUR.png");
        assert_eq!(name("../../etc"), "etc.png");
        assert_eq!(name("…"), "chart.png");
    }

    #[test]
    fn markdown_files_are_named_and_typed() {
        let file = Attachment::markdown("Incident #42", "incident 42/timeline", "# x".into());
        assert_eq!(file.name, "incident-42-timeline.md");
        assert_eq!(file.media_type, MARKDOWN);
        assert_eq!(file.extension(), "md");
        assert!(!file.is_image());
        assert_eq!(file.bytes, b"# x");
        assert!(Attachment::png("c", vec![1]).is_image());
    }
}
