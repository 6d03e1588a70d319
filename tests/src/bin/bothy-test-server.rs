//! The server binary, built inside this crate so scenarios can run it as a separate process
//! (and kill it with SIGKILL). Identical to `bothy-server`.

fn main() -> std::process::ExitCode {
    bothy_server::cli::main()
}
