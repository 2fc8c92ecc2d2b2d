//! Response fields from a JSON body, for `http.FIELD` variables.
//!
//! A body that is a JSON object gives one field per scalar member: strings as
//! text, integers that fit `i64` as [`Value::Int`], other numbers and booleans
//! as their JSON text (`"2.5"`, `"true"`). Members that are objects are
//! flattened with dotted names (`{"order": {"status": "x"}}` gives
//! `order.status`), at most [`MAX_DEPTH`] levels deep. `null` and arrays give
//! nothing, and neither does a body that is not a JSON object. At most
//! [`MAX_FIELDS`] fields are kept, in the order of their names.

use ivr::Value;
use serde_json::{Map, Value as Json};

/// Most nested object levels flattened (the top level is 1).
pub(crate) const MAX_DEPTH: usize = 8;

/// Most fields taken from one body.
pub(crate) const MAX_FIELDS: usize = 256;

/// Joins an object's name and a member's name in a flattened field name.
const NESTED_SEPARATOR: char = '.';

/// The fields of a JSON object body; empty for any other body.
pub(crate) fn json_fields(body: &[u8]) -> Vec<(String, Value)> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let Ok(Json::Object(map)) = serde_json::from_slice::<Json>(body) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    flatten("", &map, 1, &mut out);
    out
}

fn flatten(prefix: &str, map: &Map<String, Json>, depth: usize, out: &mut Vec<(String, Value)>) {
    for (key, value) in map {
        if out.len() >= MAX_FIELDS {
            return;
        }
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}{NESTED_SEPARATOR}{key}")
        };
        match value {
            Json::String(s) => out.push((name, Value::Text(s.clone()))),
            Json::Number(n) => {
                let v = n
                    .as_i64()
                    .map_or_else(|| Value::Text(n.to_string()), Value::Int);
                out.push((name, v));
            }
            Json::Bool(b) => out.push((name, Value::Text(b.to_string()))),
            Json::Object(inner) if depth < MAX_DEPTH => flatten(&name, inner, depth + 1, out),
            Json::Object(_) | Json::Array(_) | Json::Null => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    #[test]
    fn scalars_are_kept_and_nested_objects_flattened() {
        let body = br#"{"ticket": "T-17", "open": 3, "ratio": 2.5, "big": 18446744073709551615,
            "vip": true, "none": null, "tags": ["a", "b"],
            "order": {"status": "shipped", "items": [1], "eta": {"days": -2}}}"#;
        let fields = json_fields(body);
        let expected = vec![
            ("big".to_owned(), text("18446744073709551615")),
            ("open".to_owned(), Value::Int(3)),
            ("order.eta.days".to_owned(), Value::Int(-2)),
            ("order.status".to_owned(), text("shipped")),
            ("ratio".to_owned(), text("2.5")),
            ("ticket".to_owned(), text("T-17")),
            ("vip".to_owned(), text("true")),
        ];
        assert_eq!(fields, expected);
    }

    #[test]
    fn bodies_that_are_not_json_objects_give_no_fields() {
        for body in [
            &b""[..],
            b"ticket=17",
            b"<html>ok</html>",
            b"[{\"a\": 1}]",
            b"\"text\"",
            b"42",
            b"{\"a\": 1",
            b"\xff\xfe{}",
        ] {
            assert_eq!(json_fields(body), Vec::new(), "{body:?}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert_eq!(
            json_fields(b"\xEF\xBB\xBF{\"a\": \"b\"}"),
            vec![("a".to_owned(), text("b"))]
        );
    }

    #[test]
    fn depth_and_count_are_bounded() {
        let mut deep = String::from("1");
        for level in (0..20).rev() {
            deep = format!("{{\"l{level}\": {deep}}}");
        }
        let fields = json_fields(deep.as_bytes());
        assert_eq!(
            fields,
            Vec::new(),
            "deeper than {MAX_DEPTH} levels is dropped"
        );
        let shallow = "{\"a\": {\"b\": {\"c\": 7}}}";
        assert_eq!(
            json_fields(shallow.as_bytes()),
            vec![("a.b.c".to_owned(), Value::Int(7))]
        );

        let many: Vec<String> = (0..1000).map(|i| format!("\"k{i:04}\": {i}")).collect();
        let body = format!("{{{}}}", many.join(","));
        let fields = json_fields(body.as_bytes());
        assert_eq!(fields.len(), MAX_FIELDS);
        assert_eq!(fields.first(), Some(&("k0000".to_owned(), Value::Int(0))));
    }
}
