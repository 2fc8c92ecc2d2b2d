//! Decoding one `[steps.NAME]` table by its `type`.
//!
//! Each decoder checks the keys its type allows, reads them with defaults, and
//! returns `None` when a required part is missing or malformed (the problem is
//! already reported).

use std::sync::Arc;
use std::time::Duration;

use super::Ctx;
use super::items::{self, literal, prompts, template, var_def, var_use};
use super::reader::Table;
use crate::diag::{DiagnosticKind, Problems};
use crate::flow::{
    Branch, CallFlow, Collect, Conference, FlowName, Http, HttpMethod, Lookup, LookupBy,
    MAX_ROOM_SIZE, MIN_ROOM_SIZE, Menu, Play, Queue, ROOM_NAME_RULE, Retry, SetVars, StepKind,
    Transfer, VarDef, Voicemail, is_room_name,
};
use crate::pattern::Pattern;
use crate::value::{BUILTINS, is_ident};

const TYPES: &str = "play, menu, collect, lookup, http, branch, set, queue, voicemail, transfer, conference, hangup, goto, call, return";

/// Decodes one step.
pub(crate) fn step(t: &Table<'_, '_>, ctx: &Ctx<'_>, p: &mut Problems) -> Option<StepKind> {
    let (ty, ty_at) = t.req_string("type", TYPES, p)?;
    let kind = match ty {
        "play" => StepKind::Play(play(t, ctx, p)?),
        "menu" => StepKind::Menu(menu(t, ctx, p)?),
        "collect" => StepKind::Collect(collect(t, ctx, p)?),
        "lookup" => StepKind::Lookup(lookup(t, ctx, p)?),
        "http" => StepKind::Http(http(t, ctx, p)?),
        "branch" => StepKind::Branch(branch(t, ctx, p)?),
        "set" => StepKind::Set(set(t, ctx, p)?),
        "queue" => StepKind::Queue(queue(t, ctx, p)?),
        "voicemail" => StepKind::Voicemail(voicemail(t, ctx, p)?),
        "transfer" => StepKind::Transfer(transfer(t, p)?),
        "conference" => StepKind::Conference(conference(t, ctx, p)?),
        "hangup" | "return" => {
            t.check_keys(&["type"], p);
            if ty == "hangup" {
                StepKind::Hangup
            } else {
                StepKind::Return
            }
        }
        "goto" => {
            t.check_keys(&["type", "next"], p);
            StepKind::Goto(ctx.target(t, "next", p)?)
        }
        "call" => StepKind::Call(call(t, ctx, p)?),
        other => {
            t.invalid(
                "type",
                ty_at,
                &format!("`{other}` is not a step type ({TYPES})"),
                p,
            );
            return None;
        }
    };
    Some(kind)
}

fn millis(t: &Table<'_, '_>, key: &str, default: u64, max: i64, p: &mut Problems) -> Duration {
    let ms = t.int(key, 100..=max, p).map_or(default, i64::unsigned_abs);
    Duration::from_millis(ms)
}

fn play(t: &Table<'_, '_>, ctx: &Ctx<'_>, p: &mut Problems) -> Option<Play> {
    t.check_keys(&["type", "play", "barge_in", "next"], p);
    if !t.has("play") {
        t.missing("play", "the prompts to play", p);
    }
    let items = prompts(t, "play", p);
    let barge_in = t.boolean("barge_in", p).unwrap_or(false);
    Some(Play {
        items,
        barge_in,
        next: ctx.target(t, "next", p)?,
    })
}

fn retry(t: &Table<'_, '_>, ctx: &Ctx<'_>, p: &mut Problems) -> Option<Retry> {
    let retries = t.int("retries", 0..=9, p).unwrap_or(2);
    Some(Retry {
        retries: u8::try_from(retries).unwrap_or(2),
        invalid_prompt: prompts(t, "invalid_prompt", p),
        timeout_prompt: prompts(t, "timeout_prompt", p),
        fallback: ctx.target(t, "fallback", p)?,
    })
}

const MENU_KEYS: &[&str] = &[
    "type",
    "prompt",
    "options",
    "var",
    "timeout_ms",
    "retries",
    "invalid_prompt",
    "timeout_prompt",
    "fallback",
];

fn menu(t: &Table<'_, '_>, ctx: &Ctx<'_>, p: &mut Problems) -> Option<Menu> {
    t.check_keys(MENU_KEYS, p);
    let prompt = prompts(t, "prompt", p);
    let var = var_def(t, "var", p);
    let timeout = millis(t, "timeout_ms", 5000, 60_000, p);
    let options = options(t, ctx, p);
    let retry = retry(t, ctx, p);
    Some(Menu {
        prompt,
        options: options?,
        var,
        timeout,
        retry: retry?,
    })
}

