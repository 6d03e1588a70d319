//! End-to-end scenarios: a real server on port 0, real devices, a fresh database per test,
//! each on SQLite and on PostgreSQL.

mod scenarios {
    pub mod hostile;
    pub mod raw_input;
}
