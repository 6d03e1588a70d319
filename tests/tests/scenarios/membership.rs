//! Joining a project later: records logged before the device's cursor reached them are still
//! delivered, because the device's position is tied to the projects it covers.

use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::json;

on_both_backends!(joining_a_project_delivers_its_history);

async fn joining_a_project_delivers_its_history(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.project("q").await;
    h.user("ruth", "p", "researcher").await;
    h.user("alex", "q", "researcher").await;
    let ruth = h.device("ruth", "ruth-phone").await;
    let alex = h.device("alex", "alex-phone").await;

    let mut q_records = Vec::new();
    for _ in 0..3 {
        q_records.push(alex.create_participant(Some("q"), &[]).await.unwrap().id);
    }
    alex.sync().await.unwrap();
    let own = ruth.create_participant(Some("p"), &[]).await.unwrap().id;
    ruth.sync().await.unwrap();
    // Ruth's position is now past alex's records, which she could not see.
    assert!(ruth.status().await.unwrap().cursor.seq > 0);
    assert!(ruth.get(q_records[0]).await.is_err());

    h.admin(
        "/api/v1/admin/projects/q/members",
        json!({"username": "ruth", "role": "researcher"}),
    )
    .await;
    ruth.sync().await.unwrap();
    for id in &q_records {
        let on_ruth = ruth.heads(*id).await.expect("delivered after joining");
        assert_eq!(on_ruth, alex.heads(*id).await.unwrap());
    }
    assert!(ruth.get(own).await.is_ok());
    // And the next sync is back to incremental: nothing new, nothing re-sent.
    let summary = ruth.sync().await.unwrap();
    assert_eq!(summary.received, 0, "{summary:?}");
    h.finish().await;
}
