//! The `minebench` binary: parse the command line, run one command, map the outcome to an exit
//! code (0 ok, 1 failed run or detected regression, 2 usage or input error).

mod cli;
mod cmd;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if let Err(message) = minebench::pow::check_disable_env() {
        minebench::note!("error: {}: {message}", minebench::pow::DISABLE_ENV);
        return ExitCode::from(2);
    }
    match cmd::dispatch(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            minebench::note!("error: {}", minebench::error::message(&err));
            ExitCode::from(minebench::error::exit_code(&err))
        }
    }
}
