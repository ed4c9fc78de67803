//! Signing keys: one is created on first start even when replicas start together, rotation
//! publishes both keys, and tokens signed before a rotation stay valid.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

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

    let after = app.login("hank@example.com", PASSWORD).await.unwrap();
    for token in [&before.access_token, &after.access_token] {
        app.client()
            .await
            .get_user(authed(
                pb::GetUserRequest {
                    user_id: user.id.clone(),
                },
                token,
            ))
            .await
            .unwrap();
    }
    app.stop().await;
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
