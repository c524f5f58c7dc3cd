//! Automations and bots, as data.
//!
//! A channel's automations — automatic messages, business hours, FAQ, keyword rules, guided flows
//! and the hand-over to humans — are plain JSON-serialisable configuration, validated with errors
//! that point at the field. [`engine::respond`] turns one inbound event, the conversation's
//! automation state and that configuration into **at most one answer** plus side effects and the
//! next state. Nothing here does I/O: the server loads the facts, calls `respond`, and applies the
//! outcome in one transaction.

pub mod config;
pub mod engine;
pub mod faq;
pub mod flow;
pub mod hours;
pub mod localized;
pub mod rules;
pub mod state;
pub mod text;

use serde::Serialize;

/// A configuration mistake, with the JSON path of the field (`flows[0].nodes.ask_budget.next`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error under a parent path: `("faq[2]", "answer")` → `faq[2].answer`.
    pub fn under(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_owned()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}
