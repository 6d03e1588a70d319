//! `bothy-server`: see the library's `cli` module.
//!
//! The binary allocates with jemalloc, whose background thread returns freed memory to the
//! system a few seconds after a burst of syncs. With glibc's allocator the server kept three
//! quarters of its peak after load (docs/benchmarks.md, "Server memory under load").

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    bothy_server::cli::main()
}
