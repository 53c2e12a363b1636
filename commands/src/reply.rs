//! The neutral rich reply every command returns and every chat adapter renders.
//!
//! A reply is data (title, text, fields, status colour, buttons, an optional image);
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

/// A PNG attached to a reply (a cost chart, for example).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub title: String,
    pub png: Vec<u8>,
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
    pub image: Option<Image>,
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
        if let Some(image) = &self.image {
            out.push_str(&format!(
                "\n  (image: {}, {} bytes)",
                image.title,
                image.png.len()
            ));
        }
        out
    }
}
