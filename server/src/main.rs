//! `bothy-server`: see the library's `cli` module.

fn main() -> std::process::ExitCode {
    bothy_server::cli::main()
}
