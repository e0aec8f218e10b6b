//! The memo of anonymous client tokens (`docs/performance.md`): a token with no user carries only
//! `nbf`, `exp`, `iat`, `aud` and what the settings grant every such client (SignalR's system
//! flags, Web PubSub's roles and groups), so every one signed for a hub within one second with the
//! same grants is byte-for-byte the same token (there is no nonce or `jti`). Each is signed once
//! per second and handed out until the second changes: a storm of anonymous negotiations (a
//! dashboard's viewers reconnecting after a deploy) signs once per second, not once per client.
//!
//! A lookup is a short scan comparing the hub as given, so a hit formats and hashes nothing.

use std::sync::Mutex;

use hyper::body::Bytes;

use super::transports::Transports;

/// Most tokens remembered (hubs × kinds × lifetimes); beyond, the memo starts afresh.
const MAX_ENTRIES: usize = 64;

/// What, besides its hub and lifetime, sets one anonymous token apart from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// A SignalR client token with these system claims.
    SignalR {
        /// `asrs.s.htt`, when set.
        transports: Option<Transports>,
        /// `asrs.s.coae`/`asrs.s.aeo`.
        close_on_expiry: bool,
    },
    /// A Web PubSub client token for the client path starting with this prefix.
    WebPubSub(&'static str),
}

/// What one anonymous token is for.
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    /// The hub, as the request named it.
    pub hub: &'a str,
    /// Which product's token, with what flags.
    pub flavour: Flavour,
    /// Lists of claim values the token carries (Web PubSub's roles and groups).
    pub lists: &'a [&'a [String]],
    /// Its lifetime in seconds.
    pub lifetime: u64,
}

struct Entry {
    hub: String,
    flavour: Flavour,
    lists: Vec<Vec<String>>,
    lifetime: u64,
    second: u64,
    token: String,
    /// The negotiate answer that carries the token, once one was written.
    answer: Option<Bytes>,
}

impl Entry {
    fn is(&self, key: &Key<'_>) -> bool {
        self.hub == key.hub
            && self.flavour == key.flavour
            && self.lifetime == key.lifetime
            && self
                .lists
                .iter()
                .map(Vec::as_slice)
                .eq(key.lists.iter().copied())
    }
}

/// Anonymous tokens by hub, flavour, lists and lifetime, each with the second it was signed in
/// and the answer that carries it.
#[derive(Default)]
pub struct AnonymousTokens(Mutex<Vec<Entry>>);

impl AnonymousTokens {
    /// The token of `key` signed in `second`: the remembered one, or `sign()`'s, which is then
    /// remembered.
    pub fn get_or_sign<E>(
        &self,
        key: Key<'_>,
        second: u64,
        sign: impl FnOnce() -> Result<String, E>,
    ) -> Result<String, E> {
        let mut entries = self.lock();
        Ok(entry(&mut entries, key, second, sign)?.token.clone())
    }

