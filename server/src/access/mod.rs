//! Who may do what: projects, users, memberships and enrolled devices ([`accounts`]),
//! passwords, logins, tokens and device credentials ([`auth`]), roles
//! and what each may see ([`roles`]), revoked devices told to wipe themselves ([`wipe`]), and
//! the audit log of who did what ([`audit`]).

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod roles;
pub mod wipe;
