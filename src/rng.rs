//! The one seedable generator minebench uses (test data, synthetic headers, bootstrap
//! resampling): small, dependency-free and the same on every platform.

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, seedable, good enough for test data and synthetic
/// headers, and the same on every platform.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
