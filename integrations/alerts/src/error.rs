//! Why a payload was refused, with the JSON path of the problem.

/// A payload that is not what its format documents. Shown to the sender as a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("body is not valid JSON for {format}: {message} (at `{path}`)")]
    Json {
        format: &'static str,
        path: String,
        message: String,
    },
    #[error("{format}: {message} (at `{path}`)")]
    Invalid {
        format: &'static str,
        path: String,
        message: String,
    },
}

impl PayloadError {
    pub(crate) fn invalid(
        format: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        PayloadError::Invalid {
            format,
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Deserializes `body` as `T`, naming the JSON path of the first problem.
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    format: &'static str,
    body: &[u8],
) -> Result<T, PayloadError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        PayloadError::Json {
            format,
            path: if path.is_empty() || path == "." {
                "$".into()
            } else {
                path
            },
            message: error.into_inner().to_string(),
        }
    })
}
