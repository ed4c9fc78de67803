//! Verifying message pacts against what a producer really publishes (feature `contracts`).
//!
//! A producer's contract test runs its real code paths (the ones that write to the outbox),
//! reads back the messages the relay will publish (`shop_messaging::OutgoingMessage::stored`),
//! and hands them to [`verify_message_pacts`], which checks them against every message each
//! consumer's committed pact expects from that producer: the body with the consumer's matchers,
//! and the metadata (routing key, content type) exactly.

use std::collections::HashMap;

use bytes::Bytes;
use pact_models::bodies::OptionalBody;
use pact_models::content_types::ContentType;
use pact_models::interaction::Interaction;
use pact_models::pact::read_pact;
use pact_models::v4::async_message::AsynchronousMessage;
use pact_models::v4::message_parts::MessageContents;
use serde_json::Value;

use crate::pacts;

/// A message as a producer publishes it: what a consumer receives.
#[derive(Debug, Clone)]
pub struct Published {
    pub routing_key: String,
    pub content_type: String,
    pub body: Value,
}

impl Published {
    pub fn new(
        routing_key: impl Into<String>,
        content_type: impl Into<String>,
        body: Value,
    ) -> Self {
        Self {
            routing_key: routing_key.into(),
            content_type: content_type.into(),
            body,
        }
    }
}

/// Checks every message the committed pacts expect from `provider` against `published`,
/// pairing them by routing key (the last message published with a key stands for it). Returns
/// one line per problem; empty means every consumer gets what it expects.
pub async fn verify_message_pacts(provider: &str, published: &[Published]) -> Vec<String> {
    let mut problems = Vec::new();
    let suffix = format!("-{provider}.json");
    let mut files: Vec<_> = std::fs::read_dir(pacts::committed_dir())
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|path| {
        path.file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.ends_with(&suffix))
    });
    files.sort();
    let mut verified = 0;
    for path in files {
        let pact = match read_pact(&path) {
            Ok(pact) => pact,
            Err(err) => {
                problems.push(format!("{}: unreadable pact: {err}", path.display()));
                continue;
            }
        };
        let consumer = pact.consumer().name;
        for interaction in pact.interactions() {
            let Some(expected) = interaction.as_v4_async_message() else {
                continue;
            };
            let what = format!("{consumer} expects \"{}\"", expected.description);
            let Some(key) = expected
                .contents
                .metadata
                .get("routingKey")
                .and_then(Value::as_str)
            else {
                problems.push(format!("{what}: the pact names no routingKey"));
                continue;
            };
            let Some(message) = published.iter().rev().find(|m| m.routing_key == key) else {
                problems.push(format!(
                    "{what}: {provider} published no message with routing key {key}"
                ));
                continue;
            };
            let body = serde_json::to_vec(&message.body).unwrap_or_default();
            // The body is JSON whatever JSON flavour the message declares
            // (`application/cloudevents+json`); the declared type itself is compared as
            // metadata, exactly.
            let body_type = if message.content_type.ends_with("json") {
                "application/json"
            } else {
                message.content_type.as_str()
            };
            let actual = AsynchronousMessage {
                description: expected.description.clone(),
                contents: MessageContents {
                    contents: OptionalBody::Present(
                        Bytes::from(body),
                        Some(ContentType::from(body_type)),
                        None,
                    ),
                    metadata: HashMap::from([
                        (
                            "routingKey".to_owned(),
                            Value::from(message.routing_key.clone()),
                        ),
                        (
                            "contentType".to_owned(),
                            Value::from(message.content_type.clone()),
                        ),
                    ]),
                    ..MessageContents::default()
                },
                ..AsynchronousMessage::default()
            };
            let mismatches =
                pact_matching::match_message(&expected.boxed(), &actual.boxed(), &pact).await;
            problems.extend(
                mismatches
                    .iter()
                    .map(|mismatch| format!("{what}: {}", mismatch.description())),
            );
            verified += 1;
        }
    }
    if verified == 0 && problems.is_empty() {
        problems.push(format!(
            "no committed pact in {} expects a message from {provider}",
            pacts::committed_dir().display()
        ));
    }
    problems
}

