//! The HTTP side of `ctl`: one request at a time to the control API with the bearer
//! token; failures come back as [`CtlError`].

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::error::CtlError;
use super::target::Target;

/// An answer other than 401/403: its status and JSON body.
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The body of a 2xx answer; anything else is the server saying no.
    pub fn ok(self) -> Result<Value, CtlError> {
        if (200..300).contains(&self.status) {
            return Ok(self.body);
        }
        let message = self.body["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| match &self.body {
                Value::String(s) => s.trim().to_string(),
                other => other.to_string(),
            });
        Err(CtlError::Refused {
            status: self.status,
            message,
        })
    }
}

pub struct Client {
    target: Target,
    http: reqwest::Client,
}

impl Client {
    pub fn new(target: Target, timeout: Duration) -> Result<Client, CtlError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| CtlError::Usage(format!("cannot make an HTTP client: {e}")))?;
        Ok(Client { target, http })
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, CtlError> {
        self.request(Method::GET, path, query, None).await?.ok()
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Reply, CtlError> {
        self.request(Method::POST, path, &[], Some(body)).await
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<Reply, CtlError> {
        let base = &self.target.base;
        let mut req = self.http.request(method, format!("{base}{path}"));
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(t) = &self.target.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|e| self.unreachable(&e))?;
        if status == 401 || status == 403 {
            let hint = match (status, &self.target.token) {
                (401, None) => ": none was given (--token-file, or token_file in [control])",
                (401, Some(_)) => "",
                _ => ": the server has no token_file, so its control API is read-only",
            };
            return Err(CtlError::Auth {
                status,
                hint: hint.into(),
            });
        }
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Reply { status, body })
    }

    fn unreachable(&self, e: &reqwest::Error) -> CtlError {
        CtlError::Unreachable {
            base: self.target.base.clone(),
            why: root_cause(e),
        }
    }
}

/// The innermost cause in plain words: "connection refused", "timed out".
fn root_cause(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        if let Some(io) = next.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
                _ => strip_os_error(&io.to_string()),
            };
        }
        cause = next;
    }
    strip_os_error(&cause.to_string())
}

fn strip_os_error(s: &str) -> String {
    let s = s.split(" (os error").next().unwrap_or(s);
    s.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_documented_ones() {
        assert_eq!(CtlError::Usage(String::new()).exit_code(), 2);
        let gone = CtlError::Unreachable {
            base: "http://127.0.0.1:8053".into(),
            why: "connection refused".into(),
        };
        assert_eq!(gone.exit_code(), 3);
        assert_eq!(
            gone.to_string(),
            "cannot reach the control API at http://127.0.0.1:8053: connection refused"
        );
        let auth = CtlError::Auth {
            status: 401,
            hint: String::new(),
        };
        assert_eq!(auth.to_string(), "the control API refused the token (401)");
        assert_eq!(auth.exit_code(), 4);
        let no = Reply {
            status: 404,
            body: serde_json::json!({"error": "unknown pool nope"}),
        };
        let e = no.ok().unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert_eq!(e.to_string(), "the server said no (404): unknown pool nope");
    }
}
