//! The native dev server: the same service core as the edge builds, over a small
//! std-only HTTP/1.1 loop on 127.0.0.1, with `kv-seed/` in an in-memory KV.
//! For development and tests only; the edge runtimes bring their own HTTP stacks.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use saml_edge::service::{self, block_on, MemoryEnv, Request, Response, MAX_BODY_BYTES};

/// Settings the dev server passes through from its own environment.
const VARS: &[&str] = service::SETTINGS;

/// `connectors/<id>.json` → `connector:<id>`, `domains.json` → `domain:<d>`.
pub fn load_seed(seed: &Path) -> Result<HashMap<String, String>, String> {
    let mut kv = HashMap::new();
    let dir = seed.join("connectors");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let id = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let json = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        kv.insert(format!("connector:{id}"), json);
    }
    let domains_path = seed.join("domains.json");
    if let Ok(text) = std::fs::read_to_string(&domains_path) {
        let domains: HashMap<String, String> = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", domains_path.display()))?;
        for (domain, id) in domains {
            kv.insert(format!("domain:{}", domain.to_ascii_lowercase()), id);
        }
    }
    Ok(kv)
}

pub fn serve(port: u16, seed: &Path) -> Result<(), String> {
    let kv = load_seed(seed)?;
    let mut vars: HashMap<String, String> = VARS.iter().filter_map(|n| std::env::var(n).ok().map(|v| (n.to_string(), v))).collect();
    if !vars.contains_key("SESSION_SIGNING_KEY") {
        let mut seed_bytes = [0u8; 32];
        getrandom::fill(&mut seed_bytes).map_err(|e| e.to_string())?;
        vars.insert("SESSION_SIGNING_KEY".into(), base64::engine::general_purpose::STANDARD.encode(seed_bytes));
        eprintln!("WARNING: no SESSION_SIGNING_KEY set: using a throwaway key; sessions end when the dev server stops.");
    }
    vars.entry("PUBLIC_ORIGIN".into()).or_insert_with(|| format!("http://127.0.0.1:{port}"));
    // Development: IdP metadata may come from a loopback http server (the test IdP).
    vars.entry("METADATA_ALLOW_LOOPBACK".into()).or_insert_with(|| "true".into());
    let listener = TcpListener::bind(("127.0.0.1", port)).map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let connectors = kv.keys().filter(|k| k.starts_with("connector:")).count();
    eprintln!("saml-edge dev server on http://127.0.0.1:{port} ({connectors} connectors from {}) — sign in at http://127.0.0.1:{port}/sign-in", seed.display());
    let fetcher = service::Fetcher(Arc::new(service::native_fetch::fetch));
    let env = Arc::new(MemoryEnv { kv, vars, clock: None, log_to_stderr: true, fetcher: Some(fetcher), ..MemoryEnv::default() });
    // The dev server's stand-in for a Cron Trigger: refresh metadata URLs every
    // METADATA_REFRESH_SECONDS (default 3600); POST /api/admin/refresh runs it at once.
    let interval = std::env::var("METADATA_REFRESH_SECONDS").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(3600).max(10);
    let scheduled_env = Arc::clone(&env);
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_secs(interval));
        block_on(service::admin::scheduled(&*scheduled_env));
    });
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let env = Arc::clone(&env);
        std::thread::spawn(move || {
            if let Err(e) = connection(stream, &env, port) {
                eprintln!("{{\"level\":\"debug\",\"event\":\"connection.error\",\"message\":{:?}}}", e);
            }
        });
    }
    Ok(())
}

fn connection(stream: TcpStream, env: &MemoryEnv, port: u16) -> Result<(), String> {
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else { return Err("bad request line".into()) };
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    let mut header_bytes = 0;
    loop {
        let mut header = String::new();
        let n = reader.read_line(&mut header).map_err(|e| e.to_string())?;
        header_bytes += n;
        if n == 0 || header == "\r\n" || header == "\n" || header_bytes > 64 * 1024 {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let length: usize = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = Vec::new();
    reader.take(length.min(MAX_BODY_BYTES + 1) as u64).read_to_end(&mut body).map_err(|e| e.to_string())?;
    let host = headers.iter().find(|(n, _)| n == "host").map(|(_, v)| v.clone()).unwrap_or_else(|| format!("127.0.0.1:{port}"));
    let request = Request { method: method.clone(), url: format!("http://{host}{target}"), headers, body };
    let started = std::time::Instant::now();
    let response = block_on(service::handle(env, request));
    let path = target.split('?').next().unwrap_or_default();
    eprintln!("{{\"level\":\"info\",\"event\":\"http\",\"method\":\"{method}\",\"path\":{path:?},\"status\":{},\"ms\":{:.2}}}", response.status, started.elapsed().as_secs_f64() * 1000.0);
    write_response(stream, &response, method == "HEAD")
}

fn write_response(mut stream: TcpStream, response: &Response, head: bool) -> Result<(), String> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status));
    for (name, value) in &response.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", response.body.len()));
    let mut bytes = out.into_bytes();
    if !head {
        bytes.extend_from_slice(&response.body);
    }
    stream.write_all(&bytes).map_err(|e| e.to_string())
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        303 => "See Other",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}
