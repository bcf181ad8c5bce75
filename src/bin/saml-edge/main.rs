//! `saml-edge`: the command line for admins (native only).
//!
//!   saml-edge verify --connector FILE [--now RFC3339] [--request-id ID] RESPONSE|-
//!   saml-edge check-config [--now RFC3339] [--json] FILE
//!   saml-edge metadata --connector FILE
//!   saml-edge dev [--port 8787] [--seed kv-seed]     the native dev server
//!   saml-edge kv-seed [--seed kv-seed] [--format wrangler|json]   KV entries for upload
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
  saml-edge kv-seed [--seed kv-seed] [--format wrangler|json]";

    /// Exit code 2 with a message: the command line itself is wrong.
    struct Usage(String);

    pub fn run(args: Vec<String>) -> i32 {
        let result = match args.first().map(String::as_str) {
            Some("verify") => verify(&args[1..]),
            Some("check-config") => check_config(&args[1..]),
            Some("metadata") => sp_metadata(&args[1..]),
            Some("dev") => dev_server(&args[1..]),
            Some("kv-seed") => kv_seed(&args[1..]),
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

    /// The connector's ID is its file name without extension (as its KV key would be).
    fn load_connector(path: &str) -> Result<Result<(Connector, Vec<ConfigProblem>), saml_edge::ConfigError>, Usage> {
        let text = read(path)?;
        let id = Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or("connector");
        Ok(Connector::from_json(id, &text))
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
            warnings.extend(certificate_warnings(connector, now));
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

    /// IdP certificates are key carriers (their dates are not enforced), but an expired
    /// or soon-expiring one usually means a rotation is coming: say so.
    fn certificate_warnings(connector: &Connector, now: Instant) -> Vec<ConfigProblem> {
        let now_s = now.unix_seconds();
        let mut warnings = Vec::new();
        for certificate in &connector.idp_certificates {
            let info = &certificate.info;
            let until = Instant::from_unix_seconds(info.not_after);
            let message = if info.not_after < now_s {
                format!("certificate {:?} expired on {until}; signatures still verify, but the IdP has probably rotated its key", info.subject)
            } else if info.not_after < now_s + 30 * 86_400 {
                format!("certificate {:?} expires on {until} (within 30 days): expect a key rollover", info.subject)
            } else {
                continue;
            };
            warnings.push(ConfigProblem { field: certificate.source.to_string(), message });
        }
        warnings
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
