//! `[acd]`: queues, agents and routing rules, decoded into [`acd::AcdConfig`], and what
//! the node does per queue beyond routing ([`QueueOptions`]: alert thresholds, the
//! post-call survey).
//!
//! ```toml
//! [acd]
//! rules = '''
//! when user_level == 'VIP' -> assign_to_group('premium')
//! otherwise -> round_robin('default_group')
//! '''
//! attributes = { user_level = "string" }
//!
//! [[acd.queues]]
//! name = "sales"
//! strategy = "longest_idle"
//! when_timed_out = "voicemail:sales"
//! escalation = [{ after_s = 60, widen_tiers = 2 }]
//! alert_wait_s = 60            # a caller waiting this long raises an alert
//! alert_service_level = 0.8    # so does a service level below this
//! survey_flow = "survey"       # the caller's post-call survey when the agent hangs up
//! escalate_to = "senior"       # a caller unhappy with an agent goes to this queue…
//! escalate_below = -0.5        # …when this many utterances in a row score below this
//! escalate_utterances = 2
//!
//! [[acd.agents]]
//! id = "1001"
//! queues = { sales = 1 }
//! skills = { en = 5, sales = 3 }
//! ```
//!
//! Every problem is reported at its key; rule-text errors at their line and column in
//! the file (exact for `'''literal'''` rule strings, which need no escapes). Checks
//! that need the whole configuration (an agent in an unknown queue, a rule naming an
//! unknown queue) are made by building the engine once and are reported at `[acd]`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use acd::{
    AcdConfig, AgentConfig, Announcements, AttrType, AttributeSchema, Escalation, EscalationStep,
    OverflowTarget, Proficiency, QueueConfig, RonaPolicy, RuleSet, Strategy,
};

use crate::error::{ProblemKind, Problems};
use crate::reader::Section;

/// Keys of `[acd]`.
pub(crate) const ACD_KEYS: &[&str] = &[
    "rules",
    "attributes",
    "rona_max_misses",
    "rona_rest_s",
    "refusal_rest_s",
    "queues",
    "agents",
];
const QUEUE_KEYS: &[&str] = &[
    "name",
    "strategy",
    "ring_timeout_s",
    "wrap_up_s",
    "tier_limit",
    "max_len",
    "max_wait_s",
    "when_full",
    "when_timed_out",
    "when_no_agents",
    "announce_first_s",
    "announce_period_s",
    "service_level_s",
    "expected_handle_s",
    "escalation",
    "alert_wait_s",
    "alert_service_level",
    "survey_flow",
    "escalate_to",
    "escalate_below",
    "escalate_utterances",
    "wrap_up_codes",
];
const ESCALATION_KEYS: &[&str] = &[
    "after_s",
    "widen_tiers",
    "lower_required",
    "drop_required",
    "add_queues",
    "raise_priority",
];
const AGENT_KEYS: &[&str] = &["id", "queues", "skills", "weight", "auto_answer"];

/// What the node does for one queue beyond the ACD's routing.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QueueOptions {
    /// A caller waiting this long raises a supervisor alert (`alert_wait_s`, 1..=86400;
    /// default 60 s).
    pub alert_wait: Duration,
    /// A service level below this share raises an alert (`alert_service_level`,
    /// 0..=1; default 0.8).
    pub alert_service_level: f64,
    /// The IVR flow a caller is handed to when the agent hangs up first
    /// (`survey_flow`); `None`: the caller is released.
    pub survey_flow: Option<String>,
    /// Sentiment escalation: an answered caller whose utterances keep scoring low
    /// leaves the agent for this queue, ahead of everyone waiting there
    /// (`escalate_to`, `escalate_below`, `escalate_utterances`); needs the bridge's
    /// speech analytics (`[bridge] audio`).
    pub escalation: Option<SentimentEscalation>,
    /// The codes an agent may wrap this queue's calls up with (`PUT
    /// /api/v1/cdrs/{id}/wrap-up`); empty: any well-formed code.
    pub wrap_up_codes: Vec<String>,
}

