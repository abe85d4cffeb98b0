//! Okta's error body (`errorCode`, `errorSummary`, `errorId`, causes): what
//! of it reaches an error, shown to a person, with the token scrubbed out.

use std::fmt;

use serde::Deserialize;

/// The parts of Okta's error body (`errorCode`, `errorSummary`, `errorId`,
/// `errorCauses`) that help a person; every field is optional because 5xx
/// bodies are sometimes HTML and proxies answer with their own pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetail {
    pub error_code: Option<String>,
    pub summary: Option<String>,
    pub error_id: Option<String>,
    pub causes: Vec<String>,
}

impl ErrorDetail {
    /// Parses an Okta error body; anything else gives an empty detail.
    pub fn from_body(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Cause {
            error_summary: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Body {
            error_code: Option<String>,
            error_summary: Option<String>,
            error_id: Option<String>,
            #[serde(default)]
            error_causes: Option<Vec<Cause>>,
        }
        match serde_json::from_slice::<Body>(body) {
            Ok(b) => Self {
                error_code: b.error_code,
                summary: b.error_summary,
                error_id: b.error_id,
                causes: b
                    .error_causes
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|c| c.error_summary)
                    .collect(),
            },
            Err(_) => Self::default(),
        }
    }

    /// Whether the body was Okta's JSON error shape.
    pub fn is_okta_error(&self) -> bool {
        self.error_code.is_some()
    }

    /// An OAuth 2.0 error body (`error`, `error_description`), as the token
    /// endpoint sends: `error` becomes the code, the description the summary.
    pub fn from_oauth_body(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Body {
            error: Option<String>,
            error_description: Option<String>,
        }
        match serde_json::from_slice::<Body>(body) {
            Ok(b) => Self {
                error_code: b.error,
                summary: b.error_description,
                ..Self::default()
            },
            Err(_) => Self::default(),
        }
    }

    pub(super) fn scrub(&mut self, scrub: &impl Fn(&mut String)) {
        for text in [&mut self.error_code, &mut self.summary, &mut self.error_id]
            .into_iter()
            .flatten()
        {
            scrub(text);
        }
        self.causes.iter_mut().for_each(scrub);
    }
}

impl fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.error_code, &self.summary) {
            (Some(code), Some(summary)) => write!(f, "{code}: {summary}")?,
            (Some(code), None) => f.write_str(code)?,
            (None, Some(summary)) => f.write_str(summary)?,
            (None, None) => f.write_str("no Okta error body")?,
        }
        if !self.causes.is_empty() {
            write!(f, " ({})", self.causes.join("; "))?;
        }
        if let Some(id) = &self.error_id {
            write!(f, " [errorId {id}]")?;
        }
        Ok(())
    }
}
