//! Disaster recovery end to end: a primary, its standby and SIPp phones, each
//! in its own network namespace when the test may make them (else on three
//! loopback addresses, see `dr/net.rs`); the replication link runs through a
//! relay the test can cut.
//!
//! Calls run through the primary; the primary is killed with SIGKILL; the
//! phones try the standby until it takes a call (the RTO); the primary comes
//! back and the standby hands its records back (nothing lost, nothing twice);
//! then the link alone is cut and the standby does not take over.

mod common;
#[path = "dr/net.rs"]
mod net;

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cloud::{free_udp_port, make_certs};
use common::{Ports, SipProbe, run_cli, tail, wait_until};

use net::{Net, Party};

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

/// A `switchyard node` process, killed (SIGKILL) when dropped.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn start(net: &Net, party: Party, config: &Path, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).expect("create a log");
        let err = out.try_clone().expect("clone a log handle");
        let child = net
            .command(party, BIN)
            .arg("node")
            .arg("--config")
            .arg(config)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start switchyard node");
        Proc { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("---- {} ----\n{}", self.log.display(), tail(&self.log, 60));
        }
    }
}

/// A UDP relay for the replication link: the primary talks to it, it talks
/// to the standby; while cut, it drops everything both ways.
struct Relay {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
}

impl Relay {
    fn start(ip: &str, to: SocketAddr) -> Relay {
        let front = UdpSocket::bind((ip, 0)).expect("bind the relay");
        let back = UdpSocket::bind((ip, 0)).expect("bind the relay's far side");
        back.connect(to).expect("connect the relay to the standby");
        let addr = front.local_addr().expect("relay address");
        let cut = Arc::new(AtomicBool::new(false));
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
        let (f2, b2) = (
            front.try_clone().expect("clone"),
            back.try_clone().expect("clone"),
        );
        let (cut1, cut2, client2) = (Arc::clone(&cut), Arc::clone(&cut), Arc::clone(&client));
        std::thread::spawn(move || {
            let mut buf = [0; 65_536];
            while let Ok((n, from)) = front.recv_from(&mut buf) {
                *client.lock().expect("relay lock") = Some(from);
                if !cut1.load(Ordering::Relaxed) {
                    let _ = back.send(&buf[..n]);
                }
            }
        });
        std::thread::spawn(move || {
            let mut buf = [0; 65_536];
            while let Ok(n) = b2.recv(&mut buf) {
                let to = *client2.lock().expect("relay lock");
                if let (false, Some(to)) = (cut2.load(Ordering::Relaxed), to) {
                    let _ = f2.send_to(&buf[..n], to);
                }
            }
        });
        Relay { addr, cut }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::Relaxed);
    }
}

/// The primary's routing: 600 runs a flow that queues to `support`, whose
/// only agent is 1002. The standby gets all of it by replication.
const ROUTING: &str = r#"
[ivr]
flows = "flows"
prompts = "prompts"
numbers = { "600" = "direct" }

[[acd.queues]]
name = "support"
strategy = "linear"
ring_timeout_s = 5
wrap_up_s = 0

[[acd.agents]]
id = "1002"
queues = { support = 1 }
"#;

fn node_config(
    net: &Net,
    dir: &Path,
    party: Party,
    ports: &Ports,
    domain: &str,
    dr: &str,
) -> String {
    let (name, ip) = (format!("{party:?}").to_lowercase(), net.ip(party));
    let phones = net.ip(Party::Phones);
    format!(
        "[node]\nname = {name:?}\ndata_dir = {dir:?}\n\n\
         [sip]\nlisten = {ip:?}\nport = {sip}\ntls_port = 0\ndomain = {domain:?}\n\n\
         [auth]\nalgorithms = [\"MD5\"]\ntrusted = [\"{phones}/32\"]\n\n\
         [media]\nbind = {ip:?}\nrtp_port_min = {rtp_min}\nrtp_port_max = {rtp_max}\n\n\
         [store]\nurl = \"sqlite://switchyard.db\"\n\n\
         [http]\nlisten = {ip:?}\nport = {http}\n\n\
         [log]\nlevel = \"info\"\n\n{dr}",
        dir = dir.to_str().expect("UTF-8 temporary path"),
        sip = ports.sip(),
        rtp_min = ports.rtp().start(),
        rtp_max = ports.rtp().end(),
        http = ports.http(),
    )
}

/// The phones' side: SIPp in the phones' place, ports from the block of the
/// node they call.
struct Phones<'a> {
    net: &'a Net,
    dir: PathBuf,
    passwords: [(&'static str, &'static str); 2],
}

