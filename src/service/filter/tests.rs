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

/// Found by fuzzing (`fuzz/fuzz_targets/webpubsub_filter.rs`): two thousand `(` overflowed a
/// 2 MB thread stack (a tokio worker's) in the recursive parser and aborted the process. Deep
/// nesting and huge filters are now refused with a position and a reason.
#[test]
fn deep_or_huge_filters_are_refused_not_a_stack_overflow() {
    let n = 100_000;
    let parens = format!("{}userId eq 'a'{}", "(".repeat(n), ")".repeat(n));
    let nots = format!("{}userId eq 'a'", "not ".repeat(n));
    let calls = format!("{}userId{} eq 'a'", "tolower(".repeat(n), ")".repeat(n));
    for deep in [parens, nots, calls] {
        let e = Filter::parse(&deep).unwrap_err();
        assert!(e.to_string().contains("more than 32 deep"), "{e}");
    }
    let chain = vec!["userId eq 'a'"; n].join(" and ");
    let e = Filter::parse(&chain).unwrap_err();
    assert!(e.to_string().contains("more than 1024 values"), "{e}");
    let list = format!("userId in ({})", vec!["'a'"; n].join(","));
    assert!(Filter::parse(&list).is_err());
    // Within the limits a filter still parses and matches.
    let nested = format!("{}userId eq 'a'{}", "(".repeat(31), ")".repeat(31));
    assert!(check(&nested, Some("a"), "c", &[]));
    let long = vec!["userId ne 'b'"; 200].join(" and ");
    assert!(check(&long, Some("a"), "c", &[]));
}
