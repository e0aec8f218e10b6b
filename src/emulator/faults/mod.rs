//! Fault injection: the emulator can misbehave on purpose, as a real service and network do, so
//! that users can test how their app copes (retries, error answers, reconnects).
//!
//! Per route class ([`Class`]: REST, client connect, upstream calls) a share of requests gets one
//! [`Kind`] of fault: a `503` or `429` answer with `Retry-After`, a connection reset before or
//! after the request is read, or added latency; and the whole service can be "down". Faults are
//! set at start-up (`--faults`, [`spec`]) and changed while running through the loopback-only
//! admin route ([`admin`]); what was injected is counted ([`Counts`]) and shown on the dashboard.
//!
//! Reproducible: each class draws from its own random generator seeded from the configured seed
//! (`seed` + class index), so for a given seed the sequence of faults per class is the same for
//! the same order of requests in that class. Concurrent requests of one class may reach the draw
//! in a different order from run to run; the counts then still match in expectation.
//!
//! * [`config`]: the configuration and its validation;
//! * [`spec`]: the compact `--faults` form;
//! * [`inject`]: applying a fault to a REST or client request (axum middleware);
//! * [`upstream`]: applying a fault to an upstream call;
//! * [`admin`]: `GET/PUT/DELETE /admin/faults`.

pub mod admin;
pub mod config;
pub mod inject;
pub mod spec;
pub mod upstream;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

pub use config::{Class, ClassFaults, FaultConfig, FaultConfigError, Kind, LatencyMs};

/// One fault to apply to one request or call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The service is down: reset (REST, client) or fail unreachable (upstream).
    Down,
    /// Answer with this status (503 or 429) and `Retry-After: retry_after` seconds.
    Status {
        /// 503 or 429.
        status: u16,
        /// Seconds for `Retry-After`.
        retry_after: u32,
    },
    /// Reset the connection before the request body is read.
    ResetBefore,
    /// Read the whole request, then reset the connection without acting on it.
    ResetAfter,
    /// Wait this long, then go on normally.
    Latency(Duration),
}

/// The counters: requests seen and faults injected, per class and kind (`down` counted apart).
#[derive(Default)]
pub struct Counts {
    seen: [AtomicU64; 3],
    injected: [[AtomicU64; 5]; 3],
    down: [AtomicU64; 3],
}

impl Counts {
    fn reset(&self) {
        for class in Class::ALL {
            let c = class.index();
            self.seen[c].store(0, Ordering::Relaxed);
            self.down[c].store(0, Ordering::Relaxed);
            for counter in &self.injected[c] {
                counter.store(0, Ordering::Relaxed);
            }
        }
    }

    /// `{ "<class>": { "seen": n, "injected": { "503": n, …, "down": n }, "total": n } }`.
    pub fn report(&self) -> Value {
        let mut out = serde_json::Map::new();
        for class in Class::ALL {
            let c = class.index();
            let mut injected = serde_json::Map::new();
            let mut total = 0;
            for kind in Kind::ALL {
                let n = self.injected[c][kind.index()].load(Ordering::Relaxed);
                total += n;
                injected.insert(kind.name().into(), n.into());
            }
            let down = self.down[c].load(Ordering::Relaxed);
            injected.insert("down".into(), down.into());
            out.insert(
                class.name().into(),
                json!({
                    "seen": self.seen[c].load(Ordering::Relaxed),
                    "injected": injected,
                    "total": total + down,
                }),
            );
        }
        Value::Object(out)
    }
}

struct State {
    config: FaultConfig,
    seed: u64,
    rngs: [StdRng; 3],
}

impl State {
    fn new(config: FaultConfig) -> Self {
        let seed = config.seed.unwrap_or_else(rand::random);
        let rng = |class: Class| StdRng::seed_from_u64(seed.wrapping_add(class.index() as u64));
        Self {
            config,
            seed,
            rngs: [rng(Class::Rest), rng(Class::Connect), rng(Class::Upstream)],
        }
    }
}

/// The emulator's fault injector: the current configuration, its random generators and the
/// counts.
pub struct Faults {
    state: Mutex<State>,
    counts: Counts,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Faults")
            .field("config", &self.lock().config)
            .finish_non_exhaustive()
    }
}

