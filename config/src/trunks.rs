//! `[trunks]`: the carriers outbound calls leave through, by name.
//!
//! ```toml
//! [trunks.carrier]
//! address = "sip.carrier.example:5060"
//! transport = "udp"
//! username = "acct1234"
//! password = "s3cret"
//! caller_id = "+15551230000"
//! prefixes = ["+", "9"]
//! strip = ["9"]
//! max_calls = 30
//! register = true
//! register_expires_s = 600
//! ```
//!
//! A dialled number that starts with one of a trunk's `prefixes` goes out
//! through that trunk; [`route`] picks the trunk with the longest matching
//! prefix, and a prefix listed in `strip` is removed before the number is sent.
//! A prefix belongs to one trunk only. `username` and `password` are the digest
//! credentials that answer the carrier's challenges; they come together or not
//! at all. The password is kept in a [`Credential`], whose `Debug` does not show
//! it, and no diagnostic quotes it. With `register = true` the node registers to
//! the carrier as `username` (which it then needs), every `register_expires_s`
//! asked for, so that the carrier sends the trunk's inbound calls to it.

use std::collections::BTreeMap;
use std::ops::Range;

use toml::Spanned;

use crate::endpoints::{Credential, split_authority, valid_name};
use crate::error::{ProblemKind, Problems};
use crate::reader::Section;

/// Keys of one `[trunks.NAME]` table.
pub(crate) const TRUNK_KEYS: &[&str] = &[
    "address",
    "transport",
    "username",
    "password",
    "caller_id",
    "prefixes",
    "strip",
    "max_calls",
    "register",
    "register_expires_s",
];

/// Longest prefix, in characters.
const MAX_PREFIX: usize = 16;
/// Longest caller ID, in characters.
const MAX_CALLER_ID: usize = 32;
/// Highest `max_calls`.
const MAX_CALLS: i64 = 100_000;

/// A SIP trunk: a carrier that takes the node's outbound calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    /// The name in `[trunks.NAME]`: 1 to 64 of `A-Z a-z 0-9 - _`.
    pub name: String,
    /// The carrier's DNS name or IP address (an IPv6 address without brackets).
    pub host: String,
    /// The carrier's port: as written in `address`, else 5060.
    pub port: u16,
    /// How requests reach the carrier.
    pub transport: TrunkTransport,
    /// The digest user name answering the carrier's 401/407; set exactly when
    /// [`password`](Self::password) is.
    pub username: Option<String>,
    /// The digest password; set exactly when [`username`](Self::username) is.
    pub password: Option<Credential>,
    /// The number presented in `From`: digits with an optional leading `+`.
    /// `None` presents the caller's own number.
    pub caller_id: Option<String>,
    /// Dialled numbers starting with one of these go out through this trunk:
    /// never empty, no repeats, each 1 to 16 of `0-9 * #` with an optional
    /// leading `+`.
    pub prefixes: Vec<String>,
    /// The prefixes (each one of [`prefixes`](Self::prefixes)) removed from the
    /// number before it is sent.
    pub strip: Vec<String>,
    /// Concurrent outbound calls allowed on this trunk; 0 is no limit.
    pub max_calls: u32,
    /// Register to the carrier (as [`username`](Self::username)) for the
    /// registration's `Expires`, this many seconds (60 to 86,400, default 600);
    /// `None`: the carrier knows the node by its address.
    pub register: Option<std::time::Duration>,
}

/// The transport of a [`Trunk`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TrunkTransport {
    /// UDP (the default).
    #[default]
    Udp,
    /// TCP.
    Tcp,
}

impl TrunkTransport {
    /// The token used in the configuration file: `udp` or `tcp`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
        }
    }

    fn parse(token: &str) -> Option<Self> {
        [Self::Udp, Self::Tcp]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(token))
    }

    fn default_port(self) -> u16 {
        5060
    }
}

impl Trunk {
    /// The number to send for `dialled` when it matches this trunk, with the
    /// length of the matching prefix: `None` when no prefix matches or only the
    /// prefix itself was dialled (nothing left to call). The longest matching
    /// prefix decides; when it is in `strip` it is removed.
    #[must_use]
    pub fn route(&self, dialled: &str) -> Option<(usize, String)> {
        let prefix = self.longest_prefix(dialled)?;
        if prefix.len() == dialled.len() {
            return None;
        }
        let number = if self.strip.iter().any(|s| s == prefix) {
            &dialled[prefix.len()..]
        } else {
            dialled
        };
        Some((prefix.len(), number.to_owned()))
    }

