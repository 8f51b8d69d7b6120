//! The protocol rules of tcauth, free of HTTP, SQL and clocks.
//!
//! Everything here is pure: time is passed in as Unix seconds, randomness comes from the
//! operating system's CSPRNG through [`secret`]. The HTTP layer (`tcauth-server`) and the
//! storage layer (`tcauth-store`) both speak in the types defined here.

pub mod claims;
pub mod error;
pub mod model;
pub mod otp;
pub mod phone;
pub mod pkce;
pub mod profile;
pub mod ratelimit;
pub mod scope;
pub mod secret;
pub mod validate;

pub use error::TokenError;
pub use scope::{Scope, ScopeSet};
