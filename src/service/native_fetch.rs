//! Outbound GET for the native hosts (dev server, CLI): plain HTTP/1.1 over std for
//! `http://` (loopback development), and the system `curl` for `https://` (no TLS stack is
//! compiled in: the library must build for wasm without a C compiler). Names are resolved
//! here, every address is checked with `url::is_internal_address`, and curl is pinned to
//! the checked address so a second DNS answer cannot send it elsewhere.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::time::{Duration, Instant};

use super::{FetchLimits, Fetched};
use crate::url;

/// GET `target` within `limits`, without following redirects.
pub fn fetch(target: &str, limits: &FetchLimits) -> Result<Fetched, String> {
    let parsed = url::check_fetch_url(target, limits.allow_loopback)?;
    let default_port = if parsed.scheme == "https" { 443 } else { 80 };
    let host = parsed.host().to_string();
    let port = parsed.authority.rsplit_once(':').filter(|(_, p)| !p.contains(']')).and_then(|(_, p)| p.parse::<u16>().ok()).unwrap_or(default_port);
    let addresses: Vec<SocketAddr> = (host.as_str(), port).to_socket_addrs().map_err(|e| format!("cannot resolve {host}: {e}"))?.collect();
    let address = *addresses.first().ok_or_else(|| format!("{host} has no address"))?;
    let loopback_ok = limits.allow_loopback && parsed.is_loopback();
    if let Some(internal) = addresses.iter().find(|a| url::is_internal_address(a.ip()) && !(loopback_ok && a.ip().is_loopback())) {
        return Err(format!("{host} resolves to {}, a loopback, private or link-local address", internal.ip()));
    }
    if parsed.scheme == "https" {
        return fetch_with_curl(target, &host, port, address, limits);
    }
    let path = if parsed.rest.is_empty() || !parsed.rest.starts_with('/') { format!("/{}", parsed.rest) } else { parsed.rest.to_string() };
    let path = path.split('#').next().unwrap_or("/").to_string();
    // A server may drop a connection it has just accepted (a reset, a broken pipe, or a
    // close before any answer: a restart, an overloaded worker). A GET is safe to repeat,
    // so such a failure is tried again, twice, after a short pause. A slow or
    // oversized answer is final: repeating it would only multiply the wait.
    let mut dropped = String::new();
    for pause_ms in [0, 250, 1000] {
        std::thread::sleep(Duration::from_millis(pause_ms));
        match get_once(&host, port, address, &parsed.authority, &path, limits) {
            Ok(raw) => return parse_response(&raw, limits, true),
            Err(Failure::Dropped(message)) => dropped = message,
            Err(Failure::Final(message)) => return Err(message),
        }
    }
    Err(format!("{dropped} (3 tries)"))
}

/// Why one GET failed: a dropped connection is worth another try, anything else is not.
enum Failure {
    Dropped(String),
    Final(String),
}

fn is_dropped_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(error.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | NotConnected)
}

fn get_once(host: &str, port: u16, address: SocketAddr, authority: &str, path: &str, limits: &FetchLimits) -> Result<Vec<u8>, Failure> {
    let io_failure = |what: &str, e: std::io::Error| {
        let message = format!("{what}: {e}");
        if is_dropped_connection(&e) { Failure::Dropped(message) } else { Failure::Final(message) }
    };
    let timeout = Duration::from_millis(limits.timeout_ms);
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(|e| Failure::Final(format!("cannot connect to {host}:{port}: {e}")))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| Failure::Final(e.to_string()))?;
    stream.set_write_timeout(Some(timeout)).map_err(|e| Failure::Final(e.to_string()))?;
    // One write: `write!` on a socket sends each formatted piece as its own segment, and
    // PHP's built-in server refuses a request whose header line is split across reads.
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: saml-edge\r\nAccept: application/samlmetadata+xml, application/xml, text/xml\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).map_err(|e| io_failure("cannot send the request", e))?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let too_slow = || Failure::Final(format!("no complete answer from {host} within {} ms", limits.timeout_ms));
    loop {
        if started.elapsed() > timeout {
            return Err(too_slow());
        }
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&chunk[..n]);
                if let Some(length) = declared_length(&raw).filter(|length| *length > limits.max_bytes) {
                    return Err(Failure::Final(format!("the answer from {host} declares {length} bytes, larger than {} bytes", limits.max_bytes)));
                }
                if raw.len() > limits.max_bytes + 64 * 1024 {
                    return Err(Failure::Final(format!("the answer from {host} is larger than {} bytes", limits.max_bytes)));
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => return Err(too_slow()),
            Err(e) => return Err(io_failure(&format!("reading from {host}"), e)),
        }
    }
    if raw.is_empty() {
        return Err(Failure::Dropped(format!("{host} closed the connection without an answer")));
    }
    Ok(raw)
}

