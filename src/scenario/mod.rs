//! Scenario files: the TOML format, validation with file:line:key errors, and pure expansion
//! into a `Plan`. Must not: touch clocks or threads.
