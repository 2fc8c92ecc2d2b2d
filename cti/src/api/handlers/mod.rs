//! The REST handlers, one module per resource. Each checks the caller's
//! role and scope first, then does the work, then writes its audit row
//! (when the action is audited) before answering.

pub(crate) mod admin;
pub(crate) mod callbacks;
pub(crate) mod calls;
pub(crate) mod cdrs;
pub(crate) mod control;
pub(crate) mod customers;
pub(crate) mod media;
pub(crate) mod membership;
pub(crate) mod monitor;
pub(crate) mod recording;
pub(crate) mod reports;
pub(crate) mod webhooks;

use super::auth::Principal;

/// Longest extension or number accepted.
const EXTENSION_MAX_LEN: usize = 32;

/// An extension: 1 to 32 digits.
pub(super) fn valid_extension(ext: &str) -> bool {
    !ext.is_empty() && ext.len() <= EXTENSION_MAX_LEN && ext.bytes().all(|b| b.is_ascii_digit())
}

/// An extension, or an external number a trunk may carry (`+` first allowed).
pub(super) fn valid_number(number: &str) -> bool {
    number.len() <= EXTENSION_MAX_LEN && valid_extension(number.strip_prefix('+').unwrap_or(number))
}
use super::{ApiError, Shared, audit};

impl Shared {
    /// Appends an audit row for `p` doing `action` to `target` now.
    pub(crate) async fn audit(
        &self,
        p: &Principal,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<(), ApiError> {
        let now = self.state.clock.now_ms();
        audit::append(&self.state.store, now, p, action, target, detail).await?;
        Ok(())
    }
}

/// Default and largest page sizes of list endpoints.
pub(crate) const PAGE_DEFAULT: u32 = 100;
pub(crate) const PAGE_MAX: u32 = 1000;

/// `limit` clamped to 1..=[`PAGE_MAX`], [`PAGE_DEFAULT`] when absent.
pub(crate) fn page_limit(limit: Option<u32>) -> u32 {
    limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX)
}
