//! Label matchers with Prometheus semantics.
//!
//! A label that a series does not have matches as the empty string, so `foo=""` selects series
//! without `foo` and `foo=~".*"` selects every series. Regexes are fully anchored: `a.c` matches
//! `abc` but not `xabcx`, and `.` matches newlines as in Prometheus (`(?s)`).

use std::fmt;

use regex::Regex;

/// The comparison a matcher performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`: the value equals.
    Equal,
    /// `!=`: the value differs.
    NotEqual,
    /// `=~`: the value matches the fully anchored regex.
    Regex,
    /// `!~`: the value does not match the fully anchored regex.
    NotRegex,
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        })
    }
}

/// A matcher could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatcherError {
    /// The regex does not compile.
    #[error("invalid regular expression {pattern:?}: {reason}")]
    BadRegex {
        /// The pattern as given.
        pattern: String,
        /// Why it failed.
        reason: String,
    },
}

/// A label matcher: `name op value`.
#[derive(Clone)]
pub struct Matcher {
    /// The label name to test.
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value or regex source as written.
    pub value: String,
    re: Option<Regex>,
}

impl Matcher {
    /// Returns a matcher; compiles the regex for `=~` and `!~`, fully anchored.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, MatcherError> {
        let value = value.into();
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                Some(Regex::new(&format!("^(?s:{value})$")).map_err(|e| {
                    MatcherError::BadRegex {
                        pattern: value.clone(),
                        reason: e.to_string(),
                    }
                })?)
            }
            _ => None,
        };
        Ok(Matcher {
            name: name.into(),
            op,
            value,
            re,
        })
    }

    /// Returns an equality matcher, which cannot fail.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            name: name.into(),
            op: MatchOp::Equal,
            value: value.into(),
            re: None,
        }
    }

    /// Returns whether a label value matches; pass `""` for a label the series lacks.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => v == self.value,
            MatchOp::NotEqual => v != self.value,
            MatchOp::Regex => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::NotRegex => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// Returns whether this matcher accepts series that lack the label entirely.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// Returns whether a label set matches this matcher.
    pub fn matches_labels(&self, labels: &crate::Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }

    /// Returns the alternatives of a regex that is only a `|`-list of literals (`a|b|c`), so that
    /// stores can look each up directly instead of scanning values.
    pub fn literal_alternatives(&self) -> Option<Vec<&str>> {
        if self.op != MatchOp::Regex {
            return None;
        }
        let special = |c: char| "\\.+*?()[]{}^$".contains(c);
        if self.value.chars().any(special) {
            return None;
        }
        Some(self.value.split('|').collect())
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op, self.value)
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op, self.value)
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_fully_anchored() {
        let m = Matcher::new(MatchOp::Regex, "a", "b.d").unwrap();
        assert!(m.matches("bcd"));
        assert!(!m.matches("xbcdx"));
        let m = Matcher::new(MatchOp::Regex, "a", "foo|bar").unwrap();
        assert!(m.matches("bar"));
        assert!(!m.matches("foobar"));
    }

    #[test]
    fn dot_matches_newline() {
        let m = Matcher::new(MatchOp::Regex, "a", "x.*").unwrap();
        assert!(m.matches("x\ny"));
    }

    #[test]
    fn empty_matching_semantics() {
        assert!(Matcher::equal("a", "").matches_empty());
        assert!(
            Matcher::new(MatchOp::Regex, "a", ".*")
                .unwrap()
                .matches_empty()
        );
        assert!(
            !Matcher::new(MatchOp::Regex, "a", ".+")
                .unwrap()
                .matches_empty()
        );
        assert!(
            Matcher::new(MatchOp::NotEqual, "a", "x")
                .unwrap()
                .matches_empty()
        );
        assert!(
            !Matcher::new(MatchOp::NotRegex, "a", ".*")
                .unwrap()
                .matches_empty()
        );
    }

    #[test]
    fn bad_regex_is_an_error() {
        assert!(Matcher::new(MatchOp::Regex, "a", "(").is_err());
    }

    #[test]
    fn literal_alternatives_detected() {
        let m = Matcher::new(MatchOp::Regex, "a", "x|y").unwrap();
        assert_eq!(m.literal_alternatives(), Some(vec!["x", "y"]));
        let m = Matcher::new(MatchOp::Regex, "a", "x.*").unwrap();
        assert_eq!(m.literal_alternatives(), None);
    }
}
