//! How a storm board looks, as neutral [`Reply`]s (one per board message): counts by
//! service and severity, then one compact line per folded incident (id, service, alert,
//! severity, firing count), most severe first, with buttons to acknowledge a service's
//! incidents or open one incident's thread. A board longer than one message continues
//! in the next ("page"): every page keeps within [`PAGE_CHARS`] of text and 25 buttons,
//! which both Slack (3,000 per section, 25 buttons) and Discord (2,000 characters,
//! five rows of five buttons) take.
//!
//! Pure: the keeper (`super::keeper`) reads the lines from the store and posts or edits
//! the pages through the outbox.

use std::collections::BTreeMap;

use opsbot_commands::{Button, Reply, Status};
use sha2::{Digest, Sha256};

use crate::incidents::model::IncidentStatus;

/// The most text (title and lines, in characters) one board message holds.
pub const PAGE_CHARS: usize = 1_800;
/// The longest one incident's line may be (longer alert names are cut).
const LINE_CHARS: usize = 160;
/// Acknowledge-by-service buttons on the first page.
const SERVICE_BUTTONS: usize = 5;
/// Open-a-thread buttons per page (the first incidents of the page).
const THREAD_BUTTONS: usize = 15;
/// Services counted one per line; the rest are summed up.
const SERVICES_LISTED: usize = 10;

/// One folded incident, as the board shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardLine {
    pub id: i64,
    pub service: Option<String>,
    /// The alert it is about (its title without ` on SERVICE`).
    pub alert: String,
    pub severity: String,
    pub status: IncidentStatus,
    pub silenced: bool,
    /// Alerts firing now.
    pub firing: i64,
    /// When an alert of it last changed.
    pub changed_at: jiff::Timestamp,
    /// It has a root message of its own in the channel (posted before it was folded, or
    /// still queued): that root shows what it was then, so it is unfolded (the root
    /// edited) before the board closes, resolved or not.
    pub rooted: bool,
}

impl BoardLine {
    /// Whether the board must give it its own thread before it closes: it is still
    /// open, or its own root shows it as it was when it was folded.
    pub fn to_unfold(&self) -> bool {
        self.status != IncidentStatus::Resolved || self.rooted
    }
}

fn severity_rank(severity: &str) -> u8 {
    match severity {
        "critical" => 0,
        "warning" => 1,
        _ => 2,
    }
}

fn status_rank(status: IncidentStatus) -> u8 {
    match status {
        IncidentStatus::Open => 0,
        IncidentStatus::Acknowledged => 1,
        IncidentStatus::Resolved => 2,
    }
}

/// Most severe first; then open before acknowledged before resolved; then oldest first.
pub fn order(lines: &mut [BoardLine]) {
    lines.sort_by_key(|l| (severity_rank(&l.severity), status_rank(l.status), l.id));
}

fn mark(line: &BoardLine) -> &'static str {
    match (line.status, line.severity.as_str()) {
        (IncidentStatus::Resolved, _) => "✅",
        _ if line.silenced => "🔕",
        (_, "critical") => "🔴",
        (_, "warning") => "🟠",
        _ => "🔵",
    }
}

fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `🔴 #42 payments · HighLatency · critical · 3 firing` (and its status when not open).
pub fn line_text(line: &BoardLine) -> String {
    let mut text = format!(
        "{} #{} {} · {} · {} · {} firing",
        mark(line),
        line.id,
        line.service.as_deref().unwrap_or("no service"),
        line.alert,
        line.severity,
        line.firing
    );
    match line.status {
        IncidentStatus::Open => {}
        IncidentStatus::Acknowledged => text.push_str(" · acknowledged"),
        IncidentStatus::Resolved => text.push_str(" · resolved"),
    }
    if line.silenced && line.status != IncidentStatus::Resolved {
        text.push_str(" · silenced");
    }
    cut(&text, LINE_CHARS)
}

