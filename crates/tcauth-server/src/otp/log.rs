//! The development sender: writes each code to the server log.

use super::{OtpMessage, OtpSender, SendError};
use async_trait::async_trait;

/// Writes codes to the log at WARN, with the number masked but for its last four digits. For
/// development only: anyone who reads the log can sign in as anyone.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogSender;

/// `+919876543210` → `+********3210`: every digit but the last four hidden.
pub fn mask(e164: &str) -> String {
    let digits = e164.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    e164.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 4 <= digits {
                    return '*';
                }
            }
            c
        })
        .collect()
}

#[async_trait]
impl OtpSender for LogSender {
    async fn send(&self, msg: &OtpMessage) -> Result<(), SendError> {
        tracing::warn!(
            phone = %mask(&msg.phone_e164),
            purpose = msg.purpose.as_str(),
            expires_in = msg.expires_in,
            code = %msg.code,
            "one-time code (log sender, for development: set TCAUTH_OTP_WEBHOOK_URL to send \
             codes by SMS)"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_all_but_the_last_four_digits() {
        assert_eq!(mask("+919876543210"), "+********3210");
        assert_eq!(mask("+1234"), "+1234");
        assert_eq!(mask(""), "");
    }
}
