use std::collections::BTreeMap;
use std::path::Path;

use super::*;

const PRIMARY: &str = r#"
[node]
name = "site-a"
data_dir = "/var/lib/switchyard"

[sip]
listen = "10.0.0.2"
domain = "pbx.example.net"

[auth]
algorithms = ["SHA-256", "MD5"]
trusted = ["10.9.0.0/16"]

[media]
bind = "10.0.0.2"

[ivr]
flows = "flows"
numbers = { "500" = "main" }

[acd]
rules = "otherwise -> round_robin('sales')"

[[acd.queues]]
name = "sales"
strategy = "round_robin"

[bridge]
cloud = "10.0.0.5:4433"
"#;

const STANDBY: &str = r#"
[node]
name = "standby"
data_dir = "/srv/standby"

[sip]
listen = "10.8.0.3"
domain = "old.example.net"

[dr]
listen = "0.0.0.0:4434"
"#;

#[test]
fn the_cut_keeps_routing_and_drops_the_sites_own_settings() {
    let cut = cut_config(PRIMARY).expect("cut");
    let table: toml::Table = cut.parse().expect("toml");
    assert!(table["acd"].get("queues").is_some());
    assert_eq!(table["sip"].as_table().map(toml::Table::len), Some(1));
    assert_eq!(table["sip"]["domain"].as_str(), Some("pbx.example.net"));
    assert!(table["auth"].get("trusted").is_none(), "trust is per site");
    assert!(table.get("media").is_none(), "addresses are per site");
    assert!(table["ivr"].get("flows").is_none(), "paths are per site");
    assert!(table.get("node").is_none());
    assert!(table.get("bridge").is_none());
}

#[test]
fn laid_over_the_standbys_file_it_loads_as_a_node() {
    let cut = cut_config(PRIMARY).expect("cut");
    let merged = lay_over(STANDBY, &cut, Path::new("/srv/standby/replica")).expect("merge");
    let cfg = config::NodeConfig::parse(&merged, Path::new("/etc/standby.toml")).expect("loads");
    assert_eq!(cfg.node.name, "standby");
    assert_eq!(cfg.sip.listen.to_string(), "10.8.0.3");
    assert_eq!(cfg.sip.domain, "pbx.example.net");
    assert_eq!(cfg.acd.queues.len(), 1);
    assert_ne!(
        cfg.media.bind.to_string(),
        "10.0.0.2",
        "the standby binds its own"
    );
    assert_eq!(cfg.ivr.numbers, vec![("500".to_owned(), "main".to_owned())]);
    assert_eq!(cfg.ivr.flows, Path::new("/srv/standby/replica/flows"));
    assert!(matches!(cfg.dr, Some(config::DrConfig::Standby(_))));
}

#[test]
fn a_primary_without_queues_leaves_none_on_the_standby() {
    let standby_with_queues = format!("{STANDBY}\n[[acd.queues]]\nname = \"stale\"\n");
    let merged = lay_over(&standby_with_queues, "", Path::new("/r")).expect("merge");
    let cfg = config::NodeConfig::parse(&merged, Path::new("/etc/standby.toml")).expect("loads");
    assert!(cfg.acd.queues.is_empty());
}

#[test]
fn paths_from_the_wire_stay_inside_the_replica() {
    let root = Path::new("/r/flows");
    assert_eq!(
        confined(root, "en/welcome.wav").expect("plain"),
        Path::new("/r/flows/en/welcome.wav")
    );
    for bad in [
        "",
        "/etc/passwd",
        "../x",
        "a/../../x",
        "a/./b",
        "a//b",
        "a\\b",
        "a\0b",
    ] {
        assert!(confined(root, bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn files_are_written_checked_and_pruned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = StandbyFile {
        folder: Folder::Prompts,
        path: "en/hello.wav".to_owned(),
        bytes: b"RIFF....".to_vec(),
    };
    let stale = StandbyFile {
        folder: Folder::Flows,
        path: "old.toml".to_owned(),
        bytes: b"x".to_vec(),
    };
    write_file(dir.path(), &file).expect("write");
    write_file(dir.path(), &stale).expect("write");
    let mut files = BTreeMap::new();
    files.insert(
        (Folder::Prompts, "en/hello.wav".to_owned()),
        digest(&file.bytes),
    );
    let state = StandbyState {
        config: String::new(),
        extensions: Vec::new(),
        agents: String::new(),
        files,
    };
    settle_files(dir.path(), &state).expect("settled");
    assert!(dir.path().join("prompts/en/hello.wav").exists());
    assert!(!dir.path().join("flows/old.toml").exists(), "pruned");
    let mut missing = state.clone();
    missing
        .files
        .insert((Folder::Flows, "main.toml".to_owned()), [0; 32]);
    assert!(matches!(
        settle_files(dir.path(), &missing),
        Err(StateError::Missing(_))
    ));
}

#[tokio::test]
async fn extensions_cross_with_their_credentials_and_srtp() {
    use crate::store::SrtpPolicy;
    let dir = tempfile::tempdir().expect("tempdir");
    let open = |name: &str| {
        let url = format!("sqlite:{}", dir.path().join(name).display());
        async move { Store::open(&url).await.expect("store") }
    };
    let primary = open("primary.db").await;
    primary
        .add_extension(
            "1001",
            "pw-one",
            "pbx.example.net",
            Some("Desk"),
            SrtpPolicy::Optional,
            1,
        )
        .await
        .expect("add");
    primary
        .add_extension(
            "1002",
            "pw-two",
            "pbx.example.net",
            None,
            SrtpPolicy::Required,
            2,
        )
        .await
        .expect("add");
    let standby = open("standby.db").await;
    standby
        .add_extension(
            "1099",
            "stale",
            "pbx.example.net",
            None,
            SrtpPolicy::Optional,
            0,
        )
        .await
        .expect("add");
    let sent = extensions(&primary).await.expect("collected");
    apply_extensions(&standby, &sent).await.expect("applied");
    assert_eq!(
        standby.list_extensions().await.expect("list"),
        primary.list_extensions().await.expect("list"),
        "the same rows, HA1s and SRTP included, and nothing else"
    );
    let required = standby
        .extension("1002")
        .await
        .expect("query")
        .expect("there");
    assert_eq!(required.srtp, SrtpPolicy::Required);
}
