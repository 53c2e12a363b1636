//! A private D-Bus daemon for one test: `dbus-daemon --nofork --print-address` on a socket
//! in a temp dir, stopped when dropped. Its configuration is the session bus's, minus
//! service activation (so a host's own `org.freedesktop.systemd1` service file cannot
//! answer in place of the fake). A missing `dbus-daemon` binary fails the test with the
//! command that installs it; it never skips.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
};

pub struct DbusDaemon {
    pub address: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl DbusDaemon {
    /// Starts `dbus-daemon` listening on a socket in a fresh temp dir; its address (in
    /// D-Bus form, `unix:path=…,guid=…`) is [`DbusDaemon::address`].
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listen = format!("unix:path={}", dir.path().join("bus").display());
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>{listen}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#
            ),
        )
        .unwrap();
        let mut child = match Command::new("dbus-daemon")
            .args(["--nofork", "--print-address"])
            .arg(format!("--config-file={}", config.display()))
            .stdout(Stdio::piped())
            // Root cannot raise the fd limit here; dbus-daemon says so on every start.
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "dbus-daemon is not installed, and the systemd runtime tests need it: run `apt-get install -y dbus-daemon` (.ci/run does this)"
            ),
            Err(e) => panic!("cannot start dbus-daemon: {e}"),
        };
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_string();
        assert!(
            address.starts_with("unix:"),
            "dbus-daemon printed no address (got {line:?})"
        );
        Self {
            address,
            child,
            _dir: dir,
        }
    }

    /// Stops the daemon (as dropping does).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for DbusDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