fn options(
    t: &Table<'_, '_>,
    ctx: &Ctx<'_>,
    p: &mut Problems,
) -> Option<Vec<(char, crate::flow::Target)>> {
    let Some(opts) = t.table("options", p) else {
        if !t.has("options") {
            t.missing("options", "a table of digit = \"step\"", p);
        }
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for ((key, key_at), _) in opts.entries() {
        let digit = match key.as_bytes() {
            [b @ (b'0'..=b'9' | b'*' | b'#')] => char::from(*b),
            _ => {
                let message = format!(
                    "{}: option `{key}` must be one key: 0-9, \"*\" or \"#\"",
                    t.what
                );
                p.error(key_at, DiagnosticKind::InvalidValue, message);
                ok = false;
                continue;
            }
        };
        match ctx.target(&opts, key, p) {
            Some(target) => out.push((digit, target)),
            None => ok = false,
        }
    }
    if out.is_empty() && ok {
        t.invalid("options", opts.at.clone(), "needs at least one digit", p);
        ok = false;
    }
    ok.then_some(out)
}

const COLLECT_KEYS: &[&str] = &[
    "type",
    "prompt",
    "var",
    "min_digits",
    "max_digits",
    "terminator",
    "first_digit_timeout_ms",
    "inter_digit_timeout_ms",
    "pattern",
    "luhn",
    "core",
    "retries",
    "invalid_prompt",
    "timeout_prompt",
    "next",
    "fallback",
];

fn collect(t: &Table<'_, '_>, ctx: &Ctx<'_>, p: &mut Problems) -> Option<Collect> {
    t.check_keys(COLLECT_KEYS, p);
    if !t.has("var") {
        t.missing("var", "the variable that receives the digits", p);
    }
    let prompt = prompts(t, "prompt", p);
    let var = var_def(t, "var", p);
    let min = t.int("min_digits", 1..=64, p).unwrap_or(1).unsigned_abs();
    let max = t.int("max_digits", 1..=64, p).unwrap_or(20).unsigned_abs();
    if min > max {
        let at = t.value("min_digits").map_or(t.at.clone(), |v| v.span());
        t.invalid(
            "min_digits",
            at,
            &format!("({min}) is more than max_digits ({max})"),
            p,
        );
    }
    let terminator = terminator(t, p);
    let pattern = t.string("pattern", p).and_then(|(text, at)| {
        Pattern::parse(text)
            .map_err(|e| t.invalid("pattern", at, &format!("is not a digit pattern: {e}"), p))
            .ok()
    });
    let next = ctx.target(t, "next", p);
    let retry = retry(t, ctx, p);
    Some(Collect {
        prompt,
        var: var?,
        min: usize::try_from(min).ok()?,
        max: usize::try_from(max).ok()?,
        terminator: terminator?,
        first_digit: millis(t, "first_digit_timeout_ms", 5000, 60_000, p),
        inter_digit: millis(t, "inter_digit_timeout_ms", 3000, 30_000, p),
        pattern,
        luhn: t.boolean("luhn", p).unwrap_or(false),
        core: t.boolean("core", p).unwrap_or(false),
        next: next?,
        retry: retry?,
    })
}

/// `terminator`: `"#"` by default, `"*"`, or `""` for none.
fn terminator(t: &Table<'_, '_>, p: &mut Problems) -> Option<Option<char>> {
    match t.string("terminator", p) {
        None => Some(Some('#')),
        Some(("", _)) => Some(None),
        Some(("#", _)) => Some(Some('#')),
        Some(("*", _)) => Some(Some('*')),
        Some((_, at)) => {
            t.invalid("terminator", at, "must be \"#\", \"*\" or \"\" (none)", p);
            None
        }
    }
}

fn fields(t: &Table<'_, '_>, ns: &str, p: &mut Problems) -> Vec<(Arc<str>, Arc<str>)> {
    let mut out = Vec::new();
    for (f, at) in t.strings("fields", p).unwrap_or_default() {
        if is_ident(f) {
            out.push((Arc::from(f), Arc::from(format!("{ns}.{f}").as_str())));
        } else {
            t.invalid("fields", at, &format!("entry `{f}` is not a field name"), p);
        }
    }
    out
}

fn lookup(t: &Table<'_, '_>, ctx: &Ctx<'_>, p: &mut Problems) -> Option<Lookup> {
    t.check_keys(
        &[
            "type",
            "by",
            "account",
            "fields",
            "timeout_ms",
            "found",
            "not_found",
        ],
        p,
    );
    let by = match t.req_string("by", "\"caller\" or \"account\"", p) {
        Some(("caller", _)) => Some(LookupBy::Caller),
        Some(("account", _)) => {
            if !t.has("account") {
                t.missing("account", "the variable holding the account number", p);
            }
            var_use(t, "account", p).map(LookupBy::Account)
        }
        Some((_, at)) => {
            t.invalid("by", at, "must be \"caller\" or \"account\"", p);
            None
        }
        None => None,
    };
    if !t.has("fields") {
        t.missing("fields", "the customer fields the flow uses", p);
    }
    let found = ctx.target(t, "found", p);
    let not_found = ctx.target(t, "not_found", p);
    Some(Lookup {
        by: by?,
        fields: fields(t, "customer", p),
        timeout: millis(t, "timeout_ms", 2000, 30_000, p),
        found: found?,
        not_found: not_found?,
    })
}

const HTTP_KEYS: &[&str] = &[
    "type",
    "endpoint",
    "method",
    "path",
    "body",
    "fields",
    "timeout_ms",
    "next",
    "fallback",
];

fn http(t: &Table<'_, '_>, ctx: &Ctx<'_>, p: &mut Problems) -> Option<Http> {
    t.check_keys(HTTP_KEYS, p);
    let endpoint = t.req_string(
        "endpoint",
        "an endpoint name from the node configuration",
        p,
    );
    let mut body = Vec::new();
    if let Some(b) = t.table("body", p) {
        for ((key, _), value) in b.entries() {
            if let Some((text, at)) = super::reader::as_str(value) {
                body.extend(
                    items::parse_template(&b, key, text, at, p).map(|tpl| (key.to_owned(), tpl)),
                );
            } else {
                b.wrong_type(key, value, "a string", p);
            }
        }
    }
    let method = match t.string("method", p) {
        None if t.has("body") => Some(HttpMethod::Post),
        None | Some(("GET", _)) => Some(HttpMethod::Get),
        Some(("POST", _)) => Some(HttpMethod::Post),
        Some(("PUT", _)) => Some(HttpMethod::Put),
        Some((_, at)) => {
            t.invalid("method", at, "must be \"GET\", \"POST\" or \"PUT\"", p);
            None
        }
    };
    if method == Some(HttpMethod::Get) && !body.is_empty() {
        t.invalid("method", t.at.clone(), "GET cannot send a `body`", p);
    }
    let path = template(t, "path", p).unwrap_or_default();
    let next = ctx.target(t, "next", p);
    let fallback = ctx.target(t, "fallback", p);
    Some(Http {
        endpoint: endpoint?.0.to_owned(),
        method: method?,
        path,
        body,
        fields: fields(t, "http", p),
        timeout: millis(t, "timeout_ms", 3000, 30_000, p),
        next: next?,
        fallback: fallback?,
    })
}

fn branch(t: &Table<'_, '_>, ctx: &Ctx<'_>, p: &mut Problems) -> Option<Branch> {
    t.check_keys(&["type", "cases", "else"], p);
    if !t.has("cases") {
        t.missing("cases", "an array of { condition…, goto = \"step\" }", p);
    }
    let step = t
        .what
        .trim_start_matches("step ")
        .trim_matches('`')
        .to_owned();
    let mut cases = Vec::new();
    let mut ok = true;
    for item in t.array("cases", p).unwrap_or_default() {
        match items::case(item, &step, ctx, p) {
            Some(c) => cases.push(c),
            None => ok = false,
        }
    }
    let otherwise = ctx.target(t, "else", p);
    ok.then_some(())?;
    Some(Branch {
        cases,
        otherwise: otherwise?,
    })
}

fn set(t: &Table<'_, '_>, ctx: &Ctx<'_>, p: &mut Problems) -> Option<SetVars> {
    t.check_keys(&["type", "vars", "next"], p);
    let Some(table) = t.table("vars", p) else {
        t.missing("vars", "a table of variable = value", p);
        return None;
    };
    let mut vars = Vec::new();
    let mut ok = true;
    for ((name, at), value) in table.entries() {
        if !is_ident(name) || (BUILTINS.contains(&name) && name != "language") {
            let message = format!(
                "{}: `{name}` is not a variable a step can set (lowercase name, not built in)",
                table.what
            );
            p.error(at, DiagnosticKind::InvalidValue, message);
            ok = false;
            continue;
        }
        let Some(v) = literal(value) else {
            table.wrong_type(name, value, "a string or an integer", p);
            ok = false;
            continue;
        };
        if name == "language" && !ctx.has_language(&v.to_string()) {
            let why = format!("`{v}` is not one of the flow's languages ([flow] languages)");
            table.invalid(name, value.span(), &why, p);
            ok = false;
            continue;
        }
        vars.push((
            VarDef {
                name: Arc::from(name),
            },
            v,
        ));
    }
    let next = ctx.target(t, "next", p);
    ok.then_some(())?;
    Some(SetVars { vars, next: next? })
}

fn queue(t: &Table<'_, '_>, ctx: &Ctx<'_>, p: &mut Problems) -> Option<Queue> {
    t.check_keys(
        &["type", "queue", "priority", "skills", "data", "on_exit"],
        p,
    );
    let name = t.req_string("queue", "the ACD queue name", p);
    let priority = t.int("priority", 0..=255, p).unwrap_or(0);
    let mut skills = Vec::new();
    if let Some(table) = t.table("skills", p) {
        for ((skill, at), _) in table.entries() {
            let level = table.int(skill, 0..=255, p);
            let tpl = items::parse_template(&table, skill, skill, at, p);
            if let (Some(tpl), Some(level)) = (tpl, level) {
                skills.push((tpl, u8::try_from(level).unwrap_or(u8::MAX)));
            }
        }
    }
    let mut data = Vec::new();
    if let Some(table) = t.table("data", p) {
        for ((key, _), _) in table.entries() {
            data.extend(template(&table, key, p).map(|tpl| (key.to_owned(), tpl)));
        }
    }
    let on_exit = ctx.opt_target(t, "on_exit", p);
    if t.has("on_exit") && on_exit.is_none() {
        return None;
    }
    Some(Queue {
        queue: name?.0.to_owned(),
        priority: u8::try_from(priority).unwrap_or(u8::MAX),
        skills,
        data,
        on_exit,
    })
}

fn voicemail(t: &Table<'_, '_>, ctx: &Ctx<'_>, p: &mut Problems) -> Option<Voicemail> {
    t.check_keys(
        &["type", "mailbox", "greeting", "max_duration_s", "next"],
        p,
    );
    let mailbox = t.req_string("mailbox", "the mailbox name", p);
    let max = t.int("max_duration_s", 5..=3600, p).unwrap_or(120);
    let next = ctx.opt_target(t, "next", p);
    if t.has("next") && next.is_none() {
        return None;
    }
    Some(Voicemail {
        mailbox: mailbox?.0.to_owned(),
        greeting: prompts(t, "greeting", p),
        max: Duration::from_secs(max.unsigned_abs()),
        next,
    })
}

fn transfer(t: &Table<'_, '_>, p: &mut Problems) -> Option<Transfer> {
    t.check_keys(&["type", "extension", "number"], p);
    match (t.has("extension"), t.has("number")) {
        (true, false) => Some(Transfer {
            target: template(t, "extension", p)?,
            external: false,
        }),
        (false, true) => Some(Transfer {
            target: template(t, "number", p)?,
            external: true,
        }),
        _ => {
            let message = format!(
                "{} needs exactly one of `extension` (an internal extension) or `number` (an outside number)",
                t.what
            );
            p.error(t.at.clone(), DiagnosticKind::MissingKey, message);
            None
        }
    }
}

fn conference(t: &Table<'_, '_>, ctx: &Ctx<'_>, p: &mut Problems) -> Option<Conference> {
    t.check_keys(&["type", "room", "full", "max", "record"], p);
    if !t.has("room") {
        t.missing("room", "the conference room name, a template", p);
    }
    let full = ctx.opt_target(t, "full", p);
    let sizes = i64::from(MIN_ROOM_SIZE)..=i64::from(MAX_ROOM_SIZE);
    let max = t.int("max", sizes, p).and_then(|n| u16::try_from(n).ok());
    let record = t.boolean("record", p).unwrap_or(false);
    let room = template(t, "room", p)?;
    if let Some(name) = room.as_literal()
        && !is_room_name(&name)
    {
        let why = format!("`{name}` is not a room name ({ROOM_NAME_RULE})");
        t.invalid("room", room.at.clone(), &why, p);
        return None;
    }
    if (t.has("full") && full.is_none()) || (t.has("max") && max.is_none()) {
        return None;
    }
    Some(Conference {
        room,
        full,
        max: max.unwrap_or(MAX_ROOM_SIZE),
        record,
    })
}

fn call(t: &Table<'_, '_>, ctx: &Ctx<'_>, p: &mut Problems) -> Option<CallFlow> {
    t.check_keys(&["type", "flow", "next"], p);
    let flow = t.req_string("flow", "the name of another flow file, without .toml", p);
    let next = ctx.target(t, "next", p);
    let (name, at) = flow?;
    if !is_flow_name(name) {
        t.invalid("flow", at, &format!("`{name}` is not a flow name"), p);
        return None;
    }
    Some(CallFlow {
        flow: FlowName(Arc::from(name)),
        at,
        next: next?,
    })
}

/// Whether `name` can name a flow file: lowercase letters, digits, `_` and `-`.
pub(crate) fn is_flow_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}