/// An HTTP request from the admin CLI to a saml-edge deployment (any origin the admin
/// names, loopback included: no SSRF rules apply to the operator's own tool). http over
/// std, https through curl. Returns the status and body.
pub fn send(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8], timeout_ms: u64) -> Result<(u16, Vec<u8>), String> {
    let parsed = url::parse_absolute(target).ok_or_else(|| format!("{target:?} is not an absolute http(s) URL"))?;
    let limits = FetchLimits { max_bytes: 16 << 20, timeout_ms, allow_loopback: true };
    if parsed.scheme == "https" {
        let mut command = std::process::Command::new("curl");
        command.args(["-q", "--silent", "--show-error", "--include", "--request", method, "--max-time", &format!("{:.1}", timeout_ms as f64 / 1000.0)]);
        for (name, value) in headers {
            command.args(["--header", &format!("{name}: {value}")]);
        }
        if !body.is_empty() {
            command.args(["--data-binary", "@-"]);
        }
        command.arg("--").arg(target).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = command.spawn().map_err(|e| format!("https requests use curl, which could not run: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(body).map_err(|e| e.to_string())?;
        }
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        if !output.status.success() {
            return Err(format!("{method} {target} failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
        }
        let answer = parse_response(&output.stdout, &limits, false)?;
        return Ok((answer.status, answer.body));
    }
    let port = parsed.authority.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).unwrap_or(80);
    let address = (parsed.host(), port).to_socket_addrs().map_err(|e| format!("cannot resolve {}: {e}", parsed.host()))?.next().ok_or("no address")?;
    let timeout = Duration::from_millis(timeout_ms);
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(|e| format!("cannot connect to {}: {e}", parsed.authority))?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let path = if parsed.rest.starts_with('/') { parsed.rest.to_string() } else { format!("/{}", parsed.rest) };
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n", parsed.authority, body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).map_err(|e| format!("cannot send the request: {e}"))?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| format!("reading the answer: {e}"))?;
    let answer = parse_response(&raw, &limits, true)?;
    Ok((answer.status, answer.body))
}

/// The Content-Length of a response whose headers have arrived.
fn declared_length(raw: &[u8]) -> Option<usize> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    head.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok()).flatten()
    })
}

/// Split a raw HTTP/1.x response (as `curl -i` also prints it) into status, Location and
/// body. Interim (1xx) header blocks are skipped. `decode_chunked`: false for curl, which
/// has already decoded the body but still prints the header.
fn parse_response(mut raw: &[u8], limits: &FetchLimits, decode_chunked: bool) -> Result<Fetched, String> {
    while raw.starts_with(b"HTTP/1.1 1") || raw.starts_with(b"HTTP/1.0 1") || raw.starts_with(b"HTTP/2 1") {
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("the answer is not HTTP")?;
        raw = &raw[end + 4..];
    }
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("the answer is not HTTP")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| "the answer's headers are not text")?;
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse::<u16>().ok()).ok_or("the answer has no status")?;
    let mut location = None;
    let mut chunked = false;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "location" => location = Some(value.trim().to_string()),
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                _ => {}
            }
        }
    }
    let mut body = raw[split + 4..].to_vec();
    if chunked && decode_chunked {
        body = dechunk(&body)?;
    }
    if body.len() > limits.max_bytes {
        return Err(format!("the answer is larger than {} bytes", limits.max_bytes));
    }
    Ok(Fetched { status, location, body })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let end = data.windows(2).position(|w| w == b"\r\n").ok_or("bad chunked encoding")?;
        let size_text = std::str::from_utf8(&data[..end]).map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).map_err(|_| "bad chunk size")?;
        data = &data[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if size.checked_add(2).is_none_or(|needed| data.len() < needed) {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn fetch_with_curl(target: &str, host: &str, port: u16, address: SocketAddr, limits: &FetchLimits) -> Result<Fetched, String> {
    let ip = match address.ip() {
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    };
    let output = std::process::Command::new("curl")
        // -q first: no ~/.curlrc can add options (a proxy, redirects, other hosts).
        .args(["-q", "--silent", "--show-error", "--include", "--proto", "=https", "--max-redirs", "0"])
        .args(["--max-time", &format!("{:.1}", limits.timeout_ms as f64 / 1000.0)])
        .args(["--max-filesize", &limits.max_bytes.to_string()])
        .args(["--resolve", &format!("{host}:{port}:{ip}")])
        .arg("--")
        .arg(target)
        .output()
        .map_err(|e| format!("https fetches from the native tools use curl, which could not run: {e}"))?;
    if !output.status.success() {
        return Err(format!("fetching {target} failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
    }
    parse_response(&output.stdout, limits, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        let limits = FetchLimits { max_bytes: 10, timeout_ms: 1000, allow_loopback: true };
        let plain = parse_response(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", &limits, true).unwrap();
        assert_eq!((plain.status, plain.body.as_slice()), (200, &b"abc"[..]));
        let moved = parse_response(b"HTTP/1.1 302 Found\r\nLocation: https://x.test/\r\n\r\n", &limits, true).unwrap();
        assert_eq!(moved.location.as_deref(), Some("https://x.test/"));
        let chunked = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n", &limits, true).unwrap();
        assert_eq!(chunked.body, b"abc");
        let from_curl = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nabc", &limits, false).unwrap();
        assert_eq!(from_curl.body, b"abc", "curl has decoded the chunks already");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n\r\n0123456789ab", &limits, true).is_err());
        let huge = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab", &limits, true);
        assert!(huge.is_err(), "an absurd chunk size is an error, not a panic");
    }
}
