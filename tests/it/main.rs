//! One integration-test binary (as in ripgrep): the daemon booted in-process, the CLI as a
//! subprocess, sources against fixture servers on 127.0.0.1. No test touches the internet.

mod authenticity;
mod cache;
mod cli;
mod crash;
mod daemon;
mod dashboard;
mod digest;
mod fetch;
mod forget;
mod fuzz;
mod notify;
mod serving;
mod smtp;
mod social;
mod sources;
mod storage;
mod util;
