//! The `cxpulse` binary: parse arguments, run, map the outcome to an exit code.

use clap::Parser;

fn main() {
    std::process::exit(try_main());
}

fn try_main() -> i32 {
    limit_malloc_arenas();
    let cli = cxpulse::cli::Cli::parse();
    match cxpulse::cli::dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {:#}", e.error);
            e.code
        }
    }
}

/// glibc gives every thread that allocates its own malloc arena; the daemon touches the same
/// store pages from runtime workers and blocking threads, and the arenas' fragmentation showed up
/// as 100+ MB of resident memory in the 1M-post benchmark. Two arenas are plenty here.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any thread is started.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
