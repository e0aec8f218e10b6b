//! Web PubSub permissions (`docs/webpubsub.md` §2): what a connection's roles (from its token or
//! the `connect` handler) and its runtime grants (the permissions REST API) allow it to do with a
//! group. Wildcard roles (`webpubsub.joinLeaveGroups.<pattern>`,
//! `webpubsub.sendToGroups.<pattern>`) use `?` (one character but `.`), `*` (a run without `.`),
//! `**` (any run) and `\` escapes; matching is case-sensitive and a pattern with more than five `*`
//! matches nothing.

use crate::service::webpubsub::Permission;

/// Parses the REST path's `{permission}` (case-insensitive).
pub fn parse_permission(name: &str) -> Option<Permission> {
    [Permission::SendToGroup, Permission::JoinLeaveGroup]
        .into_iter()
        .find(|p| name.eq_ignore_ascii_case(p.as_str()))
}

/// The role name's stem: `webpubsub.sendToGroup` or `webpubsub.joinLeaveGroup`.
pub fn role(permission: Permission) -> &'static str {
    match permission {
        Permission::SendToGroup => "webpubsub.sendToGroup",
        Permission::JoinLeaveGroup => "webpubsub.joinLeaveGroup",
    }
}

/// A runtime grant: a permission on one group, or on every group (`None`).
pub type Grant = (Permission, Option<String>);

/// Whether `roles` or `grants` allow `permission` on `group`.
pub fn allows(roles: &[String], grants: &[Grant], permission: Permission, group: &str) -> bool {
    let stem = role(permission);
    let literal = roles.iter().any(|role| match role.strip_prefix(stem) {
        Some("") => true,
        Some(rest) => rest.strip_prefix('.') == Some(group),
        None => false,
    });
    let wildcard = || {
        let plural = format!("{stem}s.");
        roles
            .iter()
            .filter_map(|role| role.strip_prefix(plural.as_str()))
            .any(|pattern| wildcard_matches(pattern, group))
    };
    let granted = || {
        grants
            .iter()
            .any(|(p, target)| *p == permission && target.as_deref().is_none_or(|t| t == group))
    };
    literal || wildcard() || granted()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Char(char),
    One,
    Segment,
    Any,
}

fn compile(pattern: &str) -> Option<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut chars = pattern.chars().peekable();
    let mut stars = 0;
    while let Some(c) = chars.next() {
        pieces.push(match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | '*' | '?')) => Piece::Char(e),
                _ => return None,
            },
            '?' => Piece::One,
            '*' => {
                stars += 1;
                if chars.peek() == Some(&'*') {
                    chars.next();
                    stars += 1;
                    Piece::Any
                } else {
                    Piece::Segment
                }
            }
            c => Piece::Char(c),
        });
    }
    (stars <= 5).then_some(pieces)
}

/// Whether the wildcard `pattern` matches `group` (see the module docs), in time linear in each
/// (at most the product of their lengths, never backtracking): the pattern runs as an automaton
/// whose live positions advance together over the group's characters.
pub fn wildcard_matches(pattern: &str, group: &str) -> bool {
    let Some(pieces) = compile(pattern) else {
        return false;
    };
    // live[i]: the text read so far can be matched by pieces[..i].
    let mut live = vec![false; pieces.len() + 1];
    live[0] = true;
    skip_empty_stars(&pieces, &mut live);
    for c in group.chars() {
        let mut next = vec![false; pieces.len() + 1];
        for (i, piece) in pieces.iter().enumerate().filter(|(i, _)| live[*i]) {
            match piece {
                Piece::Char(p) if *p == c => next[i + 1] = true,
                Piece::One if c != '.' => next[i + 1] = true,
                Piece::Segment if c != '.' => next[i] = true,
                Piece::Any => next[i] = true,
                _ => {}
            }
        }
        live = next;
        skip_empty_stars(&pieces, &mut live);
        if !live.contains(&true) {
            return false;
        }
    }
    live[pieces.len()]
}

/// A `*` or `**` may match nothing: a live position before one makes the one after it live.
fn skip_empty_stars(pieces: &[Piece], live: &mut [bool]) {
    for (i, piece) in pieces.iter().enumerate() {
        if live[i] && matches!(piece, Piece::Segment | Piece::Any) {
            live[i + 1] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn permissions_parse_ignoring_case() {
        assert_eq!(
            parse_permission("SENDTOGROUP"),
            Some(Permission::SendToGroup)
        );
        assert_eq!(
            parse_permission("joinLeaveGroup"),
            Some(Permission::JoinLeaveGroup)
        );
        assert_eq!(parse_permission("fly"), None);
    }

    #[test]
    fn literal_roles_and_grants() {
        let send = Permission::SendToGroup;
        let join = Permission::JoinLeaveGroup;
        assert!(!allows(&[], &[], send, "g"));
        assert!(allows(&roles(&["webpubsub.sendToGroup"]), &[], send, "g"));
        assert!(!allows(&roles(&["webpubsub.sendToGroup"]), &[], join, "g"));
        let one = roles(&["webpubsub.sendToGroup.group1"]);
        assert!(allows(&one, &[], send, "group1"));
        assert!(!allows(&one, &[], send, "group2"));
        assert!(!allows(&one, &[], send, "group1.x"));
        assert!(allows(&[], &[(join, Some("g".into()))], join, "g"));
        assert!(!allows(&[], &[(join, Some("g".into()))], join, "h"));
        assert!(allows(&[], &[(join, None)], join, "h"));
        assert!(!allows(&[], &[(join, None)], send, "h"));
    }

    #[test]
    fn wildcard_roles() {
        let r = roles(&["webpubsub.joinLeaveGroups.chat.*"]);
        assert!(allows(&r, &[], Permission::JoinLeaveGroup, "chat.room1"));
        assert!(!allows(&r, &[], Permission::JoinLeaveGroup, "chat.a.b"));
        assert!(!allows(&r, &[], Permission::SendToGroup, "chat.room1"));
        assert!(wildcard_matches("chat.**", "chat.a.b"));
        assert!(wildcard_matches("room?", "room1"));
        assert!(!wildcard_matches("room?", "room."));
        assert!(!wildcard_matches("room?", "Room1"));
        assert!(wildcard_matches(r"a\*b", "a*b"));
        assert!(!wildcard_matches(r"a\*b", "axb"));
        assert!(!wildcard_matches(r"bad\x", "badx"));
        assert!(!wildcard_matches("*.*.*.*.*.*", "a.b.c.d.e.f"));
        assert!(wildcard_matches("*.*.*.*.*", "a.b.c.d.e"));
        assert!(wildcard_matches("**", ""));
        assert!(wildcard_matches("a**b", "a.x.b"));
        assert!(wildcard_matches("*a", "bba"));
        assert!(!wildcard_matches("*a", "b.a"));
        assert!(wildcard_matches("?*?", "ab"));
        assert!(!wildcard_matches("?*?", "a"));
        assert!(wildcard_matches("x*-*", "x--"));
    }

    #[test]
    fn wildcards_match_in_linear_time() {
        // Backtracking took seconds here (issue 27: n = 240 took 15 s).
        let group = format!("{}.", "-".repeat(1023));
        let start = std::time::Instant::now();
        for pattern in ["*-*-*-*-*", "**-**-*", "*-?*-*-?*"] {
            assert!(!wildcard_matches(pattern, &group));
        }
        assert!(wildcard_matches("**-**-*", &group[..1023]));
        assert!(start.elapsed() < std::time::Duration::from_millis(500));
    }
}
