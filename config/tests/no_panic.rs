//! No configuration text makes the loader panic, whether it is noise or
//! almost-valid TOML built from the schema's own sections and keys.

use std::path::Path;

use config::{NodeConfig, SCHEMA};
use proptest::prelude::*;

fn section() -> impl Strategy<Value = String> {
    let names: Vec<String> = SCHEMA.iter().map(|(s, _)| (*s).to_owned()).collect();
    prop_oneof![
        4 => proptest::sample::select(names),
        1 => "[a-z_]{1,8}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    let keys: Vec<String> = SCHEMA
        .iter()
        .flat_map(|(_, keys)| keys.iter().map(|k| (*k).to_owned()))
        .collect();
    prop_oneof![
        4 => proptest::sample::select(keys),
        1 => "[a-z_.]{1,12}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0u32..70_000).prop_map(|n| n.to_string()),
        "\"[ -~éü]{0,20}\"",
        Just("\"0.0.0.0\"".to_owned()),
        Just("\"::1\"".to_owned()),
        Just("\"sqlite://\"".to_owned()),
        Just("[\"MD5\", \"SHA-256\", \"MD5\"]".to_owned()),
        Just("[]".to_owned()),
        Just("[\"10.0.0.1/8\", \"::ffff:0:0/96\", \"1.2.3.4/99\", 7]".to_owned()),
        "\\[\"[0-9a-f:./]{0,16}\"\\]",
        Just("{ a = 1 }".to_owned()),
        Just("1.5".to_owned()),
        Just("true".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("99999999999999999999999".to_owned()),
    ]
}

fn document() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        section().prop_map(|s| format!("[{s}]")),
        section().prop_map(|s| format!("[[{s}]]")),
        (key(), value()).prop_map(|(k, v)| format!("{k} = {v}")),
        (section(), key(), value()).prop_map(|(s, k, v)| format!("{s}.{k} = {v}")),
    ];
    proptest::collection::vec(line, 0..24).prop_map(|lines| lines.join("\n"))
}

/// Loading either succeeds or gives located diagnostics inside the text.
fn check(text: &str) -> Result<(), TestCaseError> {
    if let Err(err) = NodeConfig::parse(text, Path::new("fuzz.toml")) {
        prop_assert!(!err.diagnostics().is_empty());
        let lines = text.split('\n').count();
        for d in err.diagnostics() {
            prop_assert!(d.line >= 1 && d.line <= lines, "{d} for {text:?}");
            prop_assert!(d.column >= 1);
            prop_assert!(!d.message.contains('\n'));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn schema_shaped_text_never_panics(text in document()) {
        check(&text)?;
    }
}
