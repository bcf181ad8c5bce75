//! Where a user may be sent after sign-in or sign-out. Same origin by default, plus the
//! connector's `returnToAllowlist` and the `RETURN_TO_ALLOWLIST` setting. Everything a
//! browser might read differently from us is refused outright, not "cleaned".

use crate::url;

/// Resolve `target` (a path like `/app?x=1`, or an absolute URL) against `origin`, or
/// refuse it. `allowlist` entries are origins or URL prefixes.
pub fn resolve_return_to(target: &str, origin: &str, allowlist: &[String]) -> Result<String, String> {
    let refuse = |why: &str| Err(format!("return URL {target:?} refused: {why}"));
    if target.is_empty() {
        return Ok(format!("{origin}/"));
    }
    // Browsers drop tabs/newlines and treat '\' like '/', so "/\evil" or "/\t/evil" can
    // become "//evil". Encoded backslashes and slashes get the same suspicion.
    if target.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\') {
        return refuse("control characters, spaces or backslashes");
    }
    let lowered = target.to_ascii_lowercase();
    if lowered.contains("%5c") || lowered.contains("%09") || lowered.contains("%0a") || lowered.contains("%0d") || lowered.contains("%00") {
        return refuse("encoded backslash or control character");
    }
    if target.starts_with('/') {
        if target.starts_with("//") || lowered.starts_with("/%2f") || lowered.starts_with("/.%2f") {
            return refuse("protocol-relative URL");
        }
        return Ok(format!("{origin}{target}"));
    }
    let Some(parsed) = url::parse_absolute(target) else {
        return refuse("only paths and absolute http(s) URLs are allowed");
    };
    let normalized = format!("{}{}", parsed.origin(), parsed.rest);
    if parsed.origin() == origin {
        return Ok(normalized);
    }
    for entry in allowlist {
        let Some(allowed) = url::parse_absolute(entry.trim_end_matches('/')) else { continue };
        if allowed.origin() != parsed.origin() {
            continue;
        }
        let prefix = allowed.rest;
        let rest = parsed.rest;
        // A prefix must end at a path boundary: /app allows /app and /app/x, not /apple.
        if prefix.is_empty() || rest == prefix || rest.starts_with(&format!("{prefix}/")) || rest.starts_with(&format!("{prefix}?")) {
            return Ok(normalized);
        }
    }
    refuse("not on the allowlist")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "https://sso.example.com";

    fn ok(target: &str) -> String {
        resolve_return_to(target, ORIGIN, &["https://app.example.com/dash".to_string()]).unwrap()
    }

    fn refused(target: &str) -> bool {
        resolve_return_to(target, ORIGIN, &["https://app.example.com/dash".to_string()]).is_err()
    }

    #[test]
    fn allowed_targets() {
        assert_eq!(ok(""), "https://sso.example.com/");
        assert_eq!(ok("/home?x=1#y"), "https://sso.example.com/home?x=1#y");
        assert_eq!(ok("https://sso.example.com/a"), "https://sso.example.com/a");
        assert_eq!(ok("https://app.example.com/dash/reports"), "https://app.example.com/dash/reports");
        assert_eq!(ok("HTTPS://APP.example.com/dash"), "https://app.example.com/dash");
    }

    #[test]
    fn open_redirect_tricks() {
        for trick in [
            "//evil.test",
            "///evil.test",
            "/\\evil.test",
            "\\\\evil.test",
            "/%5cevil.test",
            "/%5Cevil.test",
            "/%2f%2fevil.test",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,x",
            "/\t/evil.test",
            "/\n/evil.test",
            "/%09/evil.test",
            "https://evil.test/",
            "https://app.example.com.evil.test/dash",
            "https://app.example.com/dashboard-evil",
            "https://sso.example.com@evil.test/",
            "http://sso.example.com/",
            "evil.test",
            " https://sso.example.com/",
        ] {
            assert!(refused(trick), "{trick:?} was allowed");
        }
    }
}
