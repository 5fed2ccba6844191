//! The `filegate` client commands, run as the real binary against a real server.

mod errors;
mod files;
mod harness;
mod search;
mod transfers;
mod watch;
