//! What `auto` means on this CPU, measured rather than assumed: each available built-in backend
//! hashes on one thread for a few tens of milliseconds, in interleaved rounds, and the fastest
//! median wins. The static order of [`super::BackendKind::ALL`] is only the fallback (and the
//! choice with `run --no-auto-calibration`).
//!
//! Owns: the timing of candidates and the choice. Must not: know scenarios or reports beyond the
//! serialisable result.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Backend, Header, NonceRange, Target, Work};

/// Nonces per timed call: short enough that a round ends close to its budget.
const CHUNK: u64 = 1 << 15;

/// A backend to time, with the tuning it was made with (`None`: it has no knob).
pub struct Entry {
    pub backend: String,
    pub tuning: Option<String>,
    pub imp: Arc<dyn Backend>,
}

/// One candidate's measurement.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Candidate {
    pub backend: String,
    /// The tuning it ran with (`groups=3`…); absent for backends without a knob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuning: Option<String>,
    /// Hashes per second on one thread in each round.
    pub rounds: Vec<f64>,
    /// Their median.
    pub hashes_per_sec: f64,
}

/// How `auto` was chosen for a run (recorded in the report).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AutoCalibration {
    /// The fastest candidate: what `auto` means in this run.
    pub chosen: String,
    /// What the static order would have chosen.
    pub static_choice: String,
    pub candidates: Vec<Candidate>,
    /// Per backend with a knob, the tuning chosen (the first listed, its default, unless another
    /// beats it by more than [`MARGIN`]): every instance made in this run gets it.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub tuning: std::collections::BTreeMap<String, String>,
    /// Time per candidate per round.
    pub per_round_ns: u64,
    /// Wall time of the whole calibration.
    pub duration_ns: u64,
}

/// Times `candidates` for `per_round` each, `rounds` times interleaved; per backend keeps the
/// best tuning (see [`AutoCalibration::tuning`]), then picks the fastest backend (see
/// [`choose`]). None when there is no candidate.
pub fn calibrate(
    candidates: &[Entry],
    static_choice: &str,
    per_round: Duration,
    rounds: u32,
) -> Option<AutoCalibration> {
    if candidates.is_empty() {
        return None;
    }
    let started = Instant::now();
    // A synthetic header at a target no hash meets in practice: only the scan is timed.
    let work = Work::new(
        Header::synthetic(0xca1b),
        Target::from_zero_bits(64).unwrap_or(Target::MAX),
    );
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); candidates.len()];
    let mut hits = Vec::new();
    let mut start: u64 = 0;
    for _ in 0..rounds.max(1) {
        for (i, Entry { imp: backend, .. }) in candidates.iter().enumerate() {
            let t0 = Instant::now();
            let mut hashes = 0u64;
            while t0.elapsed() < per_round {
                let range = NonceRange::new((start % (1 << 32)) as u32, CHUNK)
                    .unwrap_or_else(|_| NonceRange::full());
                start = (start + CHUNK) % ((1 << 32) - CHUNK);
                hits.clear();
                hashes += backend.scan(&work, range, &mut hits);
            }
            rates[i].push(hashes as f64 / t0.elapsed().as_secs_f64().max(1e-9));
        }
    }
    let candidates: Vec<Candidate> = candidates
        .iter()
        .zip(rates)
        .map(|(e, rounds)| Candidate {
            backend: e.backend.clone(),
            tuning: e.tuning.clone(),
            hashes_per_sec: crate::report::stats::median(&rounds).unwrap_or(0.0),
            rounds,
        })
        .collect();
    let (per_backend, tuning) = best_tunings(&candidates);
    Some(AutoCalibration {
        chosen: choose(&per_backend, static_choice)?.to_string(),
        tuning,
        static_choice: static_choice.to_string(),
        per_round_ns: per_round.as_nanos() as u64,
        duration_ns: started.elapsed().as_nanos() as u64,
        candidates,
    })
}

/// How much faster than the static choice another backend must be to replace it: below this,
/// the difference is within the noise of these shared machines, and a choice that flips between
/// runs would rename cases (`compare` pairs cases by id).
pub const MARGIN: f64 = 0.05;

/// The fastest candidate, unless the static choice is within [`MARGIN`] of it.
pub fn choose<'a>(candidates: &'a [Candidate], static_choice: &str) -> Option<&'a str> {
    let best = fastest(candidates)?;
    let rate = |name: &str| {
        candidates
            .iter()
            .find(|c| c.backend == name)
            .map(|c| c.hashes_per_sec)
    };
    match (rate(best), rate(static_choice)) {
        (Some(b), Some(s)) if b <= s * (1.0 + MARGIN) => candidates
            .iter()
            .find(|c| c.backend == static_choice)
            .map(|c| c.backend.as_str()),
        _ => Some(best),
    }
}

