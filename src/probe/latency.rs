//! Latency histograms (nanoseconds) and their summaries: percentiles for the report plus the
//! histogram itself, V2-serialized and base64-encoded, so `compare` can rebuild and merge it
//! later without the raw samples.
//!
//! Owns: the histogram bounds and encoding. Must not: read clocks (workers record durations
//! measured by `run/`) or decide what a latency means.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::ProbeError;

/// Highest trackable value: one hour in ns. Longer latencies are not plausible in a case.
const HIGHEST_NS: u64 = 3_600 * 1_000_000_000;

/// Percentiles of a latency histogram, all in nanoseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub min_ns: u64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    pub mean_ns: f64,
    /// The histogram in HdrHistogram's compressed V2 encoding (cookie 0x1c849314, zlib), base64
    /// standard alphabet: the form every HdrHistogram library decodes. Reports written before
    /// used the uncompressed V2 form (0x1c849313); [`decode`] reads both.
    pub histogram_b64: String,
}

/// An empty histogram for 1 ns .. 1 h at 3 significant figures (0.1 % value resolution).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_NS, 3)
        .expect("constant bounds 1..1h at 3 significant figures are valid for hdrhistogram")
}

/// Percentiles, mean and the encoded histogram. An empty histogram gives count 0 and zeros.
/// Percentiles are hdrhistogram's "highest equivalent value" (within 0.1 % of the truth).
pub fn summarize(h: &Histogram<u64>) -> Result<LatencySummary, ProbeError> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .map_err(|e| ProbeError::Histogram(format!("V2 serialization failed: {e:?}")))?;
    let empty = h.is_empty();
    let q = |quantile: f64| {
        if empty {
            0
        } else {
            h.value_at_quantile(quantile)
        }
    };
    Ok(LatencySummary {
        count: h.len(),
        min_ns: if empty { 0 } else { h.min() },
        p50_ns: q(0.5),
        p90_ns: q(0.9),
        p99_ns: q(0.99),
        p999_ns: q(0.999),
        max_ns: if empty { 0 } else { h.max() },
        mean_ns: h.mean(),
        histogram_b64: STANDARD.encode(bytes),
    })
}

/// Rebuilds a histogram from [`LatencySummary::histogram_b64`], compressed or not.
pub fn decode(b64: &str) -> Result<Histogram<u64>, ProbeError> {
    let bytes = STANDARD
        .decode(b64.trim())
        .map_err(|e| ProbeError::Histogram(format!("histogram is not valid base64: {e}")))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| ProbeError::Histogram(format!("histogram does not decode as V2: {e:?}")))
}

/// Adds histograms together (e.g. one per worker). The result auto-resizes, so a histogram
/// decoded with wider bounds still merges without loss.
pub fn merge(hs: impl IntoIterator<Item = Histogram<u64>>) -> Histogram<u64> {
    let mut total = new_histogram();
    total.auto(true);
    for h in hs {
        // With auto-resize on, `add` can only fail if the counts array outgrows usize, which
        // values below 2^64 ns cannot cause at 3 significant figures.
        total
            .add(&h)
            .expect("auto-resizing histogram accepts any u64 histogram at 3 significant figures");
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Histogram<u64> {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v * 1_000).unwrap(); // 1 µs .. 10 ms
        }
        h.record_n(5_000_000_000, 3).unwrap(); // three 5 s outliers
        h
    }

    #[test]
    fn summarize_decode_round_trip() {
        let h = sample();
        let s = summarize(&h).unwrap();
        assert_eq!(s.count, 10_003);
        assert!(s.min_ns <= 1_000 && s.min_ns > 990);
        assert!(s.p50_ns <= s.p90_ns && s.p90_ns <= s.p99_ns && s.p99_ns <= s.p999_ns);
        assert!(s.max_ns >= 5_000_000_000);
        // p50 of 1..10000 µs is ~5 ms, within hdrhistogram's 0.1 %.
        assert!((4_990_000..=5_010_000).contains(&s.p50_ns), "{}", s.p50_ns);

        let back = decode(&s.histogram_b64).unwrap();
        assert_eq!(back.len(), h.len());
        let again = summarize(&back).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn histograms_are_written_compressed_and_read_in_both_encodings() {
        use hdrhistogram::serialization::V2Serializer;
        let h = sample();
        let s = summarize(&h).unwrap();
        let bytes = STANDARD.decode(&s.histogram_b64).unwrap();
        // The compressed V2 cookie, which HdrHistogram's Java, C, Go and Python decoders read.
        assert_eq!(bytes[..4], 0x1c84_9314u32.to_be_bytes());
        // An older report's uncompressed V2 form still decodes to the same histogram.
        let mut plain = Vec::new();
        V2Serializer::new().serialize(&h, &mut plain).unwrap();
        assert_eq!(plain[..4], 0x1c84_9313u32.to_be_bytes());
        let old = decode(&STANDARD.encode(&plain)).unwrap();
        assert_eq!(summarize(&old).unwrap(), s);
    }

    #[test]
    fn empty_histogram_summarizes_to_zeros() {
        let s = summarize(&new_histogram()).unwrap();
        assert_eq!((s.count, s.min_ns, s.p99_ns, s.max_ns), (0, 0, 0, 0));
        assert_eq!(decode(&s.histogram_b64).unwrap().len(), 0);
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(matches!(
            decode("not base64!"),
            Err(ProbeError::Histogram(_))
        ));
        let e = decode(&STANDARD.encode(b"0123456789")).unwrap_err();
        assert!(e.to_string().contains("V2"), "{e}");
    }

    #[test]
    fn merge_adds_counts() {
        let a = sample();
        let mut b = new_histogram();
        b.record(42).unwrap();
        let m = merge([a.clone(), b]);
        assert_eq!(m.len(), a.len() + 1);
        assert_eq!(m.min(), 42);
        assert_eq!(merge(std::iter::empty()).len(), 0);
    }
}
