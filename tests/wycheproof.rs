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
        // A key we cannot load can verify nothing; its cases must be invalid.
        let key = TrustedKey::from_public_key_der(&spki, [0; 32]).ok();
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

// --- decryption of encrypted assertions: RSA-OAEP key transport and AES-GCM content ----

use saml_edge::saml::encryption::{decrypt_content, rsa_oaep_decrypt, DecryptionKey};

fn oaep(name: &str, digest: Option<&str>, mgf: Option<&str>) {
    let data = vectors(name);
    let (mut checked, mut failures) = (0, Vec::new());
    for group in data["testGroups"].as_array().expect("groups") {
        checked += oaep_group(group, digest, mgf, &mut failures);
    }
    assert!(checked > 20, "{name}: {checked} cases");
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
}

/// Runs one Wycheproof OAEP test group through our unwrapping; returns the cases checked
/// and adds a line to `failures` for each verdict that differs.
fn oaep_group(group: &serde_json::Value, digest: Option<&str>, mgf: Option<&str>, failures: &mut Vec<String>) -> usize {
    let der = hex::decode(group["privateKeyPkcs8"].as_str().expect("pkcs8")).expect("hex");
    let key = DecryptionKey::from_pkcs8_der(&der).expect("key");
    let cases = group["tests"].as_array().expect("tests");
    for case in cases {
        let ct = hex::decode(case["ct"].as_str().unwrap_or_default()).unwrap_or_default();
        let label = hex::decode(case["label"].as_str().unwrap_or_default()).unwrap_or_default();
        let msg = hex::decode(case["msg"].as_str().unwrap_or_default()).unwrap_or_default();
        let got = rsa_oaep_decrypt(&key, digest, mgf, (!label.is_empty()).then_some(label.as_slice()), &ct);
        let ok = got.as_deref() == Some(msg.as_slice());
        if ok != (case["result"] == "valid") {
            failures.push(format!("{}/{} tcId {} ({}): decrypted={ok}", group["sha"], group["mgfSha"], case["tcId"], case["comment"]));
        }
    }
    cases.len()
}

/// The misc file pairs every digest with every MGF1 hash: all pairs of SHA-1/256/384/512
/// (the XML Encryption 1.1 set) for the 2048-bit groups, through the XML algorithm URIs.
#[test]
fn rsa_oaep_every_digest_with_every_mgf1() {
    let uri = |sha: &str| match sha {
        "SHA-1" => Some(("http://www.w3.org/2000/09/xmldsig#sha1", "http://www.w3.org/2009/xmlenc11#mgf1sha1")),
        "SHA-256" => Some(("http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2009/xmlenc11#mgf1sha256")),
        "SHA-384" => Some(("http://www.w3.org/2001/04/xmldsig-more#sha384", "http://www.w3.org/2009/xmlenc11#mgf1sha384")),
        "SHA-512" => Some(("http://www.w3.org/2001/04/xmlenc#sha512", "http://www.w3.org/2009/xmlenc11#mgf1sha512")),
        _ => None,
    };
    let data = vectors("rsa_oaep_misc_test.json");
    let (mut pairs, mut checked, mut failures) = (0, 0, Vec::new());
    for group in data["testGroups"].as_array().expect("groups") {
        let (Some((digest, _)), Some((_, mgf))) = (uri(group["sha"].as_str().unwrap_or_default()), uri(group["mgfSha"].as_str().unwrap_or_default())) else { continue };
        if group["keySize"] != 2048 {
            continue;
        }
        pairs += 1;
        checked += oaep_group(group, Some(digest), Some(mgf), &mut failures);
    }
    assert_eq!(pairs, 16, "every digest/MGF1 pair at 2048 bits");
    assert!(checked > 16, "{checked} cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rsa_oaep_sha1_mgf1sha1() {
    oaep("rsa_oaep_2048_sha1_mgf1sha1_test.json", None, None);
}

#[test]
fn rsa_oaep_sha256_mgf1sha1() {
    oaep("rsa_oaep_2048_sha256_mgf1sha1_test.json", Some("http://www.w3.org/2001/04/xmlenc#sha256"), None);
}

#[test]
fn rsa_oaep_sha256_mgf1sha256() {
    oaep("rsa_oaep_2048_sha256_mgf1sha256_test.json", Some("http://www.w3.org/2001/04/xmlenc#sha256"), Some("http://www.w3.org/2009/xmlenc11#mgf1sha256"));
}

#[test]
fn aes_gcm_as_xml_encryption_uses_it() {
    // XML Encryption: 96-bit IV prepended, 128-bit tag appended, no associated data.
    let data = vectors("aes_gcm_test.json");
    let mut checked = 0;
    for group in data["testGroups"].as_array().expect("groups") {
        if group["ivSize"] != 96 || group["tagSize"] != 128 {
            continue;
        }
        let uri = match group["keySize"].as_u64() {
            Some(128) => "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            Some(192) => "http://www.w3.org/2009/xmlenc11#aes192-gcm",
            Some(256) => "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            _ => continue,
        };
        for case in group["tests"].as_array().expect("tests") {
            if !case["aad"].as_str().unwrap_or_default().is_empty() {
                continue;
            }
            let h = |f: &str| hex::decode(case[f].as_str().unwrap_or_default()).unwrap_or_default();
            let input = [h("iv"), h("ct"), h("tag")].concat();
            let got = decrypt_content(uri, &h("key"), &input);
            let ok = got.as_deref().ok() == Some(h("msg").as_slice());
            assert_eq!(ok, case["result"] == "valid", "tcId {} ({})", case["tcId"], case["comment"]);
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked} cases");
}

#[test]
fn aes_cbc_valid_vectors_decrypt() {
    // XML Encryption's CBC padding is ISO 10126 (only the last byte counts), so PKCS#5
    // "invalid padding" cases are not errors for it; every valid case must round-trip.
    let data = vectors("aes_cbc_pkcs5_test.json");
    let mut checked = 0;
    for group in data["testGroups"].as_array().expect("groups") {
        let uri = match group["keySize"].as_u64() {
            Some(128) => "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            Some(192) => "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
            Some(256) => "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            _ => continue,
        };
        for case in group["tests"].as_array().expect("tests").iter().filter(|c| c["result"] == "valid") {
            let h = |f: &str| hex::decode(case[f].as_str().unwrap_or_default()).unwrap_or_default();
            let got = decrypt_content(uri, &h("key"), &[h("iv"), h("ct")].concat()).expect("valid case decrypts");
            assert_eq!(got, h("msg"), "tcId {}", case["tcId"]);
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked} cases");
}

#[test]
fn ed25519_as_sessions_verify_it() {
    // Session JWTs are checked with verify_strict (non-canonical encodings refused).
    let data = vectors("ed25519_test.json");
    let mut checked = 0;
    for group in data["testGroups"].as_array().expect("groups") {
        let public = hex::decode(group["publicKey"]["pk"].as_str().expect("pk")).expect("hex");
        let Ok(public) = <[u8; 32]>::try_from(public.as_slice()) else { continue };
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public).ok();
        for case in group["tests"].as_array().expect("tests") {
            let msg = hex::decode(case["msg"].as_str().unwrap_or_default()).unwrap_or_default();
            let sig = hex::decode(case["sig"].as_str().unwrap_or_default()).unwrap_or_default();
            let ok = key.as_ref().is_some_and(|k| {
                ed25519_dalek::Signature::from_slice(&sig).is_ok_and(|s| k.verify_strict(&msg, &s).is_ok())
            });
            assert_eq!(ok, case["result"] == "valid", "tcId {} ({})", case["tcId"], case["comment"]);
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} cases");
}
