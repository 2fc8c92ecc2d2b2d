//! Reading flow and prompt directories, `check_files`, and the simulator's argument parsers.

use std::fs;
use std::path::{Path, PathBuf};

use ivr::files::{check_files, load, read_flows, read_prompts};
use ivr::simulate::{SimError, parse_digits, parse_time};

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("mkdir");
    }
    fs::write(path, text).expect("write");
}

const MAIN: &str = "[steps.a]\ntype = \"call\"\nflow = \"sub\"\nnext = \"b\"\n\n[steps.b]\ntype = \"play\"\nplay = \"bye\"\nnext = \"c\"\n\n[steps.c]\ntype = \"hangup\"\n";
const SUB: &str = "[steps.r]\ntype = \"goto\"\nnext = \"zz\"\n";

#[test]
fn prompts_are_listed_by_relative_name_without_extension() {
    let dir = tempfile::tempdir().expect("temp dir");
    for f in [
        "en/bye.wav",
        "en/digits/4.wav",
        "es/bye.ulaw",
        ".hidden.wav",
        "en/.cache/x.wav",
    ] {
        write(&dir.path().join(f), "");
    }
    let catalog = read_prompts(dir.path()).expect("listed");
    let names: Vec<&str> = catalog.names().collect();
    assert_eq!(names, ["en/bye", "en/digits/4", "es/bye"]);
}

#[test]
fn check_files_resolves_siblings_but_reports_only_the_files_asked_for() {
    let dir = tempfile::tempdir().expect("temp dir");
    let main = dir.path().join("flows/main.toml");
    write(&main, MAIN);
    write(&dir.path().join("flows/sub.toml"), SUB);
    write(&dir.path().join("flows/notes.txt"), "not a flow");
    write(&dir.path().join("prompts/bye.wav"), "");

    // main.toml alone is fine: sub.toml exists (its own error is not reported here).
    let found = check_files(
        std::slice::from_ref(&main),
        Some(&dir.path().join("prompts")),
    )
    .expect("readable");
    assert!(found.is_empty(), "{found:?}");

    // Asking for sub.toml too reports its unknown target, with the path as given.
    let sub = dir.path().join("flows/sub.toml");
    let found = check_files(&[main.clone(), sub.clone()], None).expect("readable");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].path, sub);
    assert_eq!((found[0].line, found[0].col), (3, 8));

    // Without the prompt, main.toml's play is flagged.
    fs::remove_file(dir.path().join("prompts/bye.wav")).expect("rm");
    let found = check_files(&[main], Some(&dir.path().join("prompts"))).expect("readable");
    assert_eq!(found.len(), 1);
    assert!(
        found[0]
            .to_string()
            .ends_with("main.toml:8:8: prompt `bye` not found among the prompts"),
        "{}",
        found[0]
    );
}

#[test]
fn load_builds_the_directory_or_reports_every_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flows = dir.path().join("flows");
    write(&flows.join("main.toml"), MAIN);
    write(&flows.join("sub.toml"), SUB);
    assert_eq!(read_flows(&flows).expect("read").len(), 2);
    let err = load(&flows, None).expect_err("sub.toml has an error");
    assert!(err.to_string().contains("sub.toml:3:8: step `r`"), "{err}");

    write(&flows.join("sub.toml"), "[steps.r]\ntype = \"return\"\n");
    let set = load(&flows, None).expect("builds");
    let mut names: Vec<&str> = set.flows().map(|f| f.name().as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["main", "sub"]);
    assert_eq!(set.prompts().into_iter().collect::<Vec<_>>(), ["bye"]);

    let missing = PathBuf::from(dir.path()).join("nope");
    assert!(matches!(
        load(&missing, None),
        Err(ivr::LoadError::Read { .. })
    ));
}

#[test]
fn simulator_arguments() {
    assert_eq!(
        parse_digits("1, 2,,123#").expect("valid"),
        ["1", "2", "", "123#"]
    );
    assert!(parse_digits("").expect("valid").is_empty());
    assert!(matches!(parse_digits("1,x"), Err(SimError::BadDigits(_))));
    let utc = parse_time("2026-03-09T14:00:00Z").expect("rfc 3339");
    let zoned = parse_time("2026-03-09T10:00[America/New_York]").expect("zoned");
    assert_eq!(utc, zoned, "10:00 EDT is 14:00 UTC");
    assert!(matches!(parse_time("monday"), Err(SimError::BadTime(_))));
}