/// When a live call moves to a senior queue on the caller's sentiment.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SentimentEscalation {
    /// The queue the caller is moved to (`escalate_to`; another configured queue).
    pub to: String,
    /// An utterance scoring below this counts (`escalate_below`, −1..1 on the
    /// analytics' scale; default −0.5).
    pub below: f64,
    /// This many of the caller's utterances in a row must count
    /// (`escalate_utterances`, 1..=20; default 2).
    pub utterances: u32,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            alert_wait: Duration::from_secs(60),
            alert_service_level: 0.8,
            survey_flow: None,
            escalation: None,
            wrap_up_codes: Vec::new(),
        }
    }
}

/// What `[acd]` decodes to besides the engine's configuration.
#[derive(Debug, Default)]
pub(crate) struct AcdExtras {
    /// Each queue's [`QueueOptions`], by queue name.
    pub(crate) queue_options: BTreeMap<String, QueueOptions>,
    /// The agents whose phones are asked to answer ACD calls by themselves.
    pub(crate) auto_answer: BTreeSet<String>,
}

/// Decodes `[acd]`; the result is checked by building the engine.
pub(crate) fn acd_section(
    s: &Section<'_, '_>,
    src: &str,
    p: &mut Problems,
) -> (AcdConfig, AcdExtras) {
    let d = AcdConfig::default();
    let rona = RonaPolicy {
        max_misses: s
            .number(p, "rona_max_misses", 0..=100)
            .map_or(d.rona.max_misses, |f| f.value),
        rest_after_miss: s
            .seconds(p, "rona_rest_s", 0..=3600)
            .map_or(d.rona.rest_after_miss, |f| f.value),
        rest_after_refusal: s
            .seconds(p, "refusal_rest_s", 0..=3600)
            .map_or(d.rona.rest_after_refusal, |f| f.value),
    };
    let queue_sections = s.sections("queues", QUEUE_KEYS, p);
    let mut decoded = Vec::with_capacity(queue_sections.len());
    for section in &queue_sections {
        if let Some(queue) = queue(section, p) {
            decoded.push((queue, queue_options(section, p), section));
        }
    }
    let names: Vec<String> = decoded.iter().map(|(c, ..)| c.id.to_string()).collect();
    for (config, options, section) in &decoded {
        check_escalation(&config.id.to_string(), options, &names, section, p);
    }
    let (queues, options): (Vec<QueueConfig>, BTreeMap<String, QueueOptions>) = decoded
        .into_iter()
        .map(|(c, o, _)| {
            let name = c.id.to_string();
            (c, (name, o))
        })
        .unzip();
    let mut auto_answer = BTreeSet::new();
    let agents: Vec<AgentConfig> = s
        .sections("agents", AGENT_KEYS, p)
        .iter()
        .filter_map(|a| {
            let config = agent(a, p)?;
            if a.boolean(p, "auto_answer").is_some_and(|f| f.value) {
                auto_answer.insert(config.id.to_string());
            }
            Some(config)
        })
        .collect();
    let rules = rules(s, src, p).unwrap_or_default();
    let config = AcdConfig {
        queues,
        agents,
        rules,
        rona,
        ..d
    };
    if p.is_empty()
        && let Err(error) = acd::Acd::new(config.clone())
    {
        match (&error, s.value_at("rules")) {
            (acd::ConfigError::Rule(rule), Some(value)) => {
                let at = text_in_file(src, &value, rule.span.start..rule.span.end);
                s.invalid(
                    p,
                    at,
                    "rules",
                    ProblemKind::Inconsistent,
                    &rule.kind.to_string(),
                );
            }
            _ => {
                let at = s
                    .key_at("queues")
                    .or_else(|| s.key_at("agents"))
                    .unwrap_or_else(|| s.span());
                s.invalid(
                    p,
                    at,
                    "queues",
                    ProblemKind::Inconsistent,
                    &error.to_string(),
                );
            }
        }
    }
    let extras = AcdExtras {
        queue_options: options,
        auto_answer,
    };
    (config, extras)
}

