//! Checking a parsed scenario file and building the typed [`Scenario`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use media::codec::SampleRate;
use media::dtmf::Digit;
use media::wav::Prompt;
use toml::Spanned;

use super::raw::{
    RawAgents, RawCalls, RawDigits, RawDist, RawRegistrations, RawScenario, RawUsers,
};
use super::{
    Account, AgentPool, Algorithm, CallLoad, DigitPlan, G711, Generator, HangUp, MediaSpec, Pick,
    RegistrationLoad, Scenario, Target, parse_duration,
};
use crate::dist::{ArrivalKind, Distribution};

/// A mistake at a byte offset of the file.
pub(super) struct BuildError {
    pub(super) offset: usize,
    pub(super) message: String,
}

pub(super) type Result<T> = std::result::Result<T, BuildError>;

pub(super) fn err<T>(span: Range<usize>, message: impl Into<String>) -> Result<T> {
    Err(BuildError {
        offset: span.start,
        message: message.into(),
    })
}

/// Most accounts one `users` range may expand to.
const MAX_USERS: u64 = 1_000_000;

pub(super) fn build(text: &str, base: &Path) -> Result<Scenario> {
    let raw: RawScenario = toml::from_str(text).map_err(|e| BuildError {
        offset: e.span().map_or(0, |s| s.start),
        message: e.message().to_owned(),
    })?;
    let target = target(&raw.target)?;
    let generator = generator(&raw, target)?;
    let ctx = Ctx { base, target };
    let registrations = raw
        .registrations
        .iter()
        .map(|r| ctx.registrations(r))
        .collect::<Result<Vec<_>>>()?;
    let agents = raw.agents.as_ref().map(|a| ctx.agents(a)).transpose()?;
    let calls = raw
        .calls
        .iter()
        .enumerate()
        .map(|(i, c)| ctx.calls(i, c))
        .collect::<Result<Vec<_>>>()?;
    if registrations.is_empty() && agents.is_none() && calls.is_empty() {
        return err(
            0..0,
            "the scenario has no [[registrations]], [agents] or [[calls]]",
        );
    }
    if calls.is_empty() && registrations.is_empty() && generator.duration.is_none() {
        return err(
            0..0,
            "agents alone need [generator] duration (nothing else ends the run)",
        );
    }
    let supervisors = super::api::supervisors(&raw, base)?;
    Ok(Scenario {
        name: raw.name.unwrap_or_else(|| "scenario".to_owned()),
        target,
        domain: raw.domain,
        generator,
        registrations,
        agents,
        calls,
        supervisors,
    })
}

fn target(raw: &Spanned<String>) -> Result<Target> {
    let text = raw.get_ref().trim();
    if text == "self" {
        return Ok(Target::SelfLoop);
    }
    match text.parse::<SocketAddr>() {
        Ok(addr) => Ok(Target::Addr(addr)),
        Err(_) => err(
            raw.span(),
            format!("target `{text}` is not IP:PORT or \"self\""),
        ),
    }
}

fn generator(raw: &RawScenario, target: Target) -> Result<Generator> {
    let g = raw.generator.as_ref();
    let local_ip = match g.and_then(|g| g.local_ip.as_ref()) {
        Some(s) => s
            .get_ref()
            .parse::<IpAddr>()
            .or_else(|_| err(s.span(), format!("`{}` is not an IP address", s.get_ref())))?,
        None => match target {
            Target::Addr(a) if !a.ip().is_loopback() => {
                return err(
                    raw.target.span(),
                    "a non-loopback target needs [generator] local_ip",
                );
            }
            _ => IpAddr::from([127, 0, 0, 1]),
        },
    };
    let t1 = opt_duration(g.and_then(|g| g.t1.as_ref()))?.unwrap_or(Duration::from_millis(500));
    Ok(Generator {
        local_ip,
        sip_port: g.and_then(|g| g.sip_port).unwrap_or(0),
        rtp_port: g.and_then(|g| g.rtp_port).unwrap_or(0),
        seed: g.and_then(|g| g.seed).unwrap_or(1),
        t1,
        duration: opt_duration(g.and_then(|g| g.duration.as_ref()))?,
        drain: opt_duration(g.and_then(|g| g.drain.as_ref()))?.unwrap_or(Duration::from_secs(40)),
    })
}

struct Ctx<'a> {
    base: &'a Path,
    target: Target,
}

