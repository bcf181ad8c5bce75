//! Just enough URL handling for endpoints and redirect targets, written to be strict:
//! anything unusual is refused rather than interpreted.

/// Scheme, host (lowercased, with port) and the rest (path, query, fragment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url<'a> {
    pub scheme: String,
    pub authority: String,
    pub rest: &'a str,
}

impl<'a> Url<'a> {
    /// The origin, `scheme://host[:port]`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    pub fn host(&self) -> &str {
        let authority = self.authority.as_str();
        if let Some(rest) = authority.strip_prefix('[') {
            return rest.split(']').next().unwrap_or_default();
        }
        authority.rsplit_once(':').map_or(authority, |(host, _)| host)
    }

    pub fn is_loopback(&self) -> bool {
        matches!(self.host(), "localhost" | "127.0.0.1" | "::1")
    }
}

/// Parse an absolute http(s) URL. Refuses user info, control characters, spaces and
/// backslashes anywhere, since browsers and servers disagree about those.
pub fn parse_absolute(text: &str) -> Option<Url<'_>> {
    if text.chars().any(|c| c.is_control() || c == ' ' || c == '\\') {
        return None;
    }
    let (scheme, after) = text.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let valid = authority.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_'));
    if !valid {
        return None;
    }
    Some(Url { scheme, authority: authority.to_ascii_lowercase(), rest })
}

/// An endpoint we send users to or receive posts at: https, or http on loopback only.
pub fn check_endpoint(text: &str) -> Result<(), String> {
    let url = parse_absolute(text).ok_or_else(|| format!("{text:?} is not an absolute http(s) URL"))?;
    if url.scheme == "http" && !url.is_loopback() {
        return Err(format!("{text:?} must use https (http is only allowed for localhost)"));
    }
    Ok(())
}

/// A `returnToAllowlist` entry: an origin or URL prefix (`https://app.example.com`,
/// `https://app.example.com/dashboard`).
pub fn check_allowlist_entry(text: &str) -> Result<(), String> {
    check_endpoint(text).map_err(|e| format!("allowlist entry {e}"))
}

/// Whether an address is one an outbound fetch must never reach from the edge: loopback,
/// private (RFC 1918, ULA), link-local (cloud metadata at 169.254.169.254), CGNAT,
/// unspecified, multicast, documentation and benchmarking ranges, IPv4-mapped forms.
pub fn is_internal_address(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || v4.is_documentation()
                || a == 0 || (a == 100 && (64..128).contains(&b)) || (a == 198 && (b == 18 || b == 19)) || a >= 240 || (a == 192 && b == 0 && c == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_address(IpAddr::V4(v4));
            }
            let segments = v6.segments();
            let first = segments[0];
            // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an
            // IPv4 address that may be internal: refused outright.
            let embeds_ipv4 = segments[..6] == [0; 6] || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || first == 0x2002;
            v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || embeds_ipv4 || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80 || (first & 0xffc0) == 0xfec0
                || (first == 0x2001 && segments[1] == 0x0db8)
        }
    }
}

/// Why an IdP metadata URL may not be fetched, checked before every request (redirect
/// targets too): https only, except http on loopback when `allow_loopback` (the dev
/// server and tests); no IP literal in an internal range, no internal-only host names.
/// Names that resolve to internal addresses are refused by hosts that can see the address.
pub fn check_fetch_url(text: &str, allow_loopback: bool) -> Result<Url<'_>, String> {
    let url = parse_absolute(text).ok_or_else(|| format!("{text:?} is not an absolute http(s) URL without user info"))?;
    let host = url.host().trim_end_matches('.').to_string();
    if allow_loopback && url.is_loopback() {
        return Ok(url);
    }
    if url.scheme != "https" {
        return Err(format!("{text:?}: only https URLs are fetched (http only for localhost in development)"));
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        if is_internal_address(ip) {
            return Err(format!("{text:?}: {ip} is a loopback, private or link-local address"));
        }
    }
    // Dotted-decimal look-alikes (`0x7f.1`, `2130706433`) are what resolvers read as IPs.
    let numeric_label = |label: &str| {
        let lowered = label.to_ascii_lowercase();
        let digits = lowered.strip_prefix("0x").unwrap_or(&lowered);
        !label.is_empty() && (label.chars().all(|c| c.is_ascii_digit()) || (lowered.starts_with("0x") && digits.chars().all(|c| c.is_ascii_hexdigit())))
    };
    if host.parse::<std::net::IpAddr>().is_err() && !host.starts_with('[') && host.split('.').all(numeric_label) {
        return Err(format!("{text:?}: numeric host names are not fetched"));
    }
    let lowered = host.to_ascii_lowercase();
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    if !is_ip && (lowered == "localhost" || lowered.ends_with(".localhost") || lowered.ends_with(".internal") || lowered.ends_with(".local") || !lowered.contains('.')) {
        return Err(format!("{text:?}: {host} is an internal host name"));
    }
    Ok(url)
}

/// `application/x-www-form-urlencoded` (also query strings): `+` is a space.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

pub fn percent_decode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            // Exactly two hex digits (from_str_radix alone would take "+A").
            b'%' if i + 2 < bytes.len() && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encoding for query values: everything but unreserved characters.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert!(check_endpoint("https://idp.example.com/sso").is_ok());
        assert!(check_endpoint("http://localhost:8787/api").is_ok());
        assert!(check_endpoint("http://127.0.0.1:8080/x").is_ok());
        assert!(check_endpoint("http://idp.example.com/sso").is_err());
        assert!(check_endpoint("https://user@idp.example.com/").is_err());
        assert!(check_endpoint("javascript:alert(1)").is_err());
    }

    #[test]
    fn percent_escapes_need_two_hex_digits() {
        assert_eq!(percent_decode(b"%+A%0a%4"), "% A\n%4", "`+` is a space; `%+A` is no escape");
    }

    #[test]
    fn fetch_urls() {
        for ok in ["https://login.microsoftonline.com/t/federationmetadata/2007-06/federationmetadata.xml", "https://idp.example.com:8443/md", "https://8.8.8.8/md", "https://[2606:4700::1111]/md"] {
            assert!(check_fetch_url(ok, false).is_ok(), "{ok}");
        }
        assert!(check_fetch_url("http://127.0.0.1:8080/md", true).is_ok());
        for refused in [
            "http://idp.example.com/md",
            "http://127.0.0.1:8080/md",
            "https://127.0.0.1/md",
            "https://localhost/md",
            "https://10.1.2.3/md",
            "https://172.16.0.1/md",
            "https://192.168.1.1/md",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/md",
            "https://0.0.0.0/md",
            "https://[::1]/md",
            "https://[fd00::1]/md",
            "https://[fe80::1]/md",
            "https://[::ffff:10.0.0.1]/md",
            "https://[::10.0.0.1]/md",
            "https://[64:ff9b::a00:1]/md",
            "https://[2002:a00:1::]/md",
            "https://[fec0::1]/md",
            "https://192.0.0.8/md",
            "https://2130706433/md",
            "https://0x7f.1/md",
            "https://metadata.google.internal/md",
            "https://intranet/md",
            "https://printer.local/md",
            "https://user@idp.example.com/md",
            "ftp://idp.example.com/md",
        ] {
            assert!(check_fetch_url(refused, false).is_err(), "{refused} was allowed");
        }
        assert!(check_endpoint("https://idp.example.com\\@evil/").is_err());
        assert_eq!(parse_absolute("HTTPS://App.Example.COM:8443/x?y").unwrap().origin(), "https://app.example.com:8443");
    }
}