/// What a consumer requires of the CloudEvents envelope around `data`: the attributes it
/// checks exactly (spec version, type, payload version) and the ones it only needs present.
/// `id` is the example message id: give each message of a pact its own, since consumers
/// deduplicate by it.
pub fn cloud_event(
    event_type: &str,
    id: &str,
    data: pact_consumer::patterns::JsonPattern,
) -> pact_consumer::patterns::JsonPattern {
    use pact_consumer::{json_pattern, json_pattern_internal, like};
    json_pattern!({
        "specversion": "1.0",
        "id": like!(id),
        "source": like!("/ferris-shop/producer"),
        "type": event_type,
        "time": like!("2026-11-22T10:00:00Z"),
        "subject": like!("01936b2e-6b5d-7e4f-a021-5c3d9e2f7b02"),
        "datacontenttype": "application/json",
        "dataschema": format!("urn:ferris-shop:events:{event_type}:v1"),
        "data": data,
    })
}

/// The metadata every event message carries, as consumers bind and decode by it.
pub fn event_metadata(
    message: &mut pact_consumer::builders::MessageInteractionBuilder,
    event_type: &str,
) {
    message
        .metadata("routingKey", event_type)
        .metadata("contentType", "application/cloudevents+json");
}

/// A message of a pact, as it would arrive: routing key and content type from its metadata,
/// body from its contents.
#[derive(Debug, Clone)]
pub struct PactMessage {
    pub routing_key: String,
    pub content_type: String,
    pub body: Value,
}

impl PactMessage {
    /// # Panics
    /// When the pact message lacks the metadata or a JSON body (the pact is broken).
    pub fn of(message: &AsynchronousMessage) -> Self {
        let meta = |key: &str| {
            message
                .contents
                .metadata
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_else(|| {
                    panic!("message {:?} has no {key} metadata", message.description)
                })
                .to_owned()
        };
        let bytes = message
            .contents
            .contents
            .value()
            .unwrap_or_else(|| panic!("message {:?} has no body", message.description));
        Self {
            routing_key: meta("routingKey"),
            content_type: meta("contentType"),
            body: serde_json::from_slice(&bytes).unwrap_or_else(|err| {
                panic!("message {:?} is not JSON: {err}", message.description)
            }),
        }
    }

    /// The `data` field `name` parsed as a UUID.
    ///
    /// # Panics
    /// When it is missing or not a UUID.
    pub fn data_id(&self, name: &str) -> uuid::Uuid {
        self.body["data"][name]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("data.{name} is not a UUID in {}", self.body))
    }

    /// Publishes the message to `exchange` the way the producer's relay does (routing key,
    /// content type, message id and type properties) and waits for the broker's confirm.
    pub async fn publish(&self, amqp_url: &str, exchange: &str) -> anyhow::Result<()> {
        use anyhow::Context as _;
        use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
        let (connection, channel) = crate::broker::connect(amqp_url).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .context("confirm mode")?;
        let id = self.body["id"].as_str().unwrap_or_default().to_owned();
        let properties = lapin::BasicProperties::default()
            .with_message_id(id.into())
            .with_type(self.routing_key.clone().into())
            .with_content_type(self.content_type.clone().into());
        let confirmed = channel
            .basic_publish(
                exchange.into(),
                self.routing_key.clone().into(),
                BasicPublishOptions::default(),
                &serde_json::to_vec(&self.body).unwrap_or_default(),
                properties,
            )
            .await
            .context("publishing")?
            .await
            .context("waiting for the confirm");
        let _ = connection.close(200, "done".into()).await;
        confirmed.map(|_| ())
    }
}
