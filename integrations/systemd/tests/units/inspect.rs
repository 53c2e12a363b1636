//! `inspect`: ActiveState/SubState (+ Result) as a runtime view.

use opsbot_commands::context::{HealthLevel, Runtime};

use crate::{Behaviour, bus_with_systemd, runtime, service};

#[tokio::test]
async fn inspect_reports_the_unit_state() {
    let (daemon, systemd) = bus_with_systemd().await;
    systemd.add_unit("ollama.service", Behaviour::Starts).await;
    let rt = runtime(&daemon.address);

    let view = rt.inspect(&service("ollama")).await.unwrap();
    assert_eq!(view.level, HealthLevel::Ok);
    assert_eq!(view.summary, "active (running)");
    assert!(view.details.is_empty());

    systemd.set_state("ollama.service", "activating", "start", "success");
    let view = rt.inspect(&service("ollama")).await.unwrap();
    assert_eq!(view.level, HealthLevel::Warning);

    systemd.set_state("ollama.service", "failed", "failed", "oom-kill");
    let view = rt.inspect(&service("ollama")).await.unwrap();
    assert_eq!(view.level, HealthLevel::Critical);
    assert_eq!(view.summary, "failed (failed)");
    assert_eq!(
        view.details,
        vec![
            "Result: oom-kill",
            "read `journalctl -u ollama.service` on its host for why"
        ]
    );
}
