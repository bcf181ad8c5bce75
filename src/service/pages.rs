//! The few HTML pages a person sees, and error bodies. Every value is escaped; nothing
//! internal (paths, stack traces, configuration) is ever shown.

use serde_json::json;

use super::{Failure, Response};
use crate::saml::metadata::escape;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#1d2330}\
input,button{font:inherit;padding:.5rem .7rem}input{width:100%;box-sizing:border-box;margin:.5rem 0}\
code{background:#eef1f5;padding:.1rem .3rem;border-radius:3px}";

fn html(status: u16, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    );
    Response {
        status,
        headers: vec![
            ("content-type".into(), "text/html; charset=utf-8".into()),
            ("cache-control".into(), "no-store".into()),
            ("content-security-policy".into(), "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'".into()),
            ("x-frame-options".into(), "DENY".into()),
        ],
        body: page.into_bytes(),
    }
}

pub(super) fn index() -> Response {
    html(200, "saml-edge", "<h1>saml-edge</h1><p><a href=\"/sign-in\">Sign in with your company account</a></p><p><a href=\"/api/session\">Current session</a> · <a href=\"/sign-out\">Sign out</a></p>")
}

pub(super) fn discovery_form(return_to: &str) -> Response {
    let body = format!(
        "<h1>Sign in</h1><form method=\"get\" action=\"/sign-in\"><label for=\"email\">Work email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required autofocus>\
         <input type=\"hidden\" name=\"return_to\" value=\"{}\"><button type=\"submit\">Continue</button></form>",
        escape(return_to)
    );
    html(200, "Sign in", &body)
}

/// An error as HTML (with a short explanation) or JSON, with its stable code.
pub(super) fn failure(failure: &Failure, json: bool) -> Response {
    if json {
        let body = json!({"error": {"code": failure.code, "message": failure.message}});
        return Response {
            status: failure.status,
            headers: vec![("content-type".into(), "application/json".into()), ("cache-control".into(), "no-store".into())],
            body: body.to_string().into_bytes(),
        };
    }
    let hint = match failure.code.split('.').next().unwrap_or_default() {
        "dsig" | "saml" | "xml" => "Your identity provider's answer could not be accepted. Try signing in again; if it keeps failing, give this code to your administrator.",
        "config" | "service" => "Single sign-on is not configured correctly. Please tell your administrator.",
        "redirect" => "The page you were to be sent to is not on the list of allowed destinations.",
        "session" => "Your session has ended. Sign in again.",
        _ => "",
    };
    let body = format!(
        "<h1>Sign-in problem</h1><p>{}</p><p>{}</p><p>Error code: <code>{}</code></p><p><a href=\"/sign-in\">Sign in again</a></p>",
        escape(&failure.message),
        escape(hint),
        escape(failure.code)
    );
    html(failure.status, "Sign-in problem", &body)
}
