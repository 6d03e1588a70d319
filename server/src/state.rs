//! Shared state: one cloneable struct of cheap handles, passed to every handler.

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::db::Db;
use std::sync::Arc;

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Access-token keys.
    pub keys: JwtKeys,
    /// Configuration.
    pub config: Arc<Config>,
}
