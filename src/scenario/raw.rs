//! What the user writes: serde mirrors of the scenario file, every key optional and every value
//! worth complaining about wrapped in [`Spanned`] so validation knows its byte span.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) name: Option<Spanned<String>>,
    pub(super) description: Option<String>,
    pub(super) work: Option<Spanned<RawWork>>,
    pub(super) matrix: Option<Spanned<RawMatrix>>,
    pub(super) measure: Option<Spanned<RawMeasure>>,
    pub(super) profile: Option<Spanned<RawProfile>>,
    /// `[external.NAME]` tables: miner programs measured through the loopback pool.
    pub(super) external: Option<Spanned<std::collections::BTreeMap<String, Spanned<RawExternal>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExternal {
    pub(super) command: Option<SpannedList<String>>,
    pub(super) version: Option<SpannedList<String>>,
    pub(super) startup_timeout: Option<Spanned<String>>,
    pub(super) stop_grace: Option<Spanned<String>>,
    pub(super) env: Option<std::collections::BTreeMap<String, String>>,
    pub(super) user: Option<Spanned<String>>,
    pub(super) password: Option<Spanned<String>>,
    pub(super) pprof: Option<Spanned<String>>,
    pub(super) go_schedtrace: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWork {
    pub(super) header: Option<Spanned<String>>,
    pub(super) seed: Option<Spanned<i64>>,
    pub(super) difficulty: Option<Spanned<RawDifficulty>>,
    pub(super) pool: Option<Spanned<RawPool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPool {
    pub(super) url: Option<Spanned<String>>,
    pub(super) user: Option<Spanned<String>>,
    pub(super) password: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDifficulty {
    pub(super) zero_bits: Option<Spanned<i64>>,
    pub(super) nbits: Option<Spanned<String>>,
    pub(super) share: Option<Spanned<f64>>,
}

pub(super) type SpannedList<T> = Spanned<Vec<Spanned<T>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMatrix {
    pub(super) backend: Option<SpannedList<String>>,
    pub(super) scheduler: Option<SpannedList<String>>,
    pub(super) threads: Option<Spanned<RawThreads>>,
    pub(super) difficulty: Option<SpannedList<RawDifficulty>>,
    pub(super) batch: Option<Spanned<RawBatch>>,
}

/// `batch = [4096, 65536]` (every backend) or `batch = { gpu = [2^20, 2^24] }` (per backend, as
/// named in `matrix.backend`). A hand-written visitor, as for [`RawThreads`].
pub(super) enum RawBatch {
    List(Vec<Spanned<i64>>),
    Table(Vec<(Spanned<String>, SpannedList<i64>)>),
}

impl<'de> Deserialize<'de> for RawBatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawBatch;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of batch sizes, or a table of them by backend")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawBatch, A::Error> {
                let mut list = Vec::new();
                while let Some(n) = seq.next_element()? {
                    list.push(n);
                }
                Ok(RawBatch::List(list))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<RawBatch, A::Error> {
                let mut table = Vec::new();
                while let Some(k) = map.next_key()? {
                    table.push((k, map.next_value()?));
                }
                Ok(RawBatch::Table(table))
            }
        }
        d.deserialize_any(V)
    }
}

/// `threads = [1, 2]` or `threads = "all"`. A hand-written visitor rather than an untagged enum:
/// untagged enums buffer the value, which loses the element spans.
pub(super) enum RawThreads {
    List(Vec<Spanned<i64>>),
    Word(String),
}

impl<'de> Deserialize<'de> for RawThreads {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawThreads;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"all\" or a list of thread counts")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawThreads, E> {
                Ok(RawThreads::Word(s.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawThreads, A::Error> {
                let mut list = Vec::new();
                while let Some(n) = seq.next_element()? {
                    list.push(n);
                }
                Ok(RawThreads::List(list))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMeasure {
    pub(super) warmup: Option<Spanned<String>>,
    pub(super) samples: Option<Spanned<i64>>,
    pub(super) sample: Option<Spanned<RawSample>>,
    pub(super) batch: Option<Spanned<i64>>,
    pub(super) job_interval: Option<Spanned<String>>,
    pub(super) pin_threads: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSample {
    pub(super) duration: Option<Spanned<String>>,
    pub(super) nonces: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    pub(super) flamegraph: Option<bool>,
    pub(super) frequency: Option<Spanned<i64>>,
}
