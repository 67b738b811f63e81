//! What the user sees: failures and exit statuses, the log, the output.

pub mod failure;
pub mod log;
pub mod output;
