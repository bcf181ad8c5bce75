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
        assert!(check_endpoint("https://idp.example.com\\@evil/").is_err());
        assert_eq!(parse_absolute("HTTPS://App.Example.COM:8443/x?y").unwrap().origin(), "https://app.example.com:8443");
    }
}
