//! The compact form of `--faults` / `EMULATOR_FAULTS`: comma-separated `key=value` pairs, or the
//! JSON of [`FaultConfig`] when the text starts with `{`.
//!
//! ```text
//! seed=7,rest=0.1,rest.kinds=503+429+reset-before+reset-after,rest.latency=50..250,rest.retry-after=1
//! ```
//!
//! Keys: `seed=N`; `down` (or `down=true|false`); and per class (`rest`, `connect`, `upstream`, or
//! `all` for the three) `<class>=RATE` or `<class>.rate=RATE`, `<class>.kinds=K+K…`,
//! `<class>.latency=MS` or `MIN..MAX`, `<class>.retry-after=SECONDS`. Later pairs override earlier
//! ones. Errors name the key.

use super::config::{Class, ClassFaults, FaultConfig, FaultConfigError, Kind, LatencyMs};

/// Parses the compact form (or JSON) into a validated configuration.
pub fn parse(spec: &str) -> Result<FaultConfig, FaultConfigError> {
    let spec = spec.trim();
    if spec.starts_with('{') {
        return FaultConfig::from_json(spec.as_bytes());
    }
    let mut config = FaultConfig::default();
    for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = match pair.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim())),
            None => (pair, None),
        };
        apply(&mut config, key, value)?;
    }
    config.validate()?;
    Ok(config)
}

fn apply(config: &mut FaultConfig, key: &str, value: Option<&str>) -> Result<(), FaultConfigError> {
    fn need<'a>(key: &str, value: Option<&'a str>) -> Result<&'a str, FaultConfigError> {
        value
            .filter(|v| !v.is_empty())
            .ok_or_else(|| FaultConfigError::new(key, "give a value: key=value"))
    }
    match key {
        "seed" => {
            let value = need(key, value)?;
            config.seed = Some(value.parse().map_err(|_| {
                FaultConfigError::new(key, format!("must be a whole number ≥ 0, got {value:?}"))
            })?);
            return Ok(());
        }
        "down" => {
            config.down = match value {
                None | Some("true") => true,
                Some("false") => false,
                Some(other) => {
                    return Err(FaultConfigError::new(
                        key,
                        format!("must be true or false, got {other:?}"),
                    ))
                }
            };
            return Ok(());
        }
        _ => {}
    }
    let (class, field) = key.split_once('.').unwrap_or((key, "rate"));
    let classes: Vec<Class> = match class {
        "all" => Class::ALL.to_vec(),
        name => vec![Class::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                FaultConfigError::new(
                    key,
                    "unknown key: use seed, down, or rest/connect/upstream/all with .rate, .kinds, .latency, .retry-after",
                )
            })?],
    };
    let value = need(key, value)?;
    for class in classes {
        set(config.class_mut(class), key, field, value)?;
    }
    Ok(())
}

