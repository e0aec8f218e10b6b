//! Throw-away certificates for the PFX tests, made at test time with `openssl` so that no
//! private key is committed: a self-signed RSA certificate and its key, exported as PFX files
//! the way OpenSSL 3 (PBES2/AES, SHA-256 MAC) and `openssl pkcs12 -legacy` (RC2-40 and 3DES,
//! SHA-1 MAC, as older Windows exports) write them. Also used by `tests/entra_default_chain.rs`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use sha1::{Digest, Sha1};

/// A generated certificate and its key, in a directory of their own.
pub struct TestCertificate {
    /// The directory holding `cert.pem`, `key.pem` and the exported files.
    pub dir: PathBuf,
    /// The certificate's DER bytes.
    pub der: Vec<u8>,
    /// Its SHA-1 thumbprint in upper-case hex, as App Service names files.
    pub thumbprint: String,
    /// Its `x5t`: base64url of the SHA-1 thumbprint.
    pub x5t: String,
    /// The private key as PKCS#8 PEM.
    pub key_pem: String,
}

/// Runs `openssl` in `dir` (installed first where the tests may, see `system_packages`); a
/// missing `openssl` fails the test with what to install.
pub fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    let installed = crate::system_packages::ensure(crate::system_packages::Package::Openssl);
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("the PFX tests make their certificates with `openssl`, which cannot be run ({e}; {}); install it (apt-get install openssl)", installed.err().unwrap_or_default())
        });
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

impl TestCertificate {
    /// A new self-signed certificate in a fresh directory named after `name`.
    pub fn generate(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "signalr-pfx-{name}-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
                "-days",
                "2",
                "-subj",
                "/CN=made-up-test-app",
            ],
        );
        let der = openssl(&dir, &["x509", "-in", "cert.pem", "-outform", "DER"]).stdout;
        let digest = Sha1::digest(&der);
        Self {
            thumbprint: digest.iter().map(|b| format!("{b:02X}")).collect(),
            x5t: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
            key_pem: std::fs::read_to_string(dir.join("key.pem")).unwrap(),
            der,
            dir,
        }
    }

    /// Exports the certificate and key as the PFX file `file` with `password` (may be empty):
    /// OpenSSL 3's default encryption, or the legacy one when `legacy` is set (`-legacy`, or
    /// 3DES with a SHA-1 MAC where this openssl has no legacy provider).
    pub fn export(&self, file: &str, password: &str, legacy: bool) -> PathBuf {
        let pass = format!("pass:{password}");
        let mut args = vec![
            "pkcs12", "-export", "-inkey", "key.pem", "-in", "cert.pem", "-out", file, "-passout",
            &pass,
        ];
        if legacy {
            let mut with_flag = args.clone();
            with_flag.push("-legacy");
            let tried = Command::new("openssl")
                .args(&with_flag)
                .current_dir(&self.dir)
                .output();
            if tried.is_ok_and(|o| o.status.success()) {
                return self.dir.join(file);
            }
            args.extend([
                "-keypbe",
                "PBE-SHA1-3DES",
                "-certpbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ]);
        }
        openssl(&self.dir, &args);
        self.dir.join(file)
    }

    /// The public key for checking signatures made with the private key.
    pub fn decoding_key(&self) -> jsonwebtoken::DecodingKey {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::pkcs8::DecodePrivateKey;
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(&self.key_pem).unwrap();
        jsonwebtoken::DecodingKey::from_rsa_der(
            key.to_public_key().to_pkcs1_der().unwrap().as_bytes(),
        )
    }
}

impl Drop for TestCertificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
