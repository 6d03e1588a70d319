//! The data key, its wrapping by a PIN, sealing values and refusing tampered ones.

use super::*;
use crate::{Enrolment, Membership, User};
use bothy_sync_core::FieldValue;
use bothy_sync_core::automerge::ActorId;
use std::path::Path;

/// A cheap cost, so the tests do not spend their time in argon2 (the real one is
/// [`PinCost::DEFAULT`]).
const CHEAP: PinCost = PinCost {
    memory_kib: 1024,
    iterations: 1,
    lanes: 1,
};
const PIN: &str = "heather-4127";
const NAME: &str = "Wilhelmina Strathbogie";
const PHONE: &str = "07700 900461";
const STORY: &str = "The ferry to Raasay was late again, so she sang.";
const TOKEN: &str = "bd1_0190a7e211117000800000000000001_tokensecret";

async fn enrolled(path: &Path) -> Device {
    let device = Device::open(path).await.unwrap();
    let enrolment = Enrolment {
        device_id: "0190a7e2-1111-7000-8000-000000000001".into(),
        device_token: TOKEN.into(),
        actor: ActorId::random().to_hex_string(),
        user: User {
            id: "u-ana".into(),
            username: "ana".into(),
            is_admin: false,
        },
        memberships: vec![Membership {
            project: "glen".into(),
            role: "researcher".into(),
        }],
        server_time: 0,
    };
    device
        .adopt_identity("http://127.0.0.1:9", &enrolment)
        .await
        .unwrap();
    device
}

/// A participant with a name and phone, and a story about them.
async fn capture(device: &Device) -> (uuid::Uuid, uuid::Uuid) {
    let p = device
        .create_participant(
            None,
            &[
                ("contact.name", NAME.into()),
                ("contact.phone", PHONE.into()),
                ("age_band", "65-74".into()),
            ],
        )
        .await
        .unwrap();
    let story = device
        .create_story(
            None,
            &[
                ("title", "Raasay".into()),
                ("body", STORY.into()),
                ("consent_scope", "project".into()),
                ("participant", FieldValue::from(p.id.to_string())),
            ],
        )
        .await
        .unwrap();
    (p.id, story)
}

