//! Probing a running gRPC server the way Kubernetes and grpcurl do.

use std::net::SocketAddr;

use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

/// A channel to a server listening on `addr` (its IP may be the unspecified 0.0.0.0).
pub async fn connect(addr: SocketAddr) -> Channel {
    let uri = format!("http://127.0.0.1:{}", addr.port());
    Endpoint::from_shared(uri)
        .unwrap_or_else(|err| panic!("bad endpoint: {err}"))
        .connect()
        .await
        .unwrap_or_else(|err| panic!("cannot connect to {addr}: {err}"))
}

/// The grpc.health.v1 status of `service` ("" for the server as a whole).
pub async fn health(addr: SocketAddr, service: &str) -> ServingStatus {
    let mut client = HealthClient::new(connect(addr).await);
    let response = client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .unwrap_or_else(|status| panic!("health check of {service:?} failed: {status}"));
    response.into_inner().status()
}

/// The services the server lists through gRPC reflection.
pub async fn reflected_services(addr: SocketAddr) -> Vec<String> {
    let mut client = ServerReflectionClient::new(connect(addr).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap_or_else(|status| panic!("reflection failed: {status}"))
        .into_inner();
    let response = responses
        .message()
        .await
        .unwrap_or_else(|status| panic!("reflection stream failed: {status}"))
        .unwrap_or_else(|| panic!("reflection returned no message"));
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection response: {other:?}"),
    }
}

/// The services the server lists through the older reflection protocol, `v1alpha` (what
/// Python's grpcio-reflection, Postman and older grpcurl speak).
pub async fn reflected_services_v1alpha(addr: SocketAddr) -> Vec<String> {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

    let mut client = ServerReflectionClient::new(connect(addr).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap_or_else(|status| panic!("v1alpha reflection failed: {status}"))
        .into_inner();
    let response = responses
        .message()
        .await
        .unwrap_or_else(|status| panic!("v1alpha reflection stream failed: {status}"))
        .unwrap_or_else(|| panic!("v1alpha reflection returned no message"));
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected v1alpha reflection response: {other:?}"),
    }
}

/// Calls as a client is told to: an `Unavailable` answer (the server or a peer it needed was too
/// busy to answer in time) is retried, at most five times with a growing pause. The call must be
/// safe to repeat (the same idempotency key, the same order id); any other answer is returned.
pub async fn retry_unavailable<T, F, Fut>(call: F) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    use backon::{ExponentialBuilder, Retryable as _};
    call.retry(
        ExponentialBuilder::default()
            .with_min_delay(std::time::Duration::from_millis(200))
            .with_max_delay(std::time::Duration::from_secs(2))
            .with_max_times(5),
    )
    .when(|status: &tonic::Status| status.code() == tonic::Code::Unavailable)
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::retry_unavailable;

    #[tokio::test]
    async fn an_unavailable_answer_is_asked_again_and_any_other_is_returned_at_once() {
        let calls = AtomicU32::new(0);
        let answer = retry_unavailable(|| async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(tonic::Status::unavailable("busy")),
                n => Ok(n),
            }
        })
        .await;
        assert_eq!(answer.map_err(|status| status.code()), Ok(2));

        let calls = AtomicU32::new(0);
        let answer: Result<(), _> = retry_unavailable(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(tonic::Status::not_found("no such order"))
        })
        .await;
        assert_eq!(
            answer.map_err(|status| status.code()),
            Err(tonic::Code::NotFound)
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
