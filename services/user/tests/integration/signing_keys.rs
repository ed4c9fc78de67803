//! Signing keys: one is created on first start even when replicas start together, rotation
//! publishes the new key at once but signs with it only after the publish-ahead time, and
//! tokens signed before a rotation stay valid.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::support::{PASSWORD, TestApp, authed, test_settings};
use shop_proto::user::v1 as pb;
use shop_testkit::TestDatabase;

#[tokio::test]
async fn replicas_starting_together_create_one_signing_key() {
    shop_testkit::init();
    let db = TestDatabase::create_empty().await;
    let settings = test_settings(&db).await;
    let starts = (0..4).map(|_| shop_user::startup::parts(&settings));
    for started in futures::future::join_all(starts).await {
        started.unwrap();
    }
    let keys: i64 = sqlx::query_scalar("SELECT count(*) FROM signing_key")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(keys, 1);
}

#[tokio::test]
async fn after_a_rotation_the_jwks_lists_both_keys_and_old_tokens_still_work() {
    let app = TestApp::spawn().await;
    let user = app.register("hank@example.com").await;
    let before = app.login("hank@example.com", PASSWORD).await.unwrap();
    let old_keys = jwks(&app).await;
    assert_eq!(old_keys.len(), 1);
    assert_eq!(
        (
            old_keys[0].kty.as_str(),
            old_keys[0].crv.as_str(),
            old_keys[0].alg.as_str()
        ),
        ("OKP", "Ed25519", "EdDSA")
    );

    let new_kid = app.users.rotate_signing_key().await.unwrap();
    let keys = jwks(&app).await;
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().any(|k| k.kid == new_kid));

    // Published ahead (10 minutes by default): the old key still signs.
    let after = app.login("hank@example.com", PASSWORD).await.unwrap();
    assert_eq!(kid_of(&after.access_token), old_keys[0].kid);
    for token in [&before.access_token, &after.access_token] {
        assert_accepted(&app, &user.id, token).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_rotated_key_signs_once_its_publish_ahead_time_has_passed() {
    let app = TestApp::spawn_with(|s| s.tokens.key_publish_ahead = Duration::from_secs(2)).await;
    let user = app.register("ivy@example.com").await;
    let before = app.login("ivy@example.com", PASSWORD).await.unwrap();
    let old_kid = kid_of(&before.access_token);

    let new_kid = app.users.rotate_signing_key().await.unwrap();
    let published: Vec<String> = jwks(&app).await.into_iter().map(|k| k.kid).collect();
    assert!(published.contains(&new_kid) && published.contains(&old_kid));
    let early = app.login("ivy@example.com", PASSWORD).await.unwrap();
    assert_eq!(kid_of(&early.access_token), old_kid, "not before its time");

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let late = app.login("ivy@example.com", PASSWORD).await.unwrap();
    assert_eq!(kid_of(&late.access_token), new_kid, "signs once active");
    // The retired key stays published for the tokens it signed, which keep working.
    let published: Vec<String> = jwks(&app).await.into_iter().map(|k| k.kid).collect();
    assert!(published.contains(&old_kid));
    for token in [&before.access_token, &late.access_token] {
        assert_accepted(&app, &user.id, token).await;
    }
    app.stop().await;
}

/// The service accepts `token` for a call that needs one.
async fn assert_accepted(app: &TestApp, user_id: &str, token: &str) {
    app.client()
        .await
        .get_user(authed(
            pb::GetUserRequest {
                user_id: user_id.to_owned(),
            },
            token,
        ))
        .await
        .unwrap();
}

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let json = URL_SAFE_NO_PAD.decode(header).unwrap();
    let header: serde_json::Value = serde_json::from_slice(&json).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn jwks(app: &TestApp) -> Vec<pb::Jwk> {
    app.client()
        .await
        .get_jwks(pb::GetJwksRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys
}
