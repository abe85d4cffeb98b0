//! A service app's signing key: generated here, stored by the caller as a
//! PKCS#8 PEM, and shown to the customer only as its public JWK (which they
//! paste into the app's Client Credentials in Okta).
//!
//! Generation is aws-lc-rs (the provider rustls already links); signing is
//! jsonwebtoken on the same provider. The `rsa` crate is never used (it has
//! a RustSec advisory, RUSTSEC-2023-0071).

use std::fmt;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::zeroize::Zeroize as _;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::error::OktaError;

/// The signature algorithm of a service app's key: the two Okta accepts
/// for `private_key_jwt` that aws-lc-rs generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256 with SHA-256: small keys, fast signatures.
    Es256,
    /// RSA 2048 PKCS#1 v1.5 with SHA-256: for orgs whose policy wants RSA.
    Rs256,
}

impl KeyAlgorithm {
    /// The JOSE name (`ES256`, `RS256`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::Es256 => "ES256",
            KeyAlgorithm::Rs256 => "RS256",
        }
    }

    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            KeyAlgorithm::Es256 => jsonwebtoken::Algorithm::ES256,
            KeyAlgorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The public half, as the JWK's base64url members.
#[derive(Clone, PartialEq, Eq)]
enum PublicKey {
    Ec { x: String, y: String },
    Rsa { n: String, e: String },
}

/// A service app's private key (PKCS#8 PEM in a [`SecretString`]), its
/// algorithm and its `kid`.
///
/// `Debug` shows the algorithm and `kid` only; there is no `Display`. The
/// PEM is exposed only to sign a client assertion and through
/// [`ServiceAppKey::private_pem`], for the caller to store it (encrypted).
#[derive(Clone)]
pub struct ServiceAppKey {
    pem: SecretString,
    algorithm: KeyAlgorithm,
    kid: String,
    public: PublicKey,
}

