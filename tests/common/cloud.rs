//! The cloud side as the tests drive it: certificates from `switchyard certs init`,
//! a `switchyard cloud` process, and the node's bridge outbox read from its store.

use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;

use super::{Node, Peer};

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

/// A free UDP port on loopback for the cloud (bound, read, released).
pub(crate) fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
        .port()
}

/// Runs `switchyard certs init DIR --name 127.0.0.1`.
pub(crate) fn make_certs(dir: &Path) {
    let status = Command::new(BIN)
        .args(["certs", "init"])
        .arg(dir)
        .args(["--name", "127.0.0.1"])
        .status()
        .expect("run switchyard certs init");
    assert!(status.success(), "certs init failed");
}

/// A `switchyard cloud` on `port` with the certificates in `certs`.
pub(crate) fn start_cloud(dir: &Path, certs: &Path, port: u16) -> Peer {
    let config = dir.join("cloud.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\ncerts = {certs:?}\ndata_dir = {data:?}\nworkers = 2\n",
            data = dir.join("cloud-data"),
        ),
    )
    .expect("write the cloud's config");
    let mut cmd = Command::new(BIN);
    cmd.args(["cloud", "--config"]).arg(&config);
    Peer::spawn("cloud", &mut cmd, dir.join("cloud.log"))
}

/// The node's outbox rows (key, payload).
pub(crate) fn node_outbox(node: &Node) -> Vec<(String, Vec<u8>)> {
    use sqlx::ConnectOptions as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(node.dir().join("switchyard.db"))
        .read_only(true);
    runtime
        .block_on(async {
            let mut conn = options.connect().await?;
            sqlx::query_as("SELECT key, payload FROM bridge_outbox ORDER BY id")
                .fetch_all(&mut conn)
                .await
        })
        .expect("the node's outbox table reads")
}

/// The kinds of the node's outbox rows (`call_record`, `recorded_audio`, …).
pub(crate) fn node_outbox_kinds(node: &Node) -> Vec<String> {
    use sqlx::ConnectOptions as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(node.dir().join("switchyard.db"))
        .read_only(true);
    runtime
        .block_on(async {
            let mut conn = options.connect().await?;
            sqlx::query_scalar("SELECT kind FROM bridge_outbox ORDER BY id")
                .fetch_all(&mut conn)
                .await
        })
        .expect("the node's outbox table reads")
}

/// The cloud's store under `dir/cloud-data`: (call records, received keys).
pub(crate) fn cloud_counts(dir: &Path) -> (i64, i64) {
    use sqlx::ConnectOptions as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("cloud-data/cloud.db"))
        .read_only(true);
    runtime
        .block_on(async {
            let mut conn = options.connect().await?;
            let records: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM call_records")
                .fetch_one(&mut conn)
                .await?;
            let received: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bridge_received")
                .fetch_one(&mut conn)
                .await?;
            Ok::<_, sqlx::Error>((records, received))
        })
        .unwrap_or((0, 0))
}
