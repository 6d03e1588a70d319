//! Who may do what: accounts and passwords, tokens and device credentials ([`auth`]), roles
//! and what each may see ([`roles`]), revoked devices told to wipe themselves ([`wipe`]), and
//! the audit log of who did what ([`audit`]).

pub mod audit;
pub mod auth;
pub mod roles;
pub mod wipe;
