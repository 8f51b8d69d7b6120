//! How the binary fails: which exit code, and what the operator should do next.

use std::ffi::OsString;
use std::fmt;
use std::process::ExitCode;
use tcauth_store::StoreError;

/// Exit status for success.
pub const EXIT_OK: u8 = 0;
/// Exit status when an operation failed (not found, conflict, store or I/O failure).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status when the command line or the input's fields are malformed.
pub const EXIT_USAGE: u8 = 2;

/// An error the operator fixes by changing the command line, the configuration or the input.
/// Anywhere in an error's chain, it makes the binary exit with [`EXIT_USAGE`].
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error as an `anyhow::Error`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// The exit status for an error that reached `main`.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|e| e.is::<UsageError>()) {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

/// Whether the command line asks for JSON (`--json` before any `--`): errors are then JSON too.
pub fn json_requested(args: impl IntoIterator<Item = OsString>) -> bool {
    args.into_iter()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// The kind of an error as `--json` names it: `usage` (exit 2) or `failed` (exit 1).
fn kind(code: u8) -> &'static str {
    if code == EXIT_USAGE {
        "usage"
    } else {
        "failed"
    }
}

/// One JSON error object, as printed on stderr with `--json`: `error` (`usage` or `failed`),
/// `message`, `exit_code`, and `hint` when the text says what to do after a `; ` (the form
/// every error of this binary is written in: "what went wrong; what to do").
pub fn json_error(code: u8, text: &str) -> String {
    let mut v = serde_json::json!({"error": kind(code), "exit_code": code});
    match text.split_once("; ") {
        Some((message, hint)) if !message.is_empty() && !hint.trim().is_empty() => {
            v["message"] = message.into();
            v["hint"] = hint.trim().into();
        }
        _ => v["message"] = text.into(),
    }
    v.to_string()
}

/// Prints an error that reached `main` on stderr (`error: …`, or JSON with `--json`) and
/// returns the exit status.
pub fn report(err: &anyhow::Error, json: bool) -> u8 {
    let code = exit_code(err);
    if json {
        eprintln!("{}", json_error(code, &format!("{err:#}")));
    } else {
        eprintln!("error: {err:#}");
    }
    code
}

/// A command line clap refused, or `--help` / `--version`: clap prints those itself (exit 0
/// for help and version, 2 for a usage error); with `--json` a usage error is JSON on stderr.
pub fn clap_error(e: clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    let informational = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
    if !json || informational {
        let _ = e.print();
        return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
    }
    let rendered = e.render().to_string();
    let mut lines = rendered.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid command line");
    let message = first.strip_prefix("error: ").unwrap_or(first).trim();
    let usage = lines
        .find_map(|l| l.trim().strip_prefix("Usage: "))
        .map(|u| format!("; usage: {u}"))
        .unwrap_or_default();
    eprintln!(
        "{}",
        json_error(EXIT_USAGE, &format!("{message}{usage}; see --help"))
    );
    ExitCode::from(EXIT_USAGE)
}

/// A store error with what to do about it.
pub fn store_error(err: StoreError) -> anyhow::Error {
    let hint = match &err {
        StoreError::Unavailable(_) => {
            "the database is busy or unreachable: is another tcauth using the data dir, \
             or is the disk full? Try again, or stop the other process"
        }
        StoreError::Conflict(_) => return anyhow::anyhow!("{err}"),
        StoreError::Internal(_) => {
            "a bug or a damaged database: check the file or restore a backup, \
             and report it with the output of TCAUTH_LOG=debug"
        }
    };
    anyhow::anyhow!("{err}; {hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_requested_before_a_double_dash_only() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(json_requested(args(&[
            "tcauth", "client", "list", "--json"
        ])));
        assert!(!json_requested(args(&["tcauth", "client", "list"])));
        assert!(!json_requested(args(&["tcauth", "user", "--", "--json"])));
        assert!(
            !json_requested(args(&["--json", "client"])),
            "argv[0] is the program"
        );
    }

    #[test]
    fn json_errors() {
        let v: serde_json::Value = serde_json::from_str(&json_error(2, "a \"b\"\n")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": "usage", "message": "a \"b\"\n", "exit_code": 2})
        );
        let v: serde_json::Value =
            serde_json::from_str(&json_error(1, "no such client; list them; or not")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": "failed", "message": "no such client",
                "hint": "list them; or not", "exit_code": 1})
        );
        assert_eq!(exit_code(&usage("x")), EXIT_USAGE);
        assert_eq!(exit_code(&anyhow::anyhow!("x")), EXIT_FAILURE);
    }
}
