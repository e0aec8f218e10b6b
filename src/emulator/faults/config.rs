//! What faults to inject: the JSON shape of `PUT /admin/faults` (and of `--faults {…}`), its
//! validation, and the errors that name the field to fix.
//!
//! ```json
//! { "seed": 7, "down": false,
//!   "rest":     { "rate": 0.1, "kinds": ["503", "429", "reset-before", "reset-after", "latency"],
//!                 "latencyMs": [50, 250], "retryAfterSeconds": 1 },
//!   "connect":  { "rate": 0.05, "kinds": ["503"] },
//!   "upstream": { "rate": 0.2, "kinds": ["latency"], "latencyMs": 300 } }
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The route classes faults apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// The data-plane REST API (`/api/…`), called by the app.
    Rest,
    /// The client endpoint (`/client/negotiate` and the transports under `/client/`).
    Connect,
    /// The emulator's own calls to the app (upstream events and invocations).
    Upstream,
}

impl Class {
    /// Every class, in a fixed order (the order of [`Class::index`]).
    pub const ALL: [Class; 3] = [Class::Rest, Class::Connect, Class::Upstream];

    /// The name used in JSON, in the compact spec and in the counts.
    pub fn name(self) -> &'static str {
        match self {
            Class::Rest => "rest",
            Class::Connect => "connect",
            Class::Upstream => "upstream",
        }
    }

    /// 0, 1 or 2.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// Answer `503 Service Unavailable` with `Retry-After`, without doing anything.
    #[serde(rename = "503")]
    Unavailable,
    /// Answer `429 Too Many Requests` with `Retry-After`, without doing anything.
    #[serde(rename = "429")]
    Throttled,
    /// Reset the connection after the request head, before the body is read; nothing is done.
    #[serde(rename = "reset-before")]
    ResetBefore,
    /// Read the whole request, then reset the connection without doing it (nothing is applied).
    #[serde(rename = "reset-after")]
    ResetAfter,
    /// Wait (`latencyMs`), then serve the request normally.
    #[serde(rename = "latency")]
    Latency,
}

impl Kind {
    /// Every kind, in a fixed order (the order of [`Kind::index`]).
    pub const ALL: [Kind; 5] = [
        Kind::Unavailable,
        Kind::Throttled,
        Kind::ResetBefore,
        Kind::ResetAfter,
        Kind::Latency,
    ];

    /// The name used in JSON, in the compact spec and in the counts.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Unavailable => "503",
            Kind::Throttled => "429",
            Kind::ResetBefore => "reset-before",
            Kind::ResetAfter => "reset-after",
            Kind::Latency => "latency",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// 0 to 4.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Added latency in milliseconds: a fixed value or an inclusive range `[min, max]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LatencyMs {
    /// Always this many milliseconds.
    Fixed(u64),
    /// Uniformly between the two, inclusive.
    Range([u64; 2]),
}

impl LatencyMs {
    /// The bounds as durations.
    pub fn bounds(self) -> (Duration, Duration) {
        let (min, max) = match self {
            LatencyMs::Fixed(ms) => (ms, ms),
            LatencyMs::Range([min, max]) => (min, max),
        };
        (Duration::from_millis(min), Duration::from_millis(max))
    }
}

/// The faults of one route class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ClassFaults {
    /// The share of requests (calls) that get a fault, from 0 to 1.
    pub rate: f64,
    /// The kinds to pick from, each equally likely (default: all five).
    pub kinds: Vec<Kind>,
    /// The added latency of the `latency` kind (default 50 to 250 ms).
    pub latency_ms: LatencyMs,
    /// The `Retry-After` of `503` and `429` answers, in seconds (default 1).
    pub retry_after_seconds: u32,
}

impl Default for ClassFaults {
    fn default() -> Self {
        Self {
            rate: 0.0,
            kinds: Kind::ALL.to_vec(),
            latency_ms: LatencyMs::Range([50, 250]),
            retry_after_seconds: 1,
        }
    }
}

