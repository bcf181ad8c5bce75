//! Byte-exact C14N vectors from `../shared/vectors/c14n` (see its README.md).
//!
//! Every vector listed in `manifest.json` is run and every failure is reported (the test
//! fails once, at the end, naming each failing vector). Two kinds of vector:
//!
//! * `reference`: dereference the Reference URI, apply its transforms, serialise with the
//!   final canonicalization (or implicit inclusive C14N without comments when the last
//!   transform yields a node-set), compare with the expected file. The expected file's
//!   SHA-1 must also equal the manifest's DigestValue (which cross-checks the file itself)
//!   and the DigestValue written in the signed document.
//! * `signedinfo`: canonicalize `ds:SignedInfo` in its document context with the
//!   document's CanonicalizationMethod.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use saml_edge::c14n::{canonicalize_document, canonicalize_element, Method};
use saml_edge::xml::{Document, Element, Limits};
use serde_json::Value;
use sha1::{Digest, Sha1};

const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N_NS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const SHA1_URI: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors/c14n")
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Printable form of canonical bytes: valid UTF-8 shown with `escape_debug`, the rest as hex.
fn show(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => format!("\"{}\"", s.escape_debug()),
        Err(_) => format!("(not UTF-8) {}", hex::encode(bytes)),
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()))
}

fn describe_mismatch(expected: &[u8], actual: &[u8]) -> String {
    let at = first_difference(expected, actual);
    let context = |s: &[u8]| {
        let from = at.saturating_sub(40);
        let to = (at + 40).min(s.len());
        show(&s[from.min(to)..to])
    };
    format!(
        "  first difference at byte offset {at} (expected {} bytes, got {} bytes)\n  \
         expected around there: {}\n  actual around there:   {}\n  expected: {}\n  actual:   {}",
        expected.len(),
        actual.len(),
        context(expected),
        context(actual),
        show(expected),
        show(actual),
    )
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("manifest: missing string field {key:?} in {v}"))
}

/// The element whose `Id` or `ID` attribute is `id` (what a bare-name reference selects).
fn element_by_id<'d>(doc: &'d Document, id: &str) -> Option<Element<'d>> {
    doc.elements().find(|e| e.attribute("Id") == Some(id) || e.attribute("ID") == Some(id))
}

/// The document's ds:Signature, ds:SignedInfo and its ds:Reference children.
fn signature_parts(doc: &Document) -> Result<(Element<'_>, Element<'_>, Vec<Element<'_>>), String> {
    let signature = doc
        .elements()
        .find(|e| e.is(DSIG_NS, "Signature"))
        .ok_or("the document has no ds:Signature")?;
    let signed_info = signature
        .children_named(DSIG_NS, "SignedInfo")
        .next()
        .ok_or("ds:Signature has no ds:SignedInfo")?;
    let references = signed_info.children_named(DSIG_NS, "Reference").collect();
    Ok((signature, signed_info, references))
}

fn prefix_list(list: &str) -> Vec<String> {
    list.split_ascii_whitespace().map(str::to_owned).collect()
}