impl Ctx<'_> {
    fn registrations(&self, s: &Spanned<RawRegistrations>) -> Result<RegistrationLoad> {
        let r = s.get_ref();
        let accounts =
            self.accounts(&r.users, r.password.as_deref(), r.credentials_file.as_ref())?;
        let total = match &r.total {
            Some(t) if *t.get_ref() == 0 => return err(t.span(), "total must be at least 1"),
            Some(t) => *t.get_ref(),
            None => accounts.len() as u64,
        };
        Ok(RegistrationLoad {
            accounts,
            rate: rate(&r.rate)?,
            arrival: arrival(r.arrival.as_ref())?,
            algorithm: algorithm(r.algorithm.as_ref())?,
            expires: r.expires.unwrap_or(3600),
            start: opt_duration(r.start.as_ref())?.unwrap_or_default(),
            total,
        })
    }

    fn agents(&self, s: &Spanned<RawAgents>) -> Result<AgentPool> {
        let a = s.get_ref();
        let register = a.register.unwrap_or(self.target != Target::SelfLoop);
        if register && self.target == Target::SelfLoop {
            return err(
                s.span(),
                "agents cannot register when target = \"self\" (no registrar)",
            );
        }
        let busy_status = match &a.busy_status {
            Some(b) if !(400..700).contains(b.get_ref()) => {
                return err(b.span(), "busy_status must be a 4xx-6xx code");
            }
            Some(b) => *b.get_ref(),
            None => 486,
        };
        let login = match &a.login {
            Some(l) if !valid_login(l.get_ref()) => {
                return err(
                    l.span(),
                    "login must be a dialable code: digits, * and # (e.g. \"*71\")",
                );
            }
            l => l.as_ref().map(|l| l.get_ref().clone()),
        };
        Ok(AgentPool {
            accounts: self.accounts(
                &a.extensions,
                a.password.as_deref(),
                a.credentials_file.as_ref(),
            )?,
            register,
            algorithm: algorithm(a.algorithm.as_ref())?,
            expires: a.expires.unwrap_or(3600).max(10),
            answer_delay: dist(a.answer_delay.as_ref(), "1s")?,
            handle_time: dist(a.handle_time.as_ref(), "30s")?,
            wrap_up: dist(a.wrap_up.as_ref(), "0s")?,
            hangup: hangup(a.hangup.as_ref(), "agent", "caller")?,
            busy_status,
            login,
            media: self.media(a.media, a.codec.as_ref(), a.audio.as_ref())?,
        })
    }

    fn calls(&self, index: usize, s: &Spanned<RawCalls>) -> Result<CallLoad> {
        let c = s.get_ref();
        let duration = opt_duration(c.duration.as_ref())?;
        let total = match &c.total {
            Some(t) if *t.get_ref() == 0 => return err(t.span(), "total must be at least 1"),
            t => t.as_ref().map(|t| *t.get_ref()),
        };
        if total.is_none() && duration.is_none() {
            return err(s.span(), "[[calls]] needs `total` or `duration` (or both)");
        }
        let max_concurrent = match &c.max_concurrent {
            Some(m) if *m.get_ref() == 0 => {
                return err(m.span(), "max_concurrent must be at least 1");
            }
            m => m.as_ref().map_or(u64::MAX, |m| *m.get_ref()),
        };
        let from = match &c.from {
            Some(users) => {
                self.accounts(users, c.password.as_deref(), c.credentials_file.as_ref())?
            }
            None => vec![Account {
                user: "loadgen".to_owned(),
                password: c.password.clone(),
            }],
        };
        Ok(CallLoad {
            name: c
                .name
                .clone()
                .unwrap_or_else(|| format!("calls-{}", index + 1)),
            to: users(&c.to)?,
            pick: pick(c.pick.as_ref())?,
            from,
            algorithm: algorithm(c.algorithm.as_ref())?,
            rate: rate(&c.rate)?,
            arrival: arrival(c.arrival.as_ref())?,
            max_concurrent,
            total,
            duration,
            start: opt_duration(c.start.as_ref())?.unwrap_or_default(),
            hold: dist(c.hold.as_ref(), "30s")?,
            hangup: hangup(c.hangup.as_ref(), "caller", "callee")?,
            max_call: opt_duration(c.max_call.as_ref())?.unwrap_or(Duration::from_secs(600)),
            media: self.media(c.media, c.codec.as_ref(), c.audio.as_ref())?,
            digits: c.digits.iter().map(digits).collect::<Result<_>>()?,
        })
    }

    fn accounts(
        &self,
        names: &Spanned<RawUsers>,
        password: Option<&str>,
        file: Option<&Spanned<String>>,
    ) -> Result<Vec<Account>> {
        let known = match file {
            Some(f) => {
                let path = self.base.join(f.get_ref());
                let text = std::fs::read_to_string(&path)
                    .or_else(|e| err(f.span(), format!("cannot read {}: {e}", path.display())))?;
                parse_credentials(&text)
            }
            None => HashMap::new(),
        };
        Ok(users(names)?
            .into_iter()
            .map(|user| {
                let password = known
                    .get(&user)
                    .cloned()
                    .or_else(|| password.map(|p| p.replace("{user}", &user)));
                Account { user, password }
            })
            .collect())
    }

    fn media(
        &self,
        on: Option<bool>,
        codec: Option<&Spanned<String>>,
        audio: Option<&Spanned<String>>,
    ) -> Result<Option<MediaSpec>> {
        if on == Some(false) {
            return Ok(None);
        }
        let codec = match codec {
            None => G711::Pcmu,
            Some(c) => match c.get_ref().to_ascii_uppercase().as_str() {
                "PCMU" => G711::Pcmu,
                "PCMA" => G711::Pcma,
                other => return err(c.span(), format!("codec `{other}` is not PCMU or PCMA")),
            },
        };
        let (samples, audio_name) = match audio {
            Some(a) => {
                let path = self.base.join(a.get_ref());
                let bytes = std::fs::read(&path)
                    .or_else(|e| err(a.span(), format!("cannot read {}: {e}", path.display())))?;
                let prompt = Prompt::from_wav(&bytes, SampleRate::Hz8000)
                    .or_else(|e| err(a.span(), format!("{}: {e}", path.display())))?;
                (prompt.samples().to_vec(), a.get_ref().clone())
            }
            None => (test_tone(), "built-in 440 Hz tone".to_owned()),
        };
        Ok(Some(MediaSpec {
            codec,
            audio: Arc::from(samples),
            audio_name,
        }))
    }
}