/// A queue's alert thresholds and survey flow.
fn queue_options(q: &Section<'_, '_>, p: &mut Problems) -> QueueOptions {
    let d = QueueOptions::default();
    let survey = q.parsed(p, "survey_flow", "a flow name (a-z 0-9 _ -)", |v| {
        valid_flow_name(v).then(|| v.to_owned())
    });
    QueueOptions {
        alert_wait: q
            .seconds(p, "alert_wait_s", 1..=86_400)
            .map_or(d.alert_wait, |f| f.value),
        alert_service_level: q
            .float(p, "alert_service_level", 0.0..=1.0)
            .map_or(d.alert_service_level, |f| f.value),
        survey_flow: survey.map(|f| f.value),
        escalation: sentiment_escalation(q, p),
        wrap_up_codes: wrap_up_codes(q, p),
    }
}

/// Whether `code` is a wrap-up code: 1 to 64 of a-z 0-9 _ -.
#[must_use]
pub fn valid_wrap_up_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A queue's `wrap_up_codes`, each checked and none twice.
fn wrap_up_codes(q: &Section<'_, '_>, p: &mut Problems) -> Vec<String> {
    const KEY: &str = "wrap_up_codes";
    let Some(field) = q.strings(p, KEY, "an array of codes (1 to 64 of a-z 0-9 _ -)") else {
        return Vec::new();
    };
    let mut codes: Vec<String> = Vec::with_capacity(field.value.len());
    for item in &field.value {
        let code = *item.get_ref();
        let problem = if !valid_wrap_up_code(code) {
            Some(format!("{code:?} is not a code (1 to 64 of a-z 0-9 _ -)"))
        } else if codes.iter().any(|c| c == code) {
            Some(format!("{code:?} is listed twice"))
        } else {
            None
        };
        match problem {
            Some(what) => q.invalid(p, item.span(), KEY, ProblemKind::InvalidValue, &what),
            None => codes.push(code.to_owned()),
        }
    }
    codes
}

/// A queue's `escalate_to` names another configured queue.
fn check_escalation(
    name: &str,
    options: &QueueOptions,
    names: &[String],
    section: &Section<'_, '_>,
    p: &mut Problems,
) {
    let Some(to) = options.escalation.as_ref().map(|e| e.to.as_str()) else {
        return;
    };
    let problem = if to == name {
        "the queue itself"
    } else if !names.iter().any(|n| n == to) {
        "not a configured queue"
    } else {
        return;
    };
    if let Some(at) = section.key_at("escalate_to") {
        let message = format!("`{to}` is {problem}");
        section.invalid(p, at, "escalate_to", ProblemKind::Inconsistent, &message);
    }
}

/// `escalate_to` and its thresholds; the thresholds alone are an error.
fn sentiment_escalation(q: &Section<'_, '_>, p: &mut Problems) -> Option<SentimentEscalation> {
    let to = q.parsed(p, "escalate_to", "a queue name (A-Z a-z 0-9 - _)", |v| {
        valid_name(v).then(|| v.to_owned())
    });
    let below = q.float(p, "escalate_below", -1.0..=1.0);
    let utterances = q.number(p, "escalate_utterances", 1..=20);
    let Some(to) = to else {
        for key in ["escalate_below", "escalate_utterances"] {
            if let Some(at) = q.key_at(key) {
                q.invalid(p, at, key, ProblemKind::Inconsistent, "needs `escalate_to`");
            }
        }
        return None;
    };
    Some(SentimentEscalation {
        to: to.value,
        below: below.map_or(-0.5, |f| f.value),
        utterances: utterances.map_or(2, |f| f.value),
    })
}