/// Sets one `field` of a class's faults.
fn set(
    faults: &mut ClassFaults,
    key: &str,
    field: &str,
    value: &str,
) -> Result<(), FaultConfigError> {
    match field {
        "rate" => {
            faults.rate = value
                .parse()
                .ok()
                .filter(|r: &f64| r.is_finite())
                .ok_or_else(|| {
                    FaultConfigError::new(
                        key,
                        format!("must be a share from 0 to 1 (0.1 = 10 %), got {value:?}"),
                    )
                })?;
        }
        "kinds" => {
            faults.kinds = value
                .split('+')
                .map(|name| {
                    Kind::parse(name.trim()).ok_or_else(|| {
                        FaultConfigError::new(
                            key,
                            format!("unknown kind {name:?}: use 503, 429, reset-before, reset-after or latency, joined with +"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        "latency" => faults.latency_ms = latency(key, value)?,
        "retry-after" => {
            faults.retry_after_seconds = value.parse().map_err(|_| {
                FaultConfigError::new(key, format!("must be whole seconds, got {value:?}"))
            })?;
        }
        _ => {
            return Err(FaultConfigError::new(
                key,
                "unknown field: use .rate, .kinds, .latency or .retry-after",
            ))
        }
    }
    Ok(())
}

fn latency(key: &str, value: &str) -> Result<LatencyMs, FaultConfigError> {
    let number = |text: &str| {
        text.trim()
            .trim_end_matches("ms")
            .parse::<u64>()
            .map_err(|_| {
                FaultConfigError::new(
                    key,
                    format!("must be milliseconds (100) or a range (50..250), got {value:?}"),
                )
            })
    };
    Ok(match value.split_once("..") {
        Some((min, max)) => LatencyMs::Range([number(min)?, number(max)?]),
        None => LatencyMs::Fixed(number(value)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_key() {
        let config = parse(
            "seed=7, rest=0.1, rest.kinds=503+reset-after, rest.latency=50..250ms, rest.retry-after=2, connect.rate=0.5, upstream.latency=300, down",
        )
        .unwrap();
        assert_eq!(config.seed, Some(7));
        assert!(config.down);
        assert_eq!(config.rest.rate, 0.1);
        assert_eq!(config.rest.kinds, vec![Kind::Unavailable, Kind::ResetAfter]);
        assert_eq!(config.rest.latency_ms, LatencyMs::Range([50, 250]));
        assert_eq!(config.rest.retry_after_seconds, 2);
        assert_eq!(config.connect.rate, 0.5);
        assert_eq!(config.connect.kinds, Kind::ALL.to_vec());
        assert_eq!(config.upstream.latency_ms, LatencyMs::Fixed(300));
        assert_eq!(config.upstream.rate, 0.0);
    }

    #[test]
    fn all_sets_every_class_and_later_pairs_win() {
        let config = parse("all=0.2,connect=0,down=false").unwrap();
        assert_eq!(config.rest.rate, 0.2);
        assert_eq!(config.upstream.rate, 0.2);
        assert_eq!(config.connect.rate, 0.0);
        assert!(!config.down);
        assert_eq!(parse("").unwrap(), FaultConfig::default());
    }

    #[test]
    fn json_form_is_accepted() {
        let config =
            parse(r#"{"seed":1,"rest":{"rate":0.25,"kinds":["429"],"latencyMs":[1,2]}}"#).unwrap();
        assert_eq!(config.rest.kinds, vec![Kind::Throttled]);
        assert_eq!(config.rest.latency_ms, LatencyMs::Range([1, 2]));
        assert_eq!(config.seed, Some(1));
    }

    #[test]
    fn errors_name_the_key() {
        for (spec, field, says) in [
            ("rest=1.5", "rest.rate", "from 0 to 1"),
            ("rest=lots", "rest", "share"),
            ("rest.kinds=503+boom", "rest.kinds", "unknown kind \"boom\""),
            ("rest.rate=0.1,rest.kinds=", "rest.kinds", "give a value"),
            ("connect.latency=9..1", "connect.latencyMs", "reversed"),
            ("upstream.latency=fast", "upstream.latency", "milliseconds"),
            ("upstream.latency=70000", "upstream.latencyMs", "at most"),
            ("rest.retry-after=-1", "rest.retry-after", "whole seconds"),
            (
                "rest.retry-after=99999",
                "rest.retryAfterSeconds",
                "at most",
            ),
            ("seed=x", "seed", "whole number"),
            ("down=maybe", "down", "true or false"),
            ("storage=0.1", "storage", "unknown key"),
            ("rest.speed=1", "rest.speed", "unknown field"),
        ] {
            let error = parse(spec).expect_err(spec);
            assert_eq!(error.field, field, "{spec}: {error}");
            assert!(error.message.contains(says), "{spec}: {error}");
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        for (json, field, says) in [
            (r#"{"rest":{"rate":"x"}}"#, "rest.rate", "invalid type"),
            (
                r#"{"rest":{"kinds":["503","nope"]}}"#,
                "rest.kinds[1]",
                "unknown variant",
            ),
            (
                r#"{"connect":{"latencyMs":"slow"}}"#,
                "connect.latencyMs",
                "[min, max]",
            ),
            (r#"{"rest":{"rat":0.1}}"#, "rest.rat", "unknown field `rat`"),
            (r#"{"upstream":{"rate":2}}"#, "upstream.rate", "from 0 to 1"),
            (
                r#"{"rest":{"rate":0.5,"kinds":[]}}"#,
                "rest.kinds",
                "at least one",
            ),
            ("{", "body", "EOF"),
        ] {
            let error = FaultConfig::from_json(json.as_bytes()).expect_err(json);
            assert_eq!(error.field, field, "{json}: {error}");
            assert!(error.message.contains(says), "{json}: {error}");
        }
    }
}
