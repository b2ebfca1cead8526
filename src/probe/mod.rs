//! Probes wired around a case: pprof sampling, latency histograms, per-thread stats from
//! `/proc`, the machine fingerprint and the ceiling calibration.