/// A flow's name is its file's name: lowercase letters, digits, `_` and `-`.
fn valid_flow_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn queue(q: &Section<'_, '_>, p: &mut Problems) -> Option<QueueConfig> {
    let Some(name) = q.parsed(p, "name", "a queue name (A-Z a-z 0-9 - _)", |v| {
        valid_name(v).then(|| v.to_owned())
    }) else {
        if !q.has("name") {
            q.invalid(
                p,
                q.span(),
                "name",
                ProblemKind::InvalidValue,
                "every queue needs a name",
            );
        }
        return None;
    };
    let expected = format!("one of: {}", strategy_names());
    let strategy = q
        .parsed(p, "strategy", &expected, Strategy::from_name)
        .map_or(Strategy::LongestIdle, |f| f.value);
    let mut c = QueueConfig::new(name.value.as_str(), strategy);
    if let Some(f) = q.seconds(p, "ring_timeout_s", 1..=600) {
        c.ring_timeout = f.value;
    }
    if let Some(f) = q.seconds(p, "wrap_up_s", 0..=3600) {
        c.wrap_up = f.value;
    }
    if let Some(f) = q.number(p, "tier_limit", 1..=255) {
        c.tier_limit = f.value;
    }
    c.max_len = q.number(p, "max_len", 1..=1_000_000).map(|f| f.value);
    c.max_wait = q.seconds(p, "max_wait_s", 1..=86_400).map(|f| f.value);
    if let Some(t) = target(q, p, "when_full") {
        c.overflow.when_full = t;
    }
    if let Some(t) = target(q, p, "when_timed_out") {
        c.overflow.when_timed_out = t;
    }
    c.overflow.when_no_agents = target(q, p, "when_no_agents");
    let first = q.seconds(p, "announce_first_s", 0..=3600);
    let period = q.seconds(p, "announce_period_s", 1..=3600);
    if let Some(period) = period {
        c.announce = Some(Announcements {
            first_after: first.map_or(Duration::ZERO, |f| f.value),
            period: period.value,
        });
    } else if let Some(first) = first {
        q.invalid(
            p,
            first.key_at,
            "announce_first_s",
            ProblemKind::Inconsistent,
            "announcements need announce_period_s too",
        );
    }
    if let Some(f) = q.seconds(p, "service_level_s", 1..=3600) {
        c.service_level_threshold = f.value;
    }
    if let Some(f) = q.seconds(p, "expected_handle_s", 1..=86_400) {
        c.expected_handle_time = f.value;
    }
    c.escalation = q
        .sections("escalation", ESCALATION_KEYS, p)
        .iter()
        .filter_map(|e| escalation(e, p))
        .collect();
    c.escalation.sort_by_key(|e| e.after);
    Some(c)
}

fn escalation(e: &Section<'_, '_>, p: &mut Problems) -> Option<EscalationStep> {
    let Some(after) = e.seconds(p, "after_s", 0..=86_400) else {
        if !e.has("after_s") {
            e.invalid(
                p,
                e.span(),
                "after_s",
                ProblemKind::InvalidValue,
                "an escalation step needs after_s",
            );
        }
        return None;
    };
    let mut actions = Vec::new();
    if let Some(f) = e.number(p, "widen_tiers", 1..=255) {
        actions.push(Escalation::WidenTiers { max_level: f.value });
    }
    if let Some(f) = e.number(p, "lower_required", 1..=4) {
        actions.push(Escalation::LowerRequired { by: f.value });
    }
    if e.boolean(p, "drop_required").is_some_and(|f| f.value) {
        actions.push(Escalation::DropRequired);
    }
    if let Some(f) = e.strings(p, "add_queues", "an array of queue names") {
        let queues = f.value.iter().map(|q| (*q.get_ref()).into()).collect();
        actions.push(Escalation::AddQueues(queues));
    }
    if let Some(f) = e.number(p, "raise_priority", 1..=1000) {
        actions.push(Escalation::RaisePriority { by: f.value });
    }
    match actions.len() {
        1 => actions.pop().map(|action| EscalationStep {
            after: after.value,
            action,
        }),
        n => {
            let what = format!(
                "an escalation step has exactly one of widen_tiers, lower_required, \
                 drop_required, add_queues, raise_priority (found {n})"
            );
            e.invalid(p, after.key_at, "after_s", ProblemKind::Inconsistent, &what);
            None
        }
    }
}

/// An overflow target: `queue:NAME`, `voicemail:BOX`, `callback`, `cloud`, `disconnect`.
fn target(q: &Section<'_, '_>, p: &mut Problems, key: &str) -> Option<OverflowTarget> {
    let expected = "\"queue:NAME\", \"voicemail:BOX\", \"callback\", \"cloud\" or \"disconnect\"";
    q.parsed(p, key, expected, parse_target).map(|f| f.value)
}

