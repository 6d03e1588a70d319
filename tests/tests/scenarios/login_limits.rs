//! Login rate limits under a burst of 1,000 wrong passwords from one address: the attacked
//! account and the attacking address are refused with 429 before any password is hashed,
//! while other people log in from elsewhere. Unknown users and wrong passwords get the same
//! answers.

use bothy_tests::{Backend, Harness, on_both_backends};
use serde_json::json;
use std::net::IpAddr;

on_both_backends!(
    a_burst_of_wrong_passwords_is_refused,
    behind_a_trusted_proxy_the_forwarded_address_counts,
);

fn client(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(from.parse::<IpAddr>().unwrap()))
        .build()
        .unwrap()
}

async fn login(http: &reqwest::Client, base: &str, user: &str, password: &str) -> (u16, String) {
    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    (
        status,
        body["error"]["message"].as_str().unwrap_or("").to_owned(),
    )
}

async fn a_burst_of_wrong_passwords_is_refused(backend: Backend) {
    let Some(h) = Harness::start(backend).await else {
        return;
    };
    h.project("p").await;
    h.user("ruth", "p", "researcher").await;
    h.user("sam", "p", "researcher").await;
    let base = h.url();
    let attacker = client("127.0.0.2");
    let elsewhere = client("127.0.0.3");
    let started = std::time::Instant::now();

    // An unknown user and a wrong password get the same answer.
    let unknown = login(&attacker, &base, "nobody", "guess-guess").await;
    let wrong = login(&attacker, &base, "ruth", "guess-guess").await;
    assert_eq!(unknown, wrong);
    assert_eq!(wrong.0, 401);

    // Ruth's account: 10 failures, then refused (9 more here after the one above).
    let mut statuses = Vec::new();
    for _ in 0..19 {
        statuses.push(login(&attacker, &base, "ruth", "guess-guess").await.0);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        9,
        "{statuses:?}"
    );
    assert!(statuses[9..].iter().all(|s| *s == 429), "{statuses:?}");

    // The rest of the thousand, concurrently, over many usernames: the address limit (50)
    // holds whatever the names.
    let mut answers = Vec::new();
    let rest: Vec<usize> = (0..1000 - statuses.len() - 2).collect();
    for chunk in rest.chunks(20) {
        let mut set = tokio::task::JoinSet::new();
        for i in chunk {
            let (http, base) = (attacker.clone(), base.clone());
            let user = format!("user{}", i % 97);
            set.spawn(async move { login(&http, &base, &user, "guess-guess").await });
        }
        while let Some(a) = set.join_next().await {
            answers.push(a.unwrap());
        }
    }
    assert_eq!(answers.len() + statuses.len() + 2, 1000);
    let refused = answers.iter().filter(|a| a.0 == 429).count();
    let failed = answers.iter().filter(|a| a.0 == 401).count();
    assert_eq!(refused + failed, answers.len(), "{answers:?}");
    // 11 failures were counted for the address before the burst; at most 39 more can be.
    assert!(failed <= 39, "{failed} failures let through");
    assert!(refused >= answers.len() - 39, "{refused}");
    let message = &answers.iter().find(|a| a.0 == 429).unwrap().1;
    assert!(message.contains("too many failed logins"), "{message}");

    // Another user from another address logs in; the attacked account does not, even from
    // there and with the right password; the attacking address is refused for everyone.
    assert_eq!(login(&elsewhere, &base, "sam", "sam-password").await.0, 200);
    let (status, message) = login(&elsewhere, &base, "ruth", "ruth-password").await;
    assert_eq!(status, 429, "{message}");
    assert_eq!(login(&attacker, &base, "sam", "sam-password").await.0, 429);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );

    // Failures are kept in the database (shared by every server process), and a successful
    // login clears the account's count.
    let rows = h
        .sql(
            "SELECT COUNT(*) AS n FROM login_failures WHERE key = 'address:127.0.0.2'",
            &[],
        )
        .await;
    assert!(rows[0]["n"].as_i64().unwrap() <= 50, "{rows:?}");
    let other = client("127.0.0.4");
    assert_eq!(login(&other, &base, "sam", "wrong-password").await.0, 401);
    assert_eq!(login(&other, &base, "sam", "sam-password").await.0, 200);
    let rows = h
        .sql(
            "SELECT COUNT(*) AS n FROM login_failures WHERE key = 'account:sam'",
            &[],
        )
        .await;
    assert_eq!(rows[0]["n"].as_i64(), Some(0), "{rows:?}");
    h.finish().await;
}

async fn behind_a_trusted_proxy_the_forwarded_address_counts(backend: Backend) {
    let Some(h) = Harness::start_with(backend, |c| {
        c.trust_proxy = true;
        c.login_max_failures_per_address = 3;
    })
    .await
    else {
        return;
    };
    h.project("p").await;
    h.user("sam", "p", "researcher").await;
    let attempt = |forwarded: &'static str, user: &'static str, password: &'static str| {
        let (http, base) = (h.http.clone(), h.url());
        async move {
            http.post(format!("{base}/api/v1/auth/login"))
                .header("x-forwarded-for", forwarded)
                .json(&json!({"username": user, "password": password}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The proxy appends the address it saw; what the client put before it is not trusted.
    for (i, user) in ["a1", "a2", "a3"].into_iter().enumerate() {
        let forged = [
            "10.0.0.1, 203.0.113.9",
            "10.0.0.2, 203.0.113.9",
            "203.0.113.9",
        ][i];
        assert_eq!(attempt(forged, user, "guess-guess").await, 401);
    }
    assert_eq!(
        attempt("10.0.0.9, 203.0.113.9", "a4", "guess-guess").await,
        429
    );
    assert_eq!(attempt("198.51.100.7", "sam", "sam-password").await, 200);
    h.finish().await;
}