/// The first page's head: how many incidents, by status, then by service and severity.
fn summary_lines(lines: &[BoardLine]) -> Vec<String> {
    let count = |status| lines.iter().filter(|l| l.status == status).count();
    let mut out = vec![format!(
        "{} folded: {} open, {} acknowledged, {} resolved",
        lines.len(),
        count(IncidentStatus::Open),
        count(IncidentStatus::Acknowledged),
        count(IncidentStatus::Resolved)
    )];
    // service → severity → count
    let mut by_service: BTreeMap<&str, BTreeMap<(u8, &str), usize>> = BTreeMap::new();
    for line in lines {
        let service = line.service.as_deref().unwrap_or("no service");
        *by_service
            .entry(service)
            .or_default()
            .entry((severity_rank(&line.severity), line.severity.as_str()))
            .or_default() += 1;
    }
    let mut services: Vec<(&str, usize, String)> = by_service
        .into_iter()
        .map(|(service, severities)| {
            let total = severities.values().sum();
            let text = severities
                .iter()
                .map(|((_, severity), n)| format!("{n} {severity}"))
                .collect::<Vec<_>>()
                .join(", ");
            (service, total, text)
        })
        .collect();
    services.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (service, _, text) in services.iter().take(SERVICES_LISTED) {
        out.push(format!("{service}: {text}"));
    }
    if services.len() > SERVICES_LISTED {
        let rest: usize = services[SERVICES_LISTED..].iter().map(|s| s.1).sum();
        out.push(format!(
            "…and {rest} more in {} more services",
            services.len() - SERVICES_LISTED
        ));
    }
    out
}

/// The hint under the counts.
const HOW_TO: &str = "New incidents here are listed on this board instead of getting a message each. \
     `incident show ID` (or its button) gives one its own thread.";

/// The board's messages for `lines` (any order) folded in `channel`. `closed`: the storm
/// is over (no buttons; the title says so).
pub fn render(channel: &str, lines: &[BoardLine], closed: bool) -> Vec<Reply> {
    let mut lines = lines.to_vec();
    order(&mut lines);
    let mut head = summary_lines(&lines);
    if !closed {
        head.push(HOW_TO.to_string());
    }
    if lines.is_empty() {
        head.push("No incident is folded now.".to_string());
    }
    // Split into pages of at most PAGE_CHARS (a title of up to 80 characters included).
    let budget = PAGE_CHARS - 80;
    let size = |text: &str| text.chars().count() + 1;
    let mut pages: Vec<(Vec<String>, Vec<&BoardLine>)> = Vec::new();
    let mut used: usize = head.iter().map(|l| size(l)).sum();
    let mut current: (Vec<String>, Vec<&BoardLine>) = (head, Vec::new());
    for line in &lines {
        let text = line_text(line);
        if used + size(&text) > budget && !current.1.is_empty() {
            pages.push(std::mem::take(&mut current));
            used = 0;
        }
        used += size(&text);
        current.0.push(text);
        current.1.push(line);
    }
    pages.push(current);
    let total = pages.len();
    let status = if closed {
        Status::Success
    } else if lines
        .iter()
        .any(|l| l.status == IncidentStatus::Open && l.severity == "critical" && !l.silenced)
    {
        Status::Danger
    } else {
        Status::Warning
    };
    pages
        .into_iter()
        .enumerate()
        .map(|(index, (texts, shown))| {
            let of = if total > 1 {
                format!(" ({}/{total})", index + 1)
            } else {
                String::new()
            };
            let title = match (index, closed) {
                (0, false) => format!(
                    "🌩️ Storm board for {}: {} incident{} folded{of}",
                    cut(channel, 30),
                    lines.len(),
                    if lines.len() == 1 { "" } else { "s" }
                ),
                (0, true) => format!("🌤️ Storm over in {}{of}", cut(channel, 30)),
                (_, _) => format!("🌩️ Storm board for {}, continued{of}", cut(channel, 30)),
            };
            let mut reply = Reply::new(status, title).lines(texts);
            if !closed {
                if index == 0 {
                    reply = service_buttons(reply, &lines);
                }
                for line in shown
                    .iter()
                    .filter(|l| l.status != IncidentStatus::Resolved)
                    .take(THREAD_BUTTONS)
                {
                    reply = reply.button(Button::new(
                        format!("#{} thread", line.id),
                        format!("incident show {}", line.id),
                    ));
                }
            }
            reply
        })
        .collect()
}

/// "Ack all SERVICE" for the services with the most open incidents.
fn service_buttons(mut reply: Reply, lines: &[BoardLine]) -> Reply {
    let mut open: BTreeMap<&str, usize> = BTreeMap::new();
    for line in lines.iter().filter(|l| l.status == IncidentStatus::Open) {
        if let Some(service) = &line.service {
            *open.entry(service).or_default() += 1;
        }
    }
    let mut services: Vec<(&str, usize)> = open.into_iter().collect();
    services.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (service, count) in services.into_iter().take(SERVICE_BUTTONS) {
        reply = reply.button(
            Button::new(
                format!("Ack all {service} ({count})"),
                format!("incident ack --service {service}"),
            )
            .primary(),
        );
    }
    reply
}

