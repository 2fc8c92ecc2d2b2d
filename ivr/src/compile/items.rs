//! Decoding the parts steps share: prompt lists, `branch` cases, variable
//! names, templates, and the `[hours.NAME]` schedules.

use std::sync::Arc;

use toml::Spanned;
use toml::de::DeValue;

use super::Ctx;
use super::reader::{Table, as_str, kind};
use crate::diag::{DiagnosticKind, Problems, Span};
use crate::flow::{Case, Cond, HoursTest, PromptItem, Test, VarDef};
use crate::hours::{self, Schedule};
use crate::say::SayAs;
use crate::value::{BUILTINS, Template, Value, VarUse, is_ident, is_var_name};

/// A prompt list (`play`, `prompt`, …): strings and `{ say, as }` tables.
pub(crate) fn prompts(t: &Table<'_, '_>, key: &str, p: &mut Problems) -> Vec<PromptItem> {
    let Some(value) = t.value(key) else {
        return Vec::new();
    };
    let items: Vec<&Spanned<DeValue<'_>>> = match value.get_ref() {
        DeValue::Array(items) => items.iter().collect(),
        _ => vec![value],
    };
    items
        .into_iter()
        .filter_map(|item| prompt_item(t, key, item, p))
        .collect()
}

fn prompt_item(
    t: &Table<'_, '_>,
    key: &str,
    item: &Spanned<DeValue<'_>>,
    p: &mut Problems,
) -> Option<PromptItem> {
    if let Some((name, at)) = as_str(item) {
        if !is_prompt_name(name) {
            let why = format!(
                "names prompt `{name}`: prompt names are letters, digits, `_`, `-` and `/`-separated parts"
            );
            t.invalid(key, at, &why, p);
            return None;
        }
        return Some(PromptItem::Named {
            name: name.to_owned(),
            at,
        });
    }
    let what = format!("a `say` item of {}", t.what);
    let say = Table::from_value(item, item.span(), what, p)?;
    say.check_keys(&["say", "as", "prefix", "values"], p);
    let value = template_or_int(&say, "say", p);
    let (as_name, as_at) = say.req_string("as", "number, digits, ordinal, date or word", p)?;
    let Some(kind) = SayAs::parse(as_name) else {
        say.invalid(
            "as",
            as_at,
            "must be number, digits, ordinal, date or word",
            p,
        );
        return None;
    };
    let (prefix, values) = word_values(&say, kind, p);
    Some(PromptItem::Say {
        value: value?,
        kind,
        prefix,
        values,
    })
}

fn word_values(say: &Table<'_, '_>, kind: SayAs, p: &mut Problems) -> (String, Vec<String>) {
    if kind != SayAs::Word {
        for key in ["prefix", "values"] {
            if let Some(v) = say.value(key) {
                say.invalid(key, v.span(), "is only for `as = \"word\"`", p);
            }
        }
        return (String::new(), Vec::new());
    }
    let prefix = say.string("prefix", p).map_or("", |(s, _)| s).to_owned();
    if !say.has("values") {
        say.missing("values", "the words the value may be, each a prompt", p);
    }
    let mut values = Vec::new();
    for (v, at) in say.strings("values", p).unwrap_or_default() {
        if is_prompt_name(&format!("{prefix}{v}")) {
            values.push(v.to_owned());
        } else {
            say.invalid(
                "values",
                at,
                &format!("entry `{prefix}{v}` is not a prompt name"),
                p,
            );
        }
    }
    (prefix, values)
}

/// Whether `name` is a relative prompt name: `/`-separated non-empty parts of
/// ASCII letters, digits, `_` and `-`.
pub(crate) fn is_prompt_name(name: &str) -> bool {
    name.split('/').all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    })
}

/// An optional template string.
pub(crate) fn template(t: &Table<'_, '_>, key: &str, p: &mut Problems) -> Option<Template> {
    let (text, at) = t.string(key, p)?;
    parse_template(t, key, text, at, p)
}

pub(crate) fn parse_template(
    t: &Table<'_, '_>,
    key: &str,
    text: &str,
    at: Span,
    p: &mut Problems,
) -> Option<Template> {
    match Template::parse(text, at.clone()) {
        Ok(tpl) => Some(tpl),
        Err(e) => {
            t.invalid(key, at, &format!("has {e}"), p);
            None
        }
    }
}

/// A template string, or an integer taken as its text.
fn template_or_int(t: &Table<'_, '_>, key: &str, p: &mut Problems) -> Option<Template> {
    let Some(v) = t.value(key) else {
        t.missing(key, "the value to say, such as \"${account}\" or 42", p);
        return None;
    };
    if let DeValue::Integer(i) = v.get_ref() {
        return Some(Template::literal(i.as_str(), v.span()));
    }
    template(t, key, p)
}

