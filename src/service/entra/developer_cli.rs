//! Developer-tool credentials of the default chain (`AuthType=azure` on a developer's machine),
//! as .NET's `AzureCliCredential` and `AzureDeveloperCliCredential` run them
//! (`docs/protocol.md` §7): the signed-in tool prints a token for the scope.
//!
//! * Azure CLI: `az account get-access-token --output json --resource <resource> [--tenant <id>]`
//!   prints `accessToken` with `expires_on` (Unix seconds, az 2.54 and later) or only
//!   `expiresOn`, a local time `YYYY-MM-DD HH:MM:SS.ffffff`. The tool runs with `TZ=UTC0`, so
//!   that local time is UTC.
//! * Azure Developer CLI: `azd auth token --output json --no-prompt --scope <scope>
//!   [--tenant-id <id>]` prints `token` with `expiresOn` in RFC 3339.
//!
//! Each run may take [`TIMEOUT`] (the SDK's); the tool is killed after that. The token (stdout)
//! never reaches a log or an error; errors carry the first line of the tool's stderr at most.

use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{AccessToken, EntraError, Resource};
use crate::service::secret::Secret;

/// How long one run of a tool may take (the SDK's `ProcessTimeout`).
pub const TIMEOUT: Duration = Duration::from_secs(13);

/// Which tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// Azure CLI (`az`).
    AzureCli,
    /// Azure Developer CLI (`azd`).
    AzureDeveloperCli,
}

impl Tool {
    /// The tool's name, for errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::AzureCli => "Azure CLI",
            Self::AzureDeveloperCli => "Azure Developer CLI",
        }
    }

    fn program(self) -> &'static str {
        match self {
            Self::AzureCli => "az",
            Self::AzureDeveloperCli => "azd",
        }
    }

    fn login(self) -> &'static str {
        match self {
            Self::AzureCli => "az login",
            Self::AzureDeveloperCli => "azd auth login",
        }
    }
}

/// A developer tool asked for tokens.
#[derive(Debug, Clone)]
pub struct DeveloperCli {
    /// The tool.
    pub tool: Tool,
    /// The tenant to ask in (`--tenant` / `--tenant-id`), else the tool's default.
    pub tenant_id: Option<String>,
    /// How long one run may take.
    pub timeout: Duration,
}

impl DeveloperCli {
    /// `tool`, in `tenant_id` when given, with the SDK's timeout.
    pub fn new(tool: Tool, tenant_id: Option<String>) -> Self {
        Self {
            tool,
            tenant_id,
            timeout: TIMEOUT,
        }
    }

    /// The command line (program and arguments) for a token for `resource`, as the SDK builds it.
    pub fn arguments(&self, resource: Resource) -> Vec<String> {
        let mut args: Vec<String> = match self.tool {
            Tool::AzureCli => [
                "account",
                "get-access-token",
                "--output",
                "json",
                "--resource",
                resource.id(),
            ]
            .map(String::from)
            .to_vec(),
            Tool::AzureDeveloperCli => [
                "auth",
                "token",
                "--output",
                "json",
                "--no-prompt",
                "--scope",
                resource.scope(),
            ]
            .map(String::from)
            .to_vec(),
        };
        if let Some(tenant) = &self.tenant_id {
            args.push(
                match self.tool {
                    Tool::AzureCli => "--tenant",
                    Tool::AzureDeveloperCli => "--tenant-id",
                }
                .into(),
            );
            args.push(tenant.clone());
        }
        args
    }

    fn unavailable(&self, what: impl std::fmt::Display) -> EntraError {
        EntraError::NotConfigured(format!("{}: {what}", self.tool.name()))
    }