impl Phones<'_> {
    fn sipp(
        &self,
        ports: &Ports,
        name: &str,
        scenario: &str,
        target: SocketAddr,
        args: &[&str],
    ) -> Child {
        let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/interop/sipp/{scenario}.xml"));
        let port = ports.peer();
        let log = std::fs::File::create(self.dir.join(format!("{name}-{port}.out")))
            .expect("create a SIPp log");
        self.net
            .command(Party::Phones, "sipp")
            .arg("-sf")
            .arg(scenario)
            .args(["-i", &self.net.ip(Party::Phones), "-p", &port.to_string()])
            .args(["-nostdin", "-recv_timeout", "4000", "-timeout", "20s"])
            .args([
                "-timeout_error",
                "-m",
                "1",
                "-mp",
                &ports.peer_media(4).start().to_string(),
            ])
            .arg("-trace_err")
            .arg("-error_file")
            .arg(self.dir.join(format!("{name}-{port}.out.err")))
            .args(args)
            .arg(target.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone"))
            .stderr(log)
            .spawn()
            .expect("start sipp")
    }

    fn password(&self, ext: &str) -> &str {
        self.passwords
            .iter()
            .find(|(e, _)| *e == ext)
            .map(|(_, p)| *p)
            .expect("a provisioned extension")
    }

    /// Registers agent 1002 (a SIPp UAS that answers and hangs up) at `node`;
    /// the UAS runs until it took one call.
    fn agent(&self, node: SocketAddr, ports: &Ports) -> Option<Child> {
        self.agent_talking(node, ports, 300)
    }

    /// As [`Phones::agent`], the agent talking `talk_ms` before hanging up.
    fn agent_talking(&self, node: SocketAddr, ports: &Ports, talk_ms: u32) -> Option<Child> {
        let uas_port = ports.peer();
        let scenario = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/interop/sipp/uas-answer-then-hang-up.xml");
        let log = std::fs::File::create(self.dir.join(format!("agent-{uas_port}.out")))
            .expect("create a SIPp log");
        let mut uas = self
            .net
            .command(Party::Phones, "sipp")
            .arg("-sf")
            .arg(scenario)
            .args([
                "-i",
                &self.net.ip(Party::Phones),
                "-p",
                &uas_port.to_string(),
            ])
            .args([
                "-nostdin",
                "-timeout",
                "20s",
                "-timeout_error",
                "-m",
                "1",
                "-d",
                &talk_ms.to_string(),
            ])
            .args(["-mp", &ports.peer_media(4).start().to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone"))
            .stderr(log)
            .spawn()
            .expect("start the agent's phone");
        let contact = uas_port.to_string();
        let args = [
            "-s",
            "1002",
            "-au",
            "1002",
            "-ap",
            self.password("1002"),
            "-key",
            "contact_port",
            &contact,
        ];
        if wait(self.sipp(ports, "register", "register-digest", node, &args)).success() {
            Some(uas)
        } else {
            let _ = uas.kill();
            let _ = uas.wait();
            None
        }
    }

    /// Agent 1002 logs in (`*71`) through `node`.
    fn log_in(&self, node: SocketAddr, ports: &Ports) -> bool {
        let args = ["-s", "*71", "-key", "caller", "1002"];
        wait(self.sipp(ports, "login", "uac-feature-code", node, &args)).success()
    }

    /// A caller (1001) dials 600 at `node`: the flow queues the call and
    /// agent 1002, registered there, answers; whether both sides succeeded.
    fn call(&self, node: SocketAddr, ports: &Ports) -> bool {
        let Some(mut agent) = self.agent(node, ports) else {
            self.show_logs();
            return false;
        };
        let caller = wait(self.caller(node, ports));
        let answered = if caller.success() {
            wait(agent).success()
        } else {
            let _ = agent.kill();
            let _ = agent.wait();
            false
        };
        if !answered {
            self.show_logs();
        }
        answered
    }

    /// The caller's side of [`Phones::call`], running.
    fn caller(&self, node: SocketAddr, ports: &Ports) -> Child {
        let args = ["-s", "600", "-key", "caller", "1001"];
        self.sipp(
            ports,
            "caller",
            "uac-queue-caller-waits-for-agent",
            node,
            &args,
        )
    }

    /// Prints the phones' output (a failed call is expected while the
    /// standby takes over; the output says why).
    fn show_logs(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "out" || e == "err") {
                eprintln!("---- {} ----\n{}", path.display(), tail(&path, 15));
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => count_files(&e.path()),
                Ok(t) if t.is_file() => 1,
                _ => 0,
            })
            .sum()
    })
}

