//! A project's follow-up schedule: when each questionnaire after baseline is due
//! ([`bothy_sync_core::followup`]). `GET /api/v1/projects/{slug}/followups` reads it (any
//! member, and server admins); `PUT` replaces it (the project's admins and coordinators, and
//! server admins: [`Capability::ManageSetup`]), audited as `followups.set`. Devices receive it
//! in the project's set-up ([`crate::sync::setup::setup_for`]), whose version changes with it.

use super::JsonBody;
use crate::access::audit;
use crate::access::auth::UserAuth;
use crate::access::roles::{Capability, ProjectAccess};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::{self, Db, now};
use axum::Json;
use axum::extract::{Path, State};
use bothy_sync_core::followup::{self, FollowUp};
use serde_json::{Value, json};
use std::borrow::Cow;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, SchemaType, Type,
};
use utoipa::openapi::{RefOr, Schema};

/// The body of `PUT /api/v1/projects/{slug}/followups`: `{"followups":[step...]}`.
pub struct ScheduleBody;

impl utoipa::PartialSchema for ScheduleBody {
    fn schema() -> RefOr<Schema> {
        // `null` is read as absent, as the schema says.
        let count = |max: u32, description: &str| {
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
                .minimum(Some(1))
                .maximum(Some(max))
                .description(Some(description))
        };
        let step = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "One step: a timepoint and exactly one of `after_weeks` or `after_sessions`",
            ))
            .property(
                "timepoint",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(followup::follow_up_timepoints()))
                    .description(Some("A timepoint other than baseline, each at most once")),
            )
            .property(
                "after_weeks",
                count(
                    followup::MAX_WEEKS,
                    "Due this many weeks after the participant's baseline",
                ),
            )
            .property(
                "after_sessions",
                count(
                    followup::MAX_SESSIONS,
                    "Due once the participant has attended this many sessions",
                ),
            )
            .required("timepoint")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "The whole schedule, in order; it replaces the project's. `[]` clears it.",
            ))
            .property(
                "followups",
                ArrayBuilder::new()
                    .items(step)
                    .max_items(Some(followup::follow_up_timepoints().len())),
            )
            .required("followups")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl utoipa::ToSchema for ScheduleBody {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FollowUpSchedule")
    }
}

/// A 404 for a server admin naming a project that does not exist (members get in only to
/// projects that do; others are refused by [`ProjectAccess::require`]).
async fn require_project(db: &Db, access: &ProjectAccess, project: &str) -> ApiResult<()> {
    if access.role.is_none() && !storage::projects::exists(&db.pool, project).await? {
        return Err(ApiError::NotFound(format!("no project `{project}`")));
    }
    Ok(())
}

/// The answer of both routes: `{"project","followups":[...]}`.
fn answer(project: &str, steps: &[FollowUp]) -> Json<Value> {
    Json(json!({"project": project, "followups": steps}))
}

