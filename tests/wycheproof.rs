//! Wycheproof vectors against the signature backends the verifier really uses
//! (`TrustedKey::verify`, i.e. the RSA backend trait and the p256/p384 ECDSA path).
//! Every `valid` case must verify and every `invalid` case must fail; `acceptable`
//! cases (legacy encodings) must fail too, since we accept nothing we do not need.

use saml_edge::dsig::algorithms::{
    HashAlgorithm, SignatureAlgorithm, ECDSA_P1363_SHA256, ECDSA_P1363_SHA384, RSA_PKCS1_SHA256, RSA_PKCS1_SHA512,
};
use saml_edge::dsig::{FixedWidthRsa, RsaVerifier, RustCryptoRsa, TrustedKey};
use serde_json::Value;

fn vectors(name: &str) -> Value {
    let path = format!("{}/../shared/vectors/wycheproof/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("vector JSON")
}

fn run(name: &str, algorithm: SignatureAlgorithm, backend: &dyn RsaVerifier) {
    let data = vectors(name);
    let (mut checked, mut failures) = (0, Vec::new());
    for group in data["testGroups"].as_array().expect("testGroups") {
        let spki = hex::decode(group["publicKeyDer"].as_str().expect("publicKeyDer")).expect("hex");
        let key = match TrustedKey::from_public_key_der(&spki, [0; 32]) {
            Ok(key) => Some(key),
            Err(_) => None, // A key we cannot load can verify nothing; its cases must be invalid.
        };
        for case in group["tests"].as_array().expect("tests") {
            let id = case["tcId"].as_u64().unwrap_or(0);
            let msg = hex::decode(case["msg"].as_str().unwrap_or_default()).expect("hex msg");
            let sig = hex::decode(case["sig"].as_str().unwrap_or_default()).unwrap_or_default();
            let digest = algorithm.hash.digest(&msg);
            let verified = key.as_ref().is_some_and(|k| k.verify(&algorithm, &digest, &sig, backend));
            let expected = case["result"] == "valid";
            checked += 1;
            if verified != expected {
                failures.push(format!("tcId {id} ({}): expected {expected}, got {verified}", case["comment"]));
            }
        }
    }
    assert!(checked > 100, "{name}: only {checked} cases");
    assert!(failures.is_empty(), "{name}: {} failures:\n{}", failures.len(), failures.join("\n"));
    eprintln!("{name}: {checked} cases agree");
}

#[test]
fn rsa_pkcs1v15_2048_sha256() {
    run("rsa_signature_2048_sha256_test.json", RSA_PKCS1_SHA256, &RustCryptoRsa);
}

#[test]
fn rsa_pkcs1v15_2048_sha512() {
    run("rsa_signature_2048_sha512_test.json", RSA_PKCS1_SHA512, &RustCryptoRsa);
}

#[test]
fn rsa_pkcs1v15_3072_sha256() {
    run("rsa_signature_3072_sha256_test.json", RSA_PKCS1_SHA256, &RustCryptoRsa);
}

#[test]
fn rsa_pkcs1v15_4096_sha256() {
    run("rsa_signature_4096_sha256_test.json", RSA_PKCS1_SHA256, &RustCryptoRsa);
}

#[test]
fn fixed_width_rsa_2048_sha256() {
    run("rsa_signature_2048_sha256_test.json", RSA_PKCS1_SHA256, &FixedWidthRsa);
}

#[test]
fn fixed_width_rsa_2048_sha512() {
    run("rsa_signature_2048_sha512_test.json", RSA_PKCS1_SHA512, &FixedWidthRsa);
}

#[test]
fn fixed_width_rsa_3072_sha256() {
    run("rsa_signature_3072_sha256_test.json", RSA_PKCS1_SHA256, &FixedWidthRsa);
}

#[test]
fn fixed_width_rsa_4096_sha256() {
    run("rsa_signature_4096_sha256_test.json", RSA_PKCS1_SHA256, &FixedWidthRsa);
}

#[test]
fn ecdsa_p256_sha256_p1363() {
    run("ecdsa_secp256r1_sha256_p1363_test.json", ECDSA_P1363_SHA256, &RustCryptoRsa);
}

#[test]
fn ecdsa_p384_sha384_p1363() {
    run("ecdsa_secp384r1_sha384_p1363_test.json", ECDSA_P1363_SHA384, &RustCryptoRsa);
}

#[test]
fn hash_helper_matches_known_answer() {
    assert_eq!(hex::encode(HashAlgorithm::Sha256.digest(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

#[test]
fn fixed_width_rsa_refuses_non_canonical_signatures() {
    // A key and a valid signature from the vectors, then s + n, s = n, and wrong lengths.
    let data = vectors("rsa_signature_2048_sha256_test.json");
    let group = &data["testGroups"][0];
    let key = TrustedKey::from_public_key_der(&hex::decode(group["publicKeyDer"].as_str().unwrap()).unwrap(), [0; 32]).unwrap();
    let case = group["tests"].as_array().unwrap().iter().find(|c| c["result"] == "valid").unwrap();
    let msg = hex::decode(case["msg"].as_str().unwrap()).unwrap();
    let sig = hex::decode(case["sig"].as_str().unwrap()).unwrap();
    let digest = RSA_PKCS1_SHA256.hash.digest(&msg);
    assert!(key.verify(&RSA_PKCS1_SHA256, &digest, &sig, &FixedWidthRsa));
    let modulus = hex::decode(group["publicKey"]["modulus"].as_str().unwrap()).unwrap();
    let modulus = &modulus[modulus.len() - 256..];
    assert!(!key.verify(&RSA_PKCS1_SHA256, &digest, modulus, &FixedWidthRsa), "s = n");
    let mut longer = vec![0u8];
    longer.extend_from_slice(&sig);
    assert!(!key.verify(&RSA_PKCS1_SHA256, &digest, &longer, &FixedWidthRsa), "leading zero byte");
    assert!(!key.verify(&RSA_PKCS1_SHA256, &digest, &sig[1..], &FixedWidthRsa), "short");
    assert!(!key.verify(&RSA_PKCS1_SHA256, &digest[1..], &sig, &FixedWidthRsa), "truncated digest");
}
