//! End-to-end scenarios: a real server on port 0, real devices, a fresh database per test,
//! each on SQLite and on PostgreSQL.

mod scenarios {
    pub mod accounts;
    pub mod analysis;
    pub mod analyst_views;
    pub mod auth;
    pub mod backup_restore;
    pub mod canonical_ids;
    pub mod capture_roles;
    pub mod compressed_bodies;
    pub mod crash;
    pub mod dashboard;
    pub mod device_life;
    pub mod enrolment_retry;
    pub mod erasure;
    pub mod erasure_bytes;
    pub mod hostile;
    pub mod instrument_define;
    pub mod instrument_exports;
    pub mod least_data;
    pub mod login_limits;
    pub mod lost_device;
    pub mod membership;
    pub mod offline_merge;
    pub mod openapi;
    pub mod quarantine_quota;
    pub mod raw_input;
    pub mod restore_drill;
    pub mod restore_reconcile;
    pub mod review;
    pub mod roles;
    pub mod round_trip;
    pub mod schema_fields;
    pub mod setup;
    pub mod skips;
    pub mod slow_clients;
    pub mod two_servers;
    pub mod webapp;
    pub mod webapp_lock;
    pub mod worked_example;
}
