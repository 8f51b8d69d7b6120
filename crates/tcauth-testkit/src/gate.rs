//! Tests that need something from the environment (a database, Redis, a browser) and pass
//! without running when it is not set, after one loud line:
//! `SKIPPED: set VAR (what to set it to) to run <the test>`. The line goes straight to the
//! stderr handle, which the test harness does not capture, so it shows in every run.

use std::io::Write;

/// An environment variable a test needs, and what to set it to.
#[derive(Debug, Clone, Copy)]
pub struct Need {
    pub var: &'static str,
    /// An example value, and who sets it.
    pub set_to: &'static str,
}

/// The test PostgreSQL database (a role that may create schemas).
pub const TEST_DATABASE_URL: Need = Need {
    var: "TCAUTH_TEST_DATABASE_URL",
    set_to: "e.g. postgres://postgres@127.0.0.1:5432/test; scripts/test.sh finds or starts it",
};

/// The test Redis.
pub const TEST_REDIS_URL: Need = Need {
    var: "TCAUTH_TEST_REDIS_URL",
    set_to: "e.g. redis://127.0.0.1:6379/; scripts/test.sh finds or starts it",
};

/// The browser journeys in a real headless Chromium.
pub const BROWSER_TESTS: Need = Need {
    var: "TCAUTH_BROWSER_TESTS",
    set_to: "to 1, with Debian's chromium and chromium-driver installed: apt-get install \
             chromium chromium-driver; scripts/test.sh sets it when they are",
};

/// The test host names in `/etc/hosts` (`169.254.169.254 metadata.tcauth.test`: a name that
/// resolves to a link-local address).
pub const TEST_HOSTS: Need = Need {
    var: "TCAUTH_TEST_HOSTS",
    set_to: "to 1 once /etc/hosts has the line `169.254.169.254 metadata.tcauth.test`; \
             .ci/run adds it, scripts/test.sh then sets the variable",
};

/// The value of `need.var` (trimmed), or `None` after one loud `SKIPPED` line when it is
/// unset or empty. `what` names the test (`"the Redis cluster test {test}"`).
pub fn env_or_skip(need: &Need, what: &str) -> Option<String> {
    all_or_skip(&[need], what).map(|mut v| v.remove(0))
}

/// The values of every variable of `needs` (trimmed), in order; or `None` after one loud
/// `SKIPPED` line naming each of them that is unset or empty, and what to set it to.
pub fn all_or_skip(needs: &[&Need], what: &str) -> Option<Vec<String>> {
    values_or_say(needs, what, &mut std::io::stderr())
}

/// [`all_or_skip`], saying SKIPPED to `out`.
fn values_or_say(needs: &[&Need], what: &str, out: &mut dyn Write) -> Option<Vec<String>> {
    let mut values = Vec::with_capacity(needs.len());
    let mut missing = Vec::new();
    for need in needs {
        match std::env::var(need.var) {
            Ok(v) if !v.trim().is_empty() => values.push(v.trim().to_string()),
            _ => missing.push(format!("{} ({})", need.var, need.set_to)),
        }
    }
    if missing.is_empty() {
        return Some(values);
    }
    let _ = writeln!(out, "SKIPPED: set {} to run {what}", missing.join(" and "));
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_variables_skip_with_one_line_and_set_ones_are_returned() {
        // A name no environment defines, and one every environment does.
        let unset = Need {
            var: "TCAUTH_TESTKIT_GATE_TEST_UNSET_VARIABLE",
            set_to: "e.g. 1",
        };
        let path = Need {
            var: "PATH",
            set_to: "anything",
        };
        let value = std::env::var("PATH").unwrap().trim().to_string();
        let mut out = Vec::new();
        let got = values_or_say(&[&path, &path], "the test t", &mut out);
        assert_eq!(got, Some(vec![value.clone(), value]));
        assert!(out.is_empty());
        let got = values_or_say(&[&unset, &path, &unset], "the test t", &mut out);
        assert_eq!(got, None);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "SKIPPED: set TCAUTH_TESTKIT_GATE_TEST_UNSET_VARIABLE (e.g. 1) and \
             TCAUTH_TESTKIT_GATE_TEST_UNSET_VARIABLE (e.g. 1) to run the test t\n"
        );
    }
}