/// A variable name a step sets (`var`): an identifier that is not built in.
pub(crate) fn var_def(t: &Table<'_, '_>, key: &str, p: &mut Problems) -> Option<VarDef> {
    let (name, at) = t.string(key, p)?;
    if !is_ident(name) || (BUILTINS.contains(&name) && name != "language") {
        let why =
            format!("`{name}` is not a variable a step can set (lowercase name, not built in)");
        t.invalid(key, at, &why, p);
        return None;
    }
    Some(VarDef {
        name: Arc::from(name),
    })
}

/// A variable name a step reads.
pub(crate) fn var_use(t: &Table<'_, '_>, key: &str, p: &mut Problems) -> Option<VarUse> {
    let (name, at) = t.string(key, p)?;
    if !is_var_name(name) {
        t.invalid(key, at, &format!("`{name}` is not a variable name"), p);
        return None;
    }
    Some(VarUse {
        name: Arc::from(name),
        at,
    })
}

/// A literal value (string or integer).
pub(crate) fn literal(v: &Spanned<DeValue<'_>>) -> Option<Value> {
    match v.get_ref() {
        DeValue::String(s) => Some(Value::Text(s.to_string())),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(Value::Int),
        _ => None,
    }
}

const CASE_KEYS: &[&str] = &[
    "goto", "var", "eq", "ne", "lt", "le", "gt", "ge", "prefix", "in", "set", "open", "closed",
    "holiday",
];
const TESTS: &[&str] = &["eq", "ne", "lt", "le", "gt", "ge", "prefix", "in"];

/// One entry of a `branch`'s `cases`.
pub(crate) fn case(
    item: &Spanned<DeValue<'_>>,
    step: &str,
    ctx: &Ctx<'_>,
    p: &mut Problems,
) -> Option<Case> {
    let what = format!("a case of step `{step}`");
    let t = Table::from_value(item, item.span(), what, p)?;
    t.check_keys(CASE_KEYS, p);
    let goto = ctx.target(&t, "goto", p);
    let mut conds = Vec::new();
    let mut ok = var_cond(&t, &mut conds, p);
    if let Some(list) = t.strings("set", p) {
        let mut vars = Vec::new();
        for (name, at) in list {
            if is_var_name(name) {
                vars.push(VarUse {
                    name: Arc::from(name),
                    at,
                });
            } else {
                t.invalid("set", at, &format!("`{name}` is not a variable name"), p);
                ok = false;
            }
        }
        conds.push(Cond::Set(vars));
    }
    ok &= hours_conds(&t, ctx, &mut conds, p);
    if conds.is_empty() && ok {
        let message = format!(
            "{}: needs a condition (var, set, open, closed or holiday)",
            t.what
        );
        p.error(t.at.clone(), DiagnosticKind::MissingKey, message);
        ok = false;
    }
    ok.then_some(())?;
    Some(Case { conds, goto: goto? })
}

/// The `open`, `closed` and `holiday` conditions of a case; false when one names no schedule.
fn hours_conds(t: &Table<'_, '_>, ctx: &Ctx<'_>, conds: &mut Vec<Cond>, p: &mut Problems) -> bool {
    let mut ok = true;
    for (key, when) in [
        ("open", HoursTest::Open),
        ("closed", HoursTest::Closed),
        ("holiday", HoursTest::Holiday),
    ] {
        let Some((name, at)) = t.string(key, p) else {
            continue;
        };
        match ctx.schedule(name) {
            Some(schedule) => conds.push(Cond::Hours { schedule, when }),
            None => {
                let why = format!("names no schedule `{name}` (define [hours.{name}])");
                t.invalid(key, at, &why, p);
                ok = false;
            }
        }
    }
    ok
}

/// The `var` condition of a case, if any; false when it is malformed.
fn var_cond(t: &Table<'_, '_>, conds: &mut Vec<Cond>, p: &mut Problems) -> bool {
    let tests: Vec<&str> = TESTS.iter().copied().filter(|k| t.has(k)).collect();
    let Some(var) = var_use(t, "var", p) else {
        if let Some(first) = tests.first() {
            let at = t.value(first).map_or(t.at.clone(), |v| v.span());
            t.invalid(first, at, "needs `var` (the variable to test)", p);
            return false;
        }
        return !t.has("var");
    };
    let [key] = tests.as_slice() else {
        let message = format!(
            "{}: `var` needs exactly one test of: {}",
            t.what,
            TESTS.join(", ")
        );
        p.error(var.at.clone(), DiagnosticKind::InvalidValue, message);
        return false;
    };
    match test(t, key, p) {
        Some(test) => {
            conds.push(Cond::Var { var, test });
            true
        }
        None => false,
    }
}

