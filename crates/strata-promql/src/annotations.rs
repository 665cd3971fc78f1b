//! Warnings and infos that a query raises next to its result, worded as Prometheus words them.

/// Whether an annotation is a warning or an info.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something is likely wrong with the query or data (`PromQL warning:`).
    Warning,
    /// A hint (`PromQL info:`).
    Info,
}

/// A deduplicated, ordered set of annotations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Annotations {
    items: Vec<(Level, String)>,
}

impl Annotations {
    /// Adds an annotation unless the same text is already present.
    pub fn add(&mut self, level: Level, msg: String) {
        if !self.items.iter().any(|(l, m)| *l == level && *m == msg) {
            self.items.push((level, msg));
        }
    }

    /// Adds a warning; `msg` is the text after `PromQL warning: `.
    pub fn warn(&mut self, msg: impl Into<String>) {
        self.add(Level::Warning, format!("PromQL warning: {}", msg.into()));
    }

    /// Adds an info; `msg` is the text after `PromQL info: `.
    pub fn info(&mut self, msg: impl Into<String>) {
        self.add(Level::Info, format!("PromQL info: {}", msg.into()));
    }

    /// Merges another set into this one.
    pub fn merge(&mut self, other: Annotations) {
        for (l, m) in other.items {
            self.add(l, m);
        }
    }

    /// Returns the warning texts.
    pub fn warnings(&self) -> Vec<String> {
        self.of(Level::Warning)
    }

    /// Returns the info texts.
    pub fn infos(&self) -> Vec<String> {
        self.of(Level::Info)
    }

    /// Returns whether there are no annotations.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn of(&self, level: Level) -> Vec<String> {
        self.items
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, m)| m.clone())
            .collect()
    }
}