/// Identifies a page's render, so an unchanged page is not edited again (each board
/// keeps its pages' digests).
pub fn digest(page: &Reply) -> String {
    let full = hex::encode(Sha256::digest(format!("{page:?}").as_bytes()));
    full[..16].to_string()
}

/// What a storm amounted to, for its closing summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StormTally {
    /// Incidents folded into the board over the storm.
    pub folded: i64,
    /// Of those, the ones that got their own root and thread since.
    pub threaded: i64,
}

/// The message that ends a storm in `channel`, which lasted `lasted`.
pub fn closing_summary(channel: &str, lasted: &str, tally: &StormTally) -> Reply {
    let on_board = tally.folded - tally.threaded;
    Reply::success(format!("🌤️ The storm in {channel} is over"))
        .line(format!(
            "It lasted {lasted}. {} incidents were folded into the storm board: {} got their own thread, {} resolved on the board (`incident show ID` tells each one's story).",
            tally.folded, tally.threaded, on_board
        ))
        .line("New incidents here get their own message again.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: i64, service: &str, severity: &str, status: IncidentStatus) -> BoardLine {
        BoardLine {
            id,
            service: Some(service.to_string()),
            alert: format!("Alert{id}"),
            severity: severity.to_string(),
            status,
            silenced: false,
            firing: 2,
            changed_at: jiff::Timestamp::UNIX_EPOCH,
            rooted: false,
        }
    }

    #[test]
    fn most_severe_first_then_open_then_oldest() {
        let lines = vec![
            line(1, "api", "warning", IncidentStatus::Open),
            line(2, "db", "critical", IncidentStatus::Acknowledged),
            line(3, "api", "info", IncidentStatus::Open),
            line(4, "db", "critical", IncidentStatus::Open),
            line(5, "api", "critical", IncidentStatus::Open),
        ];
        let pages = render("#ops", &lines, false);
        assert_eq!(pages.len(), 1);
        let ids: Vec<&str> = pages[0]
            .lines
            .iter()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|w| w.starts_with('#'))
            .collect();
        assert_eq!(ids, ["#4", "#5", "#2", "#1", "#3"]);
        assert_eq!(pages[0].status, Status::Danger);
        assert!(
            pages[0].title.contains("5 incidents folded"),
            "{}",
            pages[0].title
        );
        assert!(
            pages[0]
                .lines
                .contains(&"🔴 #4 db · Alert4 · critical · 2 firing".to_string())
        );
        assert!(
            pages[0]
                .lines
                .contains(&"🔴 #2 db · Alert2 · critical · 2 firing · acknowledged".to_string())
        );
        // Counts by status, then by service and severity.
        assert_eq!(
            pages[0].lines[0],
            "5 folded: 4 open, 1 acknowledged, 0 resolved"
        );
        assert_eq!(pages[0].lines[1], "api: 1 critical, 1 warning, 1 info");
        assert_eq!(pages[0].lines[2], "db: 2 critical");
        // Ack by service (most open incidents first), then a thread button per incident.
        let commands: Vec<&str> = pages[0]
            .buttons
            .iter()
            .map(|b| b.command.as_str())
            .collect();
        assert_eq!(
            commands,
            [
                "incident ack --service api",
                "incident ack --service db",
                "incident show 4",
                "incident show 5",
                "incident show 2",
                "incident show 1",
                "incident show 3",
            ]
        );
    }

    #[test]
    fn a_full_board_continues_in_a_second_message() {
        let lines: Vec<BoardLine> = (1..=60)
            .map(|id| line(id, "wrkhrs-gateway", "warning", IncidentStatus::Open))
            .collect();
        let pages = render("#ai-operations", &lines, false);
        assert!(pages.len() >= 2, "{}", pages.len());
        let mut seen = Vec::new();
        for (index, page) in pages.iter().enumerate() {
            let size = page.title.chars().count()
                + page
                    .lines
                    .iter()
                    .map(|l| l.chars().count() + 1)
                    .sum::<usize>();
            assert!(size <= PAGE_CHARS, "page {index} holds {size} characters");
            assert!(page.buttons.len() <= 25);
            assert!(
                page.title
                    .contains(&format!("({}/{})", index + 1, pages.len()))
            );
            seen.extend(
                page.lines
                    .iter()
                    .filter_map(|l| l.split_whitespace().nth(1))
                    .filter_map(|w| w.strip_prefix('#'))
                    .map(|id| id.parse::<i64>().unwrap()),
            );
        }
        assert!(pages[1].title.contains("continued"));
        assert_eq!(
            seen,
            (1..=60).collect::<Vec<_>>(),
            "every incident once, in order"
        );
        // Every page has thread buttons for its own incidents.
        assert!(
            pages[1]
                .buttons
                .iter()
                .all(|b| b.command.starts_with("incident show "))
        );
        assert!(!pages[1].buttons.is_empty());
    }

    #[test]
    fn a_closed_board_has_no_buttons_and_the_summary_counts() {
        let lines = vec![line(7, "api", "warning", IncidentStatus::Resolved)];
        let pages = render("#ops", &lines, true);
        assert_eq!(pages.len(), 1);
        assert!(pages[0].buttons.is_empty());
        assert!(pages[0].title.contains("Storm over"));
        assert_eq!(pages[0].status, Status::Success);
        assert_eq!(digest(&pages[0]), digest(&render("#ops", &lines, true)[0]));
        assert_ne!(digest(&pages[0]), digest(&render("#ops", &lines, false)[0]));
        let summary = closing_summary(
            "#ops",
            "4m 10s",
            &StormTally {
                folded: 12,
                threaded: 11,
            },
        );
        assert!(summary.lines[0].contains("12 incidents were folded"));
        assert!(summary.lines[0].contains("11 got their own thread, 1 resolved on the board"));
    }

    /// Every string under `key` anywhere in `value`.
    fn strings_under(value: &serde_json::Value, key: &str, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match v.as_str() {
                        Some(text) if k == key => out.push(text.to_string()),
                        _ => strings_under(v, key, out),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                items.iter().for_each(|v| strings_under(v, key, out));
            }
            _ => {}
        }
    }

    #[test]
    fn every_page_fits_slack_and_discord_and_its_buttons_run_their_commands() {
        let lines: Vec<BoardLine> = (1..=90)
            .map(|id| {
                let mut l = line(
                    id,
                    [
                        "ai-orchestration-staging",
                        "wrkhrs-gateway",
                        "alice-backend",
                    ][id as usize % 3],
                    ["critical", "warning", "info"][id as usize % 3],
                    IncidentStatus::Open,
                );
                l.alert = format!("VeryLongAlertNameForTheStormBenchmark{id}");
                l
            })
            .collect();
        let pages = render("#ai-operations", &lines, false);
        assert!(pages.len() >= 3);
        for page in &pages {
            let commands: Vec<String> = page.buttons.iter().map(|b| b.command.clone()).collect();
            // Discord: one embed of at most 2,000 characters, every button a custom_id
            // that runs its command (none fell back to a "type `…`" line).
            let discord = opsbot_discord::render(page);
            let description = discord.json["embeds"][0]["description"].as_str().unwrap();
            assert!(
                description.chars().count() <= 2_000,
                "{}",
                description.len()
            );
            assert!(!description.contains("type `"), "{description}");
            let mut ids = Vec::new();
            strings_under(&discord.json, "custom_id", &mut ids);
            let run: Vec<String> = ids
                .iter()
                .map(
                    |id| match opsbot_discord::custom_id::ButtonAction::decode(id) {
                        Some(opsbot_discord::custom_id::ButtonAction::Run(command)) => command,
                        other => panic!("{id}: {other:?}"),
                    },
                )
                .collect();
            assert_eq!(run, commands);
            // Slack: every line whole in the blocks, every button's value its command.
            let slack = serde_json::to_value(opsbot_slack::blocks::render(page)).unwrap();
            let mut texts = Vec::new();
            strings_under(&slack, "text", &mut texts);
            let body = texts.join("\n");
            for line in &page.lines {
                assert!(body.contains(&opsbot_slack::blocks::escape(line)), "{line}");
            }
            let mut values = Vec::new();
            strings_under(&slack, "value", &mut values);
            assert_eq!(values, commands);
        }
    }

    #[test]
    fn long_alert_names_are_cut() {
        let mut long = line(1, "api", "warning", IncidentStatus::Open);
        long.alert = "x".repeat(500);
        assert!(line_text(&long).chars().count() <= LINE_CHARS);
    }
}
