//! OAuth scopes tcauth knows, as a small bit set.

use std::fmt;

/// One scope tcauth understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Openid,
    Profile,
    Phone,
    Email,
    Address,
    OfflineAccess,
}

impl Scope {
    /// Every supported scope, in the order discovery lists them.
    pub const ALL: [Scope; 6] = [
        Scope::Openid,
        Scope::Profile,
        Scope::Phone,
        Scope::Email,
        Scope::Address,
        Scope::OfflineAccess,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Openid => "openid",
            Scope::Profile => "profile",
            Scope::Phone => "phone",
            Scope::Email => "email",
            Scope::Address => "address",
            Scope::OfflineAccess => "offline_access",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|sc| sc.as_str() == s)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of scopes. Displays space-separated in canonical order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScopeSet(u8);

/// Why a scope string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}")]
pub struct UnknownScope(pub String);

impl ScopeSet {
    pub const fn empty() -> Self {
        ScopeSet(0)
    }

    pub fn all() -> Self {
        Scope::ALL.into_iter().collect()
    }

    /// Parses a space-separated scope string (RFC 6749 §3.3). Empty tokens are ignored;
    /// any unknown scope is an error.
    pub fn parse(s: &str) -> Result<Self, UnknownScope> {
        let mut set = ScopeSet::empty();
        for tok in s.split(' ').filter(|t| !t.is_empty()) {
            let sc = Scope::parse(tok).ok_or_else(|| UnknownScope(truncate(tok, 64)))?;
            set.insert(sc);
        }
        Ok(set)
    }

    /// Parses a list of scope names (as the admin API takes them).
    pub fn from_names<I, S>(names: I) -> Result<Self, UnknownScope>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = ScopeSet::empty();
        for n in names {
            let n = n.as_ref();
            set.insert(Scope::parse(n).ok_or_else(|| UnknownScope(truncate(n, 64)))?);
        }
        Ok(set)
    }

    pub fn insert(&mut self, s: Scope) {
        self.0 |= s.bit();
    }

    pub fn contains(self, s: Scope) -> bool {
        self.0 & s.bit() != 0
    }

    pub fn is_subset_of(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Scope::as_str).collect()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<T: IntoIterator<Item = Scope>>(iter: T) -> Self {
        let mut set = ScopeSet::empty();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in self.iter() {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s.as_str())?;
            first = false;
        }
        Ok(())
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_in_canonical_order() {
        let s = ScopeSet::parse("phone  openid profile").unwrap();
        assert_eq!(s.to_string(), "openid profile phone");
        assert!(s.contains(Scope::Openid));
        assert!(!s.contains(Scope::Email));
    }

    #[test]
    fn rejects_unknown_scope() {
        assert_eq!(
            ScopeSet::parse("openid admin"),
            Err(UnknownScope("admin".into()))
        );
    }

    #[test]
    fn subset() {
        let a = ScopeSet::parse("openid").unwrap();
        let b = ScopeSet::parse("openid phone").unwrap();
        assert!(a.is_subset_of(b));
        assert!(!b.is_subset_of(a));
        assert!(ScopeSet::empty().is_subset_of(a));
    }
}
