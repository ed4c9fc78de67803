//! The service host against real sockets: health, reflection, admin endpoints, metrics and the
//! graceful shutdown sequence.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::net::SocketAddr;
use std::time::Duration;

use shop_platform::config::{AdminSettings, ServerSettings, ShutdownSettings};
use shop_platform::{ServiceHost, admin};
use shop_proto::payment::v1::payment_service_client::PaymentServiceClient;
use shop_proto::payment::v1::payment_service_server::{PaymentService, PaymentServiceServer};
use shop_proto::payment::v1::{
    ChargeRequest, ChargeResponse, GetPaymentRequest, GetPaymentResponse, RefundRequest,
    RefundResponse,
};
use shop_testkit::grpc::{connect, health, reflected_services, reflected_services_v1alpha};
use tokio::time::Instant;
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;

const SERVICE: &str = "shop.payment.v1.PaymentService";

/// A stand-in service: `GetPayment` takes as long as its order id says (in milliseconds).
#[derive(Debug, Clone, Copy)]
struct SlowPayments;

#[tonic::async_trait]
impl PaymentService for SlowPayments {
    async fn charge(&self, _: Request<ChargeRequest>) -> Result<Response<ChargeResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn refund(&self, _: Request<RefundRequest>) -> Result<Response<RefundResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn get_payment(
        &self,
        request: Request<GetPaymentRequest>,
    ) -> Result<Response<GetPaymentResponse>, Status> {
        let millis: u64 =
            request.into_inner().order_id.parse().map_err(|_| {
                Status::invalid_argument("order_id must be a number of milliseconds")
            })?;
        tokio::time::sleep(Duration::from_millis(millis)).await;
        Err(Status::not_found("no such payment"))
    }
}

struct Running {
    grpc: SocketAddr,
    admin: SocketAddr,
    trigger: shop_platform::ShutdownTrigger,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    readiness: admin::Readiness,
}

