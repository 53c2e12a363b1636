//! Secrets: bot tokens, signing secrets and API keys. In `opsbot.toml` a secret is never
//! written literally; it is either `"${ENV_VAR}"` or `{ file = "/run/secrets/NAME" }`, and
//! is resolved while the file is deserialized. A [`Secret`] prints as `[redacted]`, and
//! resolution errors name the variable or file, never the value. (`${ENV_VAR}` references
//! in other values are replaced by `config::interpolate`.) Also here: [`redact_url`] for
//! showing database URLs.

use std::{
    cell::RefCell,
    collections::HashMap,
    fmt,
    path::{Path, PathBuf},
};

use serde::{
    Deserialize, Deserializer,
    de::{self, MapAccess, Visitor},
};

use super::interpolate::Origin;

/// What the two accepted forms look like, for error messages.
pub const SECRET_FORMS: &str = "write \"${ENV_VAR}\" to read it from an environment variable, \
     or { file = \"/run/secrets/NAME\" } to read it from a file";

/// Where a secret came from (safe to show).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    Env(String),
    File(PathBuf),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Env(name) => write!(f, "environment variable {name}"),
            SecretSource::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// A resolved secret value. `Debug` and `Display` print `[redacted]`; read it with
/// [`Secret::expose`] at the single place that sends it (an HTTP header, an HMAC key).
#[derive(Clone)]
pub struct Secret {
    value: String,
    source: SecretSource,
}

impl Secret {
    /// A secret with a known value (for tests and for values resolved elsewhere).
    pub fn new(value: impl Into<String>, source: SecretSource) -> Self {
        Self {
            value: value.into(),
            source,
        }
    }

    /// The secret value itself. Never log or display it.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Where the value was read from.
    pub fn source(&self) -> &SecretSource {
        &self.source
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Whether `text` is written `${NAME}`: `None` when it is not a reference at all,
/// `Some(Err(()))` when it looks like one but the name is not a valid variable name.
pub fn env_reference(text: &str) -> Option<Result<&str, ()>> {
    let name = text.strip_prefix("${")?;
    let Some(name) = name.strip_suffix('}') else {
        return Some(Err(()));
    };
    let valid = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    Some(if valid { Ok(name) } else { Err(()) })
}

/// Resolves a `${NAME}` reference through `env`. The error never contains a value.
pub fn resolve_env(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    match env(name) {
        None => Err(format!("environment variable `{name}` is not set")),
        Some(value) if value.is_empty() => Err(format!("environment variable `{name}` is empty")),
        Some(value) => Ok(value),
    }
}

/// Reads a secret file, trimming the trailing newline. The error never contains contents.
pub fn read_secret_file(path: &Path) -> Result<String, String> {
    let contents = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read secret file `{}`: {e}", path.display()))?;
    let value = contents.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(format!("secret file `{}` is empty", path.display()));
    }
    Ok(value.to_string())
}

/// What `Secret`'s `Deserialize` consults while a configuration file is deserialized: the
/// string values `${ENV_VAR}` references were replaced by, with where each came from
/// (references are resolved for every string before deserializing, see
/// `config::interpolate`), and the directory relative secret file paths are resolved
/// against.
#[derive(Debug, Default)]
pub(crate) struct Resolver {
    substituted: HashMap<String, Origin>,
    base_dir: Option<PathBuf>,
}

impl Resolver {
    pub(crate) fn new(substituted: HashMap<String, Origin>, base_dir: Option<PathBuf>) -> Self {
        Self {
            substituted,
            base_dir,
        }
    }

    /// Runs `f` with this resolver active on this thread (restoring the previous one).
    pub(crate) fn scope<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Resolver>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                RESOLVER.with(|slot| *slot.borrow_mut() = previous);
            }
        }
        let previous = RESOLVER.with(|slot| slot.borrow_mut().replace(self));
        let _restore = Restore(previous);
        f()
    }
}

thread_local! {
    static RESOLVER: RefCell<Option<Resolver>> = const { RefCell::new(None) };
}

/// Where a string value came from, when a resolver is active: `Some(None)` for text
/// written in the file, `Some(Some(origin))` for text substituted from the environment.
pub(crate) fn origin_of(text: &str) -> Option<Option<Origin>> {
    RESOLVER.with(|slot| {
        slot.borrow()
            .as_ref()
            .map(|resolver| resolver.substituted.get(text).cloned())
    })
}