/// `GET /api/v1/projects/{slug}/followups`: the project's follow-up schedule.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{slug}/followups",
    tag = "projects",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "the project")),
    responses(
        (status = 200, description = "`{\"project\",\"followups\":[{\"timepoint\",\"after_weeks\"?,\"after_sessions\"?}]}` in order; `[]` when the project has no schedule"),
        (status = 403, description = "not a member of the project (nor a server admin)", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (server admins; others get 403)", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    user: UserAuth,
    Path(project): Path<String>,
) -> ApiResult<Json<Value>> {
    let access = ProjectAccess::require(&state, &user, &project, Capability::ReadRecords).await?;
    require_project(&state.db, &access, &project).await?;
    let steps = storage::setup::followup_schedule(&state.db.pool, &project).await?;
    Ok(answer(&project, &steps))
}

/// `PUT /api/v1/projects/{slug}/followups`: replaces the project's follow-up schedule (`[]`
/// clears it). Devices receive it at their next sync.
#[utoipa::path(
    put,
    path = "/api/v1/projects/{slug}/followups",
    tag = "projects",
    security(("user_token" = [])),
    params(("slug" = String, Path, description = "the project")),
    request_body = ScheduleBody,
    responses(
        (status = 200, description = "Stored: `{\"project\",\"followups\":[...]}`, the schedule as it now is"),
        (status = 400, description = "`invalid_json`: the body is not a JSON object", body = crate::openapi::ErrorBody),
        (status = 403, description = "not a server admin, nor the project's admin or coordinator", body = crate::openapi::ErrorBody),
        (status = 404, description = "no such project (server admins; others get 403)", body = crate::openapi::ErrorBody),
        (status = 415, description = "not sent as `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 422, description = "`invalid_followups`: every problem, each naming its step (`step 2 (end): after_weeks: 300 is out of range; give 1 to 260 weeks`): an unknown timepoint, baseline, both or neither of `after_weeks` and `after_sessions`, a number out of range, a timepoint given twice, an unknown field", body = crate::openapi::ErrorBody),
        (status = 401, description = "no valid credential", body = crate::openapi::ErrorBody),
        (status = 500, description = "internal error", body = crate::openapi::ErrorBody),
        (status = 503, description = "the database is unavailable", body = crate::openapi::ErrorBody),
    )
)]
pub async fn put(
    State(state): State<AppState>,
    user: UserAuth,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let access = ProjectAccess::require(&state, &user, &project, Capability::ManageSetup).await?;
    require_project(&state.db, &access, &project).await?;
    let steps = read_body(&body)?;
    let mut tx = state.db.begin_write().await?;
    // Two coordinators saving at once: one schedule wins whole, never a mixture.
    state
        .db
        .lock_record(&mut tx, &format!("followups/{project}"))
        .await?;
    let before: Vec<String> = storage::setup::followup_schedule(&mut *tx, &project)
        .await?
        .iter()
        .map(ToString::to_string)
        .collect();
    storage::setup::replace_followup_schedule(&mut tx, &project, &steps, now()).await?;
    let after: Vec<String> = steps.iter().map(ToString::to_string).collect();
    audit::record(
        &mut *tx,
        &audit::Actor::user(&user),
        "followups.set",
        Some(&project),
        None,
        json!({"before": before, "after": after}),
    )
    .await?;
    tx.commit().await?;
    Ok(answer(&project, &steps))
}

/// Reads and checks `{"followups":[...]}`: `422 invalid_followups` listing every problem.
fn read_body(body: &Value) -> ApiResult<Vec<FollowUp>> {
    let unprocessable = |message: String| ApiError::Unprocessable {
        code: "invalid_followups",
        message,
    };
    let fields = body
        .as_object()
        .ok_or_else(|| ApiError::bad("invalid_json", "the body must be a JSON object"))?;
    let mut problems: Vec<String> = fields
        .keys()
        .filter(|k| k.as_str() != "followups")
        .map(|k| format!("{k}: not a field; send {{\"followups\":[...]}}"))
        .collect();
    let steps = match fields.get("followups") {
        None => {
            problems.push(
                "followups: missing; send {\"followups\":[{\"timepoint\":\"end\",\
                 \"after_weeks\":12}]} ([] clears the schedule)"
                    .into(),
            );
            None
        }
        Some(list) => match followup::from_json(list) {
            Ok(steps) => Some(steps),
            Err(errors) => {
                problems.push(followup::describe(&errors));
                None
            }
        },
    };
    match steps {
        Some(steps) if problems.is_empty() => Ok(steps),
        _ => Err(unprocessable(problems.join("; "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(body: Value) -> String {
        match read_body(&body) {
            Err(ApiError::Unprocessable { code, message }) => {
                assert_eq!(code, "invalid_followups");
                message
            }
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn bodies_are_read_and_every_problem_named() {
        assert_eq!(
            read_body(&json!({"followups": [{"timepoint": "end", "after_weeks": 8}]})).unwrap(),
            [FollowUp::weeks("end", 8)]
        );
        assert_eq!(read_body(&json!({"followups": []})).unwrap(), []);
        assert!(refusal(json!({})).starts_with("followups: missing"));
        assert_eq!(
            refusal(json!({"followups": [], "schedule": 1})),
            "schedule: not a field; send {\"followups\":[...]}"
        );
        assert_eq!(
            refusal(
                json!({"followups": [{"timepoint": "end", "after_weeks": 8, "after_sessions": 2}]})
            ),
            "step 1 (end): give after_weeks or after_sessions, not both: a step is due by one measure"
        );
    }
}