/// Every byte of the store's files (main, -wal, -shm).
fn file_bytes(path: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        if let Ok(bytes) = std::fs::read(&name) {
            all.extend(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn sql(device: &Device, statement: &str) {
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(&device.pool)
        .await
        .unwrap();
}

#[test]
fn sealed_values_open_only_in_their_place() {
    let cipher = Cipher::random();
    let here = Place {
        table: "records",
        column: "doc",
        row: "a",
    };
    let sealed = cipher.seal(&here, b"participant data");
    assert_eq!(sealed[0], FORMAT);
    assert!(!contains(&sealed, "participant data"));
    assert_eq!(cipher.open(&here, &sealed).unwrap(), b"participant data");
    // A fresh nonce each time: the same value seals differently.
    assert_ne!(cipher.seal(&here, b"participant data"), sealed);

    for elsewhere in [
        Place { row: "b", ..here },
        Place {
            column: "label",
            ..here
        },
        Place {
            table: "set_aside",
            ..here
        },
    ] {
        let err = cipher.open(&elsewhere, &sealed).unwrap_err().to_string();
        assert!(err.contains("failed its integrity check"), "{err}");
    }
    let mut changed = sealed.clone();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    assert!(cipher.open(&here, &changed).is_err());
    let mut changed = sealed.clone();
    changed[30] ^= 0x80;
    assert!(cipher.open(&here, &changed).is_err());
    assert!(cipher.open(&here, &sealed[..20]).is_err());
    assert!(
        Cipher::random().open(&here, &sealed).is_err(),
        "another key"
    );
}

#[tokio::test]
async fn the_data_key_is_wrapped_by_the_pin_and_unwrapped_only_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let device = Device::open(&path).await.unwrap();
    assert!(!device.has_pin());
    device.set_pin_with_cost(PIN, CHEAP).await.unwrap();
    assert!(device.has_pin() && !device.is_locked());
    let key = device.session_key().unwrap();
    device.close().await;

    let device = Device::open(&path).await.unwrap();
    assert!(device.has_pin() && device.is_locked());
    assert_eq!(device.pin_cost().await.unwrap(), Some(CHEAP));
    let err = device.list(None).await.unwrap_err();
    assert!(matches!(err, DeviceError::Locked));
    assert_eq!(
        err.to_string(),
        "this store is locked: unlock it with your PIN"
    );
    let err = device.unlock("heather-4128").await.unwrap_err();
    assert_eq!(err.to_string(), "wrong PIN for this store");
    assert!(device.is_locked());
    device.unlock(PIN).await.unwrap();
    assert_eq!(device.session_key().unwrap().to_hex(), key.to_hex());
    assert!(device.list(None).await.unwrap().is_empty());
    device.lock();
    assert!(matches!(device.status().await, Err(DeviceError::Locked)));

    // The key record holds the salt, the cost and the wrapped key, never the key itself.
    let mut conn = device.pool.acquire().await.unwrap();
    let record = KeyRecord::read(&mut conn).await.unwrap().unwrap();
    drop(conn);
    assert_eq!(record.kdf, "argon2id");
    assert_eq!(hex::decode(&record.salt).unwrap().len(), 16);
    assert!(!record.wrapped_key.contains(key.to_hex().as_str()));
    assert!(!contains(&file_bytes(&path), key.to_hex().as_str()));
    assert!(!contains(&file_bytes(&path), PIN));

    // The kept key unlocks another handle; another key does not.
    let other = Device::open(&path).await.unwrap();
    let wrong = SessionKey::from_hex(&"ab".repeat(32)).unwrap();
    assert!(other.unlock_with_key(&wrong).await.is_err());
    assert!(other.is_locked());
    other.unlock_with_key(&key).await.unwrap();
    assert!(other.list(None).await.is_ok());
    other.close().await;
    device.close().await;
}

#[tokio::test]
async fn a_plain_store_is_encrypted_in_place_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let device = enrolled(&path).await;
    let (participant, story) = capture(&device).await;
    let code = device.get(participant).await.unwrap().view.data;
    let bothy_sync_core::RecordData::Participant(p) = code else {
        panic!("a participant")
    };
    let before = device.list(None).await.unwrap();
    let story_bytes = device.document_bytes(story).await.unwrap();
    // A set-aside copy and a report, as a sync would leave them.
    let mut tx = store::begin_write(&device.pool).await.unwrap();
    store::insert_set_aside(
        &mut tx,
        &device.vault,
        story,
        "story",
        "glen",
        &story_bytes,
        &format!("not_allowed: {NAME} may not be written"),
        1,
    )
    .await
    .unwrap();
    store::insert_report(
        &mut tx,
        &device.vault,
        participant,
        "quarantined",
        "invalid",
        Some("phone"),
        &format!("{PHONE} is not a phone number"),
        1,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(contains(&file_bytes(&path), TOKEN), "plain to begin with");

    device.set_pin_with_cost(PIN, CHEAP).await.unwrap();
    device.close().await;
    let bytes = file_bytes(&path);
    for secret in [NAME, PHONE, STORY, TOKEN, "Raasay", p.code.as_str()] {
        assert!(!contains(&bytes, secret), "{secret:?} is left in the files");
    }

    let device = Device::open(&path).await.unwrap();
    device.unlock(PIN).await.unwrap();
    assert_eq!(device.list(None).await.unwrap(), before);
    let got = device.get(participant).await.unwrap();
    let (_, contact) = got.contact.expect("the participant's contact record");
    assert_eq!(contact.name.as_deref(), Some(NAME));
    assert_eq!(contact.phone.as_deref(), Some(PHONE));
    assert_eq!(
        device.find(None, &p.code.to_lowercase()).await.unwrap(),
        participant
    );
    assert_eq!(device.document_bytes(story).await.unwrap(), story_bytes);
    let status = device.status().await.unwrap();
    assert_eq!(
        status.set_aside[0].reason,
        format!("not_allowed: {NAME} may not be written")
    );
    assert_eq!(
        device
            .set_aside_document(status.set_aside[0].id)
            .await
            .unwrap(),
        story_bytes
    );
    assert_eq!(
        status.recent_reports[0].message,
        format!("{PHONE} is not a phone number")
    );
    assert_eq!(device.identity().await.unwrap().unwrap().token, TOKEN);
    let err = device
        .set_pin_with_cost("another-pin", CHEAP)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already has a PIN"), "{err}");
    // Capture goes on, sealed.
    let (more, _) = capture(&device).await;
    assert!(device.get(more).await.is_ok());
    device.close().await;
    assert!(!contains(&file_bytes(&path), NAME));
}

#[tokio::test]
async fn a_changed_or_swapped_value_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let device = enrolled(&path).await;
    device.set_pin_with_cost(PIN, CHEAP).await.unwrap();
    let (participant, story) = capture(&device).await;

    // Two rows' documents swapped: each is now in the wrong row, and neither opens.
    let doc_of = |id: uuid::Uuid| {
        sqlx::query_scalar::<_, Vec<u8>>("SELECT doc FROM records WHERE id = ?")
            .bind(id.to_string())
            .fetch_one(&device.pool)
    };
    let (a, b) = (
        doc_of(participant).await.unwrap(),
        doc_of(story).await.unwrap(),
    );
    for (id, doc) in [(participant, b), (story, a)] {
        sqlx::query("UPDATE records SET doc = ? WHERE id = ?")
            .bind(doc)
            .bind(id.to_string())
            .execute(&device.pool)
            .await
            .unwrap();
    }
    for id in [participant, story] {
        let err = device.get(id).await.unwrap_err().to_string();
        assert!(
            err.contains(&format!("records.doc of {id} failed its integrity check")),
            "{err}"
        );
    }
    // A label moved to another row.
    sql(
        &device,
        &format!(
            "UPDATE records SET label = (SELECT label FROM records WHERE id = '{story}') \
             WHERE id = '{participant}'"
        ),
    )
    .await;
    let err = device.list(None).await.unwrap_err().to_string();
    assert!(err.contains("records.label"), "{err}");

    // A changed byte in a credential.
    let other = dir.path().join("other.db");
    let device2 = enrolled(&other).await;
    device2.set_pin_with_cost(PIN, CHEAP).await.unwrap();
    let (p2, _) = capture(&device2).await;
    sql(
        &device2,
        "UPDATE meta SET value = substr(value, 1, 20) || \
         (CASE substr(value, 21, 1) WHEN 'A' THEN 'B' ELSE 'A' END) || substr(value, 22) \
         WHERE key = 'device_token'",
    )
    .await;
    let err = device2.status().await.unwrap_err().to_string();
    assert!(err.contains("meta.value of device_token"), "{err}");
    // A changed byte in a document.
    sql(
        &device2,
        &format!(
            "UPDATE records SET doc = substr(doc, 1, 40) || X'00' || substr(doc, 42) \
             WHERE id = '{p2}'"
        ),
    )
    .await;
    let err = device2.get(p2).await.unwrap_err().to_string();
    assert!(err.contains("integrity check"), "{err}");
    device.close().await;
    device2.close().await;
}

#[tokio::test]
async fn a_pin_change_wraps_the_same_key_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let device = enrolled(&path).await;
    device.set_pin_with_cost(PIN, CHEAP).await.unwrap();
    let (participant, _) = capture(&device).await;
    let key = device.session_key().unwrap();
    let doc_before: Vec<u8> = sqlx::query_scalar("SELECT doc FROM records WHERE id = ?")
        .bind(participant.to_string())
        .fetch_one(&device.pool)
        .await
        .unwrap();

    let err = device.change_pin(PIN, "short").await.unwrap_err();
    assert!(err.to_string().contains("at least 6 characters"), "{err}");
    let err = device.change_pin(PIN, PIN).await.unwrap_err();
    assert!(err.to_string().contains("the same"), "{err}");
    let err = device
        .change_pin("not-the-pin", "moss-and-peat")
        .await
        .unwrap_err();
    assert!(matches!(err, DeviceError::WrongPin { .. }), "{err}");
    device.change_pin(PIN, "moss-and-peat").await.unwrap();
    device.close().await;

    let device = Device::open(&path).await.unwrap();
    // The new PIN gets at least the default cost.
    assert_eq!(device.pin_cost().await.unwrap(), Some(PinCost::DEFAULT));
    assert!(matches!(
        device.unlock(PIN).await,
        Err(DeviceError::WrongPin { .. })
    ));
    device.unlock("moss-and-peat").await.unwrap();
    assert_eq!(device.session_key().unwrap().to_hex(), key.to_hex());
    let doc_after: Vec<u8> = sqlx::query_scalar("SELECT doc FROM records WHERE id = ?")
        .bind(participant.to_string())
        .fetch_one(&device.pool)
        .await
        .unwrap();
    assert_eq!(doc_before, doc_after, "only the key record changes");
    assert!(device.get(participant).await.is_ok());
    device.close().await;
}