/// Runs one `reference` vector; `Err` describes the failure.
fn run_reference(doc: &Document, vector: &Value, expected: &[u8]) -> Result<(), String> {
    let uri = str_field(vector, "uri");
    let index = vector.get("index").and_then(Value::as_u64).ok_or("manifest: missing index")? as usize;
    let transforms = vector.get("transforms").and_then(Value::as_array).ok_or("manifest: missing transforms")?;
    let mut problems = Vec::new();

    // Cross-check the expected file: its SHA-1 must be the manifest's DigestValue, which must
    // be the one the signer wrote into the document's index-th Reference.
    if str_field(vector, "digestMethod") != SHA1_URI {
        problems.push(format!("unexpected digest method {}", str_field(vector, "digestMethod")));
    }
    let digest_value = str_field(vector, "digestValue");
    let expected_digest = BASE64.encode(Sha1::digest(expected));
    if expected_digest != digest_value {
        problems.push(format!(
            "SHA-1 of the expected file is {expected_digest}, manifest digestValue is {digest_value}"
        ));
    }
    let (signature, _, references) = signature_parts(doc)?;
    match references.get(index - 1) {
        None => problems.push(format!("the document has no Reference #{index}")),
        Some(reference) => {
            if reference.attribute("URI") != Some(uri) {
                problems.push(format!("document Reference #{index} has URI {:?}, manifest says {uri:?}", reference.attribute("URI")));
            }
            let in_doc = reference
                .children_named(DSIG_NS, "DigestValue")
                .next()
                .map(|d| d.text().split_ascii_whitespace().collect::<String>());
            if in_doc.as_deref() != Some(digest_value) {
                problems.push(format!("document Reference #{index} has DigestValue {in_doc:?}, manifest says {digest_value}"));
            }
        }
    }

    // Transforms: enveloped-signature removes the Signature; a final C14N transform picks
    // the serialisation, otherwise the node-set goes through implicit inclusive C14N 1.0.
    let mut exclude = None;
    let mut method = Method::from_uri(saml_edge::c14n::C14N_10).expect("C14N 1.0 is supported");
    for (i, transform) in transforms.iter().enumerate() {
        let algorithm = str_field(transform, "algorithm");
        if algorithm == ENVELOPED {
            exclude = Some(signature.id());
        } else if let Some(mut m) = Method::from_uri(algorithm) {
            if i + 1 != transforms.len() {
                return Err(format!("C14N transform {algorithm} is not the last transform"));
            }
            if let Some(list) = transform.get("inclusiveNamespacesPrefixList").and_then(Value::as_str) {
                m.inclusive_prefixes = prefix_list(list);
            }
            method = m;
        } else {
            return Err(format!("unsupported transform {algorithm}"));
        }
    }

    let mut actual = Vec::new();
    if uri.is_empty() {
        // Same-document reference to the whole document: comments are removed.
        method.with_comments = false;
        canonicalize_document(doc, &method, exclude, &mut actual);
    } else if let Some(fragment) = uri.strip_prefix('#') {
        let (id, keep_comments) = match fragment.strip_prefix("xpointer(id('").and_then(|r| r.strip_suffix("'))")) {
            Some(id) => (id, true), // XPointer keeps comment nodes.
            None => (fragment, false), // A bare name removes them.
        };
        let element = element_by_id(doc, id).ok_or_else(|| format!("no element with Id {id:?}"))?;
        method.with_comments &= keep_comments;
        canonicalize_element(element, &method, exclude, &mut actual);
    } else {
        return Err(format!("unsupported Reference URI {uri:?}"));
    }

    if actual != expected {
        problems.push(format!("canonical output differs (method {method:?}):\n{}", describe_mismatch(expected, &actual)));
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

/// Runs one `signedinfo` vector.
fn run_signed_info(doc: &Document, vector: &Value, expected: &[u8]) -> Result<(), String> {
    let (_, signed_info, _) = signature_parts(doc)?;
    let c14n_method = signed_info
        .children_named(DSIG_NS, "CanonicalizationMethod")
        .next()
        .ok_or("ds:SignedInfo has no ds:CanonicalizationMethod")?;
    let algorithm = c14n_method.attribute("Algorithm").ok_or("CanonicalizationMethod without Algorithm")?;
    let manifest_algorithm = str_field(vector, "canonicalizationMethod");
    if algorithm != manifest_algorithm {
        return Err(format!("document CanonicalizationMethod is {algorithm}, manifest says {manifest_algorithm}"));
    }
    let mut method = Method::from_uri(algorithm).ok_or_else(|| format!("unsupported CanonicalizationMethod {algorithm}"))?;
    if let Some(inclusive) = c14n_method.children_named(EXC_C14N_NS, "InclusiveNamespaces").next() {
        method.inclusive_prefixes = prefix_list(inclusive.attribute("PrefixList").unwrap_or(""));
    }
    let mut actual = Vec::new();
    canonicalize_element(signed_info, &method, None, &mut actual);
    if actual != expected {
        return Err(format!("canonical SignedInfo differs (method {method:?}):\n{}", describe_mismatch(expected, &actual)));
    }
    Ok(())
}

#[test]
fn c14n_vectors() {
    let dir = vectors_dir();
    let manifest: Value = serde_json::from_slice(&read(&dir.join("manifest.json"))).expect("manifest.json is JSON");
    let documents = manifest["documents"].as_array().expect("manifest: documents is an array");

    let mut checked = 0;
    let mut failures = String::new();
    for document in documents {
        let file = str_field(document, "file");
        let path = dir.join(file);
        let doc_dir = path.parent().expect("document path has a directory").to_path_buf();
        let vectors = document["vectors"].as_array().expect("manifest: vectors is an array");
        let doc = match Document::parse(&read(&path), &Limits::default()) {
            Ok(doc) => doc,
            Err(e) => {
                let _ = writeln!(failures, "FAIL {file}: parse error {e} ({} vectors not run)\n", vectors.len());
                continue;
            }
        };
        for vector in vectors {
            let kind = str_field(vector, "kind");
            let expected_name = str_field(vector, "expectedOutput");
            let name = match vector.get("index") {
                Some(i) => format!("{file} {kind} #{i} -> {expected_name}"),
                None => format!("{file} {kind} -> {expected_name}"),
            };
            let expected = read(&doc_dir.join(expected_name));
            let mut result = match vector.get("bytes").and_then(Value::as_u64) {
                Some(n) if n as usize != expected.len() => {
                    Err(format!("expected file is {} bytes, manifest says {n}", expected.len()))
                }
                _ => Ok(()),
            };
            if result.is_ok() {
                result = match kind {
                    "reference" => run_reference(&doc, vector, &expected),
                    "signedinfo" => run_signed_info(&doc, vector, &expected),
                    other => Err(format!("unknown vector kind {other:?}")),
                };
            }
            checked += 1;
            match result {
                Ok(()) => eprintln!("ok   {name}"),
                Err(why) => {
                    eprintln!("FAIL {name}");
                    let _ = writeln!(failures, "FAIL {name}\n{why}\n");
                }
            }
        }
    }
    assert!(checked >= 12, "only {checked} vectors found in {}", dir.display());
    assert!(failures.is_empty(), "C14N vector failures:\n\n{failures}");
    eprintln!("{checked} C14N vectors passed");
}