    /// The longest of this trunk's prefixes that `dialled` starts with.
    fn longest_prefix(&self, dialled: &str) -> Option<&str> {
        self.prefixes
            .iter()
            .filter(|p| dialled.starts_with(p.as_str()))
            .max_by_key(|p| p.len())
            .map(String::as_str)
    }
}

/// The trunk for `dialled`: the longest matching prefix over all trunks, the first
/// listed on a tie; with the number to send.
///
/// As with [`Trunk::route`], `None` when no prefix matches or the longest match
/// is the whole dialled number.
#[must_use]
pub fn route<'a>(trunks: &'a [Trunk], dialled: &str) -> Option<(&'a Trunk, String)> {
    let mut best: Option<(&Trunk, usize)> = None;
    for trunk in trunks {
        let Some(prefix) = trunk.longest_prefix(dialled) else {
            continue;
        };
        if best.is_none_or(|(_, len)| prefix.len() > len) {
            best = Some((trunk, prefix.len()));
        }
    }
    let (trunk, _) = best?;
    trunk.route(dialled).map(|(_, number)| (trunk, number))
}

/// Decodes the `[trunks]` table of the top level, in file order.
pub(crate) fn trunks(root: &Section<'_, '_>, p: &mut Problems) -> Vec<Trunk> {
    let expected = "a table of trunk name = { address = \"…\", prefixes = […], … }";
    let mut out = Vec::new();
    // Each prefix already claimed, with the trunk that claimed it.
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    for (name, table) in root.named_sections(p, "trunks", TRUNK_KEYS, expected) {
        if !valid_name(name.get_ref()) {
            let what = format!(
                "{:?} is not a trunk name (1 to 64 of A-Z a-z 0-9 - _)",
                name.get_ref()
            );
            root.invalid(p, name.span(), "trunks", ProblemKind::InvalidValue, &what);
            continue;
        }
        let prefixes = prefixes(&table, name.span(), p);
        claim_prefixes(&table, name.get_ref(), &prefixes, &mut owners, p);
        if let Some(t) = trunk(name.get_ref(), name.span(), &table, &prefixes, p) {
            out.push(t);
        }
    }
    out
}

fn trunk(
    name: &str,
    name_at: Range<usize>,
    s: &Section<'_, '_>,
    prefixes: &[Spanned<&str>],
    p: &mut Problems,
) -> Option<Trunk> {
    let expected = "a host and optional port such as \"sip.carrier.example:5060\", \
                    \"192.0.2.10\" or \"[2001:db8::10]:5061\"";
    let address = s.parsed(p, "address", expected, split_authority);
    if !s.has("address") {
        let what = "every trunk needs an address";
        s.invalid(p, name_at, "address", ProblemKind::InvalidValue, what);
    }
    let transport = s
        .parsed(
            p,
            "transport",
            "\"udp\" or \"tcp\" (the node opens no TLS connections of its own: a \
             carrier reached over TLS goes through an SBC)",
            TrunkTransport::parse,
        )
        .map_or_else(TrunkTransport::default, |f| f.value);
    let expected = "a digest user name (1 to 128 printable ASCII characters, no quotes or \
                    backslashes)";
    let username = s.parsed(p, "username", expected, |v| {
        valid_username(v).then(|| v.to_owned())
    });
    let password = password(s, p);
    check_credentials_pair(s, p);
    let expected = "a number (1 to 32 digits, with an optional leading +)";
    let caller_id = s.parsed(p, "caller_id", expected, |v| {
        valid_caller_id(v).then(|| v.to_owned())
    });
    let strip = strip(s, prefixes, p);
    let max_calls = s
        .number(p, "max_calls", 0..=MAX_CALLS)
        .map_or(0, |f| f.value);
    let register = registration(s, p);
    let (host, port) = address?.value;
    if prefixes.is_empty() {
        return None;
    }
    Some(Trunk {
        name: name.to_owned(),
        host,
        port: port.unwrap_or_else(|| transport.default_port()),
        transport,
        username: username.map(|f| f.value),
        password,
        caller_id: caller_id.map(|f| f.value),
        prefixes: prefixes.iter().map(|p| (*p.get_ref()).to_owned()).collect(),
        strip,
        max_calls,
        register,
    })
}

