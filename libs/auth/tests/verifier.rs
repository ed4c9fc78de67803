//! The token verifier against forged, stale and misdirected tokens: every one is rejected.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use shop_auth::keys::{self, KeyPair};
use shop_auth::{
    AuthError, AuthSettings, Claims, Denylist, DenylistError, JwksCache, KeySource, Principal,
    PublicJwk, RedisDenylist, Role, StaticKeySource, TokenSigner, TokenVerifier,
};
use uuid::Uuid;

struct Fixture {
    pair: KeyPair,
    signer: TokenSigner,
    verifier: TokenVerifier,
    settings: AuthSettings,
}

fn fixture() -> Fixture {
    let settings = AuthSettings::default();
    let pair = keys::generate().unwrap();
    let signer = TokenSigner::new("k1", &pair.private_pkcs8_der, &settings);
    let source = StaticKeySource(vec![keys::public_jwk("k1", &pair.public_key)]);
    let cache = Arc::new(JwksCache::new(
        Arc::new(source),
        Duration::ZERO,
        Duration::from_secs(600),
    ));
    let verifier = TokenVerifier::new(&settings, cache);
    Fixture {
        pair,
        signer,
        verifier,
        settings,
    }
}

fn claims(settings: &AuthSettings) -> Claims {
    let now = Utc::now().timestamp();
    Claims {
        sub: Uuid::now_v7().to_string(),
        iss: settings.issuer.clone(),
        aud: settings.audience.clone(),
        exp: now + 900,
        iat: now,
        jti: Uuid::now_v7(),
        roles: vec![Role::Customer],
        sid: Some(Uuid::now_v7()),
    }
}

