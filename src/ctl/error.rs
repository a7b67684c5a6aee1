//! [`CtlError`]: what went wrong for `switchyard ctl`, said plainly, with the exit code it
//! ends with. Its own file because reading the server file and talking HTTP both fail.

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Bad arguments or local setup (server file, token file).
    #[error("{0}")]
    Usage(String),
    #[error("cannot reach the control API at {base}: {why}")]
    Unreachable { base: String, why: String },
    #[error("the control API refused the token ({status}){hint}")]
    Auth { status: u16, hint: String },
    /// The server answered, and the answer is no.
    #[error("the server said no ({status}): {message}")]
    Refused { status: u16, message: String },
    /// The request went through; what it asked for did not happen.
    #[error("{0}")]
    Failed(String),
}

impl CtlError {
    /// The documented exit code (see [`super::EXIT_CODES`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            CtlError::Refused { .. } | CtlError::Failed(_) => 1,
            CtlError::Usage(_) => 2,
            CtlError::Unreachable { .. } => 3,
            CtlError::Auth { .. } => 4,
        }
    }
}
