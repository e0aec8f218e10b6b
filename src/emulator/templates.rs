//! Upstream URL templates: which URL the emulator calls for a (hub, category, event), loaded from
//! a Microsoft-emulator-style `settings.json` or given on the command line. First match wins.

use std::path::Path;

use serde_json::Value;

use crate::service::names;

/// A settings file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file cannot be read.
    #[error("cannot read upstream settings {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not the expected JSON shape.
    #[error("upstream settings: {0}")]
    Shape(String),
    /// A URL template does not produce an absolute http(s) URL.
    #[error("upstream URL template {0:?} is not an absolute http:// or https:// URL")]
    BadUrl(String),
}

/// One upstream rule: where to POST events whose hub, category and event match the patterns.
/// Patterns are `*` (anything), a comma-separated list, or one exact name, compared ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTemplate {
    /// The URL, with optional `{hub}`, `{category}` and `{event}` placeholders.
    pub url_template: String,
    /// Which hubs.
    pub hub_pattern: String,
    /// Which categories (`connections`, `messages`).
    pub category_pattern: String,
    /// Which events (`connected`, `disconnected`, or a hub method name).
    pub event_pattern: String,
}

fn pattern_matches(pattern: &str, value: &str) -> bool {
    pattern
        .split(',')
        .map(str::trim)
        .any(|p| p == "*" || p.eq_ignore_ascii_case(value))
}

impl UpstreamTemplate {
    /// A rule that sends every event of every hub to `url` (placeholders allowed).
    pub fn all(url: impl Into<String>) -> Self {
        Self {
            url_template: url.into(),
            hub_pattern: "*".into(),
            category_pattern: "*".into(),
            event_pattern: "*".into(),
        }
    }

    /// Whether this rule covers the event.
    pub fn matches(&self, hub: &str, category: &str, event: &str) -> bool {
        pattern_matches(&self.hub_pattern, hub)
            && pattern_matches(&self.category_pattern, category)
            && pattern_matches(&self.event_pattern, event)
    }

    /// The URL for the event, with the placeholders percent-encoded.
    pub fn url(&self, hub: &str, category: &str, event: &str) -> String {
        self.url_template
            .replace("{hub}", &names::encode(hub))
            .replace("{category}", &names::encode(category))
            .replace("{event}", &names::encode(event))
    }

    /// Checks that the template yields an absolute http(s) URL.
    pub fn validate(&self) -> Result<(), TemplateError> {
        match url::Url::parse(&self.url("hub", "messages", "event")) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(()),
            _ => Err(TemplateError::BadUrl(self.url_template.clone())),
        }
    }

    /// Reads the templates of a Microsoft-emulator `settings.json`.
    pub fn load(path: &Path) -> Result<Vec<Self>, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse_settings(&text)
    }

    /// Parses `{"UpstreamSettings":{"Templates":[{"UrlTemplate", "HubPattern",
    /// "CategoryPattern", "EventPattern"}]}}` (keys in any casing; missing patterns mean `*`).
    pub fn parse_settings(json: &str) -> Result<Vec<Self>, TemplateError> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| TemplateError::Shape(format!("not valid JSON: {e}")))?;
        let Some(settings) = field(&value, "UpstreamSettings") else {
            return Ok(Vec::new());
        };
        let templates = match field(settings, "Templates") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(TemplateError::Shape(
                    "UpstreamSettings.Templates must be an array".into(),
                ))
            }
        };
        templates
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let text = |name: &str| -> Result<Option<String>, TemplateError> {
                    match field(item, name) {
                        None | Some(Value::Null) => Ok(None),
                        Some(Value::String(s)) => Ok(Some(s.clone())),
                        Some(_) => Err(TemplateError::Shape(format!(
                            "Templates[{i}].{name} must be a string"
                        ))),
                    }
                };
                let url_template = text("UrlTemplate")?.ok_or_else(|| {
                    TemplateError::Shape(format!("Templates[{i}] has no UrlTemplate"))
                })?;
                let template = Self {
                    url_template,
                    hub_pattern: text("HubPattern")?.unwrap_or_else(|| "*".into()),
                    category_pattern: text("CategoryPattern")?.unwrap_or_else(|| "*".into()),
                    event_pattern: text("EventPattern")?.unwrap_or_else(|| "*".into()),
                };
                template.validate()?;
                Ok(template)
            })
            .collect()
    }
}

fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_file_shape_and_matching() {
        let json = r#"{"upstreamSettings":{"templates":[
            {"urlTemplate":"http://a/{hub}/{category}/{event}","hubPattern":"chat, other","eventPattern":"connected"},
            {"UrlTemplate":"http://b/x"}]}}"#;
        let t = UpstreamTemplate::parse_settings(json).unwrap();
        assert_eq!(t.len(), 2);
        assert!(t[0].matches("Chat", "connections", "connected"));
        assert!(!t[0].matches("chat", "messages", "send"));
        assert!(t[1].matches("x", "y", "z"));
        assert_eq!(
            t[0].url("c h", "messages", "a/b"),
            "http://a/c%20h/messages/a%2Fb"
        );
        assert!(UpstreamTemplate::parse_settings(
            r#"{"UpstreamSettings":{"Templates":[{"UrlTemplate":"nope"}]}}"#
        )
        .is_err());
    }
}
