//! What a call tells the CTI event stream: offered to an agent (with the screen
//! pop), answered, ended.
//!
//! The screen pop rides on `call.offered`: the agent's desktop gets the caller,
//! the path the caller took through the IVR, and — when the protected store knows
//! the caller (by the number, or by the account number the flow collected) — the
//! customer's name, tier, account and last transactions. The event stream is the
//! node's own API, filtered per user by role, so this core data stays on the node.

use serde_json::{Value, json};

use super::{Call, Phase, unix_ms};
use crate::api::{Event, EventKind};

/// Transactions shown in a screen pop.
const POP_TRANSACTIONS: usize = 3;

impl Call {
    /// What the CTI API shows of this call; `None` once it has ended.
    pub(super) fn describe(&self) -> Option<crate::api::CallSummary> {
        use crate::api::CallPhase;
        let phase = match self.phase {
            Phase::Routing => CallPhase::Ringing,
            Phase::Ivr => match self.queue_state() {
                Some(true) => CallPhase::Offered,
                Some(false) => CallPhase::Queued,
                None => CallPhase::Ivr,
            },
            Phase::Answered => CallPhase::Talking,
            Phase::Ended => return None,
        };
        Some(crate::api::CallSummary {
            call_id: self.cdr.call_id.clone(),
            caller: self.cdr.caller.clone(),
            callee: self.cdr.callee.clone(),
            phase,
            started_at: self.cdr.started_at,
            answered_at: self.cdr.answered_at,
            queue: self.cdr.routing.queue.clone(),
            agent: self.cdr.routing.agent.clone(),
            customer: None,
            analysis: None,
            conference: self.conference.as_ref().map(|seat| seat.room().to_owned()),
        })
    }

    fn event(&self, kind: EventKind) -> Event {
        let mut event = Event::new(kind, unix_ms()).call(self.cdr.call_id.clone());
        if let Some(agent) = &self.cdr.routing.agent {
            event = event.agent(agent.clone());
        }
        if let Some(queue) = &self.cdr.routing.queue {
            event = event.queue(queue.clone());
        }
        event
    }

    /// The ACD offered the call to `agent`: its phone is about to ring.
    pub(super) async fn publish_offered(&self, agent: &str) {
        let mut event = Event::new(EventKind::CallOffered, unix_ms())
            .call(self.cdr.call_id.clone())
            .agent(agent.to_owned());
        if let Some(queue) = &self.cdr.routing.queue {
            event = event.queue(queue.clone());
        }
        let data = json!({
            "caller": self.cdr.caller,
            "callee": self.cdr.callee,
            "ivr_path": self.ivr_path(),
            "customer": self.screen_pop().await,
        });
        self.ctx.events.publish(event.data(data));
    }

    /// The second leg (an agent) answered.
    pub(super) fn publish_answered(&self) {
        let data = json!({ "caller": self.cdr.caller, "callee": self.cdr.callee });
        self.ctx
            .events
            .publish(self.event(EventKind::CallAnswered).data(data));
    }

    /// Something about the call, with `data`.
    pub(super) fn publish_call_event(&self, kind: EventKind, data: Value) {
        self.ctx.events.publish(self.event(kind).data(data));
    }

    /// A call reached the node.
    pub(super) fn publish_created(&self) {
        let data = json!({ "caller": self.cdr.caller, "callee": self.cdr.callee });
        self.publish_call_event(EventKind::CallCreated, data);
    }

    /// The call is over (its CDR is committed).
    pub(super) fn publish_ended(&self) {
        let quality = |q: &Option<crate::store::PartyQuality>| {
            q.map(|q| json!({ "mos": q.mos, "loss_pct": q.loss_pct }))
        };
        let data = json!({
            "caller": self.cdr.caller,
            "callee": self.cdr.callee,
            "disposition": self.cdr.disposition.as_str(),
            "cause": self.cdr.hangup_cause,
            "cdr_id": self.cdr.id,
            "quality": {
                "caller": quality(&self.cdr.caller_quality),
                "callee": quality(&self.cdr.callee_quality),
            },
        });
        self.ctx
            .events
            .publish(self.event(EventKind::CallEnded).data(data));
    }

    fn ivr_path(&self) -> Value {
        self.ivr_steps().map_or(Value::Null, Value::from)
    }

    /// The customer on this call, from the store: by the account number the flow
    /// collected, else by the caller's number.
    async fn screen_pop(&self) -> Value {
        let Some(customers) = self.ctx.customers.as_ref() else {
            return Value::Null;
        };
        let account = self.ivr_variable("account");
        let found = match account {
            Some(account) => customers.lookup_by_account(&account).await,
            None => customers.lookup_by_phone(&self.cdr.caller).await,
        };
        let customer = match found {
            Ok(Some(c)) => c,
            Ok(None) => return Value::Null,
            Err(error) => {
                tracing::warn!(call = self.id.0, %error, "screen pop lookup failed");
                return Value::Null;
            }
        };
        let transactions = customers
            .recent_transactions(customer.id, POP_TRANSACTIONS)
            .await
            .unwrap_or_default();
        json!({
            "id": customer.id.0,
            "name": customer.name,
            "tier": customer.tier.as_str(),
            "language": customer.language.as_str(),
            "account": customer.account.as_str(),
            "transactions": transactions.iter().map(|t| json!({
                "kind": t.kind.as_str(),
                "reference": t.reference,
                "status": t.status.as_str(),
                "amount_minor": t.amount.minor,
                "currency": t.amount.currency.as_str(),
                "created_at": t.created_at,
            })).collect::<Vec<_>>(),
        })
    }
}
