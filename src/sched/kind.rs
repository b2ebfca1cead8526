//! The five built-in schedulers by name, and their [`Scheduler`] implementation.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{atomic, channel, chunked, rayon_pool, stride, Launch, SchedError, Scheduler};

/// The schedulers minebench knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerKind {
    /// Worker k hashes k, k+n, k+2n, … (the textbook loop), in batches of strided nonces.
    Stride,
    /// The nonce space split into n contiguous static ranges.
    Chunked,
    /// Workers take fixed-size batches from one shared atomic counter.
    Atomic,
    /// Work stealing over batches on a rayon pool of n threads.
    Rayon,
    /// A dispatcher thread feeds batches to workers over channels; results come back on a channel.
    Channel,
}

/// An unknown scheduler name, with the known ones for the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scheduler {name:?}; known schedulers: {known}")]
pub struct UnknownScheduler {
    pub name: String,
    pub known: String,
}

impl SchedulerKind {
    pub const ALL: &'static [SchedulerKind] = &[
        SchedulerKind::Stride,
        SchedulerKind::Chunked,
        SchedulerKind::Atomic,
        SchedulerKind::Rayon,
        SchedulerKind::Channel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Stride => "stride",
            SchedulerKind::Chunked => "chunked",
            SchedulerKind::Atomic => "atomic",
            SchedulerKind::Rayon => "rayon",
            SchedulerKind::Channel => "channel",
        }
    }

    pub fn from_name(name: &str) -> Result<SchedulerKind, UnknownScheduler> {
        SchedulerKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == name)
            .ok_or_else(|| UnknownScheduler {
                name: name.to_string(),
                known: SchedulerKind::ALL
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Static schedulers fix each worker's share up front; dynamic ones hand out work as it goes.
    pub fn is_dynamic(self) -> bool {
        matches!(
            self,
            SchedulerKind::Atomic | SchedulerKind::Rayon | SchedulerKind::Channel
        )
    }
}

impl fmt::Display for SchedulerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Scheduler for SchedulerKind {
    fn name(&self) -> &str {
        SchedulerKind::name(*self)
    }

    fn is_dynamic(&self) -> bool {
        SchedulerKind::is_dynamic(*self)
    }

    fn launch(&self, launch: &mut Launch<'_>) -> Result<(), SchedError> {
        match self {
            SchedulerKind::Stride => stride::launch(launch),
            SchedulerKind::Chunked => chunked::launch(launch),
            SchedulerKind::Atomic => atomic::launch(launch),
            SchedulerKind::Rayon => rayon_pool::launch(launch),
            SchedulerKind::Channel => channel::launch(launch),
        }
    }
}
