//! Executes a plan: warm-up, samples, Ctrl-C, probes wired around each case. Owns the clocks.
//! Must not: format output.
