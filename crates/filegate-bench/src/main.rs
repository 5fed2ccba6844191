//! `filegate-bench`: a shim over the library (see `lib.rs` for what it measures).

fn main() -> std::process::ExitCode {
    filegate_bench::main()
}
