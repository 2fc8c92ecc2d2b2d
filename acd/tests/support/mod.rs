//! What the ACD integration tests share: a virtual clock anchor, config
//! builders and output filters.

#![allow(dead_code, unreachable_pub)]

pub mod erlang;

use std::time::{Duration, Instant};

use acd::{Acd, AcdConfig, AgentConfig, CallRequest, Input, Output, QueueConfig, Strategy};

/// The one real clock reading of a test: every other instant is arithmetic on it.
#[allow(
    clippy::disallowed_methods,
    reason = "tests anchor their virtual clock once"
)]
pub fn t0() -> Instant {
    Instant::now()
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// One queue `q` with `strategy`, no wrap-up, and agents `a1..=aN` at level 1,
/// positions 1..=N.
pub fn one_queue(strategy: Strategy, agents: usize) -> AcdConfig {
    let mut q = QueueConfig::new("q", strategy);
    q.wrap_up = Duration::ZERO;
    AcdConfig {
        queues: vec![q],
        agents: (1..=agents)
            .map(|i| {
                AgentConfig::new(format!("a{i}")).with_tier("q", 1, u32::try_from(i).unwrap_or(0))
            })
            .collect(),
        ..AcdConfig::default()
    }
}

pub fn build(config: AcdConfig) -> Acd {
    Acd::new(config).expect("test configuration is valid")
}

pub fn input(acd: &mut Acd, now: Instant, input: Input) {
    acd.handle_input(now, input).expect("input accepted");
}

pub fn enqueue(acd: &mut Acd, now: Instant, call: &str, queue: &str) {
    input(acd, now, Input::Enqueue(CallRequest::to_queue(call, queue)));
}

pub fn drain(acd: &mut Acd) -> Vec<Output> {
    std::iter::from_fn(|| acd.poll_output()).collect()
}

/// `(call, agent)` of every offer (and callback placement) in `outs`.
pub fn offers(outs: &[Output]) -> Vec<(String, String)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Offer { call, agent, .. } | Output::PlaceCallback { call, agent, .. } => {
                Some((call.to_string(), agent.to_string()))
            }
            _ => None,
        })
        .collect()
}

/// The agents offered calls in `outs`, in order.
pub fn offered_agents(outs: &[Output]) -> Vec<String> {
    offers(outs).into_iter().map(|(_, a)| a).collect()
}

/// Makes each agent ready at `now` + i ms (so their idle order is their list order).
pub fn ready_in_order(acd: &mut Acd, now: Instant, agents: &[&str]) {
    for (i, a) in agents.iter().enumerate() {
        input(acd, now + Duration::from_millis(i as u64), Input::ready(*a));
    }
    drain(acd);
}

/// Offers `call` and has the offered agent answer and hang up at once; returns the
/// agent.
pub fn serve(acd: &mut Acd, now: Instant, call: &str, queue: &str) -> String {
    enqueue(acd, now, call, queue);
    let outs = drain(acd);
    let agent = offered_agents(&outs)
        .pop()
        .expect("an agent was offered the call");
    input(
        acd,
        now,
        Input::Answered {
            call: call.into(),
            agent: agent.as_str().into(),
        },
    );
    input(acd, now, Input::CallEnded(call.into()));
    drain(acd);
    agent
}
