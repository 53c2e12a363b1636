//! Files of console replies (cost charts, incident records in Markdown): a terminal
//! cannot show a PNG or hold a long document, so the file is saved under `[console] image_dir` (default: `opsbot-images` in the system temp dir) and the
//! reply says where.

use std::path::{Path, PathBuf};

use opsbot_commands::reply::Attachment;

/// The directory images go to when `[console] image_dir` is not set.
pub fn default_image_dir() -> PathBuf {
    std::env::temp_dir().join("opsbot-images")
}

/// Saves `image` in `dir` (created when missing) as `NAME-SECONDS-SEQ.EXT`, where NAME
/// is the file's title reduced to letters, digits and dashes and EXT its extension
/// (`png`, `md`); returns the path.
pub fn save(dir: &Path, image: &Attachment, seq: u64) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut name: String = image
        .title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let name = name.trim_matches('-');
    let name = if name.is_empty() { "image" } else { name };
    let name: String = name.chars().take(60).collect();
    let extension = match image.extension() {
        "" => "bin".to_string(),
        ext => opsbot_commands::reply::file_stem(ext, "bin"),
    };
    let path = dir.join(format!(
        "{name}-{}-{seq}.{extension}",
        jiff::Timestamp::now().as_second()
    ));
    std::fs::write(&path, &image.bytes)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_the_png_under_a_name_from_its_title() {
        let dir = tempfile::tempdir().unwrap();
        let image = Attachment::png(
            "alice-openai: daily spend, 2026-11-15 – 2026-11-21",
            b"\x89PNG fake".to_vec(),
        );
        let path = save(&dir.path().join("charts"), &image, 3).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("alice-openai-daily-spend-2026-11-15-2026-11-21-"),
            "{name}"
        );
        assert!(name.ends_with("-3.png"), "{name}");
        assert_eq!(std::fs::read(&path).unwrap(), b"\x89PNG fake");
    }

    #[test]
    fn saves_a_markdown_record_with_its_extension() {
        let dir = tempfile::tempdir().unwrap();
        let file = Attachment::markdown("Incident #7 timeline", "incident-7", "# #7".into());
        let path = save(dir.path(), &file, 1).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("incident-7-timeline-"), "{name}");
        assert!(name.ends_with("-1.md"), "{name}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# #7");
    }
}