impl Faults {
    /// An injector starting with `config` (validated by the caller).
    pub fn new(config: FaultConfig) -> Self {
        Self {
            state: Mutex::new(State::new(config)),
            counts: Counts::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the configuration: the generators are seeded again and the counts start from 0.
    /// Returns whether the service was up before and is down now.
    pub fn set(&self, config: FaultConfig) -> bool {
        let mut state = self.lock();
        let went_down = config.down && !state.config.down;
        *state = State::new(config);
        self.counts.reset();
        went_down
    }

    /// Stops injecting (the counts are kept until the next [`Faults::set`]).
    pub fn clear(&self) {
        let mut state = self.lock();
        state.config = FaultConfig::default();
    }

    /// Whether the service is "down".
    pub fn is_down(&self) -> bool {
        self.lock().config.down
    }

    /// Draws the fault for the next request of `class`, and counts it.
    pub fn draw(&self, class: Class) -> Option<Fault> {
        let c = class.index();
        self.counts.seen[c].fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        if state.config.down {
            self.counts.down[c].fetch_add(1, Ordering::Relaxed);
            return Some(Fault::Down);
        }
        let faults = state.config.class(class).clone();
        if faults.rate <= 0.0 || faults.kinds.is_empty() {
            return None;
        }
        let rng = &mut state.rngs[c];
        if rng.random::<f64>() >= faults.rate {
            return None;
        }
        let kind = faults.kinds[rng.random_range(0..faults.kinds.len())];
        let fault = match kind {
            Kind::Unavailable => Fault::Status {
                status: 503,
                retry_after: faults.retry_after_seconds,
            },
            Kind::Throttled => Fault::Status {
                status: 429,
                retry_after: faults.retry_after_seconds,
            },
            Kind::ResetBefore => Fault::ResetBefore,
            Kind::ResetAfter => Fault::ResetAfter,
            Kind::Latency => {
                let (min, max) = faults.latency_ms.bounds();
                Fault::Latency(if min == max {
                    min
                } else {
                    rng.random_range(min..=max)
                })
            }
        };
        self.counts.injected[c][kind.index()].fetch_add(1, Ordering::Relaxed);
        Some(fault)
    }

    /// `{ "config": {…, "seed": the seed in use}, "counts": {…} }`.
    pub fn report(&self) -> Value {
        let (mut config, seed) = {
            let state = self.lock();
            (state.config.clone(), state.seed)
        };
        config.seed = Some(seed);
        json!({ "config": config, "counts": self.counts.report() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(faults: &Faults, class: Class, n: usize) -> Vec<Option<Fault>> {
        (0..n).map(|_| faults.draw(class)).collect()
    }

    #[test]
    fn a_seed_gives_the_same_sequence_per_class() {
        let config = spec::parse("seed=42,all=0.3").unwrap();
        let a = Faults::new(config.clone());
        let b = Faults::new(config);
        // Interleaving another class does not change a class's own sequence.
        let _ = sequence(&b, Class::Connect, 17);
        assert_eq!(
            sequence(&a, Class::Rest, 500),
            sequence(&b, Class::Rest, 500)
        );
        let other = Faults::new(spec::parse("seed=43,all=0.3").unwrap());
        assert_ne!(
            sequence(&a, Class::Rest, 500),
            sequence(&other, Class::Rest, 500)
        );
    }

    #[test]
    fn the_rate_and_kinds_hold_and_are_counted() {
        let faults = Faults::new(spec::parse("seed=1,rest=0.1").unwrap());
        let drawn = sequence(&faults, Class::Rest, 10_000);
        let injected = drawn.iter().flatten().count();
        assert!((800..1200).contains(&injected), "{injected}");
        let report = faults.report();
        assert_eq!(report["counts"]["rest"]["seen"], 10_000);
        assert_eq!(report["counts"]["rest"]["total"], injected);
        for kind in Kind::ALL {
            let n = report["counts"]["rest"]["injected"][kind.name()]
                .as_u64()
                .unwrap();
            assert!(n > 100, "{}: {n}", kind.name());
        }
        assert_eq!(report["config"]["seed"], 1);
        assert_eq!(sequence(&faults, Class::Upstream, 100), vec![None; 100]);
    }

    #[test]
    fn down_wins_and_clear_stops() {
        let faults = Faults::new(FaultConfig::default());
        assert!(faults.set(spec::parse("down").unwrap()));
        assert_eq!(faults.draw(Class::Connect), Some(Fault::Down));
        assert_eq!(faults.report()["counts"]["connect"]["injected"]["down"], 1);
        faults.clear();
        assert_eq!(faults.draw(Class::Connect), None);
        // Counts are kept after a clear, restarted by the next set.
        assert_eq!(faults.report()["counts"]["connect"]["seen"], 2);
        assert!(faults.set(spec::parse("down").unwrap()));
        assert!(!faults.set(spec::parse("down").unwrap()));
        assert_eq!(faults.report()["counts"]["connect"]["seen"], 0);
    }

    #[test]
    fn latency_stays_in_its_range() {
        let faults = Faults::new(
            spec::parse("seed=3,upstream=1,upstream.kinds=latency,upstream.latency=10..20")
                .unwrap(),
        );
        for fault in sequence(&faults, Class::Upstream, 200) {
            let Some(Fault::Latency(wait)) = fault else {
                panic!("{fault:?}")
            };
            assert!(wait >= Duration::from_millis(10) && wait <= Duration::from_millis(20));
        }
    }
}
