//! Tests of the OData filter parser and evaluator.
use super::*;

fn check(filter: &str, user: Option<&str>, id: &str, groups: &[&str]) -> bool {
    Filter::parse(filter).unwrap().matches(&Subject {
        user_id: user,
        connection_id: id,
        groups,
    })
}

#[test]
fn the_documented_examples() {
    assert!(check("userId eq 'user1'", Some("user1"), "c", &[]));
    assert!(!check("userId eq 'user1'", Some("user2"), "c", &[]));
    assert!(check("userId ne 'user1'", None, "c", &[]));
    assert!(check("'group1' in groups", None, "c", &["group1"]));
    assert!(!check("'group1' in groups", None, "c", &["group2"]));
    assert!(check("not('group1' in groups)", None, "c", &["group2"]));
    assert!(check(
        "userId in ('a', 'b', 'it''s')",
        Some("it's"),
        "c",
        &[]
    ));
    assert!(check(
        "connectionId eq 'c1' or userId eq 'x' and 'g' in groups",
        None,
        "c1",
        &[]
    ));
    assert!(!check(
        "(connectionId eq 'c1' or userId eq 'x') and 'g' in groups",
        None,
        "c1",
        &[]
    ));
    assert!(check(
        "USERID EQ 'A' And Not (length(userId) gt 1)",
        Some("A"),
        "c",
        &[]
    ));
    assert!(check(
        "startswith(tolower(userId), 'ad') and endswith(userId, 'N')",
        Some("ADMIN"),
        "c",
        &[]
    ));
    assert!(check(
        "substring(connectionId, 1, 2) eq 'bc'",
        None,
        "abcd",
        &[]
    ));
    assert!(check(
        "indexof(userId, 'é') eq 1 and contains(concat(userId, 'z'), 'z')",
        Some("aé"),
        "c",
        &[]
    ));
    assert!(check("userId eq null", None, "c", &[]));
    assert!(!check("tolower(userId) eq 'a'", None, "c", &[]));
}

#[test]
fn mistakes_name_their_position() {
    let cases = [
        ("userId eq", 10, "expected a value"),
        ("userId eq 'a", 11, "not closed"),
        ("userId == 'a'", 8, "unexpected character `=`"),
        ("userId eq 'a' xor true", 15, "expected `and`, `or`"),
        ("name eq 'a'", 1, "unknown name `name`"),
        ("length(userId, 'x') eq 1", 1, "takes 1 argument"),
        ("('a', 'b'", 10, "`)` closing the list"),
        ("userId", 1, "must be a condition"),
        ("userId eq 1", 1, "cannot compare"),
        ("'a' in userId", 1, "needs a collection"),
        ("   ", 1, "empty"),
    ];
    for (filter, position, message) in cases {
        let e = Filter::parse(filter).unwrap_err();
        assert_eq!(e.position, position, "{filter}: {e}");
        assert!(e.to_string().contains(message), "{filter}: {e}");
    }
}
