//! Web PubSub role templates (`WEBPUBSUB_TOKEN_ROLES`, `WEBPUBSUB_CONNECT_ROLES`) filled from the
//! caller's claims. A wildcard role (`webpubsub.joinLeaveGroups.<pattern>`,
//! `webpubsub.sendToGroups.<pattern>`) is a pattern in which `*`, `?` and `\` are special
//! (`docs/webpubsub.md` §2.2), so a value put into one must contain none of them: with
//! `webpubsub.joinLeaveGroups.user-{userId}.*`, a user whose id is `*` would get
//! `user-*.*` and join every user's groups. Such an identity is refused with 400 naming the
//! claim, as negotiate refuses claims that would be ambiguous upstream. A literal role
//! (`webpubsub.joinLeaveGroup.<group>`) takes any value: its group is the text itself.

use std::cell::RefCell;

use crate::app::error::ApiError;
use crate::app::negotiate::{render_with, Unfilled};

/// The characters a wildcard role's pattern treats specially.
pub const PATTERN_CHARACTERS: [char; 3] = ['*', '?', '\\'];

/// The stems of the wildcard roles; what follows is a pattern.
const WILDCARD_STEMS: [&str; 2] = ["webpubsub.joinLeaveGroups.", "webpubsub.sendToGroups."];

/// Checks the values `value` gives the placeholders (`userId`, a claim, …) of every wildcard
/// role template: one with a pattern character is the error (400, naming the claim). Values
/// that are missing or ambiguous are left to the filling, which skips their templates.
pub fn check_role_values(
    templates: &[String],
    value: impl Fn(&str) -> Result<String, Unfilled>,
) -> Result<(), ApiError> {
    for template in templates {
        if !WILDCARD_STEMS.iter().any(|s| template.starts_with(s)) {
            continue;
        }
        let refused = RefCell::new(None);
        // Visits every placeholder (each answers an empty text, so none stops the walk).
        let _ = render_with(template, |name| {
            if let Ok(text) = value(name) {
                if text.contains(PATTERN_CHARACTERS) && refused.borrow().is_none() {
                    *refused.borrow_mut() = Some((name.to_string(), text));
                }
            }
            Ok(String::new())
        });
        if let Some((name, text)) = refused.into_inner() {
            return Err(pattern_in_value(template, &name, &text));
        }
    }
    Ok(())
}

fn pattern_in_value(template: &str, name: &str, value: &str) -> ApiError {
    let (code, what) = match name {
        "userId" => ("InvalidUserId", "user id".to_string()),
        claim => ("InvalidClaim", format!("claim {claim}")),
    };
    let shown: String = value.chars().take(64).collect();
    ApiError::bad_request(
        code,
        format!(
            "the caller's {what} {shown:?} cannot fill the role template {template:?}: it contains * ? or \\, which the wildcard role would read as a pattern granting other groups"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(name: &str) -> Result<String, Unfilled> {
        match name {
            "userId" => Ok("*".into()),
            "tid" => Ok("t?1".into()),
            "plain" => Ok("alice".into()),
            other => Err(Unfilled::Missing(other.into())),
        }
    }

    fn check(list: &[&str]) -> Result<(), ApiError> {
        let templates: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        check_role_values(&templates, value)
    }

    #[test]
    fn pattern_characters_are_refused_in_wildcard_roles_only() {
        assert!(check(&["webpubsub.joinLeaveGroups.user-{userId}.*"]).is_err());
        assert!(check(&["webpubsub.sendToGroups.room-{tid}"]).is_err());
        // Behind a placeholder without a value, still found.
        assert!(check(&["webpubsub.sendToGroups.{missing}-{tid}"]).is_err());
        // Literal roles name one group; the value is its text.
        assert!(check(&["webpubsub.joinLeaveGroup.user-{userId}"]).is_ok());
        assert!(check(&[
            "webpubsub.joinLeaveGroups.user-{plain}.*",
            "webpubsub.sendToGroups.{missing}"
        ])
        .is_ok());
    }
}
