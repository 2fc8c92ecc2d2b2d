//! The ACD's persistent agent state: per agent, presence (with the not-ready
//! reason), skills and queue memberships, so that agents stay logged in, on their
//! break, and in their queues across a node restart.
//!
//! # Contract
//!
//! - [`Store::acd_state`] reads what was stored, as the [`acd::PersistentState`]
//!   that [`acd::Acd::restore`] takes; agents are in name order, each agent's
//!   skills and tiers in the order they were saved.
//! - [`Store::save_acd_agents`] replaces some agents' records and removes others in
//!   one transaction: a reader sees an agent's old record or its new one, never a
//!   mix.
//! - [`AcdStateWriter`] is the task in front of it: submit each new snapshot
//!   ([`AcdStateWriter::submit`]) without waiting; the latest one wins (a burst of
//!   snapshots costs one write), and only agents whose record differs from what is
//!   stored are rewritten. A failed write is retried after five seconds or with
//!   the next snapshot, whichever comes first.
//!
//! Rows: `acd_agents (agent, presence, reason)` with `presence` one of
//! `logged_out`, `ready`, `not_ready`; `acd_agent_skills (agent, ord, skill,
//! level)`; `acd_agent_tiers (agent, ord, queue, level, position)`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use acd::{AgentId, AgentRecord, PersistentState, Presence, Proficiency, ReasonCode, Tier};
use sqlx::Row as _;
use tokio::sync::watch;

use super::{Db, Store, StoreError};

/// How long a failed write waits before it is tried again (unless a newer snapshot
/// comes first).
const RETRY_AFTER: Duration = Duration::from_secs(5);

const LOGGED_OUT: &str = "logged_out";
const READY: &str = "ready";
const NOT_READY: &str = "not_ready";

impl Store {
    /// The stored ACD agent state (empty when nothing was stored yet).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when a query fails, [`StoreError::Corrupt`] for a
    /// row this version cannot read (an unknown presence, a level out of range).
    pub async fn acd_state(&self) -> Result<PersistentState, StoreError> {
        let rows =
            sqlx::query::<Db>("SELECT agent, presence, reason FROM acd_agents ORDER BY agent")
                .fetch_all(self.pool())
                .await?;
        let mut agents = Vec::with_capacity(rows.len());
        let mut index = HashMap::with_capacity(rows.len());
        for row in &rows {
            let agent: String = row.try_get("agent")?;
            let presence = presence_from(row.try_get("presence")?, row.try_get("reason")?)?;
            index.insert(agent.clone(), agents.len());
            agents.push(AgentRecord {
                agent: agent.into(),
                presence,
                skills: Vec::new(),
                tiers: Vec::new(),
            });
        }
        let skills = sqlx::query::<Db>(
            "SELECT agent, skill, level FROM acd_agent_skills ORDER BY agent, ord",
        )
        .fetch_all(self.pool())
        .await?;
        for row in &skills {
            let agent: String = row.try_get("agent")?;
            if let Some(record) = index.get(&agent).and_then(|&i| agents.get_mut(i)) {
                record.skills.push(Proficiency {
                    skill: row.try_get("skill")?,
                    level: small(row.try_get("level")?, "skill level")?,
                });
            }
        }
        let tiers = sqlx::query::<Db>(
            "SELECT agent, queue, level, position FROM acd_agent_tiers ORDER BY agent, ord",
        )
        .fetch_all(self.pool())
        .await?;
        for row in &tiers {
            let agent: String = row.try_get("agent")?;
            if let Some(record) = index.get(&agent).and_then(|&i| agents.get_mut(i)) {
                let position: i64 = row.try_get("position")?;
                record.tiers.push(Tier {
                    queue: row.try_get::<String, _>("queue")?.into(),
                    level: small(row.try_get("level")?, "tier level")?,
                    position: u32::try_from(position)
                        .map_err(|_| StoreError::Corrupt(format!("tier position {position}")))?,
                });
            }
        }
        Ok(PersistentState { agents })
    }