fn drop_child(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn wait(mut child: Child) -> ExitStatus {
    child.wait().expect("wait for sipp")
}

/// The CDR ids in a node's store.
fn cdr_ids(dir: &Path) -> Vec<String> {
    strings(dir, "SELECT id FROM cdrs ORDER BY id")
}

/// The first column of `sql`'s rows, read from a node's store.
fn strings(dir: &Path, sql: &'static str) -> Vec<String> {
    use sqlx::ConnectOptions as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.join("switchyard.db"))
        .read_only(true);
    runtime
        .block_on(async {
            let mut conn = options.connect().await?;
            sqlx::query_scalar(sql).fetch_all(&mut conn).await
        })
        .unwrap_or_else(|error| {
            eprintln!("{sql}: {error}");
            Vec::new()
        })
}

fn options_status(probe: &SipProbe, target: SocketAddr) -> Option<u16> {
    probe
        .options(target, Duration::from_millis(300))
        .map(|r| r.status)
}

#[test]
fn the_standby_takes_over_hands_back_and_ignores_a_cut_link() {
    if !common::peer_available("sipp") {
        return;
    }
    let net = Net::new();
    eprintln!("{}", net.describe());
    let root = tempfile::tempdir().expect("a temporary directory");
    let certs = root.path().join("certs");
    make_certs(&certs);
    let (primary_dir, standby_dir) = (root.path().join("primary"), root.path().join("standby"));
    std::fs::create_dir_all(&primary_dir).expect("mkdir");
    std::fs::create_dir_all(&standby_dir).expect("mkdir");
    let (primary_ports, standby_ports) = (Ports::reserve(), Ports::reserve());
    let at = |party, port: u16| -> SocketAddr {
        format!("{}:{port}", net.ip(party))
            .parse()
            .expect("an address")
    };
    let primary_sip = at(Party::Primary, primary_ports.sip());
    let standby_sip = at(Party::Standby, standby_ports.sip());
    let replication = at(Party::Standby, free_udp_port());
    let relay = Relay::start(&net.ip(Party::Test), replication);

    // The standby: its own domain, which the primary's replaces.
    let standby_config = standby_dir.join("switchyard.toml");
    let dr = format!(
        "[dr]\nlisten = \"{replication}\"\ncerts = {certs:?}\nwitness = \"{primary_sip}\"\n"
    );
    std::fs::write(
        &standby_config,
        node_config(
            &net,
            &standby_dir,
            Party::Standby,
            &standby_ports,
            "standby.invalid",
            &dr,
        ),
    )
    .expect("write the standby's config");
    let mut standby = Proc::start(
        &net,
        Party::Standby,
        &standby_config,
        standby_dir.join("node.log"),
    );
    let probe = SipProbe::new(&net.ip(Party::Test));
    wait_until("the standby to refuse", Duration::from_secs(30), || {
        (options_status(&probe, standby_sip) == Some(503)).then_some(())
    });

    // The primary, with two extensions.
    common::install_direct_queue(&primary_dir);
    let primary_config = primary_dir.join("switchyard.toml");
    let dr = format!(
        "[dr]\nstandby = \"{}\"\nserver_name = \"127.0.0.1\"\ncerts = {certs:?}\n",
        relay.addr
    );
    std::fs::write(
        &primary_config,
        node_config(
            &net,
            &primary_dir,
            Party::Primary,
            &primary_ports,
            "pbx.test",
            &dr,
        ) + ROUTING,
    )
    .expect("write the primary's config");
    let phones = Phones {
        net: &net,
        dir: root.path().to_owned(),
        passwords: [("1001", "pw-one-0001"), ("1002", "pw-two-0002")],
    };
    for (ext, password) in phones.passwords {
        run_cli(
            &["ext", "add", ext, "--password", password, "--config"],
            &primary_config,
        );
    }
    let mut primary = Proc::start(
        &net,
        Party::Primary,
        &primary_config,
        primary_dir.join("node.log"),
    );
    wait_until("the primary to answer", Duration::from_secs(30), || {
        (options_status(&probe, primary_sip) == Some(200)).then_some(())
    });
    // Agent 1002 logs in on the primary; the standby learns it with the
    // flow and the prompt files.
    let agent = phones
        .agent(primary_sip, &primary_ports)
        .expect("1002 registers");
    assert!(phones.log_in(primary_sip, &primary_ports), "1002 logs in");
    drop_child(agent);
    let files = count_files(&primary_dir.join("flows")) + count_files(&primary_dir.join("prompts"));
    let replicated = format!("replica up to date extensions=2 agents=1 files={files}");
    wait_until("the replica", Duration::from_secs(60), || {
        standby.log().contains(&replicated).then_some(())
    });
    assert_eq!(
        options_status(&probe, standby_sip),
        Some(503),
        "a healthy primary's standby serves"
    );

    // Calls through the primary (the login was one already).
    let before = wait_until("the login's CDR", Duration::from_secs(10), || {
        let n = cdr_ids(&primary_dir).len();
        (n > 0).then_some(n)
    });
    for _ in 0..3 {
        assert!(
            phones.call(primary_sip, &primary_ports),
            "a call through the primary"
        );
    }
    let committed = wait_until(
        "the calls' CDRs on the primary",
        Duration::from_secs(10),
        || {
            let ids = cdr_ids(&primary_dir);
            (ids.len() == before + 3).then_some(ids)
        },
    );

    // The primary dies; phones try the standby until a call goes through.
    primary.kill();
    let killed = Instant::now();
    let rto = wait_until(
        "a call through the standby",
        Duration::from_secs(60),
        || {
            if options_status(&probe, standby_sip) != Some(200) {
                return None;
            }
            phones
                .call(standby_sip, &standby_ports)
                .then(|| killed.elapsed())
        },
    );
    eprintln!(
        "RTO: {} ms from SIGKILL to an answered call on the standby",
        rto.as_millis()
    );
    wait_until("the standby's CDR", Duration::from_secs(10), || {
        (cdr_ids(&standby_dir).len() == 1).then_some(())
    });

    // The standby itself crashes during the outage: started again, it serves
    // from the replica on its disk, and keeps the record it made.
    standby.kill();
    let mut standby = Proc::start(
        &net,
        Party::Standby,
        &standby_config,
        standby_dir.join("node-restarted.log"),
    );
    wait_until(
        "the restarted standby to serve",
        Duration::from_secs(60),
        || (options_status(&probe, standby_sip) == Some(200)).then_some(()),
    );
    assert!(
        phones.call(standby_sip, &standby_ports),
        "a call through the restarted standby"
    );
    let served = wait_until("the standby's CDRs", Duration::from_secs(10), || {
        let ids = cdr_ids(&standby_dir);
        (ids.len() == 2).then_some(ids)
    });

    // A long call is up on the standby when the primary returns: the standby
    // drains (new requests get 503) and lets the call finish.
    let on_call = || standby.log().matches("activity=OnCall").count();
    let before = on_call();
    let talking = phones
        .agent_talking(standby_sip, &standby_ports, 8_000)
        .expect("1002 registers at the standby");
    let mut caller = phones.caller(standby_sip, &standby_ports);
    wait_until(
        "the long call to be answered",
        Duration::from_secs(20),
        || (on_call() > before).then_some(()),
    );
    let primary_again = Proc::start(
        &net,
        Party::Primary,
        &primary_config,
        primary_dir.join("node-again.log"),
    );
    wait_until("the standby to drain", Duration::from_secs(30), || {
        (options_status(&probe, standby_sip) == Some(503)).then_some(())
    });
    assert!(
        caller.try_wait().expect("poll the caller").is_none(),
        "the call in progress ended when the standby began to drain"
    );
    assert!(
        wait(caller).success(),
        "the call in progress finished normally"
    );
    assert!(
        wait(talking).success(),
        "the agent's side finished normally"
    );
    let merged = wait_until("the hand-back", Duration::from_secs(60), || {
        let ids = cdr_ids(&primary_dir);
        (ids.len() == committed.len() + 3 && cdr_ids(&standby_dir).is_empty()).then_some(ids)
    });
    for id in committed.iter().chain(&served) {
        assert!(merged.contains(id), "CDR {id} missing after the hand-back");
    }
    let activity = strings(&primary_dir, "SELECT agent FROM standby_activity");
    assert!(
        activity.iter().any(|a| a == "1002"),
        "the agent's activity on the standby was not handed back: {activity:?}"
    );
    wait_until(
        "the standby to refuse again",
        Duration::from_secs(10),
        || (options_status(&probe, standby_sip) == Some(503)).then_some(()),
    );
    assert_eq!(options_status(&probe, primary_sip), Some(200));

    // Only the link is cut: the witness answers, no takeover, calls go on.
    relay.set_cut(true);
    wait_until(
        "the standby to ask the witness",
        Duration::from_secs(30),
        || {
            standby
                .log()
                .contains("witness asked answered=true")
                .then_some(())
        },
    );
    assert_eq!(
        standby.log().matches("taking over").count(),
        1,
        "a second takeover"
    );
    assert_eq!(options_status(&probe, standby_sip), Some(503));
    assert!(
        phones.call(primary_sip, &primary_ports),
        "a call through the primary while the link is cut"
    );
    wait_until("the cut-link call's CDR", Duration::from_secs(10), || {
        (cdr_ids(&primary_dir).len() == merged.len() + 1).then_some(())
    });
    assert_eq!(
        standby.log().matches("taking over").count(),
        1,
        "a takeover after the call"
    );
    drop(primary_again);
    standby.kill();
}
