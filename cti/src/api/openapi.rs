//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the routes.
//!
//! The document is written by hand in `openapi.json` beside this file and
//! embedded at build time. A unit test checks it against the router's own
//! route table in both directions, so a route added without documentation
//! (or documented without a route) fails the build's tests.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The document, as served.
pub(crate) const DOCUMENT: &str = include_str!("openapi.json");

/// Serves [`DOCUMENT`].
pub(crate) async fn document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT).into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::DOCUMENT;

    fn documented() -> BTreeSet<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths is an object");
        paths
            .iter()
            .flat_map(|(path, ops)| {
                let ops = ops.as_object().expect("a path item is an object");
                ops.keys()
                    .map(|m| (m.to_ascii_uppercase(), path.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let routed: BTreeSet<(String, String)> = crate::api::all_routes()
            .into_iter()
            .map(|(m, p)| (m.as_str().to_owned(), p.to_owned()))
            .collect();
        let documented = documented();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let phantom: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from openapi.json: {undocumented:?}"
        );
        assert!(
            phantom.is_empty(),
            "openapi.json lists routes the router lacks: {phantom:?}"
        );
        assert!(routed.len() >= 25, "the table has {} routes", routed.len());
    }

    #[test]
    fn every_reference_resolves() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("JSON");
        let text = DOCUMENT;
        let mut missing = Vec::new();
        for part in text.split("\"$ref\": \"#/").skip(1) {
            let target = part.split('"').next().unwrap_or_default();
            let pointer = format!("/{target}");
            if doc.pointer(&pointer).is_none() {
                missing.push(pointer);
            }
        }
        assert!(missing.is_empty(), "dangling $ref: {missing:?}");
    }
}
