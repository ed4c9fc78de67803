//! Provider contract: the gateway honours what shop-client agreed with it.
//!
//! pact_verifier replays every interaction of the committed pact
//! (`tests/pacts/shop-client-shop-gateway.json`) against the real gateway, served on an
//! ephemeral port with its real router, middleware, Redis and RabbitMQ; only the gRPC backends
//! are stubs, which each provider state scripts (and which mint the real tokens the state
//! hands back as `accessToken`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::support::Gateway;
use crate::support::stubs::{Stubs, default_script, product};
use async_trait::async_trait;
use pact_verifier::callback_executors::{NullRequestFilterExecutor, ProviderStateExecutor};
use pact_verifier::{
    FilterInfo, PactSource, ProviderInfo, ProviderTransport, VerificationOptions,
    verify_provider_async,
};
use serde_json::Value;
use shop_gateway::ShopGateway;
use shop_platform::service::Service as _;

/// Sets the stubs up for each provider state the consumer named.
#[derive(Debug)]
struct ProviderStates {
    stubs: Stubs,
    /// The interaction the stubs were last reset for: each interaction starts from the
    /// default script.
    current: Mutex<Option<String>>,
}

impl std::fmt::Debug for Stubs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stubs")
    }
}

fn param(
    state: &pact_models::provider_states::ProviderState,
    name: &str,
) -> anyhow::Result<String> {
    state
        .params
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("state {:?} needs the parameter {name}", state.name))
}

#[async_trait]
impl ProviderStateExecutor for ProviderStates {
    async fn call(
        self: Arc<Self>,
        interaction_id: Option<String>,
        state: &pact_models::provider_states::ProviderState,
        setup: bool,
        _client: Option<&reqwest::Client>,
    ) -> anyhow::Result<HashMap<String, Value>> {
        if !setup {
            return Ok(HashMap::new());
        }
        {
            let mut current = self.current.lock().unwrap();
            if *current != interaction_id {
                *self.stubs.script() = default_script();
                current.clone_from(&interaction_id);
            }
        }
        let mut values = HashMap::new();
        match state.name.as_str() {
            "the catalog has products" => {}
            "a product exists" | "a product is in stock" => {
                let id = param(state, "productId")?;
                let mut script = self.stubs.script();
                script.products.retain(|p| p.id != id);
                script.products.push(shop_proto::inventory::v1::Product {
                    id: id.clone(),
                    ..product("Ferris Plush", 2499, 10)
                });
                values.insert("productId".to_owned(), Value::String(id));
            }
            "no account uses the email" => {
                let email = param(state, "email")?;
                self.stubs.script().registered.retain(|e| *e != email);
            }
            "an account exists" => {
                let email = param(state, "email")?;
                let mut script = self.stubs.script();
                script.registered.push(email);
                if let Ok(password) = param(state, "password") {
                    script.password = Some(password);
                }
            }
            "a refresh token was issued" => {
                let token = param(state, "refreshToken")?;
                self.stubs.script().refresh_token = Some(token.clone());
                values.insert("refreshToken".to_owned(), Value::String(token));
            }
            "a customer is signed in" | "an admin is signed in" => {
                let (_, token) = self.stubs.token(state.name == "an admin is signed in");
                values.insert("accessToken".to_owned(), Value::String(token));
            }
            "the customer has an order" => {
                // The stub order service answers for any id that is not someone else's.
                values.insert(
                    "orderId".to_owned(),
                    Value::String(param(state, "orderId")?),
                );
            }
            "another customer has an order" => {
                let id = param(state, "orderId")?;
                self.stubs.script().foreign_orders.push(id);
            }
            other => anyhow::bail!("unknown provider state {other:?}: add it to {}", file!()),
        }
        Ok(values)
    }

    fn teardown(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn the_gateway_honours_the_shop_client_pact() {
    let gateway = Gateway::start().await;
    let mut settings = gateway.settings.clone();
    settings.http = shop_platform::config::ServerSettings::on_port(0);
    settings.admin = shop_platform::config::AdminSettings::on_port(0);
    let app = ShopGateway::build(settings).await.unwrap();
    let port = app.public_addr().port();
    let stop = app.shutdown_trigger();
    let running = tokio::spawn(app.run_until_stopped());

    let provider = ProviderInfo {
        name: "shop-gateway".to_owned(),
        host: "127.0.0.1".to_owned(),
        transports: vec![ProviderTransport {
            transport: "http".to_owned(),
            port: Some(port),
            path: None,
            scheme: Some("http".to_owned()),
        }],
        ..ProviderInfo::default()
    };
    let pact = shop_testkit::pacts::committed("shop-client", "shop-gateway");
    let states = Arc::new(ProviderStates {
        stubs: gateway.stubs.clone(),
        current: Mutex::new(None),
    });
    let options = VerificationOptions::<NullRequestFilterExecutor> {
        no_pacts_is_error: true,
        coloured_output: false,
        ..VerificationOptions::default()
    };
    let result = verify_provider_async(
        provider,
        vec![PactSource::File(pact.display().to_string())],
        FilterInfo::None,
        vec![],
        &options,
        None,
        &states,
        None,
    )
    .await
    .unwrap();

    stop.trigger();
    running.await.unwrap().unwrap();
    let failures: Vec<String> = result
        .errors
        .iter()
        .map(|(interaction, mismatch)| format!("{interaction}: {mismatch:?}"))
        .collect();
    assert!(
        result.result && failures.is_empty(),
        "the gateway breaks the pact:\n{}\n{}",
        failures.join("\n"),
        result.output.join("\n")
    );
    assert_eq!(
        result.interaction_results.len(),
        20,
        "every interaction verified"
    );
}
