//! `saml-edge`: the command line for admins (native only).
//!
//!   saml-edge verify --connector FILE [--now RFC3339] [--request-id ID] RESPONSE|-
//!   saml-edge check-config [--now RFC3339] [--json] FILE
//!   saml-edge metadata --connector FILE
//!   saml-edge dev [--port 8787] [--seed kv-seed]     the native dev server
//!   saml-edge kv-seed [--seed kv-seed] [--format wrangler|json]   KV entries for upload
//!   saml-edge admin [--url URL] [--token TOKEN] COMMAND …       the admin API (see USAGE)
//!
//! Exit codes: 0 valid, 1 rejected (JSON on stdout says why), 2 bad usage.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    std::process::exit(cli::run(std::env::args().skip(1).collect()));
}

/// Writes a line to stdout; a closed pipe (`saml-edge … | head`) is not an error worth a panic.
#[cfg(not(target_arch = "wasm32"))]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

#[cfg(not(target_arch = "wasm32"))]
mod dev;

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use std::io::Read as _;
    use std::path::Path;

    use saml_edge::saml::response::{decode_posted, Expectation};
    use saml_edge::saml::{metadata, validate_response, Connector, Instant};
    use saml_edge::{ConfigProblem, Error};
    use serde_json::json;

    const USAGE: &str = "usage:
  saml-edge verify --connector FILE [--now RFC3339] [--request-id ID] RESPONSE|-
      RESPONSE: a file with the SAMLResponse value as POSTed (base64) or raw XML; - for stdin
  saml-edge check-config [--now RFC3339] [--json] FILE
  saml-edge metadata --connector FILE
  saml-edge dev [--port 8787] [--seed kv-seed]
  saml-edge kv-seed [--seed kv-seed] [--format wrangler|json]
  saml-edge admin [--url URL] [--token TOKEN] COMMAND
      URL: the deployment (default $SAML_EDGE_URL, else http://127.0.0.1:8787);
      TOKEN: its ADMIN_TOKEN (default $ADMIN_TOKEN). COMMAND is one of:
        list | get ID | delete ID
        put ID FILE|-            connector JSON, or IdP metadata XML
        put-url ID METADATA_URL  a connector kept current from the IdP's metadata URL
        domains | map-domain DOMAIN ID | unmap-domain DOMAIN
        refresh                  re-fetch every metadata URL now
        health                   expiring certificates, failed refreshes, retired keys in use";

    /// Exit code 2 with a message: the command line itself is wrong.
    struct Usage(String);

    pub fn run(args: Vec<String>) -> i32 {
        let result = match args.first().map(String::as_str) {
            Some("verify") => verify(&args[1..]),
            Some("check-config") => check_config(&args[1..]),
            Some("metadata") => sp_metadata(&args[1..]),
            Some("dev") => dev_server(&args[1..]),
            Some("kv-seed") => kv_seed(&args[1..]),
            Some("admin") => admin(&args[1..]),
            Some("-h" | "--help" | "help") => {
                say!("{USAGE}");
                Ok(0)
            }
            _ => Err(Usage("expected a command".into())),
        };
        match result {
            Ok(code) => code,
            Err(Usage(message)) => {
                eprintln!("saml-edge: {message}\n{USAGE}");
                2
            }
        }
    }

    /// Options (`--name value` or flags) and positional arguments.
    struct Args {
        options: Vec<(String, Option<String>)>,
        positional: Vec<String>,
    }

    fn parse(args: &[String], with_value: &[&str], flags: &[&str]) -> Result<Args, Usage> {
        let mut parsed = Args { options: Vec::new(), positional: Vec::new() };
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            if let Some(name) = arg.strip_prefix("--") {
                let (name, inline) = match name.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (name, None),
                };
                if with_value.contains(&name) {
                    let value = inline.or_else(|| iter.next().cloned()).ok_or_else(|| Usage(format!("--{name} needs a value")))?;
                    parsed.options.push((name.to_string(), Some(value)));
                } else if flags.contains(&name) {
                    parsed.options.push((name.to_string(), None));
                } else {
                    return Err(Usage(format!("unknown option --{name}")));
                }
            } else {
                parsed.positional.push(arg.clone());
            }
        }
        Ok(parsed)
    }

    impl Args {
        fn value(&self, name: &str) -> Option<&str> {
            self.options.iter().rev().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
        }
        fn flag(&self, name: &str) -> bool {
            self.options.iter().any(|(n, _)| n == name)
        }
        fn one_positional(&self, what: &str) -> Result<&str, Usage> {
            match self.positional.as_slice() {
                [one] => Ok(one),
                [] => Err(Usage(format!("missing {what}"))),
                _ => Err(Usage(format!("expected one {what}, got {}", self.positional.len()))),
            }
        }
    }

    fn now(args: &Args) -> Result<Instant, Usage> {
        match args.value("now") {
            Some(text) => Instant::parse(text).ok_or_else(|| Usage(format!("--now {text:?} is not an RFC 3339 UTC time like 2026-01-01T00:01:00Z"))),
            None => Ok(Instant::system_now()),
        }
    }

    fn read(path: &str) -> Result<String, Usage> {
        if path == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| Usage(format!("stdin: {e}")))?;
            return Ok(text);
        }
        std::fs::read_to_string(path).map_err(|e| Usage(format!("{path}: {e}")))
    }

    /// The connector's ID is its file name without extension (as its KV key would be). A
    /// connector with `idpMetadataUrl` is checked with its metadata, fetched now.
    fn load_connector(path: &str) -> Result<Result<(Connector, Vec<ConfigProblem>), saml_edge::ConfigError>, Usage> {
        let text = read(path)?;
        let id = Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or("connector");
        let url = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["idpMetadataUrl"].as_str().map(String::from));
        let Some(url) = url else { return Ok(Connector::from_json(id, &text)) };
        let fetched = fetch_metadata(&url);
        let result = match &fetched {
            Ok(xml) => Connector::from_json_with_metadata(id, &text, Some(&saml_edge::saml::config::FetchedMetadata { xml: xml.clone(), retained_certificates: Vec::new() })),
            Err(_) => Connector::from_json(id, &text),
        };
        Ok(result.map_err(|mut e| {
            if let Err(message) = &fetched {
                e.problems.insert(0, ConfigProblem { field: "idpMetadataUrl".into(), message: format!("fetching the metadata failed: {message}") });
            }
            e
        }))
    }

    /// The metadata at `url`, under the same rules as the service (loopback allowed: this
    /// is the operator's own machine).
    fn fetch_metadata(url: &str) -> Result<String, String> {
        use saml_edge::service::idp_metadata::{MAX_REDIRECTS, METADATA_MAX_BYTES, METADATA_TIMEOUT_MS};
        let limits = saml_edge::service::FetchLimits { max_bytes: METADATA_MAX_BYTES, timeout_ms: METADATA_TIMEOUT_MS, allow_loopback: true };
        let mut target = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let answer = saml_edge::service::native_fetch::fetch(&target, &limits)?;
            match (answer.status, answer.location) {
                (200, _) => return String::from_utf8(answer.body).map_err(|_| "the metadata is not UTF-8".to_string()),
                (301 | 302 | 303 | 307 | 308, Some(location)) if location.starts_with("http") => target = location,
                (status, _) => return Err(format!("{target} answered HTTP {status}")),
            }
        }
        Err(format!("more than {MAX_REDIRECTS} redirects"))
    }

    fn rejected(error: &Error) -> i32 {
        say!("{}", json!({"ok": false, "error": {"code": error.code(), "message": error.to_string()}}));
        1
    }

    fn verify(args: &[String]) -> Result<i32, Usage> {
        let args = parse(args, &["connector", "now", "request-id"], &[])?;
        let connector_path = args.value("connector").ok_or_else(|| Usage("verify needs --connector FILE".into()))?;
        let response_path = args.one_positional("RESPONSE")?;
        let now = now(&args)?;
        let connector = match load_connector(connector_path)? {
            Ok((connector, _warnings)) => connector,
            Err(e) => return Ok(rejected(&e.into())),
        };
        let posted = read(response_path)?;
        let xml = match decode_posted(&posted) {
            Ok(xml) => xml,
            Err(e) => return Ok(rejected(&e.into())),
        };
        let expect = Expectation { now, request_id: args.value("request-id") };
        match validate_response(&xml, &connector, expect) {
            Ok(identity) => {
                let output = json!({
                    "ok": true,
                    "nameId": identity.name_id,
                    "nameIdFormat": identity.name_id_format,
                    "issuer": identity.issuer,
                    "sessionIndex": identity.session_index,
                    "attributes": identity.attributes_json(),
                    "profile": identity.profile_json(),
                });
                say!("{output}");
                Ok(0)
            }
            Err(e) => Ok(rejected(&e)),
        }
    }

    fn check_config(args: &[String]) -> Result<i32, Usage> {
        let args = parse(args, &["now"], &["json"])?;
        let path = args.one_positional("FILE")?;
        let now = now(&args)?;
        let (ok, problems, mut warnings, connector) = match load_connector(path)? {
            Ok((connector, warnings)) => (true, Vec::new(), warnings, Some(connector)),
            Err(e) => (false, e.problems, Vec::new(), None),
        };
        if let Some(connector) = &connector {
            warnings.extend(connector.certificate_warnings(now));
        }
        let as_json = |list: &[ConfigProblem]| -> Vec<serde_json::Value> {
            list.iter().map(|p| json!({"field": p.field, "message": p.message})).collect()
        };
        if args.flag("json") {
            say!("{}", json!({"ok": ok, "problems": as_json(&problems), "warnings": as_json(&warnings)}));
        } else {
            for p in &problems {
                say!("error   {}: {}", p.field, p.message);
            }
            for w in &warnings {
                say!("warning {}: {}", w.field, w.message);
            }
            match &connector {
                Some(c) => say!(
                    "ok: connector {:?} (SP {} → IdP {}), {} signing certificate(s)",
                    c.id,
                    c.entity_id,
                    c.idp_entity_id.as_deref().unwrap_or("(issuer unchecked)"),
                    c.idp_certificates.len()
                ),
                None => say!("invalid: {} problem(s)", problems.len()),
            }
        }
        Ok(if ok { 0 } else { 1 })
    }

    fn dev_server(args: &[String]) -> Result<i32, Usage> {
        let args = parse(args, &["port", "seed"], &[])?;
        let port: u16 = args.value("port").unwrap_or("8787").parse().map_err(|_| Usage("--port takes a number".into()))?;
        let seed = args.value("seed").unwrap_or("kv-seed");
        match super::dev::serve(port, Path::new(seed)) {
            Ok(()) => Ok(0),
            Err(message) => {
                eprintln!("saml-edge dev: {message}");
                Ok(1)
            }
        }
    }

    /// The kv-seed folder as KV entries: `wrangler` gives the array `wrangler kv bulk put`
    /// takes; `json` a `{key: value}` object (Spin key-value, other tools). Connectors are
    /// checked first: a seed that would fail at request time is refused here.
    fn kv_seed(args: &[String]) -> Result<i32, Usage> {
        let args = parse(args, &["seed", "format"], &[])?;
        let seed = args.value("seed").unwrap_or("kv-seed");
        let entries = super::dev::load_seed(Path::new(seed)).map_err(Usage)?;
        let mut keys: Vec<&String> = entries.keys().collect();
        keys.sort();
        let mut failed = false;
        for key in &keys {
            if let Some(id) = key.strip_prefix("connector:") {
                if let Err(e) = Connector::from_json(id, &entries[*key]) {
                    eprintln!("saml-edge kv-seed: {e}");
                    failed = true;
                }
            }
        }
        if failed {
            return Ok(1);
        }
        let output = match args.value("format").unwrap_or("wrangler") {
            "wrangler" => json!(keys.iter().map(|k| json!({"key": k, "value": entries[*k]})).collect::<Vec<_>>()),
            "json" => json!(keys.iter().map(|k| ((*k).clone(), json!(entries[*k]))).collect::<serde_json::Map<_, _>>()),
            other => return Err(Usage(format!("unknown --format {other} (wrangler or json)"))),
        };
        say!("{output}");
        Ok(0)
    }

    /// The admin API from the command line: one request, the JSON answer on stdout, exit 0
    /// on success and 1 on a refusal (the answer says why).
    fn admin(args: &[String]) -> Result<i32, Usage> {
        let args = parse(args, &["url", "token"], &[])?;
        let base = args.value("url").map(String::from).or_else(|| std::env::var("SAML_EDGE_URL").ok()).unwrap_or_else(|| "http://127.0.0.1:8787".into());
        let base = base.trim_end_matches('/');
        let token = args.value("token").map(String::from).or_else(|| std::env::var("ADMIN_TOKEN").ok()).ok_or_else(|| Usage("admin needs --token or $ADMIN_TOKEN".into()))?;
        let words: Vec<&str> = args.positional.iter().map(String::as_str).collect();
        let encode = saml_edge::saml::authn_request::url_encode;
        let (method, path, content_type, body): (&str, String, &str, Vec<u8>) = match words.as_slice() {
            ["list"] => ("GET", "connectors".into(), "", Vec::new()),
            ["get", id] => ("GET", format!("connectors/{}", encode(id)), "", Vec::new()),
            ["delete", id] => ("DELETE", format!("connectors/{}", encode(id)), "", Vec::new()),
            ["put", id, file] => {
                let text = read(file)?;
                let content_type = if text.trim_start().starts_with('<') { "application/samlmetadata+xml" } else { "application/json" };
                ("PUT", format!("connectors/{}", encode(id)), content_type, text.into_bytes())
            }
            ["put-url", id, url] => ("PUT", format!("connectors/{}", encode(id)), "application/json", json!({"idpMetadataUrl": url}).to_string().into_bytes()),
            ["domains"] => ("GET", "domains".into(), "", Vec::new()),
            ["map-domain", domain, id] => ("PUT", format!("domains/{}", encode(domain)), "application/json", json!({"connector": id}).to_string().into_bytes()),
            ["unmap-domain", domain] => ("DELETE", format!("domains/{}", encode(domain)), "", Vec::new()),
            ["refresh"] => ("POST", "refresh".into(), "", Vec::new()),
            ["health"] => ("GET", "health".into(), "", Vec::new()),
            _ => return Err(Usage("admin: unknown or incomplete command".into())),
        };
        let authorization = format!("Bearer {}", token.trim());
        let mut headers = vec![("Authorization", authorization.as_str()), ("Accept", "application/json")];
        if !content_type.is_empty() {
            headers.push(("Content-Type", content_type));
        }
        match saml_edge::service::native_fetch::send(method, &format!("{base}/api/admin/{path}"), &headers, &body, 30_000) {
            Ok((status, answer)) => {
                let text = String::from_utf8_lossy(&answer);
                if !text.trim().is_empty() {
                    say!("{}", text.trim());
                } else {
                    say!("{}", json!({"ok": (200..300).contains(&status), "status": status}));
                }
                Ok(if (200..300).contains(&status) { 0 } else { 1 })
            }
            Err(message) => {
                eprintln!("saml-edge admin: {message}");
                Ok(1)
            }
        }
    }

    fn sp_metadata(args: &[String]) -> Result<i32, Usage> {
        let args = parse(args, &["connector"], &[])?;
        let path = args.value("connector").ok_or_else(|| Usage("metadata needs --connector FILE".into()))?;
        if !args.positional.is_empty() {
            return Err(Usage("metadata takes no positional arguments".into()));
        }
        match load_connector(path)? {
            Ok((connector, _)) => {
                say!("{}", metadata::sp_metadata(&connector, None).trim_end());
                Ok(0)
            }
            Err(e) => Ok(rejected(&e.into())),
        }
    }
}
