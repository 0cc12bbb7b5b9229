//! [`Secret`]: a password, token or private key that must never be printed.
//!
//! Errors and logs are built with `Display`/`Debug`, and configuration structs derive `Debug`;
//! a secret held in a plain `String` would leak through any of them (`-vv`, a panic message,
//! an embedder's `{:?}`). Holding it in this type makes the safe thing the default: the value
//! is only reachable through [`Secret::expose`], which the SASL and TLS code call at the point
//! of use.

use std::fmt;

/// A secret string: `Debug` and `Display` print `[redacted]`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself: only for the code that sends or uses it, never for messages.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// No value was given (an empty password is still a value the broker will judge).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some([redacted])");
        assert_eq!(s.expose(), "hunter2");
    }
}
