//! The process exit code of a command: 0 ok / done, 1 failure or unfinished, 2 bad input.

use std::process::ExitCode as StdExitCode;

use crate::error::HarnessError;

/// The process exit code of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    Failure = 1,
    BadInput = 2,
}

impl From<ExitCode> for StdExitCode {
    fn from(code: ExitCode) -> StdExitCode {
        StdExitCode::from(code as u8)
    }
}

/// Exit code 2 for errors that are the user's input, 1 for the rest.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    let bad_input = error.chain().any(|cause| {
        cause
            .downcast_ref::<HarnessError>()
            .is_some_and(HarnessError::is_bad_input)
    });
    if bad_input {
        ExitCode::BadInput
    } else {
        ExitCode::Failure
    }
}
