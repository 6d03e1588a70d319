//! Enrolment over a bad signal: the server enrols the device but its answer never arrives.
//! Running the same enrolment again from the same device succeeds, leaves one device on the
//! server (the same one, its lost credential replaced), and the device syncs; the failure in
//! between speaks of enrolment, not of records; and another device cannot use the spent code.

use bothy_device::{Device, DeviceError};
use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_backends!(enrolment_retry_after_lost_answer_succeeds);

/// A TCP proxy that loses the next `lose` answers: the request reaches the server, which
/// answers, but the client's connection is closed instead of being given the answer.
struct LossyProxy {
    addr: SocketAddr,
    lose: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl LossyProxy {
    async fn start(upstream: SocketAddr) -> LossyProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let lose = Arc::new(AtomicU32::new(0));
        let losing = lose.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let losing = losing.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async move {
                        let _ = tokio::io::copy(&mut cr, &mut sw).await;
                        let _ = sw.shutdown().await;
                    };
                    let down = async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match sr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let lost = losing
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                    n.checked_sub(1)
                                })
                                .is_ok();
                            if lost {
                                // The server has answered (and so committed); the client never
                                // hears it.
                                break;
                            }
                            if cw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        drop(cw);
                    };
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                    }
                });
            }
        });
        LossyProxy { addr, lose, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn lose_next_answer(&self) {
        self.lose.store(1, Ordering::SeqCst);
    }
}

impl Drop for LossyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The user's devices as the admin sees them.
async fn devices_of(h: &Harness, username: &str) -> Vec<Value> {
    h.get("/api/v1/admin/devices")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["username"] == username)
        .cloned()
        .collect()
}

async fn enrolment_retry_after_lost_answer_succeeds(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.user("rory", "p", "researcher").await;
    let proxy = LossyProxy::start(h.addr).await;
    let code = h.enrolment_code("rory").await;

    // The answer to the enrolment is lost on the way back.
    let phone = Device::open(&h.dir.join("phone.db")).await.unwrap();
    proxy.lose_next_answer();
    let err = phone
        .enrol(&proxy.url(), &code, "rory's phone")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DeviceError::EnrolmentUnreachable { .. }),
        "{err:?}"
    );
    assert!(err.is_temporary());
    let message = err.to_string();
    assert!(
        message.contains("could not enrol this device")
            && message.contains("enrolment code still works")
            && message.contains("run the same command again")
            && !message.contains("records"),
        "{message}"
    );
    assert!(!phone.is_enrolled().await.unwrap());
    // The server did enrol a device.
    let made = devices_of(&h, "rory").await;
    assert_eq!(made.len(), 1, "{made:?}");
    let device_id = made[0]["device_id"].as_str().unwrap().to_owned();

    // The same command again: the same device, not a second one and not "already used".
    let enrolled = phone
        .enrol(&proxy.url(), &code, "rory's phone")
        .await
        .expect("the repeated enrolment succeeds");
    assert_eq!(enrolled.device_id, device_id);
    assert_eq!(enrolled.username, "rory");
    let after = devices_of(&h, "rory").await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["revoked"], false, "{after:?}");

    // The device records and syncs with the credential of the second answer.
    let participant = phone
        .create_participant(Some("p"), &[("consent.data_use", true.into())])
        .await
        .unwrap();
    let summary = phone.sync().await.expect("the enrolled device syncs");
    assert_eq!(summary.acked, 1, "{summary:?}");
    assert!(h.record("p", participant.id).await["record"].is_object());
    // Its history names the device the server made the first time.
    let hist = h
        .get(&format!(
            "/api/v1/projects/p/records/{}/history",
            participant.id
        ))
        .await;
    assert_eq!(
        hist["changes"][0]["device_id"],
        device_id.as_str(),
        "{hist}"
    );

    // The audit log tells the first enrolment and its repeat apart.
    let audit = h.get("/api/v1/admin/audit?action=device.enrol").await;
    let repeated: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == device_id.as_str())
        .map(|e| &e["details"]["repeated"])
        .collect();
    assert_eq!(repeated.len(), 2, "{audit}");
    assert!(repeated.contains(&&json!(true)), "{audit}");

    // Another device with the spent code is refused, and no device is made.
    let other = Device::open(&h.dir.join("other.db")).await.unwrap();
    let err = other
        .enrol(&h.url(), &code, "someone else's phone")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DeviceError::Rejected { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("already been used"), "{err}");
    assert!(!other.is_enrolled().await.unwrap());
    // So is a client that sends no enrolment id at all.
    let bare = h
        .post_json(
            "/api/v1/devices/enrol",
            None,
            json!({"code": code, "name": "bare"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(bare.contains("401"), "{bare}");
    // And an id that is not one is named.
    let bad = h
        .post_json(
            "/api/v1/devices/enrol",
            None,
            json!({"code": code, "name": "bad", "enrolment_id": "x"}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.contains("invalid_enrolment_id"), "{bad}");
    assert_eq!(devices_of(&h, "rory").await.len(), 1);

    // Over the bare API: a repeat replaces the lost answer's token, which stops working; once
    // the device is revoked, its enrolment cannot be taken up again.
    let code = h.enrolment_code("rory").await;
    let ask = json!({"code": code, "name": "tablet", "enrolment_id": "tablet-7-0123456789abcdef"});
    let first = h
        .post_json("/api/v1/devices/enrol", None, ask.clone())
        .await
        .unwrap();
    let second = h
        .post_json("/api/v1/devices/enrol", None, ask.clone())
        .await
        .unwrap();
    assert_eq!(first["device_id"], second["device_id"]);
    assert_eq!(first["actor"], second["actor"]);
    assert_ne!(first["device_token"], second["device_token"]);
    let token = |v: &Value| v["device_token"].as_str().unwrap().to_owned();
    assert!(h.get_as("/api/v1/me", &token(&first)).await.is_err());
    assert!(h.get_as("/api/v1/me", &token(&second)).await.is_ok());
    h.admin(
        &format!(
            "/api/v1/admin/devices/{}/revoke",
            second["device_id"].as_str().unwrap()
        ),
        json!({"reason": "lost tablet"}),
    )
    .await;
    let refused = h
        .post_json("/api/v1/devices/enrol", None, ask)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("401") && refused.contains("revoked"),
        "{refused}"
    );
    assert_eq!(devices_of(&h, "rory").await.len(), 2);
    h.finish().await;
}
