//! What analysts read: tidy exports ([`export`]), reports ([`reports`], and several sites in
//! one report: [`sites`]) and charts
//! ([`charts`]) built on paired-outcome statistics ([`stats`]), with small cells suppressed
//! ([`disclosure`]) and free text redacted ([`redact`]); which single records they may read
//! ([`access`]); and what the dashboard's pages show ([`dashboard`]).

pub mod access;
pub mod charts;
pub mod dashboard;
pub mod disclosure;
pub mod export;
pub mod package;
pub mod redact;
pub mod reports;
pub mod sites;
pub mod stats;
pub mod typed;
