//! Where a Docker Engine listens: `unix:///var/run/docker.sock` or `tcp://host:2375`.

use std::{fmt, path::PathBuf};

/// The address of one Docker Engine, parsed from a `DOCKER_HOST`-style string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DockerHost {
    /// A unix socket path (`unix:///var/run/docker.sock`, or a bare absolute path).
    Unix(PathBuf),
    /// `host:port` of a plain-HTTP Engine API (`tcp://host:2375` or `http://host:2375`).
    Tcp(String),
}

impl DockerHost {
    /// The docker CLI's default: the local daemon's socket.
    pub const DEFAULT: &'static str = "unix:///var/run/docker.sock";

    /// Parses `unix:///path`, `/path`, `tcp://host:port` or `http://host:port`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(path) = text.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(format!(
                    "docker host `{text}`: a unix socket needs an absolute path, like unix:///var/run/docker.sock"
                ));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        if text.starts_with('/') {
            return Ok(Self::Unix(PathBuf::from(text)));
        }
        let authority = text
            .strip_prefix("tcp://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or_else(|| {
                format!(
                    "docker host `{text}` is neither unix:///PATH nor tcp://HOST:PORT (TLS hosts are not supported)"
                )
            })?
            .trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(format!(
                "docker host `{text}` needs the form tcp://HOST:PORT"
            ));
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        {
            authority.to_string()
        } else {
            format!("{authority}:2375")
        };
        Ok(Self::Tcp(authority))
    }
}

impl fmt::Display for DockerHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
            Self::Tcp(authority) => write!(f, "tcp://{authority}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_operators_write() {
        assert_eq!(
            DockerHost::parse("unix:///var/run/docker.sock").unwrap(),
            DockerHost::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            DockerHost::parse("/run/docker.sock").unwrap(),
            DockerHost::Unix("/run/docker.sock".into())
        );
        assert_eq!(
            DockerHost::parse("tcp://10.0.0.5:2375").unwrap(),
            DockerHost::Tcp("10.0.0.5:2375".into())
        );
        assert_eq!(
            DockerHost::parse("tcp://docker-1").unwrap(),
            DockerHost::Tcp("docker-1:2375".into())
        );
        assert!(DockerHost::parse("ssh://me@host").is_err());
        assert!(DockerHost::parse("unix://relative.sock").is_err());
        assert_eq!(
            DockerHost::parse("tcp://h:1").unwrap().to_string(),
            "tcp://h:1"
        );
    }
}
