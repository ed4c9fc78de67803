//! Accounts and sessions end to end through gRPC, on real Postgres, Redis and RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use crate::support::{PASSWORD, TestApp, authed};
use shop_platform::grpc_status;
use shop_proto::user::v1 as pb;
use tonic::Code;

#[tokio::test]
async fn register_login_refresh_and_logout() {
    let app = TestApp::spawn().await;
    let user = app.register("ann@example.com").await;
    assert_eq!(user.roles, vec!["customer"]);

    let first = app.login("ann@example.com", PASSWORD).await.unwrap();
    assert_eq!(first.token_type, "Bearer");
    assert_eq!(first.expires_in, 900);
    let me = app
        .client()
        .await
        .get_user(authed(
            pb::GetUserRequest {
                user_id: user.id.clone(),
            },
            &first.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(me.email, "ann@example.com");

    let second = app
        .client()
        .await
        .refresh(pb::RefreshRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);

    app.client()
        .await
        .logout(authed(pb::LogoutRequest {}, &second.access_token))
        .await
        .unwrap();
    // The access token is denied from now on, and the session cannot be refreshed.
    let denied = app
        .client()
        .await
        .get_user(authed(
            pb::GetUserRequest {
                user_id: user.id.clone(),
            },
            &second.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::Unauthenticated);
    let refused = app
        .client()
        .await
        .refresh(pb::RefreshRequest {
            refresh_token: second.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    // Logging out twice is harmless... with a token that still works: log in again.
    let third = app.login("ann@example.com", PASSWORD).await.unwrap();
    for _ in 0..2 {
        let _ = app
            .client()
            .await
            .logout(authed(pb::LogoutRequest {}, &third.access_token))
            .await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_rotated_refresh_token_used_again_revokes_the_whole_session() {
    let app = TestApp::spawn().await;
    app.register("bob@example.com").await;
    let first = app.login("bob@example.com", PASSWORD).await.unwrap();
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.client()
                .await
                .refresh(pb::RefreshRequest {
                    refresh_token: token,
                })
                .await
                .map(|r| r.into_inner().tokens.unwrap())
        }
    };

    let second = refresh(first.refresh_token.clone()).await.unwrap();
    // The thief replays the spent token: refused, and the family is revoked...
    assert_eq!(
        refresh(first.refresh_token).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // ...so the legitimate holder's newer token no longer works either.
    assert_eq!(
        refresh(second.refresh_token).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    app.stop().await;
}

#[tokio::test]
async fn the_same_email_in_another_case_is_already_taken() {
    let app = TestApp::spawn().await;
    app.register("carol@example.com").await;
    let err = app
        .client()
        .await
        .register(pb::RegisterRequest {
            email: "  Carol@EXAMPLE.com".to_owned(),
            password: PASSWORD.to_owned(),
            name: "Carol".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    app.stop().await;
}

#[tokio::test]
async fn the_stored_hash_is_argon2id_at_owasp_cost_never_the_password() {
    let app = TestApp::spawn().await;
    app.register("dave@example.com").await;
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE email = 'dave@example.com'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    // OWASP: argon2id, one of its equal-strength settings (m = 7 MiB, t = 5, p = 1).
    assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
    app.stop().await;
}

#[tokio::test]
async fn a_hash_made_at_the_earlier_cost_moves_to_todays_at_the_next_sign_in() {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};

    let app = TestApp::spawn().await;
    app.register("erin@example.com").await;
    // The account as it was stored before the cost changed (m = 19 MiB, t = 2).
    let earlier = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, None).unwrap(),
    )
    .hash_password_with_salt(PASSWORD.as_bytes(), b"salt-of-erin-0001")
    .unwrap()
    .to_string();
    sqlx::query("UPDATE users SET password_hash = $1 WHERE email = 'erin@example.com'")
        .bind(&earlier)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let stored = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT password_hash FROM users WHERE email = 'erin@example.com'",
        )
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
    };

    assert!(
        app.login("erin@example.com", "not the password")
            .await
            .is_err()
    );
    assert_eq!(stored().await, earlier, "a wrong password changes nothing");

    app.login("erin@example.com", PASSWORD).await.unwrap();
    let today = stored().await;
    assert!(
        today.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"),
        "{today}"
    );
    app.login("erin@example.com", PASSWORD).await.unwrap();
    assert_eq!(stored().await, today, "hashed again only once");
    app.stop().await;
}

#[tokio::test]
async fn bad_input_is_invalid_argument_with_field_violations() {
    let app = TestApp::spawn().await;
    let mut client = app.client().await;

    let err = client
        .register(pb::RegisterRequest {
            email: String::new(),
            password: "x".repeat(1_000_000),
            name: "Eve".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = grpc_status::violations_of(&err)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(fields, ["email", "password"]);

    let err = client
        .login(pb::LoginRequest {
            email: "eve@example.com".to_owned(),
            password: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    // Above the gRPC message limit (4 MiB) the transport refuses it; never INTERNAL.
    let err = client
        .register(pb::RegisterRequest {
            email: "eve@example.com".to_owned(),
            password: "x".repeat(10 * 1024 * 1024),
            name: "Eve".to_owned(),
        })
        .await
        .unwrap_err();
    assert_ne!(err.code(), Code::Internal, "{err:?}");
    app.stop().await;
}

/// `RegisterRequest` with `email` as raw bytes, so a test can put invalid UTF-8 on the wire.
#[derive(Clone, PartialEq, prost::Message)]
struct RawRegisterRequest {
    #[prost(bytes = "vec", tag = "1")]
    email: Vec<u8>,
    #[prost(string, tag = "2")]
    password: String,
    #[prost(string, tag = "3")]
    name: String,
}

#[tokio::test]
async fn invalid_utf8_in_a_field_is_invalid_argument_naming_the_field() {
    let app = TestApp::spawn().await;
    let channel = shop_testkit::grpc::connect(app.addr).await;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let request = tonic::Request::new(RawRegisterRequest {
        email: vec![0xff, 0xfe, b'@', b'x'],
        password: PASSWORD.to_owned(),
        name: "Mallory".to_owned(),
    });
    let err = grpc
        .unary::<_, pb::RegisterResponse, _>(
            request,
            "/shop.user.v1.UserService/Register".parse().unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let fields: Vec<String> = grpc_status::violations_of(&err)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(fields, ["email"]);
    app.stop().await;
}

#[tokio::test]
async fn another_users_account_is_not_found_but_an_admin_sees_it() {
    let app = TestApp::spawn().await;
    let ann = app.register("ann@example.com").await;
    let bob = app.register("bob@example.com").await;
    let bobs = app.login("bob@example.com", PASSWORD).await.unwrap();
    let err = app
        .client()
        .await
        .get_user(authed(
            pb::GetUserRequest {
                user_id: ann.id.clone(),
            },
            &bobs.access_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    app.users
        .create_admin("root@example.com", "Admin pass 1234".to_owned(), "Root")
        .await
        .unwrap();
    let admins = app
        .login("root@example.com", "Admin pass 1234")
        .await
        .unwrap();
    let seen = app
        .client()
        .await
        .get_user(authed(
            pb::GetUserRequest {
                user_id: bob.id.clone(),
            },
            &admins.access_token,
        ))
        .await
        .unwrap();
    assert_eq!(seen.into_inner().user.unwrap().email, "bob@example.com");
    app.stop().await;
}

#[tokio::test]
async fn repeated_wrong_passwords_make_the_account_wait_even_for_the_right_one() {
    let app = TestApp::spawn_with(|s| {
        s.login.free_failures = 3;
        s.login.base_delay = Duration::from_secs(60);
    })
    .await;
    app.register("frank@example.com").await;
    for _ in 0..3 {
        assert_eq!(
            app.login("frank@example.com", "wrong password")
                .await
                .unwrap_err()
                .code(),
            Code::Unauthenticated
        );
    }
    // The fourth failure starts the backoff; from now on even the right password must wait.
    assert_eq!(
        app.login("frank@example.com", "wrong password")
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let throttled = app.login("frank@example.com", PASSWORD).await.unwrap_err();
    assert_eq!(throttled.code(), Code::ResourceExhausted);
    assert_eq!(
        grpc_status::reason_of(&throttled).as_deref(),
        Some("LOGIN_THROTTLED")
    );
    assert!(grpc_status::metadata_of(&throttled, "retry_after_seconds").is_some());
    app.stop().await;
}

#[tokio::test]
async fn a_strangers_failures_lock_out_the_stranger_not_the_owner() {
    let app = TestApp::spawn_with(|s| {
        s.login.free_failures = 3;
        s.login.base_delay = Duration::from_secs(60);
    })
    .await;
    app.register("gina@example.com").await;
    for _ in 0..5 {
        let _ = app
            .login_from("gina@example.com", "guess", "198.51.100.9")
            .await
            .unwrap_err();
    }
    let stranger = app
        .login_from("gina@example.com", PASSWORD, "198.51.100.9")
        .await
        .unwrap_err();
    assert_eq!(
        stranger.code(),
        Code::ResourceExhausted,
        "the guesser waits"
    );
    app.login_from("gina@example.com", PASSWORD, "203.0.113.7")
        .await
        .expect("the owner, elsewhere, signs in all the same");
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_email_answers_exactly_like_a_known_one_wrong_password_and_lockout_alike() {
    let app = TestApp::spawn_with(|s| {
        s.login.free_failures = 3;
        s.login.base_delay = Duration::from_secs(60);
    })
    .await;
    app.register("hank@example.com").await;
    let mut answers = Vec::new();
    for email in ["hank@example.com", "nobody-here@example.com"] {
        let mut seen = Vec::new();
        for _ in 0..5 {
            let err = app
                .login_from(email, "wrong password", "198.51.100.9")
                .await
                .unwrap_err();
            seen.push((
                err.code(),
                err.message().to_owned(),
                grpc_status::reason_of(&err),
            ));
        }
        answers.push(seen);
    }
    assert_eq!(
        answers[0], answers[1],
        "whether an account exists cannot be told from the answers"
    );
    assert_eq!(answers[0][4].0, Code::ResourceExhausted, "{:?}", answers[0]);
    app.stop().await;
}

#[tokio::test]
async fn failed_login_counts_past_their_window_are_forgotten_and_recent_ones_kept() {
    let app = TestApp::spawn().await;
    for email in ["old@example.com", "recent@example.com"] {
        let _ = app
            .login_from(email, "wrong password", "198.51.100.9")
            .await
            .unwrap_err();
    }
    sqlx::query(
        "UPDATE login_failures SET last_failure = now() - interval '2 hours' \
         WHERE email = 'old@example.com'",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();

    let forgotten = app.users.forget_old_failed_logins().await.unwrap();
    assert_eq!(
        forgotten, 2,
        "the old email's own count and its count from everyone"
    );
    let left: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT email FROM login_failures ORDER BY email")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(left, ["recent@example.com"]);
    app.stop().await;
}