async fn assert_rejected(verifier: &TokenVerifier, token: &str, why: &str) {
    match verifier.verify(token).await {
        Err(AuthError::Unauthenticated(_)) => {}
        other => panic!("{why}: expected rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_token_is_accepted_with_its_claims() {
    let f = fixture();
    let issued = f
        .signer
        .sign(
            Uuid::now_v7(),
            &[Role::Admin],
            Uuid::now_v7(),
            Duration::from_secs(900),
        )
        .unwrap();
    let caller = f.verifier.verify_user(&issued.token).await.unwrap();
    assert_eq!(caller.claims, issued.claims);
    assert!(caller.is_admin());
}

#[tokio::test]
async fn a_service_token_names_its_service_and_is_no_persons_token() {
    let f = fixture();
    let issued = f
        .signer
        .sign_service("order", Duration::from_secs(600))
        .unwrap();
    match f.verifier.verify(&issued.token).await.unwrap() {
        Principal::Service(service) => assert_eq!(service.name(), "order"),
        other => panic!("expected a service, got {other:?}"),
    }
    assert!(matches!(
        f.verifier.verify_user(&issued.token).await,
        Err(AuthError::Unauthenticated(_))
    ));
}

#[tokio::test]
async fn claims_of_neither_kind_are_rejected() {
    let f = fixture();
    let mut no_session = claims(&f.settings);
    no_session.sid = None;
    let mut service_with_roles = claims(&f.settings);
    service_with_roles.sub = "service:order".to_owned();
    service_with_roles.sid = None;
    let mut odd_subject = claims(&f.settings);
    odd_subject.sub = "root".to_owned();
    for (claims, why) in [
        (no_session, "a person without a session"),
        (service_with_roles, "a service with roles"),
        (odd_subject, "a subject of neither kind"),
    ] {
        let token = f.signer.sign_claims(&claims).unwrap();
        assert_rejected(&f.verifier, &token, why).await;
    }
}

#[tokio::test]
async fn alg_none_is_rejected() {
    let f = fixture();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"k1"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(&f.settings)).unwrap());
    assert_rejected(&f.verifier, &format!("{header}.{payload}."), "alg none").await;
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_rejected() {
    let f = fixture();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".to_owned());
    for secret in [
        f.pair.public_key.to_vec(),
        URL_SAFE_NO_PAD.encode(f.pair.public_key).into_bytes(),
    ] {
        let token = jsonwebtoken::encode(
            &header,
            &claims(&f.settings),
            &EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert_rejected(&f.verifier, &token, "HS256 with the public key as secret").await;
    }
}

#[tokio::test]
async fn an_expired_token_is_rejected_beyond_the_leeway_and_accepted_within_it() {
    let f = fixture();
    let mut stale = claims(&f.settings);
    stale.exp = Utc::now().timestamp() - 31;
    assert_rejected(
        &f.verifier,
        &f.signer.sign_claims(&stale).unwrap(),
        "expired 31 s ago",
    )
    .await;

    let mut recent = claims(&f.settings);
    recent.exp = Utc::now().timestamp() - 5;
    assert!(
        f.verifier
            .verify(&f.signer.sign_claims(&recent).unwrap())
            .await
            .is_ok(),
        "5 s is within the leeway"
    );
}

#[tokio::test]
async fn a_token_without_exp_is_rejected() {
    let f = fixture();
    let mut json = serde_json::to_value(claims(&f.settings)).unwrap();
    json.as_object_mut().unwrap().remove("exp");
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k1".to_owned());
    let token = jsonwebtoken::encode(
        &header,
        &json,
        &EncodingKey::from_ed_der(&f.pair.private_pkcs8_der),
    )
    .unwrap();
    assert_rejected(&f.verifier, &token, "no exp").await;
}

#[tokio::test]
async fn a_token_without_sub_is_rejected() {
    let f = fixture();
    let mut json = serde_json::to_value(claims(&f.settings)).unwrap();
    json.as_object_mut().unwrap().remove("sub");
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k1".to_owned());
    let token = jsonwebtoken::encode(
        &header,
        &json,
        &EncodingKey::from_ed_der(&f.pair.private_pkcs8_der),
    )
    .unwrap();
    assert_rejected(&f.verifier, &token, "no sub").await;
}

#[tokio::test]
async fn a_token_from_another_issuer_or_for_another_audience_is_rejected() {
    let f = fixture();
    let mut foreign = claims(&f.settings);
    foreign.iss = "someone-else".to_owned();
    assert_rejected(
        &f.verifier,
        &f.signer.sign_claims(&foreign).unwrap(),
        "wrong iss",
    )
    .await;

    let mut elsewhere = claims(&f.settings);
    elsewhere.aud = "another-api".to_owned();
    assert_rejected(
        &f.verifier,
        &f.signer.sign_claims(&elsewhere).unwrap(),
        "wrong aud",
    )
    .await;
}

#[tokio::test]
async fn a_tampered_signature_or_payload_is_rejected() {
    let f = fixture();
    let token = f.signer.sign_claims(&claims(&f.settings)).unwrap();
    let (rest, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[0] ^= 0x01;
    assert_rejected(
        &f.verifier,
        &format!("{rest}.{}", URL_SAFE_NO_PAD.encode(bytes)),
        "bad signature",
    )
    .await;

    let mut promoted = claims(&f.settings);
    promoted.roles = vec![Role::Admin];
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&promoted).unwrap());
    let parts: Vec<&str> = token.split('.').collect();
    assert_rejected(
        &f.verifier,
        &format!("{}.{forged_payload}.{}", parts[0], parts[2]),
        "swapped payload",
    )
    .await;
}

#[tokio::test]
async fn a_token_signed_by_an_unknown_key_is_rejected() {
    let f = fixture();
    let stranger = keys::generate().unwrap();
    let token = TokenSigner::new("k2", &stranger.private_pkcs8_der, &f.settings)
        .sign_claims(&claims(&f.settings))
        .unwrap();
    assert_rejected(&f.verifier, &token, "unknown kid").await;
    // Same kid as ours, different key: the signature does not verify.
    let impostor = TokenSigner::new("k1", &stranger.private_pkcs8_der, &f.settings)
        .sign_claims(&claims(&f.settings))
        .unwrap();
    assert_rejected(&f.verifier, &impostor, "known kid, foreign key").await;
}

#[tokio::test]
async fn garbage_is_rejected_not_panicked_on() {
    let f = fixture();
    for token in [
        "",
        "a.b",
        "a.b.c",
        "....",
        "eyJhbGciOiJFZERTQSJ9.e30.",
        "\u{0}\u{1}",
    ] {
        assert_rejected(&f.verifier, token, token).await;
    }
}

async fn denylist() -> Arc<RedisDenylist> {
    shop_testkit::init();
    let redis = redis::Client::open(shop_testkit::redis_url().await).unwrap();
    let manager = redis::aio::ConnectionManager::new(redis).await.unwrap();
    Arc::new(RedisDenylist::new(
        manager,
        &format!("{}:", shop_testkit::unique_name("t")),
    ))
}

#[tokio::test]
async fn every_token_of_a_revoked_session_is_rejected_and_other_sessions_are_not() {
    let f = fixture();
    let denylist = denylist().await;
    denylist.load(&[]).await.unwrap();
    let verifier = f.verifier.clone().with_denylist(denylist.clone());

    let (user, session, other_session) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let sign = |sid| {
        f.signer
            .sign(user, &[Role::Customer], sid, Duration::from_secs(900))
            .unwrap()
            .token
    };
    let (first, second, elsewhere) = (sign(session), sign(session), sign(other_session));
    for token in [&first, &second, &elsewhere] {
        assert!(verifier.verify(token).await.is_ok());
    }
    denylist
        .revoke_session(session, Duration::from_secs(900))
        .await
        .unwrap();
    assert_rejected(&verifier, &first, "revoked session").await;
    assert_rejected(&verifier, &second, "another token of the revoked session").await;
    assert!(verifier.verify(&elsewhere).await.is_ok());
}

#[tokio::test]
async fn a_denylist_that_lost_its_data_is_unavailable_never_empty() {
    let f = fixture();
    let denylist = denylist().await;
    // No marker: the list was never loaded, or its store forgot everything.
    assert!(matches!(
        denylist.is_session_revoked(Uuid::now_v7()).await,
        Err(DenylistError::NotLoaded)
    ));
    let token = f
        .signer
        .sign(
            Uuid::now_v7(),
            &[Role::Customer],
            Uuid::now_v7(),
            Duration::from_secs(900),
        )
        .unwrap()
        .token;

    let strict = TokenVerifier::new(
        &AuthSettings {
            denylist_fail_open: false,
            ..AuthSettings::default()
        },
        Arc::new(JwksCache::new(
            Arc::new(StaticKeySource(vec![keys::public_jwk(
                "k1",
                &f.pair.public_key,
            )])),
            Duration::ZERO,
            Duration::from_secs(600),
        )),
    )
    .with_denylist(denylist.clone());
    assert!(matches!(
        strict.verify(&token).await,
        Err(AuthError::Unavailable(_))
    ));
    // Failing open is a choice the settings make, and only while the list is unavailable.
    let lenient = f.verifier.clone().with_denylist(denylist.clone());
    assert!(lenient.verify(&token).await.is_ok());

    denylist.load(&[]).await.unwrap();
    assert!(strict.verify(&token).await.is_ok());
}

/// A key source that counts its fetches and can be swapped to a new key set.
struct CountingSource {
    fetches: AtomicUsize,
    keys: std::sync::Mutex<Vec<PublicJwk>>,
}

#[async_trait]
impl KeySource for CountingSource {
    async fn fetch(&self) -> anyhow::Result<Vec<PublicJwk>> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        Ok(self.keys.lock().unwrap().clone())
    }
}

