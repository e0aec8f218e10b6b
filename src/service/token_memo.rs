//! The memo of anonymous client tokens (`docs/performance.md`): a token with no user, claims or
//! roles carries only `nbf`, `exp`, `iat`, `aud` and flags that are the same for every client, so
//! every one signed for a hub within one second is byte-for-byte the same token (there is no
//! nonce or `jti`). Each is signed once per second and handed out until the second changes: a
//! storm of anonymous negotiations (a dashboard's viewers reconnecting after a deploy) signs
//! once per second, not once per client.
//!
//! A lookup is a short scan comparing the hub as given, so a hit formats and hashes nothing.

use std::sync::Mutex;

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

struct Entry {
    hub: String,
    flavour: Flavour,
    lifetime: u64,
    second: u64,
    token: String,
}

/// Anonymous tokens by hub, flavour and lifetime, each with the second it was signed in.
#[derive(Default)]
pub struct AnonymousTokens(Mutex<Vec<Entry>>);

impl AnonymousTokens {
    /// The token of (`hub`, `flavour`, `lifetime`) signed in `second`: the remembered one, or
    /// `sign()`'s, which is then remembered.
    pub fn get_or_sign<E>(
        &self,
        hub: &str,
        flavour: Flavour,
        lifetime: u64,
        second: u64,
        sign: impl FnOnce() -> Result<String, E>,
    ) -> Result<String, E> {
        let mut entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let found = entries
            .iter()
            .position(|e| e.hub == hub && e.flavour == flavour && e.lifetime == lifetime);
        if let Some(entry) = found.map(|i| &entries[i]) {
            if entry.second == second {
                return Ok(entry.token.clone());
            }
        }
        let token = sign()?;
        match found {
            Some(i) => {
                entries[i].second = second;
                entries[i].token.clone_from(&token);
            }
            None => {
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
                entries.push(Entry {
                    hub: hub.to_owned(),
                    flavour,
                    lifetime,
                    second,
                    token: token.clone(),
                });
            }
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNALR: Flavour = Flavour::SignalR {
        transports: None,
        close_on_expiry: false,
    };

    #[test]
    fn one_signature_per_key_and_second() {
        let memo = AnonymousTokens::default();
        let signed = std::cell::Cell::new(0);
        let get = |hub: &str, flavour, lifetime, second| {
            memo.get_or_sign(hub, flavour, lifetime, second, || {
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
        let refused = memo.get_or_sign("chat", SIGNALR, 60, 1, || Err("refused"));
        assert_eq!(refused, Err("refused"));
        let signed = memo.get_or_sign("chat", SIGNALR, 60, 1, || Ok::<_, &str>("t".into()));
        assert_eq!(signed.as_deref(), Ok("t"));
    }
}