fn lookup_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn secret_path(path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    if path.is_absolute() {
        return path;
    }
    RESOLVER.with(|slot| match &*slot.borrow() {
        Some(Resolver {
            base_dir: Some(dir),
            ..
        }) => dir.join(&path),
        _ => path,
    })
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a secret: {SECRET_FORMS}")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Secret, E> {
        // The text may be a pasted token: no message here repeats it.
        match origin_of(text) {
            Some(Some(Origin::Env(name))) => {
                return Ok(Secret::new(text, SecretSource::Env(name)));
            }
            Some(Some(Origin::Mixed)) => {
                return Err(E::custom(format!(
                    "a secret must be exactly \"${{ENV_VAR}}\", not part of a longer text; \
                     {SECRET_FORMS}"
                )));
            }
            Some(None) => {
                return Err(E::custom(format!(
                    "a secret cannot be written literally in the configuration file; {SECRET_FORMS}"
                )));
            }
            // Outside a configuration file load: the reference itself.
            None => {}
        }
        match env_reference(text) {
            None => Err(E::custom(format!(
                "a secret cannot be written literally in the configuration file; {SECRET_FORMS}"
            ))),
            Some(Err(())) => Err(E::custom(format!(
                "the name between `${{` and `}}` must be an environment variable name \
                 (letters, digits and `_`); {SECRET_FORMS}"
            ))),
            Some(Ok(name)) => {
                let value = resolve_env(name, &lookup_env).map_err(E::custom)?;
                Ok(Secret::new(value, SecretSource::Env(name.to_string())))
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Secret, A::Error> {
        let mut file: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "file" {
                return Err(de::Error::custom(format!(
                    "unknown key `{key}` in a secret; {SECRET_FORMS}"
                )));
            }
            if file.is_some() {
                return Err(de::Error::custom("duplicate key `file` in a secret"));
            }
            file = Some(map.next_value()?);
        }
        let file = file.ok_or_else(|| {
            de::Error::custom(format!("a secret table needs a `file` key; {SECRET_FORMS}"))
        })?;
        let path = secret_path(&file);
        let value = read_secret_file(&path).map_err(de::Error::custom)?;
        Ok(Secret::new(value, SecretSource::File(path)))
    }
}

/// A database URL fit for display: the password of `scheme://user:password@host/db` and a
/// `password=` query parameter are replaced by `[redacted]`.
pub fn redact_url(url: &str) -> String {
    const HIDDEN: &str = "[redacted]";
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => match rest.rfind('@') {
            Some(at) => {
                let (userinfo, host) = (&rest[..at], &rest[at..]);
                match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{scheme}://{user}:{HIDDEN}{host}"),
                    None => base.to_string(),
                }
            }
            None => base.to_string(),
        },
        None => base.to_string(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                    format!("{key}={HIDDEN}")
                }
                _ => param.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_value() {
        let secret = Secret::new("xoxb-very-secret", SecretSource::Env("SLACK_TOKEN".into()));
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(secret.to_string(), "[redacted]");
        assert_eq!(secret.expose(), "xoxb-very-secret");
        assert_eq!(
            secret.source().to_string(),
            "environment variable SLACK_TOKEN"
        );
    }

    #[test]
    fn env_references_are_recognised() {
        assert_eq!(env_reference("${SLACK_TOKEN}"), Some(Ok("SLACK_TOKEN")));
        assert_eq!(env_reference("${_x1}"), Some(Ok("_x1")));
        assert_eq!(env_reference("${1X}"), Some(Err(())));
        assert_eq!(env_reference("${}"), Some(Err(())));
        assert_eq!(env_reference("${A"), Some(Err(())));
        assert_eq!(env_reference("xoxb-123"), None);
        assert_eq!(env_reference("$A"), None);
    }

    #[test]
    fn urls_hide_passwords() {
        assert_eq!(
            redact_url("postgres://opsbot:s3cr%40t@db.internal:5432/opsbot"),
            "postgres://opsbot:[redacted]@db.internal:5432/opsbot"
        );
        // An unencoded `@` or `/` in the password still does not leak it.
        assert_eq!(
            redact_url("postgres://u:p@ss/w@host/db"),
            "postgres://u:[redacted]@host/db"
        );
        assert_eq!(
            redact_url("postgresql://host/db?user=u&password=pw&sslmode=require"),
            "postgresql://host/db?user=u&password=[redacted]&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://user@host/db"),
            "postgres://user@host/db"
        );
        assert_eq!(redact_url("sqlite://opsbot.db"), "sqlite://opsbot.db");
        assert_eq!(redact_url(""), "");
    }
}