    /// Runs the tool and reads the token for `resource` it prints.
    pub async fn fetch(&self, resource: Resource) -> Result<AccessToken, EntraError> {
        if let Some(tenant) = &self.tenant_id {
            // As the SDK: the tenant goes on a command line, so only these characters.
            if tenant.is_empty()
                || !tenant
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                return Err(self.unavailable("the tenant id (AZURE_TENANT_ID or the tenantId setting) may only contain letters, digits, '-' and '.'"));
            }
        }
        let mut command = if cfg!(windows) {
            // `az` and `azd` are `.cmd` scripts on Windows, which only `cmd` runs.
            let mut c = tokio::process::Command::new("cmd");
            c.args(["/d", "/c", self.tool.program()]);
            c
        } else {
            tokio::process::Command::new(self.tool.program())
        };
        command
            .args(self.arguments(resource))
            .env("TZ", "UTC0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = command.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                self.unavailable(format!(
                    "not installed (no `{}` on PATH)",
                    self.tool.program()
                ))
            } else {
                self.unavailable(format!(
                    "`{}` cannot be started: {}",
                    self.tool.program(),
                    e.kind()
                ))
            }
        })?;
        let output = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                self.unavailable(format!(
                    "`{}` did not answer within {} s; it was stopped",
                    self.tool.program(),
                    self.timeout.as_secs_f32()
                ))
            })?
            .map_err(|e| self.unavailable(format!("reading its output failed: {}", e.kind())))?;
        if !output.status.success() {
            return Err(self.failure(&String::from_utf8_lossy(&output.stderr)));
        }
        self.parse(&output.stdout)
    }

    /// What a failed run means, from its stderr (as the SDK tells them apart).
    fn failure(&self, stderr: &str) -> EntraError {
        let not_found = format!("{}: not found", self.tool.program());
        let not_recognised = format!("'{}' is not recognized", self.tool.program());
        if stderr.contains(&not_found) || stderr.contains(&not_recognised) {
            return self.unavailable(format!(
                "not installed (no `{}` on PATH)",
                self.tool.program()
            ));
        }
        let lower = stderr.to_ascii_lowercase();
        let login = match self.tool {
            Tool::AzureCli => lower.contains("az login") || lower.contains("az account set"),
            Tool::AzureDeveloperCli => lower.contains("azd auth login"),
        };
        if login && !stderr.contains("AADSTS") {
            return self.unavailable(format!("not signed in: run `{}`", self.tool.login()));
        }
        let line = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no message");
        let line: String = line.chars().take(300).collect();
        self.unavailable(format!("`{}` failed: {line}", self.tool.program()))
    }

    /// The token in the tool's JSON output.
    pub fn parse(&self, stdout: &[u8]) -> Result<AccessToken, EntraError> {
        let bad = |reason: &str| EntraError::BadAnswer {
            endpoint: format!("`{}`", self.tool.program()),
            reason: reason.to_string(),
        };
        let body: serde_json::Value =
            serde_json::from_slice(stdout).map_err(|_| bad("its output is not JSON"))?;
        let (token_field, expires) = match self.tool {
            Tool::AzureCli => {
                let expires = match body.get("expires_on") {
                    Some(on) => on
                        .as_u64()
                        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
                        .ok_or_else(|| bad("expires_on is not a number of seconds"))?,
                    None => body
                        .get("expiresOn")
                        .and_then(serde_json::Value::as_str)
                        .and_then(parse_time)
                        .ok_or_else(|| {
                            bad("expiresOn is missing or not a time (YYYY-MM-DD HH:MM:SS.ffffff)")
                        })?,
                };
                ("accessToken", expires)
            }
            Tool::AzureDeveloperCli => {
                let expires = body
                    .get("expiresOn")
                    .and_then(serde_json::Value::as_str)
                    .and_then(parse_time)
                    .ok_or_else(|| bad("expiresOn is missing or not an RFC 3339 time"))?;
                ("token", expires)
            }
        };
        let token = body
            .get(token_field)
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad(&format!("{token_field} is missing")))?;
        Ok(AccessToken {
            token: Secret::new(token),
            expires_at: expires,
        })
    }
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM]`; no offset means UTC.
pub fn parse_time(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let number = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, rest) = (text.get(..10)?, text.get(10..)?);
    if !matches!(rest.as_bytes().first(), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let (time, mut zone) = (rest.get(1..9)?, rest.get(9..)?);
    let mut parts = date.split('-');
    let (year, month, day) = (
        number(parts.next()?)?,
        number(parts.next()?)?,
        number(parts.next()?)?,
    );
    let mut parts = time.split(':');
    let (hour, minute, second) = (
        number(parts.next()?)?,
        number(parts.next()?)?,
        number(parts.next()?)?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if let Some(fraction) = zone.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        zone = &fraction[digits..];
    }
    let offset = match zone {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = zone[1..].split_once(':')?;
            sign * (number(h)? * 3600 + number(m)? * 60)
        }
    };
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second.min(60) - offset;
    u64::try_from(seconds)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn times_as_the_tools_print_them() {
        // `date -u -d 2024-02-29T13:45:30Z +%s`
        let leap = 1_709_214_330;
        for text in [
            "2024-02-29 13:45:30.123456",
            "2024-02-29T13:45:30Z",
            "2024-02-29T13:45:30.5Z",
            "2024-02-29T15:45:30+02:00",
            "2024-02-29T08:45:30-05:00",
        ] {
            assert_eq!(parse_time(text).map(epoch), Some(leap), "{text}");
        }
        assert_eq!(parse_time("1970-01-01 00:00:00.000000").map(epoch), Some(0));
        for text in [
            "",
            "2024-13-01 00:00:00",
            "2024-02-29",
            "2024-02-29X13:45:30",
            "soon",
        ] {
            assert_eq!(parse_time(text), None, "{text}");
        }
    }
}