async fn start(shutdown: ShutdownSettings, ready: bool) -> Running {
    shop_testkit::init();
    let mut host = ServiceHost::grpc(
        "test-service",
        &ServerSettings::on_port(0),
        &AdminSettings::on_port(0),
        shutdown,
    )
    .await
    .unwrap();
    host.add_service(PaymentServiceServer::new(SlowPayments));
    host.readiness()
        .add_check("dependency", move || async move {
            if ready {
                Ok(())
            } else {
                anyhow::bail!("dependency is down")
            }
        });
    let running = Running {
        grpc: host.public_addr(),
        admin: host.admin_addr(),
        trigger: host.shutdown_trigger(),
        readiness: host.readiness().clone(),
        task: tokio::spawn(host.run()),
    };
    // The host reports SERVING once its services are registered with health.
    let deadline = Instant::now() + Duration::from_secs(5);
    while health(running.grpc, SERVICE).await != ServingStatus::Serving {
        assert!(Instant::now() < deadline, "service never became SERVING");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running
}

async fn admin_get(admin: SocketAddr, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://127.0.0.1:{}{path}", admin.port()))
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn get_payment(grpc: SocketAddr, millis: u64) -> Result<(), Status> {
    let mut client = PaymentServiceClient::new(connect(grpc).await);
    client
        .get_payment(GetPaymentRequest {
            order_id: millis.to_string(),
        })
        .await
        .map(|_| ())
}

#[tokio::test]
async fn a_running_host_serves_health_reflection_and_admin_endpoints() {
    let running = start(ShutdownSettings::default(), true).await;

    assert_eq!(health(running.grpc, "").await, ServingStatus::Serving);
    let services = reflected_services(running.grpc).await;
    assert!(services.iter().any(|s| s == SERVICE), "{services:?}");
    assert!(
        services.iter().any(|s| s == "grpc.health.v1.Health"),
        "{services:?}"
    );
    assert!(
        !services.iter().any(|s| s == "shop.order.v1.OrderService"),
        "only what this server serves is listed: {services:?}"
    );
    // Tools that only speak the older protocol see the same list.
    let mut older = reflected_services_v1alpha(running.grpc).await;
    let mut current = services.clone();
    older.sort();
    current.sort();
    assert_eq!(older, current);

    assert_eq!(admin_get(running.admin, "/healthz").await.0, 200);
    assert_eq!(admin_get(running.admin, "/readyz").await.0, 200);
    let (status, page) = admin_get(running.admin, "/metrics").await;
    assert_eq!(status, 200);
    assert!(page.is_empty() || page.contains("# TYPE"), "{page}");

    // The `probe` command (container healthchecks) reads the same endpoints, via 0.0.0.0 too.
    let unspecified = SocketAddr::from(([0, 0, 0, 0], running.admin.port()));
    let probed = admin::probe(unspecified, "/readyz", Duration::from_secs(2)).await;
    assert_eq!(probed.unwrap(), 200);

    running.trigger.trigger();
    running.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_dependency_the_service_fails_open_on_degrades_readiness_but_never_fails_it() {
    let running = start(ShutdownSettings::default(), true).await;
    let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cache_up = up.clone();
    running
        .readiness
        .add_dependency("cache", admin::Dependency::FailsOpen, move || {
            let up = cache_up.load(std::sync::atomic::Ordering::SeqCst);
            async move {
                if up {
                    Ok(())
                } else {
                    anyhow::bail!("cache is down")
                }
            }
        });

    let (status, body) = admin_get(running.admin, "/readyz").await;
    assert_eq!(status, 200, "still serving, so still ready: {body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["degraded"], serde_json::json!(["cache"]));
    let (_, metrics) = admin_get(running.admin, "/metrics").await;
    assert!(
        metrics.contains("readiness_dependency_up{dependency=\"cache\"} 0"),
        "{metrics}"
    );

    up.store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = admin_get(running.admin, "/readyz").await;
    assert_eq!((status, body.contains("\"ready\"")), (200, true), "{body}");
    let (_, metrics) = admin_get(running.admin, "/metrics").await;
    assert!(
        metrics.contains("readiness_dependency_up{dependency=\"cache\"} 1"),
        "{metrics}"
    );

    running.trigger.trigger();
    running.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn readiness_is_false_while_a_dependency_check_fails() {
    let running = start(ShutdownSettings::default(), false).await;

    let (status, body) = admin_get(running.admin, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.contains("dependency"), "{body}");
    assert_eq!(
        admin_get(running.admin, "/healthz").await.0,
        200,
        "alive all the same"
    );
    let probed = admin::probe(running.admin, "/readyz", Duration::from_secs(2)).await;
    assert_eq!(
        probed.unwrap(),
        503,
        "the probe sees what the load balancer sees"
    );

    running.trigger.trigger();
    running.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn rpcs_are_counted_by_method_and_code() {
    let running = start(ShutdownSettings::default(), true).await;

    let status = get_payment(running.grpc, 0).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);

    let (_, page) = admin_get(running.admin, "/metrics").await;
    let line = page
        .lines()
        .find(|line| {
            line.starts_with("rpc_server_requests_total{")
                && line.contains(r#"method="GetPayment""#)
                && line.contains(r#"code="NotFound""#)
        })
        .unwrap_or_else(|| panic!("no request counter for GetPayment in:\n{page}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 1.0, "{line}");
    assert!(
        page.contains("rpc_server_duration_seconds_bucket{"),
        "{page}"
    );

    running.trigger.trigger();
    running.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_turns_not_ready_first_then_drains_requests_in_flight() {
    let settings = ShutdownSettings {
        pre_stop_delay: Duration::from_millis(600),
        drain_timeout: Duration::from_secs(5),
    };
    let running = start(settings, true).await;
    // A request that is still running when the shutdown begins and ends after the listener
    // has closed: it must complete normally.
    let in_flight = tokio::spawn(get_payment(running.grpc, 1_000));
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    running.trigger.trigger();

    // During the pre-stop delay the old connections still work and report the drain.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(admin_get(running.admin, "/readyz").await.0, 503);
    assert_eq!(
        health(running.grpc, SERVICE).await,
        ServingStatus::NotServing
    );
    assert_eq!(health(running.grpc, "").await, ServingStatus::NotServing);

    let outcome = in_flight.await.unwrap();
    assert_eq!(
        outcome.unwrap_err().code(),
        tonic::Code::NotFound,
        "the in-flight call got its real answer"
    );
    running.task.await.unwrap().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn shutdown_is_bounded_by_the_drain_timeout() {
    let settings = ShutdownSettings {
        pre_stop_delay: Duration::ZERO,
        drain_timeout: Duration::from_millis(300),
    };
    let running = start(settings, true).await;
    // The call outlives the bound; the host returns anyway and the process exits, which is
    // what ends the connection (in this test the connection task outlives the host).
    let _stuck = tokio::spawn(get_payment(running.grpc, 60_000));
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    running.trigger.trigger();
    running.task.await.unwrap().unwrap();

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "stopped after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_failing_worker_stops_the_host_with_its_error() {
    shop_testkit::init();
    let mut host = ServiceHost::grpc(
        "test-service",
        &ServerSettings::on_port(0),
        &AdminSettings::on_port(0),
        ShutdownSettings::default(),
    )
    .await
    .unwrap();
    host.spawn_worker("doomed", |_stop| async {
        anyhow::bail!("lost the broker for good")
    });

    let outcome = tokio::time::timeout(Duration::from_secs(5), host.run())
        .await
        .unwrap();
    let err = outcome.unwrap_err();
    assert!(
        format!("{err:#}").contains("lost the broker for good"),
        "{err:#}"
    );
}

#[tokio::test]
async fn workers_are_stopped_at_shutdown() {
    shop_testkit::init();
    let mut host = ServiceHost::grpc(
        "test-service",
        &ServerSettings::on_port(0),
        &AdminSettings::on_port(0),
        ShutdownSettings::default(),
    )
    .await
    .unwrap();
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel();
    host.spawn_worker("polite", |stop| async move {
        stop.cancelled().await;
        let _ = stopped_tx.send(());
        Ok(())
    });
    let trigger = host.shutdown_trigger();
    let task = tokio::spawn(host.run());
    tokio::time::sleep(Duration::from_millis(50)).await;
    trigger.trigger();

    task.await.unwrap().unwrap();
    stopped_rx.await.expect("the worker saw the stop token");
}

#[tokio::test]
async fn a_periodic_round_that_fails_does_not_stop_the_rounds_or_the_host() {
    shop_testkit::init();
    let mut host = ServiceHost::grpc(
        "test-service",
        &ServerSettings::on_port(0),
        &AdminSettings::on_port(0),
        ShutdownSettings {
            pre_stop_delay: Duration::ZERO,
            ..ShutdownSettings::default()
        },
    )
    .await
    .unwrap();
    let rounds = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = rounds.clone();
    host.spawn_periodic("flaky", Duration::from_millis(20), move || {
        let round = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            // Every other round fails, as a round does when its database is briefly away.
            anyhow::ensure!(round.is_multiple_of(2), "round {round} failed");
            Ok(())
        }
    });
    let trigger = host.shutdown_trigger();
    let running = tokio::spawn(host.run());

    let deadline = Instant::now() + Duration::from_secs(5);
    while rounds.load(std::sync::atomic::Ordering::SeqCst) < 6 {
        assert!(Instant::now() < deadline, "the rounds stopped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!running.is_finished(), "a failed round stopped the host");
    trigger.trigger();
    let outcome = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .unwrap()
        .unwrap();
    assert!(outcome.is_ok(), "{outcome:?}");
    let after = rounds.load(std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        rounds.load(std::sync::atomic::Ordering::SeqCst),
        after,
        "rounds went on after shutdown"
    );
}
