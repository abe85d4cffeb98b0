use jsonwebtoken::jwk::Jwk;
use secrecy::ExposeSecret;

use super::*;

#[test]
fn an_es256_key_has_a_p256_jwk_with_its_thumbprint_as_kid() {
    let key = ServiceAppKey::generate(KeyAlgorithm::Es256);
    let jwk = key.public_jwk();
    let members: Vec<&str> = jwk.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(members.len(), 7, "{members:?}");
    assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("EC"), Some("P-256")));
    assert_eq!((jwk["alg"].as_str(), jwk["use"].as_str()), (Some("ES256"), Some("sig")));
    assert_eq!(jwk["kid"].as_str(), Some(key.kid()));
    for coordinate in ["x", "y"] {
        let bytes = URL_SAFE_NO_PAD.decode(jwk[coordinate].as_str().unwrap()).unwrap();
        assert_eq!(bytes.len(), 32, "{coordinate}");
    }
    assert!(jwk.get("d").is_none(), "never the private scalar");
    // jsonwebtoken (and so Okta's side of the test) reads it as a JWK.
    serde_json::from_value::<Jwk>(jwk).unwrap();
}

#[test]
fn an_rs256_key_has_a_2048_bit_jwk() {
    let key = ServiceAppKey::generate(KeyAlgorithm::Rs256);
    let jwk = key.public_jwk();
    let members: Vec<&str> = jwk.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(members.len(), 6, "{members:?}");
    assert_eq!(jwk["kty"].as_str(), Some("RSA"));
    assert_eq!((jwk["alg"].as_str(), jwk["use"].as_str()), (Some("RS256"), Some("sig")));
    assert_eq!(jwk["e"].as_str(), Some("AQAB"));
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    assert_eq!(n.len(), 256);
    assert!(jwk.get("d").is_none() && jwk.get("p").is_none());
    serde_json::from_value::<Jwk>(jwk).unwrap();
}

#[test]
fn the_kid_is_the_rfc7638_thumbprint() {
    // RFC 7638 §3.1's example key and thumbprint.
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let public = PublicKey::Rsa {
        n: n.to_owned(),
        e: "AQAB".to_owned(),
    };
    assert_eq!(thumbprint(&public), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

#[test]
fn a_stored_key_restores_with_the_same_public_jwk() {
    for algorithm in [KeyAlgorithm::Es256, KeyAlgorithm::Rs256] {
        let key = ServiceAppKey::generate(algorithm);
        let pem = SecretString::from(key.private_pem().expose_secret().to_owned());
        let restored = ServiceAppKey::from_pem(algorithm, key.kid(), pem).unwrap();
        assert_eq!(restored.public_jwk(), key.public_jwk());
        assert!(
            key.private_pem()
                .expose_secret()
                .starts_with("-----BEGIN PRIVATE KEY-----\n")
        );
    }
}

#[test]
fn a_pem_of_the_wrong_kind_is_refused_without_echoing_it() {
    let ec = ServiceAppKey::generate(KeyAlgorithm::Es256);
    let pem = ec.private_pem().expose_secret().to_owned();
    let err = ServiceAppKey::from_pem(KeyAlgorithm::Rs256, "kid1", SecretString::from(pem.clone())).unwrap_err();
    let body = pem.lines().nth(1).unwrap();
    assert!(!err.to_string().contains(body) && !format!("{err:?}").contains(body));
    assert!(ServiceAppKey::from_pem(KeyAlgorithm::Es256, "kid1", SecretString::from("not a key")).is_err());
    assert!(ServiceAppKey::from_pem(KeyAlgorithm::Es256, " ", SecretString::from(pem)).is_err());
}

#[test]
fn debug_never_shows_the_private_key() {
    let key = ServiceAppKey::generate(KeyAlgorithm::Es256);
    let body = key.private_pem().expose_secret().lines().nth(1).unwrap().to_owned();
    let shown = format!("{key:?} {key:#?}");
    assert!(!shown.contains(&body) && !shown.contains("PRIVATE KEY"), "{shown}");
    assert!(shown.contains(key.kid()));
}
