//! The `supervisors` key and the `[api]` table: clients on the node's CTI
//! event stream, and how they reach and authenticate to the node's API.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::build::{Result, err, opt_duration};
use super::raw::{RawApi, RawScenario};
use super::{ApiCredentials, SupervisorLoad};

/// Most event-stream clients one run may open.
const MAX_SUPERVISORS: u64 = 100_000;

/// The checked supervisors workload, if the file asks for one.
pub(super) fn supervisors(raw: &RawScenario, base: &Path) -> Result<Option<SupervisorLoad>> {
    let Some(count) = &raw.supervisors else {
        return Ok(None);
    };
    let clients = *count.get_ref();
    if clients == 0 {
        return Ok(None);
    }
    if clients > MAX_SUPERVISORS {
        return err(
            count.span(),
            format!("supervisors must be at most {MAX_SUPERVISORS}"),
        );
    }
    let Some(api) = &raw.api else {
        return err(
            count.span(),
            "supervisors need an [api] table (address, and a token, tokens_file or user and password)",
        );
    };
    let a = api.get_ref();
    let connect_rate = match &a.connect_rate {
        Some(r) if !(r.get_ref().is_finite() && *r.get_ref() > 0.0) => {
            return err(r.span(), "connect_rate must be above 0");
        }
        r => r.as_ref().map(|r| *r.get_ref()),
    };
    let linger = opt_duration(a.linger.as_ref())?.unwrap_or(Duration::from_secs(1));
    let linger_max = opt_duration(a.linger_max.as_ref())?.unwrap_or(Duration::from_secs(30));
    if linger_max < linger {
        return err(
            a.linger_max.as_ref().map_or(api.span(), Spanned::span),
            "linger_max is below linger",
        );
    }
    Ok(Some(SupervisorLoad {
        clients,
        api: address(&a.address)?,
        credentials: credentials(api, base)?,
        connect_rate,
        linger,
        linger_max,
    }))
}

fn address(raw: &Spanned<String>) -> Result<SocketAddr> {
    raw.get_ref()
        .trim()
        .parse()
        .or_else(|_| err(raw.span(), format!("`{}` is not IP:PORT", raw.get_ref())))
}

/// Exactly one of `token`, `tokens_file`, or `user` with `password`.
fn credentials(api: &Spanned<RawApi>, base: &Path) -> Result<ApiCredentials> {
    let a = api.get_ref();
    match (&a.token, &a.tokens_file, &a.user) {
        (Some(t), None, None) => Ok(ApiCredentials::Tokens(vec![token(t)?])),
        (None, Some(f), None) => tokens_file(f, base),
        (None, None, Some(user)) => match &a.password {
            Some(password) if !user.get_ref().is_empty() => Ok(ApiCredentials::Login {
                user: user.get_ref().clone(),
                password: password.clone(),
            }),
            _ => err(user.span(), "user needs a password"),
        },
        _ => err(
            api.span(),
            "[api] needs exactly one of token, tokens_file, or user and password",
        ),
    }
}

fn token(raw: &Spanned<String>) -> Result<String> {
    let t = raw.get_ref().trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return err(raw.span(), "token must be printable ASCII without spaces");
    }
    Ok(t.to_owned())
}

/// One token a line; blank lines and `#` comments skipped.
fn tokens_file(raw: &Spanned<String>, base: &Path) -> Result<ApiCredentials> {
    let path = base.join(raw.get_ref());
    let text = std::fs::read_to_string(&path)
        .or_else(|e| err(raw.span(), format!("cannot read {}: {e}", path.display())))?;
    let tokens: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    if tokens.is_empty() {
        return err(raw.span(), format!("{} holds no token", path.display()));
    }
    if tokens
        .iter()
        .any(|t| !t.bytes().all(|b| b.is_ascii_graphic()))
    {
        return err(
            raw.span(),
            format!(
                "{}: a token holds spaces or control characters",
                path.display()
            ),
        );
    }
    Ok(ApiCredentials::Tokens(tokens))
}
