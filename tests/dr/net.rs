//! Where the disaster-recovery test's parties live.
//!
//! When this process may make network namespaces (root, iproute2's `ip`),
//! the primary, the standby and the phones each get their own namespace, on
//! one bridge: 10.N.0.2, .3 and .4, with the test itself on the bridge at .1
//! (N from the process id, so two runs do not collide). Otherwise, or with
//! `SWITCHYARD_TEST_NO_NETNS` set, they share this namespace on three
//! loopback addresses (127.0.0.2, 127.0.0.3, 127.0.0.1).
//!
//! Everything made is removed when the [`Net`] is dropped.

use std::process::{Command, Stdio};

/// A party of the test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Party {
    Primary,
    Standby,
    Phones,
    /// The test process: probes, the relay.
    Test,
}

const PARTIES: [Party; 3] = [Party::Primary, Party::Standby, Party::Phones];

pub(crate) struct Net {
    /// `Some((tag, subnet))` with namespaces.
    namespaces: Option<(String, u8)>,
}

impl Net {
    /// Namespaces when possible, else loopback addresses.
    pub(crate) fn new() -> Net {
        if std::env::var_os("SWITCHYARD_TEST_NO_NETNS").is_none()
            && let Some(net) = Net::namespaces()
        {
            return net;
        }
        Net { namespaces: None }
    }

    fn namespaces() -> Option<Net> {
        let pid = std::process::id();
        let tag = format!("sy{}", pid % 10_000);
        let subnet = 100 + u8::try_from(pid % 100).expect("below 100");
        let net = Net {
            namespaces: Some((tag.clone(), subnet)),
        };
        let bridge = format!("{tag}br");
        let made = ip(&["link", "add", &bridge, "type", "bridge"])
            && ip(&[
                "addr",
                "add",
                &format!("10.{subnet}.0.1/24"),
                "dev",
                &bridge,
            ])
            && ip(&["link", "set", &bridge, "up"])
            && PARTIES.iter().all(|p| net.attach(*p, &bridge))
            // Some containers make namespaces but cannot enter them.
            && net
                .command(Party::Phones, "true")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
        // On failure the drop removes whatever was made.
        made.then_some(net)
    }

    /// A namespace for `party`, with a veth pair on the bridge.
    fn attach(&self, party: Party, bridge: &str) -> bool {
        let (Some(ns), Some((tag, _))) = (self.namespace(party), &self.namespaces) else {
            return false;
        };
        let letter = letter(party);
        let (outer, inner) = (format!("{tag}{letter}h"), format!("{tag}{letter}n"));
        let address = format!("{}/24", self.ip(party));
        ip(&["netns", "add", &ns])
            && ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])
            && ip(&["link", "set", &inner, "netns", &ns])
            && ip(&["link", "set", &outer, "master", bridge])
            && ip(&["link", "set", &outer, "up"])
            && ip(&["-n", &ns, "addr", "add", &address, "dev", &inner])
            && ip(&["-n", &ns, "link", "set", &inner, "up"])
            && ip(&["-n", &ns, "link", "set", "lo", "up"])
    }

    /// Whether the parties are in namespaces of their own.
    pub(crate) fn isolated(&self) -> bool {
        self.namespaces.is_some()
    }

    fn namespace(&self, party: Party) -> Option<String> {
        let (tag, _) = self.namespaces.as_ref()?;
        (party != Party::Test).then(|| format!("{tag}{}", letter(party)))
    }

    /// `party`'s address.
    pub(crate) fn ip(&self, party: Party) -> String {
        match (&self.namespaces, party) {
            (Some((_, subnet)), p) => {
                let host = match p {
                    Party::Test => 1,
                    Party::Primary => 2,
                    Party::Standby => 3,
                    Party::Phones => 4,
                };
                format!("10.{subnet}.0.{host}")
            }
            (None, Party::Primary) => "127.0.0.2".to_owned(),
            (None, Party::Standby) => "127.0.0.3".to_owned(),
            (None, Party::Phones | Party::Test) => "127.0.0.1".to_owned(),
        }
    }

    /// `program`, to run as `party` (inside its namespace).
    pub(crate) fn command(&self, party: Party, program: &str) -> Command {
        match self.namespace(party) {
            Some(ns) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", &ns, program]);
                cmd
            }
            None => Command::new(program),
        }
    }

    /// One line for the test output.
    pub(crate) fn describe(&self) -> String {
        let how = if self.isolated() {
            "network namespaces on a bridge"
        } else {
            "loopback addresses"
        };
        format!(
            "{how}: primary {}, standby {}, phones {}",
            self.ip(Party::Primary),
            self.ip(Party::Standby),
            self.ip(Party::Phones)
        )
    }
}

fn letter(party: Party) -> char {
    match party {
        Party::Primary => 'p',
        Party::Standby => 's',
        Party::Phones => 'f',
        Party::Test => 't',
    }
}

/// Runs `ip ARGS`; whether it succeeded.
fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Drop for Net {
    fn drop(&mut self) {
        let Some((tag, _)) = &self.namespaces else {
            return;
        };
        for party in PARTIES {
            if let Some(ns) = self.namespace(party) {
                // Deleting the namespace deletes its veth end, and the pair.
                ip(&["netns", "del", &ns]);
            }
        }
        ip(&["link", "del", &format!("{tag}br")]);
    }
}