/// One second of a 440 Hz tone at -16 dBFS, then one second of silence.
fn test_tone() -> Vec<i16> {
    (0..16_000)
        .map(|n| {
            if n >= 8000 {
                return 0;
            }
            let x = (2.0 * std::f64::consts::PI * 440.0 * f64::from(n) / 8000.0).sin();
            (x * 5000.0) as i16
        })
        .collect()
}

/// `EXT PASSWORD` lines; blank lines and `#` comments skipped.
pub(super) fn parse_credentials(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            Some((words.next()?.to_owned(), words.next()?.to_owned()))
        })
        .collect()
}

fn users(raw: &Spanned<RawUsers>) -> Result<Vec<String>> {
    let items: Vec<&str> = match raw.get_ref() {
        RawUsers::One(s) => vec![s.as_str()],
        RawUsers::Many(v) => v.iter().map(String::as_str).collect(),
    };
    let mut out = Vec::new();
    for item in items {
        match expand_range(item) {
            Ok(names) => out.extend(names),
            Err(message) => return err(raw.span(), message),
        }
    }
    if out.is_empty() {
        return err(raw.span(), "the list of users is empty");
    }
    Ok(out)
}

/// `"1001-1005"` to five names (keeping the width of the first), anything
/// else to itself.
fn expand_range(item: &str) -> std::result::Result<Vec<String>, String> {
    let item = item.trim();
    if item.is_empty() || item.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("user `{item}` is empty or holds spaces"));
    }
    let Some((a, b)) = item.split_once('-') else {
        return Ok(vec![item.to_owned()]);
    };
    let (Ok(first), Ok(last)) = (a.parse::<u64>(), b.parse::<u64>()) else {
        return Ok(vec![item.to_owned()]);
    };
    if last < first || last - first >= MAX_USERS {
        return Err(format!(
            "range `{item}` must go up and hold at most {MAX_USERS} users"
        ));
    }
    let width = a.len();
    Ok((first..=last).map(|n| format!("{n:0width$}")).collect())
}

fn rate(raw: &Spanned<f64>) -> Result<f64> {
    let r = *raw.get_ref();
    if !r.is_finite() || r <= 0.0 || r > 1e6 {
        return err(
            raw.span(),
            format!("rate {r} must be above 0 and at most 1e6 per second"),
        );
    }
    Ok(r)
}

fn arrival(raw: Option<&Spanned<String>>) -> Result<ArrivalKind> {
    match raw.map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("poisson", _)) => Ok(ArrivalKind::Poisson),
        Some(("constant", _)) => Ok(ArrivalKind::Constant),
        Some((other, span)) => err(
            span,
            format!("arrival `{other}` is not \"poisson\" or \"constant\""),
        ),
    }
}

