//! Shared test support: the SimpleSAMLphp IdP on loopback (scripts/simplesamlphp/), a
//! bare HTTP server on loopback, and IdP metadata made from the test certificates.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

pub const IDP_PORT: u16 = 8080;
pub const IDP_BASE: &str = "http://127.0.0.1:8080";
pub const IDP_ENTITY_ID: &str = "http://127.0.0.1:8080/saml2/idp/metadata.php";
pub const IDP_SSO: &str = "http://127.0.0.1:8080/saml2/idp/SSOService.php";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(mut command: Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}\n(install the test tools with scripts/install-test-deps.sh)",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Starts (or reuses) the IdP, once per test process (tests run in parallel threads and
/// start.sh must not race itself); every test binary shares one state directory.
pub fn start_idp() -> PathBuf {
    static STARTED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    STARTED
        .get_or_init(|| {
            let state = repo().join("target/simplesamlphp-state");
            let mut command = Command::new(repo().join("scripts/simplesamlphp/start.sh"));
            command.arg(&state).arg(IDP_PORT.to_string());
            run(command, "starting SimpleSAMLphp");
            state
        })
        .clone()
}

/// Registers (or replaces) an SP at the IdP.
pub fn add_sp(state: &PathBuf, sp: serde_json::Value) {
    let mut command = Command::new(repo().join("scripts/simplesamlphp/add-sp.sh"));
    command.arg(state).arg(sp.to_string());
    run(command, "registering the SP at SimpleSAMLphp");
}

/// Signs in through the IdP's real login form; returns (action, SAMLResponse, RelayState).
pub fn login(url: &str, user: &str, password: &str) -> (String, String, Option<String>) {
    let mut command = Command::new("python3");
    command.arg(repo().join("scripts/simplesamlphp/login.py")).args(["--url", url, "--user", user, "--password", password]);
    let out: serde_json::Value = serde_json::from_str(&run(command, "login.py")).expect("login.py JSON");
    (
        out["action"].as_str().unwrap_or_default().to_string(),
        out["SAMLResponse"].as_str().unwrap_or_default().to_string(),
        out["RelayState"].as_str().map(String::from),
    )
}

/// The IdP's metadata XML, fetched over HTTP like an admin would.
pub fn idp_metadata() -> String {
    let mut command = Command::new("python3");
    command.args(["-c", "import sys,urllib.request;sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())", IDP_ENTITY_ID]);
    run(command, "fetching IdP metadata")
}

pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An HTTP server on a free loopback port that answers every request with `respond`
/// after `delay_ms`; returns `http://127.0.0.1:PORT/md`. The whole request is read first:
/// closing with unread bytes would reset the connection.
pub fn loopback_server(delay_ms: u64, respond: Vec<u8>) -> String {
    flaky_loopback_server(0, delay_ms, respond)
}

/// [`loopback_server`], except that its first `drops` connections are closed unread and
/// unanswered (the client sees a reset or an empty answer).
pub fn flaky_loopback_server(drops: usize, delay_ms: u64, respond: Vec<u8>) -> String {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let address = listener.local_addr().expect("local address");
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten().skip(drops) {
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            let _ = stream.write_all(&respond);
        }
    });
    format!("http://{address}/md")
}

/// A test certificate (tests/keys/NAME.crt) as bare base64 DER.
pub fn certificate_b64(name: &str) -> String {
    std::fs::read_to_string(repo().join(format!("tests/keys/{name}.crt"))).expect("certificate").lines().filter(|l| !l.starts_with("-----")).collect()
}

/// IdP metadata for https://idp.example.test/metadata listing the named test
/// certificates as signing keys.
pub fn signing_metadata(certificates: &[&str]) -> String {
    let keys: String = certificates
        .iter()
        .map(|c| format!(r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#, certificate_b64(c)))
        .collect();
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.test/metadata"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
    )
}