    /// The answer that carries the token of `key` signed in `second`: the remembered one, or
    /// `write(token)` of the remembered or newly signed token, which is then remembered. A
    /// storm of anonymous negotiations shares one answer per second (its bytes are reference
    /// counted), so each costs a look-up and no copy.
    pub fn answer<E>(
        &self,
        key: Key<'_>,
        second: u64,
        sign: impl FnOnce() -> Result<String, E>,
        write: impl FnOnce(&str) -> Bytes,
    ) -> Result<Bytes, E> {
        let mut entries = self.lock();
        let entry = entry(&mut entries, key, second, sign)?;
        let token = &entry.token;
        Ok(entry.answer.get_or_insert_with(|| write(token)).clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        // A panic while holding the lock leaves whole entries: keep using them.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The entry of `key` holding a token signed in `second`: found, re-signed in place when it is
/// from an earlier second, or added (the memo starting afresh when full).
fn entry<'e, E>(
    entries: &'e mut Vec<Entry>,
    key: Key<'_>,
    second: u64,
    sign: impl FnOnce() -> Result<String, E>,
) -> Result<&'e mut Entry, E> {
    let found = entries.iter().position(|e| e.is(&key));
    if let Some(i) = found {
        if entries[i].second != second {
            entries[i].token = sign()?;
            entries[i].second = second;
            entries[i].answer = None;
        }
        return Ok(&mut entries[i]);
    }
    let token = sign()?;
    if entries.len() >= MAX_ENTRIES {
        entries.clear();
    }
    entries.push(Entry {
        hub: key.hub.to_owned(),
        flavour: key.flavour,
        lists: key.lists.iter().map(|list| list.to_vec()).collect(),
        lifetime: key.lifetime,
        second,
        token,
        answer: None,
    });
    Ok(entries.last_mut().expect("just pushed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNALR: Flavour = Flavour::SignalR {
        transports: None,
        close_on_expiry: false,
    };

    const CHAT: Key<'static> = Key {
        hub: "chat",
        flavour: SIGNALR,
        lists: &[],
        lifetime: 60,
    };

    #[test]
    fn one_signature_per_key_and_second() {
        let memo = AnonymousTokens::default();
        let signed = std::cell::Cell::new(0);
        let get = |hub: &str, flavour, lifetime, second| {
            let key = Key {
                hub,
                flavour,
                lists: &[],
                lifetime,
            };
            memo.get_or_sign(key, second, || {
                signed.set(signed.get() + 1);
                Ok::<_, ()>(format!("{hub}/{lifetime}/{second}"))
            })
            .unwrap()
        };
        assert_eq!(get("chat", SIGNALR, 60, 1), "chat/60/1");
        assert_eq!(get("chat", SIGNALR, 60, 1), "chat/60/1");
        assert_eq!(signed.get(), 1);
        get("Chat", SIGNALR, 60, 1);
        get("chat", Flavour::WebPubSub("/client/hubs/"), 60, 1);
        get("chat", SIGNALR, 61, 1);
        let short_lived = Flavour::SignalR {
            transports: None,
            close_on_expiry: true,
        };
        get("chat", short_lived, 60, 1);
        assert_eq!(signed.get(), 5);
        assert_eq!(get("chat", SIGNALR, 60, 2), "chat/60/2");
        assert_eq!(signed.get(), 6);
        for i in 0..MAX_ENTRIES * 2 {
            get(&format!("h{i}"), SIGNALR, 60, 2);
        }
        assert!(memo.0.lock().unwrap().len() <= MAX_ENTRIES);
    }

    #[test]
    fn a_refusal_is_not_remembered() {
        let memo = AnonymousTokens::default();
        let refused = memo.get_or_sign(CHAT, 1, || Err("refused"));
        assert_eq!(refused, Err("refused"));
        let signed = memo.get_or_sign(CHAT, 1, || Ok::<_, &str>("t".into()));
        assert_eq!(signed.as_deref(), Ok("t"));
    }

    #[test]
    fn claim_lists_are_part_of_the_key() {
        let memo = AnonymousTokens::default();
        let wps = Flavour::WebPubSub("/client/hubs/");
        let (a, b, empty) = (vec!["a".to_string()], vec!["b".to_string()], Vec::new());
        let get = |lists: &[&[String]]| {
            let key = format!("{lists:?}");
            let at = Key {
                hub: "chat",
                flavour: wps,
                lists,
                lifetime: 60,
            };
            memo.get_or_sign(at, 1, || Ok::<_, ()>(key)).unwrap()
        };
        assert_eq!(get(&[&a, &b]), get(&[&a, &b]));
        assert_ne!(get(&[&a, &b]), get(&[&b, &a]));
        assert_ne!(get(&[&a, &empty]), get(&[&empty, &a]));
        assert_eq!(get(&[&a, &empty]), r#"[["a"], []]"#);
    }

    #[test]
    fn one_answer_per_token() {
        let memo = AnonymousTokens::default();
        let writes = std::cell::Cell::new(0);
        let answer = |second: u64| {
            let sign = || Ok::<_, ()>(format!("token-{second}"));
            memo.answer(CHAT, second, sign, |token| {
                writes.set(writes.get() + 1);
                Bytes::from(format!("{{\"accessToken\":\"{token}\"}}"))
            })
            .unwrap()
        };
        assert_eq!(answer(1), r#"{"accessToken":"token-1"}"#);
        assert_eq!(answer(1), r#"{"accessToken":"token-1"}"#);
        assert_eq!(writes.get(), 1);
        assert_eq!(memo.get_or_sign(CHAT, 1, || Err(())), Ok("token-1".into()));
        assert_eq!(answer(2), r#"{"accessToken":"token-2"}"#);
        assert_eq!(writes.get(), 2);
        // A token signed by `get_or_sign` gets its answer written once, from that token.
        let other = Key {
            hub: "other",
            ..CHAT
        };
        memo.get_or_sign(other, 3, || Ok::<_, ()>("t3".into()))
            .unwrap();
        let written = memo.answer(other, 3, || Err(()), |t| Bytes::from(t.to_owned()));
        assert_eq!(written, Ok(Bytes::from("t3")));
    }
}