/// `register` and `register_expires_s`: how long registrations to the carrier ask
/// to last, when the node registers.
fn registration(s: &Section<'_, '_>, p: &mut Problems) -> Option<std::time::Duration> {
    let expires = s.seconds(p, "register_expires_s", 60..=86_400);
    let register = s.boolean(p, "register").is_some_and(|f| f.value);
    if let (false, Some(at)) = (register, s.key_at("register_expires_s")) {
        let what = format!("is only used with {} = true", s.dotted("register"));
        s.invalid(
            p,
            at,
            "register_expires_s",
            ProblemKind::Inconsistent,
            &what,
        );
    }
    if let (true, None, Some(at)) = (register, s.key_at("username"), s.key_at("register")) {
        let what = format!(
            "needs {} and {}: the carrier registers the node by them",
            s.dotted("username"),
            s.dotted("password")
        );
        s.invalid(p, at, "register", ProblemKind::Inconsistent, &what);
    }
    register.then(|| expires.map_or(std::time::Duration::from_secs(600), |f| f.value))
}

/// The `password` value; a rejected one is reported without quoting it.
fn password(s: &Section<'_, '_>, p: &mut Problems) -> Option<Credential> {
    const KEY: &str = "password";
    let at = s.value_at(KEY)?;
    // The reader's own report of a value of the wrong type would quote it.
    let mut quoting = Problems::default();
    let value = s.string(&mut quoting, KEY, "a string");
    if let Some(f) = value.filter(|f| valid_password(f.value)) {
        return Some(Credential(f.value.to_owned()));
    }
    let kind = if quoting.is_empty() {
        ProblemKind::InvalidValue
    } else {
        ProblemKind::WrongType
    };
    let what = "expected a password (a string of 1 to 256 characters, no control \
                characters); the value is not shown";
    s.invalid(p, at, KEY, kind, what);
    None
}

/// `username` and `password` come together.
fn check_credentials_pair(s: &Section<'_, '_>, p: &mut Problems) {
    match (s.key_at("username"), s.key_at("password")) {
        // A rejected value has been reported already.
        (Some(_), None) if p.concerns(&s.dotted("username")) => {}
        (None, Some(_)) if p.concerns(&s.dotted("password")) => {}
        (Some(at), None) => {
            let what = format!(
                "needs {} as well, to answer the carrier's challenges",
                s.dotted("password")
            );
            s.invalid(p, at, "username", ProblemKind::Inconsistent, &what);
        }
        (None, Some(at)) => {
            let what = format!("is only used with {}", s.dotted("username"));
            s.invalid(p, at, "password", ProblemKind::Inconsistent, &what);
        }
        _ => {}
    }
}

/// The accepted `prefixes`, each with the span of its value; every rejected
/// one is reported.
fn prefixes<'t>(
    s: &Section<'t, '_>,
    name_at: Range<usize>,
    p: &mut Problems,
) -> Vec<Spanned<&'t str>> {
    const KEY: &str = "prefixes";
    let expected = "an array of number prefixes such as [\"+\", \"9\"]";
    let Some(field) = s.strings(p, KEY, expected) else {
        if !s.has(KEY) {
            let what = "every trunk needs prefixes: the dialled numbers it carries start \
                        with one of them";
            s.invalid(p, name_at, KEY, ProblemKind::InvalidValue, what);
        }
        return Vec::new();
    };
    if field.value.is_empty() && !p.concerns(&s.dotted(KEY)) {
        let at = s.value_at(KEY).unwrap_or(field.key_at);
        let what = "must list at least one prefix, found []";
        s.invalid(p, at, KEY, ProblemKind::InvalidValue, what);
    }
    let mut out: Vec<Spanned<&'t str>> = Vec::with_capacity(field.value.len());
    for item in field.value {
        let prefix = *item.get_ref();
        let what = if !valid_prefix(prefix) {
            format!("{prefix:?} is not a prefix (1 to 16 of 0-9 * #, with an optional leading +)")
        } else if out.iter().any(|o| *o.get_ref() == prefix) {
            format!("lists {prefix:?} more than once")
        } else {
            out.push(item);
            continue;
        };
        s.invalid(p, item.span(), KEY, ProblemKind::InvalidValue, &what);
    }
    out
}

