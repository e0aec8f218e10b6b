//! App registration tokens with a certificate (`AuthType=azure.app;ClientCert=<file>`,
//! `AZURE_CLIENT_CERTIFICATE_PATH` in the default chain): the app proves itself with a client
//! assertion, a JWT signed RS256 with the certificate's private key whose header names the
//! certificate by `x5t` (base64url of its SHA-1 thumbprint; `x5t#S256`, the SHA-256 one, is
//! sent too, as newer Entra documentation names it), with `aud` = the token endpoint,
//! `iss` = `sub` = the client id and a fresh `jti`, valid for 10 minutes (`docs/protocol.md` §7).
//! The file is PEM with the certificate and its unencrypted RSA private key (PKCS#8 or PKCS#1),
//! as `openssl req -x509 -nodes` writes them, or PFX/PKCS#12 ([`super::pkcs12`]).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::DecodePrivateKey;
use sha1::{Digest, Sha1};

use super::{authority, pkcs12, AccessToken, EntraError, Resource};
use crate::service::secret::Secret;

/// How long a client assertion is valid.
const ASSERTION_SECONDS: u64 = 600;

/// An app registration and its certificate.
#[derive(Clone)]
pub struct ClientCertificate {
    /// Authority host, without trailing `/`.
    pub authority: String,
    /// `TenantId`.
    pub tenant_id: String,
    /// `ClientId`.
    pub client_id: String,
    /// `x5t`: base64url of the certificate's SHA-1 thumbprint.
    pub thumbprint: String,
    /// `x5t#S256`: base64url of its SHA-256 thumbprint.
    pub thumbprint_sha256: String,
    key: EncodingKey,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("authority", &self.authority)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("thumbprint", &self.thumbprint)
            .field("key", &"***")
            .finish()
    }
}

/// The DER bodies of the PEM blocks labelled `label` in `pem`.
fn blocks(pem: &str, label: &str) -> Vec<Result<Vec<u8>, base64::DecodeError>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut found = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find(&begin) {
        let body = &rest[start + begin.len()..];
        let Some(stop) = body.find(&end) else { break };
        let text: String = body[..stop].split_whitespace().collect();
        found.push(STANDARD.decode(text));
        rest = &body[stop + end.len()..];
    }
    found
}

impl ClientCertificate {
    /// Reads the PEM or PFX file at `path` (`setting` names where the path came from in errors;
    /// the file's content is never echoed).
    pub fn from_file(
        setting: &str,
        path: &str,
        tenant_id: String,
        client_id: String,
    ) -> Result<Self, EntraError> {
        Self::from_file_with_password(setting, path, None, tenant_id, client_id)
    }

    /// Reads the file at `path`: PEM when it has a `-----BEGIN` line, else PFX opened with
    /// `password` (none: the empty password). A PEM key must be unencrypted.
    pub fn from_file_with_password(
        setting: &str,
        path: &str,
        password: Option<&Secret>,
        tenant_id: String,
        client_id: String,
    ) -> Result<Self, EntraError> {
        let bytes = std::fs::read(path).map_err(|e| {
            EntraError::NotConfigured(format!("{setting}: cannot read {path}: {}", e.kind()))
        })?;
        match std::str::from_utf8(&bytes) {
            Ok(pem) if pem.contains("-----BEGIN") => {
                Self::from_pem(setting, pem, tenant_id, client_id)
            }
            _ => {
                let (certificate, key) = pkcs12::read(setting, &bytes, password)?;
                Self::from_parts(setting, &certificate, &key, tenant_id, client_id)
            }
        }
    }

    /// Reads a certificate and its private key from PEM text.
    pub fn from_pem(
        setting: &str,
        pem: &str,
        tenant_id: String,
        client_id: String,
    ) -> Result<Self, EntraError> {
        let bad = |what: &str| EntraError::NotConfigured(format!("{setting}: {what}"));
        let certificate = match blocks(pem, "CERTIFICATE").into_iter().next() {
            Some(Ok(der)) => der,
            Some(Err(_)) => return Err(bad("the CERTIFICATE block is not valid base64")),
            None => return Err(bad("no -----BEGIN CERTIFICATE----- block; the file must be PEM with the certificate and its private key, or PFX")),
        };
        if !blocks(pem, "ENCRYPTED PRIVATE KEY").is_empty() {
            return Err(bad("the private key is encrypted; export it without a password (openssl pkcs8 -nocrypt)"));
        }
        let key = if let Some(der) = blocks(pem, "PRIVATE KEY").into_iter().next() {
            der.ok()
                .and_then(|der| rsa::RsaPrivateKey::from_pkcs8_der(&der).ok())
        } else if let Some(der) = blocks(pem, "RSA PRIVATE KEY").into_iter().next() {
            der.ok()
                .and_then(|der| rsa::RsaPrivateKey::from_pkcs1_der(&der).ok())
        } else {
            return Err(bad("no -----BEGIN PRIVATE KEY----- block; put the certificate's private key in the same PEM file"));
        }
        .ok_or_else(|| bad("the private key is not an RSA key in PKCS#8 or PKCS#1 form"))?;
        Self::from_parts(setting, &certificate, &key, tenant_id, client_id)
    }

    /// The certificate with this thumbprint where App Service loads certificates
    /// ([`pkcs12::store_dir`]).
    pub fn from_thumbprint(
        setting: &str,
        thumbprint: &str,
        tenant_id: String,
        client_id: String,
    ) -> Result<Self, EntraError> {
        let (certificate, key) = pkcs12::find(&pkcs12::store_dir(), setting, thumbprint)?;
        Self::from_parts(setting, &certificate, &key, tenant_id, client_id)
    }

    /// The credential for a DER certificate and its RSA private key.
    pub fn from_parts(
        setting: &str,
        certificate: &[u8],
        key: &rsa::RsaPrivateKey,
        tenant_id: String,
        client_id: String,
    ) -> Result<Self, EntraError> {
        let pkcs1 = key.to_pkcs1_der().map_err(|_| {
            EntraError::NotConfigured(format!("{setting}: the private key cannot be used"))
        })?;
        Ok(Self {
            authority: authority::from_env(),
            tenant_id,
            client_id,
            thumbprint: URL_SAFE_NO_PAD.encode(Sha1::digest(certificate)),
            thumbprint_sha256: URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(certificate)),
            key: EncodingKey::from_rsa_der(pkcs1.as_bytes()),
        })
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> String {
        authority::token_endpoint(&self.authority, &self.tenant_id)
    }

    /// A signed client assertion for `endpoint`.
    pub fn assertion(&self, endpoint: &str) -> Result<String, EntraError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut header = Header::new(Algorithm::RS256);
        header.x5t = Some(self.thumbprint.clone());
        header.x5t_s256 = Some(self.thumbprint_sha256.clone());
        let claims = serde_json::json!({
            "aud": endpoint,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": format!("{:032x}", rand::random::<u128>()),
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_SECONDS,
        });
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|_| {
            EntraError::NotConfigured(
                "ClientCert: signing the client assertion with the private key failed".into(),
            )
        })
    }

    /// Fetches a token for the scope of `resource`.
    pub async fn fetch(
        &self,
        http: &reqwest::Client,
        resource: Resource,
    ) -> Result<AccessToken, EntraError> {
        let endpoint = self.token_endpoint();
        let assertion = self.assertion(&endpoint)?;
        authority::request_token(
            http,
            &endpoint,
            resource,
            &self.client_id,
            &[
                ("client_assertion_type", authority::JWT_BEARER),
                ("client_assertion", &assertion),
            ],
        )
        .await
    }
}