/// One candidate per backend — its best tuning: the first listed (its default) unless another
/// beats it by more than [`MARGIN`] — and the tunings chosen, for backends that have a knob.
pub fn best_tunings(
    candidates: &[Candidate],
) -> (Vec<Candidate>, std::collections::BTreeMap<String, String>) {
    let mut per_backend: Vec<Candidate> = Vec::new();
    let mut tuning = std::collections::BTreeMap::new();
    for c in candidates {
        if per_backend.iter().any(|p| p.backend == c.backend) {
            continue;
        }
        let variants: Vec<Candidate> = candidates
            .iter()
            .filter(|v| v.backend == c.backend)
            .map(|v| Candidate {
                backend: v.tuning.clone().unwrap_or_default(),
                ..v.clone()
            })
            .collect();
        let default = variants[0].backend.clone();
        let pick = choose(&variants, &default).unwrap_or(&default).to_string();
        let Some(best) = candidates
            .iter()
            .find(|v| v.backend == c.backend && v.tuning.clone().unwrap_or_default() == pick)
        else {
            continue;
        };
        if let Some(t) = &best.tuning {
            tuning.insert(c.backend.clone(), t.clone());
        }
        per_backend.push(best.clone());
    }
    (per_backend, tuning)
}

/// The candidate with the highest median rate; the first listed on a tie.
pub fn fastest(candidates: &[Candidate]) -> Option<&str> {
    candidates
        .iter()
        .fold(None::<&Candidate>, |best, c| match best {
            Some(b) if b.hashes_per_sec >= c.hashes_per_sec => Some(b),
            _ => Some(c),
        })
        .map(|c| c.backend.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(name: &str, rate: f64) -> Candidate {
        Candidate {
            backend: name.into(),
            tuning: None,
            rounds: vec![rate],
            hashes_per_sec: rate,
        }
    }

    #[test]
    fn the_fastest_median_wins_and_a_tie_keeps_the_static_order() {
        let c = [cand("a", 10.0), cand("b", 30.0), cand("c", 20.0)];
        assert_eq!(fastest(&c), Some("b"));
        let tie = [cand("a", 10.0), cand("b", 10.0)];
        assert_eq!(fastest(&tie), Some("a"));
        assert_eq!(fastest(&[]), None);
    }

    #[test]
    fn each_backend_keeps_its_best_tuning_and_competes_with_it() {
        let tuned = |t: &str, rate| Candidate {
            tuning: Some(t.into()),
            ..cand("x", rate)
        };
        let c = [
            tuned("g=3", 100.0),
            tuned("g=2", 103.0), // within the margin of the default: g=3 stays
            tuned("g=1", 50.0),
            cand("y", 101.0),
        ];
        let (per, tuning) = best_tunings(&c);
        assert_eq!(tuning.get("x").map(String::as_str), Some("g=3"));
        assert_eq!(per.len(), 2);
        assert_eq!(per[0].hashes_per_sec, 100.0);
        let c = [tuned("g=3", 100.0), tuned("g=2", 120.0)];
        let (per, tuning) = best_tunings(&c);
        assert_eq!(tuning.get("x").map(String::as_str), Some("g=2"));
        assert_eq!(per[0].hashes_per_sec, 120.0);
    }

    #[test]
    fn the_static_choice_stays_unless_beaten_by_more_than_the_margin() {
        let c = [cand("a", 100.0), cand("b", 104.0), cand("c", 90.0)];
        assert_eq!(choose(&c, "a"), Some("a"), "4 % is noise");
        let c = [cand("a", 100.0), cand("b", 106.0)];
        assert_eq!(choose(&c, "a"), Some("b"));
        // A static choice that is not a candidate (unavailable) does not hold anything back.
        assert_eq!(choose(&c, "zzz"), Some("b"));
    }

    #[test]
    fn every_candidate_is_timed_in_every_round() {
        let a: Arc<dyn Backend> = Arc::new(crate::pow::sha2_midstate::Sha2Midstate);
        let b: Arc<dyn Backend> = Arc::new(crate::pow::reference::Reference);
        let entry = |name: &str, imp| Entry {
            backend: name.into(),
            tuning: None,
            imp,
        };
        let c = calibrate(
            &[entry("sha2-midstate", a), entry("reference", b)],
            "sha2-midstate",
            Duration::from_millis(5),
            3,
        )
        .unwrap();
        assert_eq!(c.static_choice, "sha2-midstate");
        assert!(c.chosen == "sha2-midstate" || c.chosen == "reference");
        assert_eq!(c.candidates.len(), 2);
        for cand in &c.candidates {
            assert_eq!(cand.rounds.len(), 3, "{cand:?}");
            assert!(cand.rounds.iter().all(|&r| r > 0.0), "{cand:?}");
            let m = crate::report::stats::median(&cand.rounds).unwrap();
            assert_eq!(cand.hashes_per_sec, m);
        }
        assert!(calibrate(&[], "x", Duration::from_millis(1), 1).is_none());
    }
}