/// Reports each of `prefixes` that an earlier trunk already claimed, and claims
/// the others for `trunk`.
fn claim_prefixes(
    s: &Section<'_, '_>,
    trunk: &str,
    prefixes: &[Spanned<&str>],
    owners: &mut BTreeMap<String, String>,
    p: &mut Problems,
) {
    for prefix in prefixes {
        let text = *prefix.get_ref();
        match owners.get(text) {
            Some(owner) => {
                let what = format!(
                    "{text:?} is already a prefix of trunks.{owner}; a prefix routes to one trunk"
                );
                s.invalid(
                    p,
                    prefix.span(),
                    "prefixes",
                    ProblemKind::Inconsistent,
                    &what,
                );
            }
            None => {
                owners.insert(text.to_owned(), trunk.to_owned());
            }
        }
    }
}

/// The `strip` list: each entry one of the trunk's prefixes, no repeats.
fn strip(s: &Section<'_, '_>, prefixes: &[Spanned<&str>], p: &mut Problems) -> Vec<String> {
    const KEY: &str = "strip";
    let expected = "an array of prefixes to remove, each one of the trunk's prefixes";
    let Some(field) = s.strings(p, KEY, expected) else {
        return Vec::new();
    };
    // A prefix rejected above is not reported again here.
    let written = s.strings(&mut Problems::default(), "prefixes", "");
    let written = written.map(|f| f.value).unwrap_or_default();
    let mut out: Vec<String> = Vec::with_capacity(field.value.len());
    for item in field.value {
        let entry = *item.get_ref();
        let what = if !written.iter().any(|w| *w.get_ref() == entry) {
            format!("{entry:?} is not one of {}", s.dotted("prefixes"))
        } else if out.iter().any(|o| o == entry) {
            format!("lists {entry:?} more than once")
        } else {
            if prefixes.iter().any(|p| *p.get_ref() == entry) {
                out.push(entry.to_owned());
            }
            continue;
        };
        s.invalid(p, item.span(), KEY, ProblemKind::InvalidValue, &what);
    }
    out
}

fn valid_prefix(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (1..=MAX_PREFIX).contains(&s.len())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
}