#[tokio::test]
async fn wrong_pins_are_counted_in_the_store_and_then_must_wait() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    let device = Device::open(&path).await.unwrap();
    device.set_pin_with_cost(PIN, CHEAP).await.unwrap();
    device.close().await;

    let device = Device::open(&path).await.unwrap();
    for n in 1..FREE_ATTEMPTS {
        let err = device.unlock("wrong-pin").await.unwrap_err();
        assert!(
            matches!(err, DeviceError::WrongPin { failures, wait_seconds: None } if failures == n),
            "{err:?}"
        );
    }
    // A right PIN clears the count.
    device.unlock(PIN).await.unwrap();
    device.lock();
    for _ in 1..FREE_ATTEMPTS {
        device.unlock("wrong-pin").await.unwrap_err();
    }
    let err = device.unlock("wrong-pin").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "wrong PIN for this store; 5 wrong PINs in a row: wait 30 seconds before the next try"
    );
    // Now even the right PIN waits, and is not counted; in another process too.
    let err = device.unlock(PIN).await.unwrap_err();
    assert!(
        matches!(err, DeviceError::PinWait { seconds } if seconds <= 30),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("too many wrong PINs in a row: wait "),
        "{err}"
    );
    device.close().await;
    let device = Device::open(&path).await.unwrap();
    assert!(matches!(
        device.unlock(PIN).await,
        Err(DeviceError::PinWait { .. })
    ));

    // Once the wait is over, one more wrong PIN waits longer.
    sql(
        &device,
        "UPDATE meta SET value = '0' WHERE key = 'pin_wait_until'",
    )
    .await;
    let err = device.unlock("wrong-pin").await.unwrap_err();
    assert!(
        matches!(
            err,
            DeviceError::WrongPin {
                failures: 6,
                wait_seconds: Some(60)
            }
        ),
        "{err:?}"
    );
    sql(
        &device,
        "UPDATE meta SET value = '0' WHERE key = 'pin_wait_until'",
    )
    .await;
    device.unlock(PIN).await.unwrap();
    device.close().await;
    let device = Device::open(&path).await.unwrap();
    for _ in 1..FREE_ATTEMPTS {
        assert!(matches!(
            device.unlock("wrong-pin").await,
            Err(DeviceError::WrongPin {
                wait_seconds: None,
                ..
            })
        ));
    }
    device.close().await;
}

