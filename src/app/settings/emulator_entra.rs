//! `SIGNALR_EMULATOR_ENTRA`: runs the local stack's embedded emulator in Entra ID mode, so
//! `cargo run` shows what an app with a managed identity does in Azure, with no key in the app.

use super::value::{err, nonempty, SettingsError};

/// How the embedded emulator authenticates the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmulatorAuth {
    /// Access keys (the default).
    #[default]
    AccessKey,
    /// Entra ID mode: the app uses the emulator's managed-identity endpoint
    /// (`AuthType=azure.msi`); `disable_local_auth` refuses access-key tokens as Azure does under
    /// `disableLocalAuth`.
    Entra {
        /// Refuse tokens signed with the access key.
        disable_local_auth: bool,
    },
}

impl EmulatorAuth {
    /// Reads `SIGNALR_EMULATOR_ENTRA`: `false` (default), `true`, or `disable-local-auth`.
    pub fn parse(value: Option<String>) -> Result<Self, SettingsError> {
        match nonempty(value).map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("false") | Some("0") => Ok(Self::AccessKey),
            Some("true") | Some("1") => Ok(Self::Entra {
                disable_local_auth: false,
            }),
            Some("disable-local-auth") => Ok(Self::Entra {
                disable_local_auth: true,
            }),
            Some(other) => Err(err(
                "SIGNALR_EMULATOR_ENTRA",
                format!("{other:?} must be true, false or disable-local-auth"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(EmulatorAuth::parse(None), Ok(EmulatorAuth::AccessKey));
        assert_eq!(
            EmulatorAuth::parse(Some("TRUE".into())),
            Ok(EmulatorAuth::Entra {
                disable_local_auth: false
            })
        );
        assert_eq!(
            EmulatorAuth::parse(Some("disable-local-auth".into())),
            Ok(EmulatorAuth::Entra {
                disable_local_auth: true
            })
        );
        let e = EmulatorAuth::parse(Some("yes".into())).unwrap_err();
        assert_eq!(e.setting, "SIGNALR_EMULATOR_ENTRA");
    }
}