fn valid_caller_id(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    s.len() <= MAX_CALLER_ID && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn valid_username(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

fn valid_password(s: &str) -> bool {
    (1..=256).contains(&s.chars().count()) && !s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::{ConfigError, NodeConfig};

    const FULL: &str = "\
[trunks.carrier]
address = \"sip.carrier.example:5070\"
transport = \"tcp\"
username = \"acct1234\"
password = \"s3cret\"
caller_id = \"+15551230000\"
prefixes = [\"+\", \"9\"]
strip = [\"9\"]
max_calls = 30
register = true
register_expires_s = 300

[trunks.backup]
address = \"[2001:db8::10]\"
transport = \"tcp\"
prefixes = [\"00\"]
";

    fn parse(text: &str) -> Result<NodeConfig, ConfigError> {
        NodeConfig::parse(text, Path::new("switchyard.toml"))
    }

    /// Every diagnostic `text` gives, displayed.
    fn problems(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.diagnostics().iter().map(ToString::to_string).collect(),
        }
    }

    /// The one diagnostic `text` gives: its kind, key and display.
    fn single(text: &str) -> (ProblemKind, String, String) {
        let err = match parse(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e,
        };
        match err.diagnostics() {
            [d] => (d.kind, d.key.clone(), d.to_string()),
            other => panic!("expected one diagnostic, got {other:?}"),
        }
    }

    fn trunk(name: &str, prefixes: &[&str], strip: &[&str]) -> Trunk {
        Trunk {
            name: name.to_owned(),
            host: "192.0.2.10".to_owned(),
            port: 5060,
            transport: TrunkTransport::Udp,
            username: None,
            password: None,
            caller_id: None,
            prefixes: prefixes.iter().map(|&p| p.to_owned()).collect(),
            strip: strip.iter().map(|&s| s.to_owned()).collect(),
            max_calls: 0,
            register: None,
        }
    }

    #[test]
    fn registering_needs_credentials_and_expires_needs_registering() {
        let base = "[trunks.carrier]\naddress = \"192.0.2.10\"\nprefixes = [\"9\"]\n";
        let (kind, key, _) = single(&format!("{base}register = true\n"));
        assert_eq!(
            (kind, key.as_str()),
            (ProblemKind::Inconsistent, "trunks.carrier.register")
        );
        let (kind, key, _) = single(&format!("{base}register_expires_s = 300\n"));
        assert_eq!(
            (kind, key.as_str()),
            (
                ProblemKind::Inconsistent,
                "trunks.carrier.register_expires_s"
            )
        );
        let (_, key, _) = single(&format!(
            "{base}username = \"u\"\npassword = \"p\"\nregister = true\nregister_expires_s = 30\n"
        ));
        assert_eq!(key, "trunks.carrier.register_expires_s", "below 60 s");
        let config = parse(&format!(
            "{base}username = \"u\"\npassword = \"p\"\nregister = true\n"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config.trunks[0].register,
            Some(std::time::Duration::from_secs(600))
        );
    }

    #[test]
    fn a_full_example_decodes_in_file_order() {
        let config = parse(FULL).unwrap_or_else(|e| panic!("{e}"));
        let carrier = Trunk {
            name: "carrier".to_owned(),
            host: "sip.carrier.example".to_owned(),
            port: 5070,
            transport: TrunkTransport::Tcp,
            username: Some("acct1234".to_owned()),
            password: Some(Credential("s3cret".to_owned())),
            caller_id: Some("+15551230000".to_owned()),
            prefixes: vec!["+".to_owned(), "9".to_owned()],
            strip: vec!["9".to_owned()],
            max_calls: 30,
            register: Some(std::time::Duration::from_secs(300)),
        };
        let backup = Trunk {
            name: "backup".to_owned(),
            host: "2001:db8::10".to_owned(),
            port: 5060,
            transport: TrunkTransport::Tcp,
            ..trunk("backup", &["00"], &[])
        };
        assert_eq!(config.trunks, [carrier, backup]);
        let password = config.trunks[0].password.as_ref().map(Credential::expose);
        assert_eq!(password, Some("s3cret"));
    }

    #[test]
    fn defaults_apply_and_no_trunks_is_the_default() {
        assert!(NodeConfig::default().trunks.is_empty());
        let text = "[trunks.plain]\naddress = \"192.0.2.10\"\nprefixes = [\"9\"]\n";
        let config = parse(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.trunks, [trunk("plain", &["9"], &[])]);
        let inline = "trunks = { plain = { address = \"192.0.2.10\", prefixes = [\"9\"] } }\n";
        assert_eq!(parse(inline).ok(), Some(config));
    }

    #[test]
    fn each_trunk_mistake_is_reported_at_its_key() {
        use ProblemKind::*;
        let head = "[trunks.carrier]\naddress = \"192.0.2.10\"\nprefixes = [\"9\"]\n";
        let with = |line: &str| format!("{head}{line}\n");
        let cases: Vec<(String, ProblemKind, &str, &str)> = vec![
            (
                "[trunks.carrier]\naddress = \"2001:db8::10\"\nprefixes = [\"9\"]\n".to_owned(),
                InvalidValue,
                "trunks.carrier.address",
                "switchyard.toml:2:11: trunks.carrier.address: expected a host and optional \
                 port such as \"sip.carrier.example:5060\", \"192.0.2.10\" or \
                 \"[2001:db8::10]:5061\", found \"2001:db8::10\"",
            ),
            (
                "[trunks.carrier]\nprefixes = [\"9\"]\n".to_owned(),
                InvalidValue,
                "trunks.carrier.address",
                "switchyard.toml:1:9: trunks.carrier.address: every trunk needs an address",
            ),
            (
                with("transport = \"sctp\""),
                InvalidValue,
                "trunks.carrier.transport",
                "switchyard.toml:4:13: trunks.carrier.transport: expected \"udp\" or \"tcp\" \
                 (the node opens no TLS connections of its own: a carrier reached over TLS goes \
                 through an SBC), found \"sctp\"",
            ),
            (
                with("password = \"s3cret\""),
                Inconsistent,
                "trunks.carrier.password",
                "switchyard.toml:4:1: trunks.carrier.password: is only used with \
                 trunks.carrier.username",
            ),
            (
                with("username = \"acct1234\""),
                Inconsistent,
                "trunks.carrier.username",
                "switchyard.toml:4:1: trunks.carrier.username: needs trunks.carrier.password \
                 as well, to answer the carrier's challenges",
            ),
            (
                with("caller_id = \"Front desk\""),
                InvalidValue,
                "trunks.carrier.caller_id",
                "switchyard.toml:4:13: trunks.carrier.caller_id: expected a number (1 to 32 \
                 digits, with an optional leading +), found \"Front desk\"",
            ),
            (
                "[trunks.carrier]\naddress = \"192.0.2.10\"\nprefixes = []\n".to_owned(),
                InvalidValue,
                "trunks.carrier.prefixes",
                "switchyard.toml:3:12: trunks.carrier.prefixes: must list at least one \
                 prefix, found []",
            ),
            (
                "[trunks.carrier]\naddress = \"192.0.2.10\"\n".to_owned(),
                InvalidValue,
                "trunks.carrier.prefixes",
                "switchyard.toml:1:9: trunks.carrier.prefixes: every trunk needs prefixes: \
                 the dialled numbers it carries start with one of them",
            ),
            (
                "[trunks.carrier]\naddress = \"192.0.2.10\"\nprefixes = [\"9\", \"0+1\"]\n"
                    .to_owned(),
                InvalidValue,
                "trunks.carrier.prefixes",
                "switchyard.toml:3:18: trunks.carrier.prefixes: \"0+1\" is not a prefix \
                 (1 to 16 of 0-9 * #, with an optional leading +)",
            ),
            (
                "[trunks.carrier]\naddress = \"192.0.2.10\"\nprefixes = [\"9\", \"9\"]\n"
                    .to_owned(),
                InvalidValue,
                "trunks.carrier.prefixes",
                "switchyard.toml:3:18: trunks.carrier.prefixes: lists \"9\" more than once",
            ),
            (
                with("strip = [\"8\"]"),
                InvalidValue,
                "trunks.carrier.strip",
                "switchyard.toml:4:10: trunks.carrier.strip: \"8\" is not one of \
                 trunks.carrier.prefixes",
            ),
            (
                with("max_calls = -1"),
                OutOfRange,
                "trunks.carrier.max_calls",
                "switchyard.toml:4:13: trunks.carrier.max_calls: expected an integer \
                 0..=100000, found -1",
            ),
            (
                with("max_calls = 100001"),
                OutOfRange,
                "trunks.carrier.max_calls",
                "switchyard.toml:4:13: trunks.carrier.max_calls: expected an integer \
                 0..=100000, found 100001",
            ),
            (
                with("outbound_proxy = true"),
                UnknownKey,
                "trunks.carrier.outbound_proxy",
                "switchyard.toml:4:1: unknown key `outbound_proxy` in [trunks.carrier], expected \
                 one of: address, transport, username, password, caller_id, prefixes, strip, \
                 max_calls, register, register_expires_s",
            ),
            (
                "[trunks.\"the carrier\"]\naddress = \"192.0.2.10\"\nprefixes = [\"9\"]\n"
                    .to_owned(),
                InvalidValue,
                "trunks",
                "switchyard.toml:1:9: trunks: \"the carrier\" is not a trunk name (1 to 64 of \
                 A-Z a-z 0-9 - _)",
            ),
            (
                "trunks = [\"carrier\"]\n".to_owned(),
                WrongType,
                "trunks",
                "switchyard.toml:1:10: trunks: expected a table of trunk name = { address = \
                 \"…\", prefixes = […], … }, found an array",
            ),
        ];
        for (text, kind, key, display) in cases {
            let expected = (kind, key.to_owned(), display.to_owned());
            assert_eq!(single(&text), expected, "{text}");
        }
    }

    #[test]
    fn a_prefix_on_two_trunks_names_both() {
        let text = "\
[trunks.a]
address = \"192.0.2.10\"
prefixes = [\"9\", \"00\"]

[trunks.b]
address = \"192.0.2.11\"
prefixes = [\"+\", \"00\"]
";
        let (kind, key, display) = single(text);
        assert_eq!(kind, ProblemKind::Inconsistent);
        assert_eq!(key, "trunks.b.prefixes");
        assert_eq!(
            display,
            "switchyard.toml:7:18: trunks.b.prefixes: \"00\" is already a prefix of trunks.a; \
             a prefix routes to one trunk"
        );
    }

    #[test]
    fn the_password_shows_in_no_debug_output_and_no_problem() {
        let config = parse(FULL).unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{config:?}").contains("s3cret"));
        assert!(!format!("{:?}", config.trunks).contains("s3cret"));
        let head = "[trunks.carrier]\naddress = \"192.0.2.10\"\nprefixes = [\"9\"]\n";
        let texts = [
            // Valid, next to other mistakes.
            format!("{head}username = \"u\"\npassword = \"s3cret\"\ncaller_id = \"x\"\n"),
            // Without a username.
            format!("{head}password = \"s3cret\"\n"),
            // Rejected values.
            format!("{head}username = \"u\"\npassword = \"s3cret\\u0007\"\n"),
            format!("{head}username = \"u\"\npassword = 73313\n"),
            format!("{head}username = \"u\"\npassword = [\"s3cret\"]\n"),
            format!("{head}username = \"u\"\npassword = \"\"\n"),
        ];
        for text in &texts {
            for problem in problems(text) {
                assert!(!problem.contains("s3cret"), "{problem}");
                assert!(!problem.contains("73313"), "{problem}");
            }
        }
        let (kind, key, display) = single(&texts[3]);
        assert_eq!(kind, ProblemKind::WrongType);
        assert_eq!(key, "trunks.carrier.password");
        assert_eq!(
            display,
            "switchyard.toml:5:12: trunks.carrier.password: expected a password (a string of \
             1 to 256 characters, no control characters); the value is not shown"
        );
        let (kind, _, _) = single(&texts[2]);
        assert_eq!(kind, ProblemKind::InvalidValue);
    }

    #[test]
    fn every_bad_trunk_of_a_file_is_reported_in_file_order() {
        let text = "\
[trunks.a]
address = \"192.0.2.10:0\"
prefixes = [\"9\"]

[trunks.b]
address = \"192.0.2.11\"
prefixes = [\"8\"]
strip = [\"9\"]
";
        let err = parse(text).err().unwrap_or_else(|| panic!("accepted"));
        let places: Vec<(usize, usize, &str)> = err
            .diagnostics()
            .iter()
            .map(|d| (d.line, d.column, d.key.as_str()))
            .collect();
        assert_eq!(
            places,
            [(2, 11, "trunks.a.address"), (8, 10, "trunks.b.strip")]
        );
    }

    #[test]
    fn route_takes_the_longest_prefix_and_strips_only_listed_ones() {
        let t = trunk("carrier", &["9", "90", "+"], &["9"]);
        assert_eq!(t.route("95551234"), Some((1, "5551234".to_owned())));
        assert_eq!(t.route("905551234"), Some((2, "905551234".to_owned())));
        assert_eq!(
            t.route("+15551230000"),
            Some((1, "+15551230000".to_owned()))
        );
    }

    #[test]
    fn route_refuses_a_bare_prefix_and_numbers_that_do_not_match() {
        let t = trunk("carrier", &["9", "90"], &["9"]);
        assert_eq!(t.route("9"), None);
        assert_eq!(t.route("90"), None);
        assert_eq!(t.route("8123"), None);
        assert_eq!(t.route(""), None);
        let trunks = [t];
        assert_eq!(route(&trunks, "90"), None);
        assert_eq!(route(&trunks, "1001"), None);
    }

    #[test]
    fn route_over_trunks_takes_the_longest_prefix_then_the_first_listed() {
        let trunks = [
            trunk("local", &["9"], &["9"]),
            trunk("international", &["900", "+"], &["900"]),
            trunk("shadow", &["9"], &[]),
        ];
        let pick = |dialled: &str| route(&trunks, dialled).map(|(t, n)| (t.name.as_str(), n));
        assert_eq!(pick("95551234"), Some(("local", "5551234".to_owned())));
        assert_eq!(
            pick("900441234567"),
            Some(("international", "441234567".to_owned()))
        );
        assert_eq!(
            pick("+441234567"),
            Some(("international", "+441234567".to_owned()))
        );
        // "900" alone is the longest match, and a bare prefix: nothing to call.
        assert_eq!(pick("900"), None);
        assert_eq!(pick("1001"), None);
    }
}
