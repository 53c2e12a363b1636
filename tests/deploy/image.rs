//! The container image: `deploy/Dockerfile` and `.dockerignore`.

use super::*;

/// The Dockerfile builds the locked release binary from every workspace member it needs
/// (a member outside the copied directories would break `docker build`), and the image
/// runs it as non-root with a health check that needs no shell; `.dockerignore` keeps
/// build output, databases and git history out of the build context.
#[test]
fn dockerfile_builds_every_member_and_runs_as_non_root() {
    let root = deploy_dir().join("..");
    let dockerfile = std::fs::read_to_string(deploy_dir().join("Dockerfile")).unwrap();
    let lines: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    let copied: BTreeSet<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|l| !l.starts_with("--from"))
        .flat_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words[..words.len() - 1].to_vec()
        })
        .collect();
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();
    for member in members {
        let top = member.as_str().unwrap().split('/').next().unwrap();
        assert!(
            copied.contains(top),
            "workspace member {member:?} is not copied into the build stage"
        );
    }
    for file in ["Cargo.toml", "Cargo.lock", "migrations"] {
        assert!(copied.contains(file), "{file} is not copied");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("cargo build --release --locked -p opsbot")),
        "the locked release build"
    );
    let final_stage = dockerfile.rsplit("\nFROM ").next().unwrap();
    let user = final_stage
        .lines()
        .find_map(|l| l.trim().strip_prefix("USER "))
        .expect("the final stage names its USER");
    assert!(
        !user.starts_with("root") && !user.starts_with("0"),
        "the image runs as {user}"
    );
    assert!(final_stage.contains("nonroot"), "a non-root base image");
    assert!(
        final_stage.contains(r#"CMD ["/usr/local/bin/opsbot", "healthcheck"]"#),
        "HEALTHCHECK runs `opsbot healthcheck`"
    );
    assert!(final_stage.contains("OPSBOT_LISTEN=0.0.0.0:8080"));
    assert!(final_stage.contains("EXPOSE 8080"));

    let ignored = std::fs::read_to_string(root.join(".dockerignore")).unwrap();
    let ignored: BTreeSet<&str> = ignored.lines().map(str::trim).collect();
    for pattern in [".git", "target", "*.db"] {
        assert!(ignored.contains(pattern), ".dockerignore lacks {pattern}");
    }
}
