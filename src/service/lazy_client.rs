//! An HTTP client built on its first request rather than at start-up. Building a reqwest client
//! with rustls loads the whole root certificate store; the local stack holds several clients
//! (the app's REST client, the emulators' upstream and event-handler clients) that an idle
//! process never uses, and building them at start touched pages that stayed in its RSS
//! (docs/performance.md, "Binary size and idle memory").

use std::fmt;
use std::sync::OnceLock;

/// How to configure the client, given a fresh builder.
type Configure = Box<dyn Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync>;

/// A reqwest client configured once, built when first asked for.
pub struct LazyClient {
    client: OnceLock<Result<reqwest::Client, String>>,
    configure: Configure,
}

impl fmt::Debug for LazyClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("built", &self.client.get().is_some())
            .finish_non_exhaustive()
    }
}

impl LazyClient {
    /// A client that `configure` sets up from `reqwest::Client::builder()`.
    pub fn new(
        configure: impl Fn(reqwest::ClientBuilder) -> reqwest::ClientBuilder + Send + Sync + 'static,
    ) -> Self {
        Self {
            client: OnceLock::new(),
            configure: Box::new(configure),
        }
    }

    /// The client, built on the first call; why it could not be built, on every call after a
    /// failure (which only a broken TLS set-up causes).
    pub fn get(&self) -> Result<&reqwest::Client, &str> {
        self.client
            .get_or_init(|| {
                (self.configure)(reqwest::Client::builder())
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// The client, or reqwest's default one when it could not be built (as the emulators'
    /// `build().unwrap_or_default()` did before).
    pub fn or_default(&self) -> &reqwest::Client {
        static DEFAULT: OnceLock<reqwest::Client> = OnceLock::new();
        self.get()
            .unwrap_or_else(|_| DEFAULT.get_or_init(reqwest::Client::default))
    }
}