#[tokio::test]
async fn a_rotated_key_is_learned_on_first_sight_and_unknown_kids_cannot_flood_the_issuer() {
    let settings = AuthSettings::default();
    let old = keys::generate().unwrap();
    let source = Arc::new(CountingSource {
        fetches: AtomicUsize::new(0),
        keys: std::sync::Mutex::new(vec![keys::public_jwk("old", &old.public_key)]),
    });
    let cache = Arc::new(JwksCache::new(
        source.clone(),
        Duration::from_millis(200),
        Duration::from_secs(600),
    ));
    let verifier = TokenVerifier::new(&settings, cache);
    let old_signer = TokenSigner::new("old", &old.private_pkcs8_der, &settings);
    assert!(
        verifier
            .verify(&old_signer.sign_claims(&claims(&settings)).unwrap())
            .await
            .is_ok()
    );
    assert_eq!(source.fetches.load(Ordering::SeqCst), 1);

    // A flood of tokens naming keys nobody has: at most one fetch per refresh interval.
    let bogus = TokenSigner::new("bogus", &old.private_pkcs8_der, &settings);
    let attempts = (0..100).map(|_| {
        let token = bogus.sign_claims(&claims(&settings)).unwrap();
        let verifier = verifier.clone();
        async move { verifier.verify(&token).await }
    });
    let results = futures::future::join_all(attempts).await;
    assert!(results.iter().all(Result::is_err));
    assert!(
        source.fetches.load(Ordering::SeqCst) <= 2,
        "{} fetches",
        source.fetches.load(Ordering::SeqCst)
    );

    // The issuer rotates: the new kid is fetched once the interval allows, and both keys work.
    let new = keys::generate().unwrap();
    source
        .keys
        .lock()
        .unwrap()
        .push(keys::public_jwk("new", &new.public_key));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let new_signer = TokenSigner::new("new", &new.private_pkcs8_der, &settings);
    assert!(
        verifier
            .verify(&new_signer.sign_claims(&claims(&settings)).unwrap())
            .await
            .is_ok()
    );
    assert!(
        verifier
            .verify(&old_signer.sign_claims(&claims(&settings)).unwrap())
            .await
            .is_ok()
    );
}