fn algorithm(raw: Option<&Spanned<String>>) -> Result<Algorithm> {
    match raw.map(|s| (s.get_ref().to_ascii_uppercase(), s.span())) {
        None => Ok(Algorithm::Md5),
        Some((name, _)) if name == "MD5" => Ok(Algorithm::Md5),
        Some((name, _)) if name == "SHA-256" => Ok(Algorithm::Sha256),
        Some((name, span)) => err(
            span,
            format!("algorithm `{name}` is not \"MD5\" or \"SHA-256\""),
        ),
    }
}

fn pick(raw: Option<&Spanned<String>>) -> Result<Pick> {
    match raw.map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("round-robin", _)) => Ok(Pick::RoundRobin),
        Some(("random", _)) => Ok(Pick::Random),
        Some((other, span)) => err(
            span,
            format!("pick `{other}` is not \"round-robin\" or \"random\""),
        ),
    }
}

/// A feature code: one or more of 0-9, `*` and `#`.
fn valid_login(code: &str) -> bool {
    !code.is_empty()
        && code
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

fn hangup(raw: Option<&Spanned<String>>, this: &str, other: &str) -> Result<HangUp> {
    match raw {
        None => Ok(HangUp::This),
        Some(s) if s.get_ref() == this => Ok(HangUp::This),
        Some(s) if s.get_ref() == other => Ok(HangUp::Other),
        Some(s) => err(
            s.span(),
            format!("hangup `{}` is not \"{this}\" or \"{other}\"", s.get_ref()),
        ),
    }
}

pub(super) fn opt_duration(raw: Option<&Spanned<String>>) -> Result<Option<Duration>> {
    raw.map(|s| parse_duration(s.get_ref()).or_else(|m| err(s.span(), m)))
        .transpose()
}

fn duration_field(text: Option<&str>, span: &Range<usize>, field: &str) -> Result<Duration> {
    match text {
        Some(t) => parse_duration(t).or_else(|m| err(span.clone(), format!("{field}: {m}"))),
        None => err(span.clone(), format!("this distribution needs `{field}`")),
    }
}

fn dist(raw: Option<&Spanned<RawDist>>, default: &str) -> Result<Distribution> {
    let Some(raw) = raw else {
        return parse_duration(default)
            .map(Distribution::Fixed)
            .or_else(|m| err(0..0, m));
    };
    let span = raw.span();
    let t = match raw.get_ref() {
        RawDist::Fixed(text) => {
            return parse_duration(text)
                .map(Distribution::Fixed)
                .or_else(|m| err(span, m));
        }
        RawDist::Table(t) => t,
    };
    let max = t.max.as_deref();
    match t.kind.as_str() {
        "fixed" => Ok(Distribution::Fixed(duration_field(
            t.value.as_deref(),
            &span,
            "value",
        )?)),
        "exponential" => Ok(Distribution::Exponential {
            mean: duration_field(t.mean.as_deref(), &span, "mean")?,
            max: max
                .map(|m| duration_field(Some(m), &span, "max"))
                .transpose()?,
        }),
        "uniform" => {
            let min = duration_field(t.min.as_deref(), &span, "min")?;
            let max = duration_field(max, &span, "max")?;
            if max < min {
                return err(span, "uniform: max is below min");
            }
            Ok(Distribution::Uniform { min, max })
        }
        other => err(
            span,
            format!("kind `{other}` is not fixed, exponential or uniform"),
        ),
    }
}

fn digits(raw: &Spanned<RawDigits>) -> Result<DigitPlan> {
    let d = raw.get_ref();
    let keys = d.keys.get_ref().clone();
    if keys.is_empty() {
        return err(d.keys.span(), "keys is empty");
    }
    if let Some(bad) = keys.chars().find(|&c| Digit::from_char(c).is_none()) {
        return err(
            d.keys.span(),
            format!("`{bad}` is not a DTMF key (0-9, *, #, A-D)"),
        );
    }
    let tone = opt_duration(d.tone.as_ref())?.unwrap_or(Duration::from_millis(100));
    if tone < Duration::from_millis(20) {
        return err(
            d.tone.as_ref().map_or(raw.span(), |t| t.span()),
            "tone must be at least 20ms",
        );
    }
    Ok(DigitPlan {
        at: parse_duration(d.at.get_ref()).or_else(|m| err(d.at.span(), m))?,
        keys,
        tone,
        gap: opt_duration(d.gap.as_ref())?.unwrap_or(Duration::from_millis(100)),
    })
}