fn test(t: &Table<'_, '_>, key: &str, p: &mut Problems) -> Option<Test> {
    let v = t.value(key)?;
    let num = |p: &mut Problems| t.int(key, i64::MIN..=i64::MAX, p);
    let test = match key {
        "eq" | "ne" => {
            let Some(value) = literal(v) else {
                t.wrong_type(key, v, "a string or an integer", p);
                return None;
            };
            if key == "eq" {
                Test::Eq(value)
            } else {
                Test::Ne(value)
            }
        }
        "lt" => Test::Lt(num(p)?),
        "le" => Test::Le(num(p)?),
        "gt" => Test::Gt(num(p)?),
        "ge" => Test::Ge(num(p)?),
        "prefix" => Test::Prefix(t.string(key, p)?.0.to_owned()),
        _ => {
            let mut values = Vec::new();
            for item in t.array(key, p)? {
                match literal(item) {
                    Some(v) => values.push(v),
                    None => t.wrong_type(key, item, "a string or an integer", p),
                }
            }
            Test::In(values)
        }
    };
    Some(test)
}

/// Every `[hours.NAME]` table.
pub(crate) fn schedules(hours: &Table<'_, '_>, p: &mut Problems) -> Vec<Schedule> {
    let mut out = Vec::new();
    for ((name, at), value) in hours.entries() {
        let what = format!("schedule `{name}`");
        let Some(t) = Table::from_value(value, at.clone(), what, p) else {
            continue;
        };
        if !is_ident(name) {
            let message = format!("schedule name `{name}` must be a lowercase identifier");
            p.error(at, DiagnosticKind::InvalidValue, message);
            continue;
        }
        if let Some(s) = schedule(name, &t, p) {
            out.push(s);
        }
    }
    out
}

fn schedule(name: &str, t: &Table<'_, '_>, p: &mut Problems) -> Option<Schedule> {
    let (zone_name, zone_at) = t.req_string("zone", "a time zone such as \"Europe/Madrid\"", p)?;
    let Some(zone) = hours::zone(zone_name) else {
        t.invalid(
            "zone",
            zone_at,
            &format!("`{zone_name}` is not a known time zone"),
            p,
        );
        return None;
    };
    let mut s = Schedule::new(name, zone);
    for ((key, key_at), value) in t.entries() {
        match key {
            "zone" => {}
            "holidays" => holidays(t, value, &mut s, p),
            _ => match hours::day_key(key) {
                Some(days) => day_intervals(t, key, &days, &mut s, p),
                None => {
                    let message = format!(
                        "unknown key `{key}` in {}, expected zone, holidays, or days such as mon, sat, mon-fri",
                        t.what
                    );
                    p.error(key_at, DiagnosticKind::UnknownKey, message);
                }
            },
        }
    }
    Some(s)
}

fn day_intervals(t: &Table<'_, '_>, key: &str, days: &[usize], s: &mut Schedule, p: &mut Problems) {
    for (text, at) in t.strings(key, p).unwrap_or_default() {
        match hours::interval(text) {
            Ok(interval) => {
                for &d in days {
                    s.add_interval(d, interval);
                }
            }
            Err(why) => t.invalid(key, at, &why, p),
        }
    }
}

fn holidays(t: &Table<'_, '_>, value: &Spanned<DeValue<'_>>, s: &mut Schedule, p: &mut Problems) {
    let DeValue::Array(items) = value.get_ref() else {
        t.wrong_type("holidays", value, "an array of dates", p);
        return;
    };
    for item in items.iter() {
        let parsed = match item.get_ref() {
            DeValue::Datetime(dt) => match (dt.date, dt.time) {
                (Some(d), None) => hours::holiday(&d.to_string()),
                _ => None,
            },
            DeValue::String(text) => hours::holiday(text),
            other => {
                let why = format!(
                    "entries must be dates such as 2026-12-25, found {}",
                    kind(other)
                );
                t.invalid("holidays", item.span(), &why, p);
                continue;
            }
        };
        match parsed {
            Some(h) => s.add_holiday(h),
            None => t.invalid(
                "holidays",
                item.span(),
                "entries must be dates (2026-12-25) or yearly \"MM-DD\" strings",
                p,
            ),
        }
    }
}
