//! The `cxpulse` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser;

fn main() {
    std::process::exit(try_main());
}

fn try_main() -> i32 {
    let cli = cxpulse::cli::Cli::parse();
    match cxpulse::cli::dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {:#}", e.error);
            e.code
        }
    }
}
