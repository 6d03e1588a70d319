//! A scenario that cannot run here says why, in the test run's own output: the harness hides
//! what a passing test prints with `eprintln!`, so a silent `ok` would hide a skipped backend.

/// Runs one PostgreSQL scenario of this very test binary with PostgreSQL unset, and reads what
/// it printed.
#[test]
fn skipped_scenarios_print_their_reason() {
    let name = "scenarios::worked_example::protocol_worked_example_cursor_carries_scope::postgres";
    let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", name])
        .env_remove("BOTHY_TEST_POSTGRES_URL")
        .env_remove("BOTHY_REQUIRE_POSTGRES")
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert!(
        stderr.contains(&format!("skipped: {name}: PostgreSQL scenario"))
            && stderr.contains("BOTHY_TEST_POSTGRES_URL"),
        "the skip reason was not shown:\n{stderr}"
    );
}
