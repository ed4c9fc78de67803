//! Accounts as a stranger sees them, through the public API of the whole shop: neither sign-up
//! nor sign-in tells whether an email has an account here.

use shop_client::ClientError;
use shop_system_tests::SystemShop;

const OWNER_PASSWORD: &str = "the owner's long passphrase";
const STRANGER_PASSWORD: &str = "a stranger's long passphrase";

fn problem(err: ClientError) -> (u16, shop_client::Problem) {
    match err {
        ClientError::Problem { status, problem } => (status, problem),
        other => panic!("expected a problem answer, got {other:?}"),
    }
}

#[tokio::test]
async fn sign_up_and_sign_in_answer_alike_whether_or_not_an_account_exists() {
    let shop = SystemShop::start().await.unwrap();
    let client = shop.client();

    // Sign-up: a free email and a taken one get the very same answer.
    let free = client
        .register("owner@example.com", OWNER_PASSWORD, "Owner")
        .await
        .unwrap();
    let taken = client
        .register("owner@example.com", STRANGER_PASSWORD, "Stranger")
        .await
        .unwrap();
    assert_eq!(taken, free);
    assert_eq!(free.status, "accepted");

    // The stranger's sign-up changed nothing: only the owner's password opens the account.
    let (status, _) = problem(
        client
            .login("owner@example.com", STRANGER_PASSWORD)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 401);
    let tokens = client
        .login("owner@example.com", OWNER_PASSWORD)
        .await
        .unwrap();
    let owner = client.with_token(&tokens.access_token);
    assert_eq!(owner.me().await.unwrap().name, "Owner");

    // Sign-in: a wrong password for an existing account and any password for an email with
    // no account get the very same answer.
    let wrong_password = problem(
        client
            .login("owner@example.com", "not the owner's passphrase")
            .await
            .unwrap_err(),
    );
    let no_account = problem(
        client
            .login("nobody@example.com", "not the owner's passphrase")
            .await
            .unwrap_err(),
    );
    assert_eq!(wrong_password, no_account);
    assert_eq!(wrong_password.0, 401);
}
