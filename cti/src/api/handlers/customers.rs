//! Screen pops: a customer and their recent transactions, by phone or
//! account number.
//!
//! Administrators and supervisors may look up anyone; an agent only the
//! customers on their current calls (the caller's number, or the customer
//! the IVR identified), as the node reports them; quality analysts no one.
//! Every lookup, found, missed or refused, writes an audit row naming the
//! customer by id and how they were asked for, never by the value.

use std::collections::HashSet;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use crate::api::auth::{Principal, Role};
use crate::api::error::QueryArgs;
use crate::api::{ApiError, AppState};
use crate::customers::{Customer, CustomerId, Customers, Transaction};

/// Transactions returned with a customer.
const RECENT_TRANSACTIONS: usize = 5;

/// `GET /api/v1/customers/lookup` query: exactly one of the two.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LookupQuery {
    phone: Option<String>,
    account: Option<String>,
}

/// What was asked for.
enum Key {
    Phone(String),
    Account(String),
}

impl Key {
    fn from_query(q: LookupQuery) -> Result<Self, ApiError> {
        match (q.phone, q.account) {
            (Some(p), None) if !p.trim().is_empty() => Ok(Self::Phone(p)),
            (None, Some(a)) if !a.trim().is_empty() => Ok(Self::Account(a)),
            _ => Err(ApiError::bad_request(
                "give exactly one of phone or account, not empty",
            )),
        }
    }

    fn by(&self) -> &'static str {
        match self {
            Self::Phone(_) => "phone",
            Self::Account(_) => "account",
        }
    }

    async fn lookup(&self, customers: &Customers) -> Result<Option<Customer>, ApiError> {
        Ok(match self {
            Self::Phone(p) => customers.lookup_by_phone(p).await?,
            Self::Account(a) => customers.lookup_by_account(a).await?,
        })
    }
}

/// `GET /api/v1/customers/lookup?phone=…|account=…`.
pub(crate) async fn lookup(
    State(shared): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryArgs(q): QueryArgs<LookupQuery>,
) -> Result<Response, ApiError> {
    p.require(&[Role::Admin, Role::Supervisor, Role::Agent])?;
    let key = Key::from_query(q)?;
    let customers = shared
        .state
        .customers
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("the customer store is not configured"))?;
    let allowed = match p.role {
        Role::Agent => Some(on_my_calls(&shared, &p, customers).await?),
        _ => None,
    };
    let found = key.lookup(customers).await?;
    let detail = |outcome: &str| serde_json::json!({ "by": key.by(), "outcome": outcome });
    let customer = match (found, &allowed) {
        (Some(c), Some(mine)) if !mine.contains(&c.id) => None,
        (Some(c), _) => Some(c),
        (None, _) => None,
    };
    let Some(customer) = customer else {
        if allowed.is_some() {
            shared
                .audit(&p, "customer.lookup", "-", detail("refused"))
                .await?;
            return Err(ApiError::forbidden(
                "agents may look up only the customers on their current calls",
            ));
        }
        shared
            .audit(&p, "customer.lookup", "-", detail("not_found"))
            .await?;
        return Err(ApiError::not_found("no customer matches"));
    };
    let transactions = customers
        .recent_transactions(customer.id, RECENT_TRANSACTIONS)
        .await?;
    shared
        .audit(
            &p,
            "customer.read",
            &customer.id.to_string(),
            detail("found"),
        )
        .await?;
    Ok(Json(screen_pop(&customer, &transactions)).into_response())
}

/// The customers on `p`'s current calls: those the IVR identified and
/// those whose phone number is the caller's.
async fn on_my_calls(
    shared: &AppState,
    p: &Principal,
    customers: &Customers,
) -> Result<HashSet<CustomerId>, ApiError> {
    let me = p.own_agent()?;
    let calls = shared.state.live.calls().await;
    let mut ids = HashSet::new();
    for call in calls.iter().filter(|c| c.agent.as_deref() == Some(me)) {
        if let Some(id) = call.customer {
            ids.insert(CustomerId(id));
        }
        if let Some(c) = customers.lookup_by_phone(&call.caller).await? {
            ids.insert(c.id);
        }
    }
    Ok(ids)
}

fn screen_pop(c: &Customer, transactions: &[Transaction]) -> serde_json::Value {
    let transactions: Vec<_> = transactions
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.id.0,
                "kind": t.kind.as_str(),
                "reference": t.reference,
                "amount": { "minor": t.amount.minor, "currency": t.amount.currency.as_str() },
                "status": t.status.as_str(),
                "created_at": t.created_at,
                "updated_at": t.updated_at,
            })
        })
        .collect();
    serde_json::json!({
        "customer": {
            "id": c.id.0,
            "name": c.name,
            "phones": c.phones.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            "email": c.email,
            "account": c.account.as_str(),
            "tier": c.tier.as_str(),
            "language": c.language.as_str(),
        },
        "transactions": transactions,
    })
}
