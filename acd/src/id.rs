//! Names the node uses for agents, queues, calls and not-ready reasons.
//!
//! Each is a cheap-to-clone newtype over a shared string: agents are named by their
//! extension or login, calls by their SIP Call-ID, queues by their configured name. The
//! engine maps each name to a dense internal slot once (on `Acd::new`, on enqueue) and
//! works on slots from then on; outputs carry the names back.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps a name.
            pub fn new(name: impl AsRef<str>) -> Self {
                Self(Arc::from(name.as_ref()))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(name: &str) -> Self {
                Self::new(name)
            }
        }

        impl From<String> for $name {
            fn from(name: String) -> Self {
                Self(Arc::from(name))
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self::from)
            }
        }
    };
}

name_type!(
    /// An agent, named by extension or login (`"1001"`, `"alice"`).
    AgentId
);
name_type!(
    /// A queue (group), named as in configuration (`"premium"`).
    QueueId
);
name_type!(
    /// A call, named by the caller leg's SIP Call-ID.
    CallId
);
name_type!(
    /// Why an agent is not ready (`"lunch"`, `"training"`); free text chosen by the site.
    ///
    /// [`ReasonCode::no_answer`] is the one code the engine sets itself, when an agent
    /// misses too many offers in a row (RONA).
    ReasonCode
);

impl ReasonCode {
    /// The code the engine sets on ring-no-answer: `"no-answer"`.
    pub fn no_answer() -> Self {
        Self::new("no-answer")
    }
}

/// Dense index of an agent inside the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct AgentSlot(pub(crate) u32);

/// Dense index of a queue inside the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct QueueSlot(pub(crate) u32);

/// Index of a live call inside the engine's call table (slots are reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct CallSlot(pub(crate) u32);

/// Dense index of a skill name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SkillSlot(pub(crate) u16);

impl AgentSlot {
    pub(crate) fn ix(self) -> usize {
        self.0 as usize
    }
}

impl QueueSlot {
    pub(crate) fn ix(self) -> usize {
        self.0 as usize
    }
}

impl CallSlot {
    pub(crate) fn ix(self) -> usize {
        self.0 as usize
    }
}