#[test]
fn waits_grow_to_an_hour() {
    let waits: Vec<Option<u64>> = (0..=14).map(wait_after).collect();
    assert_eq!(&waits[..5], &[None; 5]);
    assert_eq!(
        &waits[5..],
        &[30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600].map(Some)
    );
    assert_eq!(wait_after(u32::MAX), Some(3600));
    assert_eq!(in_words(30), "30 seconds");
    assert_eq!(in_words(1), "1 second");
    assert_eq!(in_words(240), "4 minutes");
    assert_eq!(in_words(3600), "60 minutes");
    assert_eq!(in_words(7200), "2 hours");
}

#[tokio::test]
async fn a_short_pin_is_refused_and_the_store_stays_plain() {
    let dir = tempfile::tempdir().unwrap();
    let device = Device::open(dir.path().join("device.db")).await.unwrap();
    let err = device.set_pin("12345").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "the PIN is too short: use at least 6 characters (a passphrase is safer than digits)"
    );
    assert!(!device.has_pin());
    assert!(device.unlock("123456").await.is_err());
    device.close().await;
}

#[test]
fn a_session_key_is_64_hex_digits_and_never_printed() {
    let key = Cipher::random().key;
    let hex = key.to_hex();
    assert_eq!(hex.len(), 64);
    assert_eq!(SessionKey::from_hex(&hex).unwrap().to_hex(), hex);
    assert!(SessionKey::from_hex("abc").is_none());
    assert!(SessionKey::from_hex(&"zz".repeat(32)).is_none());
    assert_eq!(format!("{key:?}"), "SessionKey(secret)");
}
