//! The IVR's `lookup` step against the protected customer store: the one place where
//! core data meets a flow, and only as the facts the flow asked for.
//!
//! The flow names the fields it wants (`tier`, `language`, `open_orders`,
//! `last_order_status`, `last_order_date`); the customer's name, numbers, account and
//! transactions never become flow variables.

use ivr::{LookupKey, Value};

use crate::customers::{CustomerError, Customers};

/// The fields a flow may ask a lookup for.
pub const FIELDS: &[&str] = &[
    "tier",
    "language",
    "open_orders",
    "last_order_status",
    "last_order_date",
];

/// Finds the customer `key` names and returns the requested `fields` (those the
/// customer has); `None` when nobody matches.
///
/// # Errors
///
/// The store's, including a key that does not open it.
pub async fn lookup(
    customers: &Customers,
    key: &LookupKey,
    fields: &[String],
) -> Result<Option<Vec<(String, Value)>>, CustomerError> {
    let found = match key {
        LookupKey::Caller(number) => customers.lookup_by_phone(number).await?,
        LookupKey::Account(account) => customers.lookup_by_account(account).await?,
        _ => None,
    };
    let Some(customer) = found else {
        return Ok(None);
    };
    let facts = customers.ivr_facts(customer.id).await?;
    let mut values = Vec::new();
    for field in fields {
        let value = match field.as_str() {
            "tier" => Value::Text(facts.tier.as_str().to_owned()),
            "language" => Value::Text(facts.language.as_str().to_owned()),
            "open_orders" => Value::Int(i64::from(facts.open_orders)),
            "last_order_status" => match facts.last_order {
                Some(o) => Value::Text(o.status.as_str().to_owned()),
                None => continue,
            },
            "last_order_date" => match facts.last_order {
                Some(o) => Value::Text(iso_date(o.created_at)),
                None => continue,
            },
            _ => continue,
        };
        values.push((field.clone(), value));
    }
    Ok(Some(values))
}

/// `YYYY-MM-DD` (UTC) of unix seconds.
fn iso_date(unix: i64) -> String {
    ivr::jiff::Timestamp::from_second(unix)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}