    /// Replaces the records of the agents in `changed` and deletes those of the
    /// agents in `removed`, in one transaction.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when the transaction fails (nothing is changed).
    pub async fn save_acd_agents(
        &self,
        changed: &[AgentRecord],
        removed: &[AgentId],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for agent in removed
            .iter()
            .map(AgentId::as_str)
            .chain(changed.iter().map(|r| r.agent.as_str()))
        {
            for delete in [
                "DELETE FROM acd_agents WHERE agent = $1",
                "DELETE FROM acd_agent_skills WHERE agent = $1",
                "DELETE FROM acd_agent_tiers WHERE agent = $1",
            ] {
                sqlx::query::<Db>(delete)
                    .bind(agent)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        for record in changed {
            insert_record(&mut tx, record).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_record(
    tx: &mut sqlx::Transaction<'_, Db>,
    record: &AgentRecord,
) -> Result<(), StoreError> {
    let agent = record.agent.as_str();
    let (presence, reason) = presence_columns(&record.presence);
    sqlx::query::<Db>("INSERT INTO acd_agents (agent, presence, reason) VALUES ($1, $2, $3)")
        .bind(agent)
        .bind(presence)
        .bind(reason)
        .execute(&mut **tx)
        .await?;
    for (ord, skill) in (0_i64..).zip(&record.skills) {
        sqlx::query::<Db>(
            "INSERT INTO acd_agent_skills (agent, ord, skill, level) VALUES ($1, $2, $3, $4)",
        )
        .bind(agent)
        .bind(ord)
        .bind(skill.skill.as_str())
        .bind(i64::from(skill.level))
        .execute(&mut **tx)
        .await?;
    }
    for (ord, tier) in (0_i64..).zip(&record.tiers) {
        sqlx::query::<Db>(
            "INSERT INTO acd_agent_tiers (agent, ord, queue, level, position) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(agent)
        .bind(ord)
        .bind(tier.queue.as_str())
        .bind(i64::from(tier.level))
        .bind(i64::from(tier.position))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

fn presence_columns(presence: &Presence) -> (&'static str, Option<&str>) {
    match presence {
        Presence::LoggedOut => (LOGGED_OUT, None),
        Presence::Ready => (READY, None),
        Presence::NotReady(reason) => (NOT_READY, Some(reason.as_str())),
    }
}

fn presence_from(presence: String, reason: Option<String>) -> Result<Presence, StoreError> {
    match presence.as_str() {
        LOGGED_OUT => Ok(Presence::LoggedOut),
        READY => Ok(Presence::Ready),
        NOT_READY => Ok(Presence::NotReady(ReasonCode::new(
            reason.unwrap_or_default(),
        ))),
        other => Err(StoreError::Corrupt(format!("agent presence {other:?}"))),
    }
}

fn small(value: i64, what: &str) -> Result<u8, StoreError> {
    u8::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value}")))
}

// ---------------------------------------------------------------- writer

/// One submitted snapshot, numbered.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    generation: u64,
    state: Arc<PersistentState>,
}

/// Hands ACD state snapshots to a task that stores them; see the module docs.
/// Cloning shares the task.
#[derive(Debug, Clone)]
pub struct AcdStateWriter {
    latest: Arc<watch::Sender<Snapshot>>,
    written: watch::Receiver<u64>,
}

impl AcdStateWriter {
    /// Starts the writer task on the current tokio runtime. `stored` is what the
    /// store holds now (as read by [`Store::acd_state`]): the first write changes
    /// only what differs from it.
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime.
    #[must_use]
    pub fn spawn(store: Store, stored: PersistentState) -> Self {
        let (latest, rx) = watch::channel(Snapshot::default());
        let (written_tx, written) = watch::channel(0);
        let stored = stored
            .agents
            .into_iter()
            .map(|r| (r.agent.clone(), r))
            .collect();
        tokio::spawn(run(store, rx, written_tx, stored));
        Self {
            latest: Arc::new(latest),
            written,
        }
    }

    /// Queues `state` to be stored (replacing any snapshot not yet written) and
    /// returns its number, for [`Self::written`].
    pub fn submit(&self, state: PersistentState) -> u64 {
        let mut generation = 0;
        self.latest.send_modify(|s| {
            s.generation += 1;
            s.state = Arc::new(state);
            generation = s.generation;
        });
        generation
    }

    /// Waits until snapshot `generation` (or a later one) is stored; `false` when
    /// the writer task stopped first.
    pub async fn written(&self, generation: u64) -> bool {
        let mut written = self.written.clone();
        written.wait_for(|&w| w >= generation).await.is_ok()
    }
}

async fn run(
    store: Store,
    mut latest: watch::Receiver<Snapshot>,
    written: watch::Sender<u64>,
    mut stored: HashMap<AgentId, AgentRecord>,
) {
    let mut retry = false;
    loop {
        let open = if retry {
            tokio::select! {
                changed = latest.changed() => changed.is_ok(),
                () = tokio::time::sleep(RETRY_AFTER) => true,
            }
        } else {
            latest.changed().await.is_ok()
        };
        let snapshot = latest.borrow_and_update().clone();
        if snapshot.generation > *written.borrow() {
            match save(&store, &mut stored, &snapshot.state).await {
                Ok(()) => {
                    written.send_replace(snapshot.generation);
                    retry = false;
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot store the ACD agent state; will retry");
                    retry = true;
                }
            }
        }
        if !open {
            return;
        }
    }
}

/// Writes what differs between `stored` and `state`, then records it as stored.
async fn save(
    store: &Store,
    stored: &mut HashMap<AgentId, AgentRecord>,
    state: &PersistentState,
) -> Result<(), StoreError> {
    let changed: Vec<AgentRecord> = state
        .agents
        .iter()
        .filter(|r| stored.get(&r.agent) != Some(*r))
        .cloned()
        .collect();
    let kept: std::collections::HashSet<&AgentId> = state.agents.iter().map(|r| &r.agent).collect();
    let removed: Vec<AgentId> = stored
        .keys()
        .filter(|a| !kept.contains(a))
        .cloned()
        .collect();
    if changed.is_empty() && removed.is_empty() {
        return Ok(());
    }
    store.save_acd_agents(&changed, &removed).await?;
    for agent in &removed {
        stored.remove(agent);
    }
    for record in changed {
        stored.insert(record.agent.clone(), record);
    }
    tracing::debug!(agents = state.agents.len(), "ACD agent state stored");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open_in(dir: &std::path::Path) -> Store {
        Store::open_file(&dir.join("node.db"))
            .await
            .expect("a fresh temporary directory holds a usable database")
    }

    fn temp_dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("the test machine has a writable temporary directory")
    }

    fn record(
        agent: &str,
        presence: Presence,
        skills: &[(&str, u8)],
        tiers: &[(&str, u8, u32)],
    ) -> AgentRecord {
        AgentRecord {
            agent: agent.into(),
            presence,
            skills: skills
                .iter()
                .map(|&(skill, level)| Proficiency {
                    skill: skill.to_owned(),
                    level,
                })
                .collect(),
            tiers: tiers
                .iter()
                .map(|&(queue, level, position)| Tier {
                    queue: queue.into(),
                    level,
                    position,
                })
                .collect(),
        }
    }

    fn sample() -> PersistentState {
        PersistentState {
            agents: vec![
                record(
                    "1001",
                    Presence::Ready,
                    &[("en", 5), ("sales", 3)],
                    &[("sales", 1, 0), ("support", 2, 7)],
                ),
                record(
                    "1002",
                    Presence::NotReady(ReasonCode::new("lunch")),
                    &[("es", 4)],
                    &[("support", 1, u32::MAX)],
                ),
                record("1003", Presence::LoggedOut, &[], &[]),
                record(
                    "1004",
                    Presence::NotReady(ReasonCode::no_answer()),
                    &[("billing", 1), ("en", 2)],
                    &[("billing", 3, 1)],
                ),
            ],
        }
    }

    #[tokio::test]
    async fn an_empty_store_has_no_agent_state() {
        let dir = temp_dir();
        let store = open_in(dir.path()).await;
        assert_eq!(
            store.acd_state().await.ok(),
            Some(PersistentState::default())
        );
    }

    #[tokio::test]
    async fn state_round_trips_and_survives_reopening_the_file() {
        let dir = temp_dir();
        let state = sample();
        {
            let store = open_in(dir.path()).await;
            store
                .save_acd_agents(&state.agents, &[])
                .await
                .expect("save the agents");
            store.close().await;
        }
        let store = open_in(dir.path()).await;
        let loaded = store.acd_state().await.expect("read the agents back");
        assert_eq!(
            loaded, state,
            "agents come back in name order, lists in saved order"
        );
    }

    #[tokio::test]
    async fn saving_replaces_changed_agents_and_deletes_removed_ones() {
        let dir = temp_dir();
        let store = open_in(dir.path()).await;
        let mut state = sample();
        store
            .save_acd_agents(&state.agents, &[])
            .await
            .expect("first save");
        let changed = record(
            "1001",
            Presence::LoggedOut,
            &[("fr", 2)],
            &[("billing", 1, 4)],
        );
        store
            .save_acd_agents(std::slice::from_ref(&changed), &["1003".into()])
            .await
            .expect("second save");
        state.agents[0] = changed;
        state.agents.remove(2);
        assert_eq!(store.acd_state().await.ok(), Some(state));
    }

    #[tokio::test]
    async fn an_unreadable_presence_is_reported_not_guessed() {
        let dir = temp_dir();
        let store = open_in(dir.path()).await;
        sqlx::query::<Db>("INSERT INTO acd_agents (agent, presence) VALUES ('1001', 'dancing')")
            .execute(store.pool())
            .await
            .expect("insert a row by hand");
        assert!(matches!(
            store.acd_state().await,
            Err(StoreError::Corrupt(what)) if what.contains("dancing")
        ));
    }

    #[tokio::test]
    async fn the_writer_stores_the_latest_snapshot_and_only_the_difference() {
        let dir = temp_dir();
        let store = open_in(dir.path()).await;
        let stale = record("9999", Presence::Ready, &[], &[]);
        store
            .save_acd_agents(std::slice::from_ref(&stale), &[])
            .await
            .expect("seed a stale agent");
        let writer = AcdStateWriter::spawn(store.clone(), store.acd_state().await.expect("read"));
        let mut state = sample();
        writer.submit(PersistentState::default());
        let first = writer.submit(state.clone());
        assert!(
            writer.written(first).await,
            "the writer stored the snapshot"
        );
        assert_eq!(
            store.acd_state().await.ok(),
            Some(state.clone()),
            "the stale agent is gone"
        );

        // A row the writer believes unchanged is not rewritten: only 1002 changes.
        sqlx::query::<Db>("UPDATE acd_agents SET presence = 'ready' WHERE agent = '1003'")
            .execute(store.pool())
            .await
            .expect("edit a row by hand");
        state.agents[1].presence = Presence::Ready;
        let second = writer.submit(state.clone());
        assert!(writer.written(second).await);
        state.agents[2].presence = Presence::Ready;
        assert_eq!(store.acd_state().await.ok(), Some(state));
    }
}