fn parse_target(v: &str) -> Option<OverflowTarget> {
    match v.split_once(':') {
        Some(("queue", name)) if valid_name(name) => Some(OverflowTarget::Queue(name.into())),
        Some(("voicemail", mailbox)) if valid_name(mailbox) => {
            Some(OverflowTarget::Voicemail(mailbox.to_owned()))
        }
        None => match v {
            "callback" => Some(OverflowTarget::Callback),
            "cloud" => Some(OverflowTarget::Cloud),
            "disconnect" => Some(OverflowTarget::Disconnect),
            _ => None,
        },
        _ => None,
    }
}

fn agent(a: &Section<'_, '_>, p: &mut Problems) -> Option<AgentConfig> {
    let Some(id) = a.parsed(
        p,
        "id",
        "an agent id: the extension (1 to 32 of 0-9 A-Z a-z . _ -)",
        |v| {
            ((1..=32).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)))
            .then(|| v.to_owned())
        },
    ) else {
        if !a.has("id") {
            a.invalid(
                p,
                a.span(),
                "id",
                ProblemKind::InvalidValue,
                "every agent needs an id",
            );
        }
        return None;
    };
    let mut c = AgentConfig::new(id.value.as_str());
    for (position, (queue, level)) in a
        .integer_table(p, "queues", 1..=255)
        .into_iter()
        .enumerate()
    {
        c = c.with_tier(
            *queue.get_ref(),
            level,
            u32::try_from(position).unwrap_or(u32::MAX),
        );
    }
    c.skills = a
        .integer_table(p, "skills", 1..=5)
        .into_iter()
        .map(|(skill, level)| Proficiency {
            skill: (*skill.get_ref()).to_owned(),
            level,
        })
        .collect();
    if let Some(f) = a.number(p, "weight", 1..=1000) {
        c.weight = f.value;
    }
    Some(c)
}

/// The rule text, parsed against the declared attributes; its errors are placed in
/// the file.
fn rules(s: &Section<'_, '_>, src: &str, p: &mut Problems) -> Option<RuleSet> {
    let mut schema = AttributeSchema::new();
    if let Some(table) = s.string_table(
        p,
        "attributes",
        "a table of attribute = \"string\" | \"number\" | \"bool\"",
    ) {
        for (name, ty) in table.value {
            let ty = match *ty.get_ref() {
                "string" => AttrType::Str,
                "number" => AttrType::Num,
                "bool" => AttrType::Bool,
                other => {
                    let what = format!("{other:?} is not an attribute type (string, number, bool)");
                    s.invalid(p, ty.span(), "attributes", ProblemKind::InvalidValue, &what);
                    continue;
                }
            };
            schema = schema.with(name.get_ref(), ty);
        }
    }
    let text = s.string(p, "rules", "the rule text (a '''literal''' string)")?;
    let value_at = s.value_at("rules").unwrap_or(0..0);
    match RuleSet::parse(text.value, &schema) {
        Ok(rules) => Some(rules),
        Err(error) => {
            let at = text_in_file(src, &value_at, error.span.start..error.span.end);
            s.invalid(
                p,
                at,
                "rules",
                ProblemKind::InvalidValue,
                &error.kind.to_string(),
            );
            None
        }
    }
}

/// Where bytes `inner` of a string's content are in the file, given the span of the
/// string value (quotes included). Exact for literal strings; for basic strings with
/// escapes it points at the string.
fn text_in_file(src: &str, value: &Range<usize>, inner: Range<usize>) -> Range<usize> {
    let raw = src.get(value.clone()).unwrap_or_default();
    let mut open = if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
        3
    } else {
        1
    };
    // A newline right after a multi-line opening delimiter is not part of the string.
    if open == 3 && raw[3..].starts_with('\n') {
        open += 1;
    } else if open == 3 && raw[3..].starts_with("\r\n") {
        open += 2;
    }
    let start = value.start + open + inner.start;
    let end = (value.start + open + inner.end).min(value.end);
    if start < value.end {
        start..end.max(start)
    } else {
        value.clone()
    }
}

fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn strategy_names() -> String {
    Strategy::ALL
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(", ")
}
