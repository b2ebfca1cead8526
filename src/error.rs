//! Exit-code policy at the process boundary: which failures are the user's input (exit 2) and which
//! are a failed run (exit 1). Library modules keep their own typed errors; this only classifies.

use std::io;

/// A bad flag or argument found by the command glue, with the flag it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct UsageError {
    pub flag: String,
    pub message: String,
}

impl UsageError {
    pub fn new(flag: impl Into<String>, message: impl ToString) -> UsageError {
        UsageError {
            flag: flag.into(),
            message: message.to_string(),
        }
    }
}

/// Exit status for an error chain: 2 for input errors, 0 for a closed stdout (the reader went
/// away: not our failure), 1 for everything else.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<io::Error>() {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return 0;
            }
        }
        if is_input_error(cause) {
            return 2;
        }
    }
    1
}

fn is_input_error(cause: &(dyn std::error::Error + 'static)) -> bool {
    use crate::pow::{BackendError, HeaderError, RangeError, TargetError};
    cause.is::<UsageError>()
        || cause.is::<HeaderError>()
        || cause.is::<TargetError>()
        || cause.is::<RangeError>()
        || cause.is::<InputError>()
        || cause.is::<crate::scenario::ScenarioError>()
        || matches!(
            cause.downcast_ref::<BackendError>(),
            Some(BackendError::Unknown { .. } | BackendError::Unavailable { .. })
        )
}

/// Any other error that is the user's input at fault (a file that cannot be read or parsed, a
/// missing baseline...), with the message already naming the file or flag.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);
