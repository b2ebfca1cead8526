//! The `minebench` binary: the library's command line over the built-in backends and
//! schedulers (see [`minebench::main_with`] for a bench of one's own).

use std::process::ExitCode;

fn main() -> ExitCode {
    minebench::main_with(minebench::Registry::builtin())
}
