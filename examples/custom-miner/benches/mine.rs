//! `cargo bench -p custom-miner --bench mine -- run scenarios/mine.toml`: minebench's whole
//! command line with this crate's backend and scheduler registered (no arguments: the default
//! scenario, which includes them).

fn main() -> std::process::ExitCode {
    minebench::main_with(custom_miner::registry())
}
