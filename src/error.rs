//! Exit-code policy at the process boundary: which failures are the user's input (exit 2) and which
//! are a failed run (exit 1). Library modules keep their own typed errors; this only classifies.

/// `eprintln!` that never panics: a line to stderr, dropped if stderr is gone (`2>&1 | head`
/// closes it too). What a command writes to files or returns must not depend on whether anyone
/// is still reading its log lines.
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr(), $($arg)*);
    }};
}

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

/// Exit status for an error chain: 2 for input errors, 1 for everything else. (A closed stdout
/// is not an error at all: the command glue stops printing and carries on.)
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if is_input_error(cause) {
            return 2;
        }
    }
    1
}

/// The error chain as one line, `outer: cause: root`, leaving out a cause whose text an outer
/// message already contains (an error that prints its source *and* returns it from `source()`
/// would otherwise read "No such file (os error 2): No such file (os error 2)").
pub fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_does_not_repeat_a_cause_the_outer_text_already_holds() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot write report.json: {source}")]
        struct Wrap {
            source: std::io::Error,
        }
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let text = io.to_string();
        let err = anyhow::Error::new(Wrap { source: io }).context("scenario quick");
        assert_eq!(
            message(&err),
            format!("scenario quick: cannot write report.json: {text}")
        );
        assert_eq!(message(&err).matches(&text).count(), 1);
    }
}
