//! The `opsbot` binary. Everything lives in the library; see `opsbot::cli`.

fn main() -> std::process::ExitCode {
    opsbot::cli::main()
}
