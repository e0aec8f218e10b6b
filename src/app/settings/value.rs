//! Reading one setting's text: trimmed, empty = absent, comma lists, booleans; and the error
//! that names the setting and says what to fix. Every settings file of the app reads values so.

/// A setting that could not be used; the message names it and says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct SettingsError {
    /// The setting's name.
    pub setting: &'static str,
    /// What is wrong.
    pub problem: String,
}

pub fn err(setting: &'static str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        setting,
        problem: problem.into(),
    }
}

pub fn nonempty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub fn list(value: Option<String>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

pub fn boolean(setting: &'static str, value: Option<String>) -> Result<bool, SettingsError> {
    match nonempty(value).map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(err(setting, format!("{other:?} must be true or false"))),
    }
}

/// A whole number in `range`, or `None` when not set; `what` says what a good value is.
pub fn number(
    setting: &'static str,
    value: Option<String>,
    range: std::ops::RangeInclusive<u64>,
    what: &str,
) -> Result<Option<u64>, SettingsError> {
    match nonempty(value) {
        None => Ok(None),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(err(setting, format!("{v:?} must be {what}"))),
        },
    }
}

/// A number of seconds in `range`, `default` when unset; the error names the range.
pub fn seconds(
    setting: &'static str,
    value: Option<String>,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<std::time::Duration, SettingsError> {
    let what = format!(
        "a number of seconds from {} to {}",
        range.start(),
        range.end()
    );
    let secs = number(setting, value, range, &what)?.unwrap_or(default);
    Ok(std::time::Duration::from_secs(secs))
}
