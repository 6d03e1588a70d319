//! Whether the database answers.

use sqlx::any::AnyExecutor;

/// Runs the smallest statement there is: `Ok` when the database answers.
pub async fn ping(db: impl AnyExecutor<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(db).await?;
    Ok(())
}
