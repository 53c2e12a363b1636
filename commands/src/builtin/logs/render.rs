//! Fitting log lines into one chat message: the newest lines of each source are kept,
//! sharing a character budget fairly between sources, and overlong lines are cut.

use crate::context::LogChunk;

/// About what a chat message holds for the log itself (Slack sections take 3,000, Discord
/// embeds 4,096); the reply's title and counts come on top.
pub(super) const BUDGET_CHARS: usize = 3_500;

/// A longer line is cut, so one stack trace line cannot take the whole message.
pub(super) const MAX_LINE_CHARS: usize = 300;

/// The lines of one source that fit.
pub(super) struct Shown {
    pub source: String,
    pub lines: Vec<String>,
    /// Older lines left out for lack of room.
    pub cut: usize,
}

/// Cuts a line to [`MAX_LINE_CHARS`].
pub(super) fn cap_line(line: &str) -> String {
    if line.chars().count() <= MAX_LINE_CHARS {
        return line.to_string();
    }
    let mut cut: String = line.chars().take(MAX_LINE_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Keeps the newest lines of every chunk within `budget` characters (each line counts
/// one more for its newline). Small sources keep everything; what they leave is shared
/// by the larger ones.
pub(super) fn fit(chunks: Vec<LogChunk>, budget: usize) -> Vec<Shown> {
    let size = |chunk: &LogChunk| -> usize {
        chunk
            .lines
            .iter()
            .map(|l| l.chars().count() + 1)
            .sum::<usize>()
            + chunk.source.len()
            + 8
    };
    let mut order: Vec<usize> = (0..chunks.len()).collect();
    order.sort_by_key(|&i| size(&chunks[i]));
    let mut shares = vec![0usize; chunks.len()];
    let mut remaining = budget;
    for (done, &index) in order.iter().enumerate() {
        let fair = remaining / (chunks.len() - done);
        let share = fair.min(size(&chunks[index]));
        shares[index] = share;
        remaining -= share;
    }
    chunks
        .into_iter()
        .zip(shares)
        .map(|(chunk, share)| newest_within(chunk, share))
        .collect()
}

fn newest_within(chunk: LogChunk, share: usize) -> Shown {
    let mut room = share.saturating_sub(chunk.source.len() + 8);
    let mut kept = 0;
    for line in chunk.lines.iter().rev() {
        let cost = line.chars().count() + 1;
        if cost > room {
            break;
        }
        room -= cost;
        kept += 1;
    }
    let cut = chunk.lines.len() - kept;
    let lines = chunk.lines.into_iter().skip(cut).collect();
    Shown {
        source: chunk.source,
        lines,
        cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(source: &str, n: usize, width: usize) -> LogChunk {
        LogChunk {
            source: source.into(),
            lines: (0..n).map(|i| format!("{i:0>width$}")).collect(),
        }
    }

    #[test]
    fn keeps_the_newest_lines_within_the_budget() {
        let shown = fit(vec![chunk("pod-a", 1_000, 49)], 3_500);
        let used: usize = shown[0].lines.iter().map(|l| l.len() + 1).sum();
        assert!(used <= 3_500);
        assert!(shown[0].cut > 900);
        assert_eq!(shown[0].lines.last().unwrap(), &format!("{:0>49}", 999));
    }

    #[test]
    fn small_sources_leave_room_for_large_ones() {
        let shown = fit(vec![chunk("big", 1_000, 49), chunk("small", 3, 9)], 3_500);
        assert_eq!(shown[1].cut, 0);
        assert_eq!(shown[1].lines.len(), 3);
        assert!(shown[0].lines.len() > 50, "{}", shown[0].lines.len());
    }

    #[test]
    fn long_lines_are_capped() {
        let line = "x".repeat(1_000);
        let capped = cap_line(&line);
        assert_eq!(capped.chars().count(), MAX_LINE_CHARS);
        assert!(capped.ends_with('…'));
    }
}
