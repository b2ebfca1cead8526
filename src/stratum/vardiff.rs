//! Variable difficulty: the share difficulty that gives a connection about `share_rate` shares
//! per second, retargeted from the verified work of the last window, as real pools do.
//! Pure: the caller passes the clock in seconds.

/// Hashes one share of difficulty 1 stands for on average: `2^256 / (0xffff · 2^208)`.
pub const HASHES_PER_DIFF1: f64 = 4_295_032_833.000_015;

/// The lowest difficulty vardiff sets (cpuminer's target arithmetic overflows near 2.3e-10).
pub const MIN_DIFFICULTY: f64 = 1e-9;
/// The highest (a difficulty-1e12 share is far beyond any CPU).
pub const MAX_DIFFICULTY: f64 = 1e12;
/// A window shorter than this never retargets (the first one: "adjusting after the first second").
pub const WINDOW_S: f64 = 1.0;
/// No change while the ideal difficulty is within this factor of the current one (the
/// Poisson noise of a one-second window of ~20 shares is ±22 %).
pub const DEADBAND: f64 = 1.5;
/// One retarget moves the difficulty by at most this factor either way (a window of two or
/// three shares says little about the rate; real pools clamp the same way).
pub const MAX_STEP: f64 = 4.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Vardiff {
    share_rate: f64,
    difficulty: f64,
    window_start_s: f64,
    window_hashes: f64,
    window_shares: u64,
}

impl Vardiff {
    /// `share_rate` shares per second wanted, starting at `initial` difficulty at time `now_s`.
    pub fn new(share_rate: f64, initial: f64, now_s: f64) -> Vardiff {
        Vardiff {
            share_rate,
            difficulty: initial.clamp(MIN_DIFFICULTY, MAX_DIFFICULTY),
            window_start_s: now_s,
            window_hashes: 0.0,
            window_shares: 0,
        }
    }

    pub fn difficulty(&self) -> f64 {
        self.difficulty
    }

    /// An accepted share standing for `expected_hashes`.
    pub fn on_share(&mut self, expected_hashes: f64) {
        self.window_hashes += expected_hashes;
        self.window_shares += 1;
    }

    /// At `now_s`: a new difficulty when the window is long enough and the rate it shows is
    /// off by more than [`DEADBAND`], moved at most [`MAX_STEP`]-fold; a window without any
    /// share quarters the difficulty.
    pub fn retarget(&mut self, now_s: f64) -> Option<f64> {
        let elapsed = now_s - self.window_start_s;
        if elapsed < WINDOW_S {
            return None;
        }
        let ideal = if self.window_shares == 0 {
            self.difficulty / MAX_STEP
        } else {
            let rate = self.window_hashes / elapsed;
            rate / (self.share_rate * HASHES_PER_DIFF1)
        }
        .clamp(self.difficulty / MAX_STEP, self.difficulty * MAX_STEP)
        .clamp(MIN_DIFFICULTY, MAX_DIFFICULTY);
        self.window_start_s = now_s;
        self.window_hashes = 0.0;
        self.window_shares = 0;
        let ratio = ideal / self.difficulty;
        if !(1.0 / DEADBAND..=DEADBAND).contains(&ratio) {
            self.difficulty = ideal;
            Some(ideal)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pow::Target;

    #[test]
    fn diff1_constant_matches_the_target() {
        let p = Target::from_share_difficulty(1.0)
            .unwrap()
            .hit_probability();
        assert!((1.0 / p / HASHES_PER_DIFF1 - 1.0).abs() < 1e-9);
    }

    #[test]
    fn converges_to_the_share_rate_of_a_steady_miner() {
        // A 10 MH/s miner, simulated with exact expected share counts per second.
        let rate = 10e6;
        let mut v = Vardiff::new(20.0, 1.0, 0.0);
        let mut t = 0.0;
        for _ in 0..20 {
            let per_share = v.difficulty() * HASHES_PER_DIFF1;
            let shares = (rate / per_share).floor() as u64;
            for _ in 0..shares {
                v.on_share(per_share);
            }
            t += 1.0;
            v.retarget(t);
        }
        let shares_per_s = rate / (v.difficulty() * HASHES_PER_DIFF1);
        assert!((shares_per_s / 20.0 - 1.0).abs() < 0.5, "{shares_per_s}");
        // Inside the dead band nothing changes.
        let before = v.difficulty();
        for _ in 0..20 {
            v.on_share(before * HASHES_PER_DIFF1);
        }
        assert_eq!(v.retarget(t + 1.0), None);
        assert_eq!(v.difficulty(), before);
    }

    #[test]
    fn a_silent_window_lowers_the_difficulty_and_short_windows_wait() {
        let mut v = Vardiff::new(20.0, 1.0, 0.0);
        assert_eq!(v.retarget(0.5), None);
        assert_eq!(v.retarget(1.0), Some(0.25));
        let mut low = Vardiff::new(20.0, MIN_DIFFICULTY, 0.0);
        assert_eq!(low.retarget(2.0), None, "already at the floor");
    }
}

#[cfg(test)]
mod step_tests {
    use super::*;

    #[test]
    fn one_retarget_moves_at_most_max_step() {
        let mut v = Vardiff::new(20.0, 1.0, 0.0);
        // Two shares worth a huge rate: the difficulty goes up 4x, not 1000x.
        v.on_share(1e6 * HASHES_PER_DIFF1);
        v.on_share(1e6 * HASHES_PER_DIFF1);
        assert_eq!(v.retarget(1.0), Some(4.0));
        let mut v = Vardiff::new(20.0, 1.0, 0.0);
        v.on_share(1e-3 * HASHES_PER_DIFF1);
        assert_eq!(v.retarget(1.0), Some(0.25));
    }
}
