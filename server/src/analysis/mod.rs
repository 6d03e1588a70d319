//! What analysts read: tidy exports ([`export`]), reports ([`reports`]) and charts
//! ([`charts`]) built on paired-outcome statistics ([`stats`]), with small cells suppressed
//! ([`disclosure`]) and free text redacted ([`redact`]).

pub mod charts;
pub mod disclosure;
pub mod export;
pub mod redact;
pub mod reports;
pub mod stats;
