//! Killing a node with SIGKILL and starting it again on the same directory,
//! configuration and ports: what survives a crash.

use std::path::Path;
use std::time::Duration;

use super::Node;

/// A node process started again on the directory, configuration and ports of a
/// [`Node`] whose own process was stopped; stopped when dropped.
pub(crate) struct Restarted {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Restarted {
    /// Kills `node`'s process (the test's child running `switchyard node --config
    /// DIR/switchyard.toml`), starts a new one on the same configuration and
    /// waits until it answers OPTIONS.
    pub(crate) fn kill_and_start(node: &Node) -> Restarted {
        let config = node.dir().join("switchyard.toml");
        let pid = node_pid(&config);
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(killed.success(), "kill the node process {pid}");
        super::wait_until("the node process to die", Duration::from_secs(10), || {
            process_state(pid)
                .is_none_or(|s| s == 'Z' || s == 'X')
                .then_some(())
        });
        let log = node.dir().join("node-restarted.log");
        let out = std::fs::File::create(&log).expect("create the restarted node's log");
        let err = out.try_clone().expect("clone a log file handle");
        let child = std::process::Command::new(super::SWITCHYARD)
            .arg("node")
            .arg("--config")
            .arg(&config)
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start the node again");
        let mut restarted = Restarted { child, log };
        restarted.ready(node.sip_addr());
        restarted
    }

    fn ready(&mut self, target: std::net::SocketAddr) {
        let probe = super::SipProbe::new("127.0.0.1");
        super::wait_until(
            "the restarted node to answer OPTIONS",
            Duration::from_secs(30),
            || {
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!(
                        "the restarted node exited with {status}:\n{}",
                        self.log_tail(40)
                    );
                }
                probe
                    .options(target, Duration::from_millis(250))
                    .filter(|r| r.status == 200)
            },
        );
    }

    pub(crate) fn log_tail(&self, lines: usize) -> String {
        super::tail(&self.log, lines)
    }
}

impl Drop for Restarted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- restarted node log (last 60 lines) ----\n{}\n----",
                self.log_tail(60)
            );
        }
    }
}

/// The pid of this test process's child running the node of `config`.
fn node_pid(config: &Path) -> u32 {
    let me = std::process::id();
    let config = config
        .to_str()
        .expect("temporary directory paths are UTF-8");
    let pids = std::fs::read_dir("/proc")
        .expect("read /proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok());
    for pid in pids {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let runs_node = args.iter().any(|a| *a == b"node") && args.contains(&config.as_bytes());
        if runs_node && parent_pid(pid) == Some(me) {
            return pid;
        }
    }
    panic!("no child process runs `switchyard node --config {config}`");
}

/// Fields of `/proc/PID/stat` after the command name: state, then parent pid.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn parent_pid(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

fn process_state(pid: u32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}
