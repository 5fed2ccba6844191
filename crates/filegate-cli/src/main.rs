//! The `filegate` binary: a shim over the library (`filegate_cli::main`).

fn main() -> std::process::ExitCode {
    filegate_cli::main()
}
