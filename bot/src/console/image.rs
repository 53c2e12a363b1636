//! Images of console replies (cost charts): a terminal cannot show a PNG, so it is saved
//! under `[console] image_dir` (default: `opsbot-images` in the system temp dir) and the
//! reply says where.

use std::path::{Path, PathBuf};

use opsbot_commands::reply::Image;

/// The directory images go to when `[console] image_dir` is not set.
pub fn default_image_dir() -> PathBuf {
    std::env::temp_dir().join("opsbot-images")
}

/// Saves `image` in `dir` (created when missing) as `NAME-SECONDS-SEQ.png`, where NAME
/// is the image title reduced to letters, digits and dashes; returns the path.
pub fn save(dir: &Path, image: &Image, seq: u64) -> std::io::Result<PathBuf> {
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
    let path = dir.join(format!(
        "{name}-{}-{seq}.png",
        jiff::Timestamp::now().as_second()
    ));
    std::fs::write(&path, &image.png)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_the_png_under_a_name_from_its_title() {
        let dir = tempfile::tempdir().unwrap();
        let image = Image {
            title: "alice-openai: daily spend, 2026-11-15 – 2026-11-21".into(),
            png: b"\x89PNG fake".to_vec(),
        };
        let path = save(&dir.path().join("charts"), &image, 3).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with("alice-openai-daily-spend-2026-11-15-2026-11-21-"),
            "{name}"
        );
        assert!(name.ends_with("-3.png"), "{name}");
        assert_eq!(std::fs::read(&path).unwrap(), b"\x89PNG fake");
    }
}