impl ServiceAppKey {
    /// A new key: P-256 for `Es256`, RSA 2048 for `Rs256`. Its `kid` is the
    /// RFC 7638 thumbprint of the public key, so the same key always has
    /// the same `kid`.
    ///
    /// # Panics
    /// If aws-lc-rs cannot generate a key (its RNG failed): nothing a caller
    /// could recover from.
    pub fn generate(algorithm: KeyAlgorithm) -> ServiceAppKey {
        let pkcs8 = match algorithm {
            KeyAlgorithm::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|pair| pair.to_pkcs8v1())
                .map(|doc| doc.as_ref().to_vec()),
            KeyAlgorithm::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|pair| pair.as_der())
                .map(|der| der.as_ref().to_vec()),
        };
        let mut der = pkcs8.expect("aws-lc-rs generates a key");
        let public = public_key(algorithm, &der).expect("a key just generated parses");
        let pem = SecretString::from(pem_encode(&der));
        der.zeroize();
        ServiceAppKey {
            kid: thumbprint(&public),
            pem,
            algorithm,
            public,
        }
    }

    /// Restores a stored key: `pem` is the PKCS#8 PEM that
    /// [`ServiceAppKey::private_pem`] gave, `kid` the one registered with
    /// Okta. Fails, without echoing the key, when the PEM is not a PKCS#8
    /// key of `algorithm`.
    pub fn from_pem(algorithm: KeyAlgorithm, kid: impl Into<String>, pem: SecretString) -> Result<Self, OktaError> {
        let invalid = |reason| OktaError::InvalidConfig {
            key: "service_app.private_key",
            reason,
        };
        let kid = kid.into();
        if kid.trim().is_empty() || !kid.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("the key id (kid) is empty or not printable ASCII"));
        }
        let mut der = pem_decode(pem.expose_secret()).ok_or(invalid("not a PEM-encoded PKCS#8 private key"))?;
        let public = public_key(algorithm, &der);
        der.zeroize();
        let public = public.ok_or(invalid(
            "not a PKCS#8 private key of the stated algorithm (ES256: P-256, RS256: RSA)",
        ))?;
        let key = ServiceAppKey {
            pem,
            algorithm,
            kid,
            public,
        };
        key.encoding_key()?;
        Ok(key)
    }

    /// The RFC 7638 thumbprint computed from the key itself (not the stored
    /// `kid`): what identifies the key in the process-wide token cache.
    pub(crate) fn thumbprint(&self) -> String {
        thumbprint(&self.public)
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The key id sent in each assertion's header and listed in the JWK.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as PKCS#8 PEM, for the caller to store (encrypted).
    pub fn private_pem(&self) -> &SecretString {
        &self.pem
    }

    /// The public key as an RFC 7517 JWK, with `kid`, `alg` and
    /// `"use":"sig"`: what the customer pastes into the app's Client
    /// Credentials ("Public keys") in Okta.
    pub fn public_jwk(&self) -> Value {
        let (kid, alg) = (self.kid.as_str(), self.algorithm.as_str());
        match &self.public {
            PublicKey::Ec { x, y } => {
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": kid, "alg": alg, "use": "sig"})
            }
            PublicKey::Rsa { n, e } => json!({"kty": "RSA", "n": n, "e": e, "kid": kid, "alg": alg, "use": "sig"}),
        }
    }

    /// The key as jsonwebtoken signs with it.
    pub(crate) fn encoding_key(&self) -> Result<jsonwebtoken::EncodingKey, OktaError> {
        let pem = self.pem.expose_secret().as_bytes();
        let key = match self.algorithm {
            KeyAlgorithm::Es256 => jsonwebtoken::EncodingKey::from_ec_pem(pem),
            KeyAlgorithm::Rs256 => jsonwebtoken::EncodingKey::from_rsa_pem(pem),
        };
        key.map_err(|_| OktaError::InvalidConfig {
            key: "service_app.private_key",
            reason: "the private key cannot sign (not a PKCS#8 key of the stated algorithm)",
        })
    }
}

impl fmt::Debug for ServiceAppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAppKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// The public half of a PKCS#8 private key of `algorithm`, or `None` when
/// it is not one.
fn public_key(algorithm: KeyAlgorithm, pkcs8: &[u8]) -> Option<PublicKey> {
    match algorithm {
        KeyAlgorithm::Es256 => {
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).ok()?;
            // Uncompressed SEC1 point: 0x04 || x || y, 32 bytes each on P-256.
            let point = pair.public_key().as_ref();
            if point.len() != 65 || point[0] != 0x04 {
                return None;
            }
            Some(PublicKey::Ec {
                x: URL_SAFE_NO_PAD.encode(&point[1..33]),
                y: URL_SAFE_NO_PAD.encode(&point[33..]),
            })
        }
        KeyAlgorithm::Rs256 => {
            let pair = RsaKeyPair::from_pkcs8(pkcs8).ok()?;
            let public = pair.public_key();
            Some(PublicKey::Rsa {
                n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            })
        }
    }
}

/// RFC 7638: SHA-256 of the required members in lexicographic order, no
/// whitespace, base64url.
fn thumbprint(public: &PublicKey) -> String {
    let canonical = match public {
        PublicKey::Ec { x, y } => format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
        PublicKey::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
    };
    URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))
}

fn pem_encode(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
    pem.push_str("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        // base64 is ASCII, so every chunk is valid UTF-8.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

/// The DER of a `PRIVATE KEY` PEM block (PKCS#8), `None` for anything else.
fn pem_decode(pem: &str) -> Option<Vec<u8>> {
    let pem = pem.trim();
    let body = pem
        .strip_prefix("-----BEGIN PRIVATE KEY-----")?
        .strip_suffix("-----END PRIVATE KEY-----")?;
    let mut compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD.decode(&compact).ok();
    compact.zeroize();
    der
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