/// Everything that can be injected. The default injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct FaultConfig {
    /// Seeds the random choices; without one a random seed is chosen (and reported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// "The service is down": every REST and client request is reset, every client connection is
    /// closed, no upstream call is made.
    pub down: bool,
    /// Faults of the REST API.
    pub rest: ClassFaults,
    /// Faults of the client endpoint.
    pub connect: ClassFaults,
    /// Faults of the upstream calls.
    pub upstream: ClassFaults,
}

/// The longest added latency, in milliseconds (one minute).
pub const MAX_LATENCY_MS: u64 = 60_000;
/// The longest `Retry-After`, in seconds (one hour).
pub const MAX_RETRY_AFTER_SECONDS: u32 = 3600;

/// A configuration that cannot be used; the message starts with the field to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FaultConfigError {
    /// The field, e.g. `rest.rate`.
    pub field: String,
    /// What is wrong with it and what it takes.
    pub message: String,
}

impl FaultConfigError {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl FaultConfig {
    /// The faults of `class`.
    pub fn class(&self, class: Class) -> &ClassFaults {
        match class {
            Class::Rest => &self.rest,
            Class::Connect => &self.connect,
            Class::Upstream => &self.upstream,
        }
    }

    /// The faults of `class`, to change.
    pub fn class_mut(&mut self, class: Class) -> &mut ClassFaults {
        match class {
            Class::Rest => &mut self.rest,
            Class::Connect => &mut self.connect,
            Class::Upstream => &mut self.upstream,
        }
    }

    /// Reads the JSON form; errors name the field (`rest.rate`, `connect.kinds[1]`, …).
    pub fn from_json(text: &[u8]) -> Result<Self, FaultConfigError> {
        let mut deserializer = serde_json::Deserializer::from_slice(text);
        let config: FaultConfig =
            serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." || path == "?" {
                    "body".to_string()
                } else {
                    path
                };
                let mut message = e.into_inner().to_string();
                if message.contains("did not match any variant of untagged enum LatencyMs") {
                    message = "give milliseconds as a number or as [min, max]".into();
                }
                FaultConfigError::new(field, message)
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values: rates in 0..=1, at least one kind where the rate is not 0, latency
    /// ranges in order and at most [`MAX_LATENCY_MS`], `Retry-After` at most
    /// [`MAX_RETRY_AFTER_SECONDS`].
    pub fn validate(&self) -> Result<(), FaultConfigError> {
        for class in Class::ALL {
            let faults = self.class(class);
            let field = |name: &str| format!("{}.{name}", class.name());
            if !(0.0..=1.0).contains(&faults.rate) {
                return Err(FaultConfigError::new(
                    field("rate"),
                    format!(
                        "must be a share from 0 to 1 (0.1 = 10 %), got {}",
                        faults.rate
                    ),
                ));
            }
            if faults.rate > 0.0 && faults.kinds.is_empty() {
                return Err(FaultConfigError::new(
                    field("kinds"),
                    "give at least one kind (503, 429, reset-before, reset-after, latency) or set the rate to 0",
                ));
            }
            let (min, max) = faults.latency_ms.bounds();
            if min > max {
                return Err(FaultConfigError::new(
                    field("latencyMs"),
                    format!(
                        "the range [{}, {}] is reversed: give [min, max]",
                        min.as_millis(),
                        max.as_millis()
                    ),
                ));
            }
            if max > Duration::from_millis(MAX_LATENCY_MS) {
                return Err(FaultConfigError::new(
                    field("latencyMs"),
                    format!("at most {MAX_LATENCY_MS} ms, got {}", max.as_millis()),
                ));
            }
            if faults.retry_after_seconds > MAX_RETRY_AFTER_SECONDS {
                return Err(FaultConfigError::new(
                    field("retryAfterSeconds"),
                    format!(
                        "at most {MAX_RETRY_AFTER_SECONDS}, got {}",
                        faults.retry_after_seconds
                    ),
                ));
            }
        }
        Ok(())
    }
}
