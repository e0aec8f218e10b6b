//! PFX (PKCS#12) files for the certificate credential, as the Azure SDK reads them
//! (`docs/protocol.md` §7): a `ClientCert=` or `AZURE_CLIENT_CERTIFICATE_PATH` file that is not
//! PEM (with `AZURE_CLIENT_CERTIFICATE_PASSWORD` when it has a password), and a certificate named
//! by thumbprint (`AzureSignalRConnectionString__clientCertificate`), which App Service on Linux
//! writes to `/var/ssl/private/<THUMBPRINT>.p12`, without a password, for every thumbprint listed
//! in `WEBSITE_LOAD_CERTIFICATES`. `SIGNALR_CERTIFICATE_DIR` replaces that directory (tests,
//! other hosts). The file's certificate must have the thumbprint asked for.
//!
//! Parsing is `p12-keystore` (pure Rust, RustCrypto): PBES2 with AES (what OpenSSL 3 and
//! current Windows write) and the legacy PBE-SHA1-3DES / RC2-40 (`openssl pkcs12 -legacy`,
//! older Windows exports), MAC with SHA-1 or SHA-256. Errors name the setting and never repeat
//! a password or the file's content.

use std::path::PathBuf;

use p12_keystore::error::Error as P12Error;
use p12_keystore::KeyStore;
use rsa::pkcs8::DecodePrivateKey;
use sha1::{Digest, Sha1};

use super::EntraError;
use crate::service::secret::Secret;

/// Where App Service on Linux puts the private certificates of `WEBSITE_LOAD_CERTIFICATES`.
pub const STORE_DIR: &str = "/var/ssl/private";
/// Environment variable replacing [`STORE_DIR`].
pub const STORE_DIR_VAR: &str = "SIGNALR_CERTIFICATE_DIR";

/// A certificate (DER) and its RSA private key, read from a PFX file's bytes. `setting` names
/// where the file came from in errors; no password means the empty one.
pub fn read(
    setting: &str,
    der: &[u8],
    password: Option<&Secret>,
) -> Result<(Vec<u8>, rsa::RsaPrivateKey), EntraError> {
    let bad = |what: &str| EntraError::NotConfigured(format!("{setting}: {what}"));
    let store = KeyStore::from_pkcs12(der, password.map_or("", Secret::expose)).map_err(|e| {
        bad(match e {
            P12Error::MacError(_) | P12Error::UnpadError | P12Error::Pkcs5Error(_) => {
                if password.is_some() {
                    "the PFX file cannot be opened with the password given (wrong password, or the file is damaged)"
                } else {
                    "the PFX file has a password (or is damaged) and this setting gives none: export it without a password, or use AuthType=azure with AZURE_CLIENT_CERTIFICATE_PATH and AZURE_CLIENT_CERTIFICATE_PASSWORD"
                }
            }
            P12Error::UnsupportedEncryptionScheme | P12Error::UnsupportedMacAlgorithm => {
                "the PFX file is encrypted with an algorithm that is not supported (supported: PBES2 with AES, PBE-SHA1-3DES, PBE-SHA1-RC2-40)"
            }
            _ => "the file is neither PEM (certificate and private key) nor a valid PFX/PKCS#12 file",
        })
    })?;
    let Some((_, chain)) = store.private_key_chain() else {
        return Err(bad("the PFX file holds no private key with its certificate; export the certificate with its private key"));
    };
    let Some(certificate) = chain.chain().first() else {
        return Err(bad("the PFX file holds no certificate for its private key"));
    };
    let key = rsa::RsaPrivateKey::from_pkcs8_der(chain.key())
        .map_err(|_| bad("the PFX file's private key is not an RSA key"))?;
    Ok((certificate.as_der().to_vec(), key))
}

/// The SHA-1 thumbprint of a DER certificate in upper-case hex, as App Service names files.
pub fn thumbprint_hex(certificate: &[u8]) -> String {
    Sha1::digest(certificate)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// A thumbprint as users paste it (any case, spaces or colons between bytes) in upper-case hex,
/// or `None` when it is not 40 hex digits.
pub fn normalise_thumbprint(text: &str) -> Option<String> {
    let hex: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect::<String>()
        .to_ascii_uppercase();
    (hex.len() == 40 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

/// The directory certificates are loaded from: `SIGNALR_CERTIFICATE_DIR`, else [`STORE_DIR`].
pub fn store_dir() -> PathBuf {
    std::env::var(STORE_DIR_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map_or_else(|| PathBuf::from(STORE_DIR), PathBuf::from)
}

/// The certificate (DER) with this thumbprint and its RSA private key, from `dir`:
/// `<THUMBPRINT>.p12`, without a password.
pub fn find(
    dir: &std::path::Path,
    setting: &str,
    thumbprint: &str,
) -> Result<(Vec<u8>, rsa::RsaPrivateKey), EntraError> {
    let bad = |what: String| EntraError::NotConfigured(format!("{setting}: {what}"));
    let wanted = normalise_thumbprint(thumbprint).ok_or_else(|| {
        bad("must be a certificate thumbprint: 40 hex digits (the SHA-1 thumbprint the portal shows)".into())
    })?;
    let path = dir.join(format!("{wanted}.p12"));
    let der = std::fs::read(&path).map_err(|e| {
        bad(format!(
            "cannot read {}: {}; on App Service add the thumbprint to WEBSITE_LOAD_CERTIFICATES (the platform writes the certificate there), elsewhere set {STORE_DIR_VAR} to the directory holding <THUMBPRINT>.p12",
            path.display(),
            e.kind()
        ))
    })?;
    let (certificate, key) = read(setting, &der, None)?;
    let found = thumbprint_hex(&certificate);
    if found != wanted {
        return Err(bad(format!(
            "{} holds the certificate with thumbprint {found}, not {wanted}",
            path.display()
        )));
    }
    Ok((certificate, key))
}
