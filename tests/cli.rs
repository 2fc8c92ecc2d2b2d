//! Black-box tests of `switchyard ext …`: the built binary against a
//! configuration and SQLite store in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sip::auth::{DigestAlgorithm, ha1};

const REALM: &str = "pbx.test";

struct Node {
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Node {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("the test machine has a writable temporary directory");
        let config = dir.path().join("node.toml");
        let text = format!(
            "[node]\ndata_dir = {:?}\n\n[sip]\ndomain = \"{REALM}\"\n\n[store]\nurl = \"sqlite://ext.db\"\n\n[log]\nlevel = \"warn\"\n",
            dir.path().to_str().expect("temporary paths are UTF-8 here"),
        );
        std::fs::write(&config, text).expect("temporary directory is writable");
        Self { dir, config }
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut full: Vec<&str> = args.to_vec();
        full.extend(["--config", self.config.to_str().expect("UTF-8 path")]);
        run(&full)
    }

    fn database(&self) -> PathBuf {
        self.dir.path().join("ext.db")
    }
}

struct Run {
    ok: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the switchyard binary runs");
    Run {
        ok: status.success(),
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn stored_md5(database: &Path, ext: &str) -> Option<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime starts");
    rt.block_on(async {
        let store = cti::store::Store::open_file(database)
            .await
            .expect("the CLI created the store");
        let found = store.extension(ext).await.expect("query runs");
        store.close().await;
        found.map(|e| e.ha1_md5)
    })
}

#[test]
fn add_list_remove_round_trip() {
    let node = Node::new();
    let added = node.run(&[
        "ext",
        "add",
        "1001",
        "--password",
        "pw-1001",
        "--name",
        "Alice",
    ]);
    assert!(added.ok, "{}", added.stderr);
    assert_eq!(
        added.stdout,
        format!("added extension 1001 (realm {REALM})\n")
    );
    assert_eq!(
        stored_md5(&node.database(), "1001"),
        Some(ha1(DigestAlgorithm::Md5, "1001", REALM, "pw-1001")),
        "the password is stored as HA1 under sip.domain"
    );

    let generated = node.run(&["ext", "add", "1002"]);
    assert!(generated.ok, "{}", generated.stderr);
    let password = generated
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a generated password is printed");
    assert_eq!(password.len(), 12);
    assert_eq!(
        stored_md5(&node.database(), "1002"),
        Some(ha1(DigestAlgorithm::Md5, "1002", REALM, password))
    );

    let listed = node.run(&["ext", "list"]);
    assert!(listed.ok, "{}", listed.stderr);
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("1001  Alice  ({REALM})  srtp optional"),
            format!("1002  -  ({REALM})  srtp optional")
        ]
    );
    assert!(
        !listed.stdout.contains("pw-1001"),
        "list never shows passwords"
    );

    let removed = node.run(&["ext", "remove", "1001"]);
    assert!(removed.ok, "{}", removed.stderr);
    assert_eq!(removed.stdout, "removed extension 1001\n");
    let listed = node.run(&["ext", "list"]);
    assert_eq!(
        listed.stdout,
        format!("1002  -  ({REALM})  srtp optional\n")
    );
}

#[test]
fn srtp_is_set_at_creation_and_changed_later() {
    let node = Node::new();
    let added = node.run(&[
        "ext",
        "add",
        "1001",
        "--password",
        "a",
        "--srtp",
        "required",
    ]);
    assert!(added.ok, "{}", added.stderr);
    assert!(node.run(&["ext", "add", "1002", "--password", "b"]).ok);
    let listed = node.run(&["ext", "list"]);
    assert_eq!(
        listed.stdout,
        format!("1001  -  ({REALM})  srtp required\n1002  -  ({REALM})  srtp optional\n")
    );
    let set = node.run(&["ext", "set", "1002", "--srtp", "required"]);
    assert!(set.ok, "{}", set.stderr);
    assert_eq!(set.stdout, "extension 1002: srtp required\n");
    let set = node.run(&["ext", "set", "1001", "--srtp", "optional"]);
    assert!(set.ok, "{}", set.stderr);
    let listed = node.run(&["ext", "list"]);
    assert_eq!(
        listed.stdout,
        format!("1001  -  ({REALM})  srtp optional\n1002  -  ({REALM})  srtp required\n")
    );
    let missing = node.run(&["ext", "set", "1009", "--srtp", "required"]);
    assert!(!missing.ok);
    assert!(
        missing.stderr.contains("no extension 1009"),
        "{}",
        missing.stderr
    );
    let bad = node.run(&["ext", "set", "1001", "--srtp", "sometimes"]);
    assert!(!bad.ok);
    assert!(
        bad.stderr
            .contains("expected `required` or `optional`, found \"sometimes\""),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_bad_extension_name_fails_with_a_clear_message() {
    let node = Node::new();
    let bad = node.run(&["ext", "add", "10 01", "--password", "pw"]);
    assert!(!bad.ok);
    assert_eq!(bad.code, Some(1));
    assert!(
        bad.stderr.contains("cannot add extension \"10 01\""),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr
            .contains("only letters, digits, '.', '_' and '-' are allowed"),
        "{}",
        bad.stderr
    );
    let listed = node.run(&["ext", "list"]);
    assert!(listed.ok && listed.stdout.is_empty(), "{}", listed.stdout);
}

#[test]
fn adding_twice_and_removing_a_missing_extension_fail() {
    let node = Node::new();
    assert!(node.run(&["ext", "add", "1001", "--password", "a"]).ok);
    let again = node.run(&["ext", "add", "1001", "--password", "b"]);
    assert!(!again.ok);
    assert!(
        again.stderr.contains("extension 1001 already exists"),
        "{}",
        again.stderr
    );
    assert_eq!(
        stored_md5(&node.database(), "1001"),
        Some(ha1(DigestAlgorithm::Md5, "1001", REALM, "a")),
        "the first password stays"
    );
    let missing = node.run(&["ext", "remove", "1009"]);
    assert!(!missing.ok);
    assert!(
        missing.stderr.contains("no extension 1009"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_missing_configuration_file_is_named() {
    let dir = tempfile::tempdir().expect("writable temporary directory");
    let absent = dir.path().join("absent.toml");
    let out = run(&[
        "ext",
        "list",
        "--config",
        absent.to_str().expect("UTF-8 path"),
    ]);
    assert!(!out.ok);
    assert!(out.stderr.contains("absent.toml"), "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot read the configuration file"),
        "{}",
        out.stderr
    );
}

#[test]
fn usage_errors_exit_non_zero() {
    let out = run(&["ext", "add", "1001"]);
    assert!(!out.ok, "--config is required");
    assert!(out.stderr.contains("--config"), "{}", out.stderr);
}
