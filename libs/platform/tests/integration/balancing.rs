//! A channel to a peer known by name, against real servers: calls are balanced over every
//! address the name resolves to, and follow the name as replicas come and go.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use shop_platform::grpc_client::{GrpcChannel, Resolve, balanced_channel};
use shop_proto::payment::v1::payment_service_client::PaymentServiceClient;
use shop_proto::payment::v1::payment_service_server::{PaymentService, PaymentServiceServer};
use shop_proto::payment::v1::{
    ChargeRequest, ChargeResponse, GetPaymentRequest, GetPaymentResponse, RefundRequest,
    RefundResponse,
};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status};

/// The name the callers know the peer by; only the test's resolver knows its addresses.
const PEER: &str = "http://payment.test:50054";
/// How often the channel looks the name up again in these tests.
const RESOLVE_EVERY: Duration = Duration::from_millis(50);

/// One replica of the peer: it counts the calls it answers and the authority they were sent to.
#[derive(Clone, Default)]
struct Replica {
    calls: Arc<AtomicUsize>,
    authorities: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl PaymentService for Replica {
    async fn charge(&self, _: Request<ChargeRequest>) -> Result<Response<ChargeResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn refund(&self, _: Request<RefundRequest>) -> Result<Response<RefundResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn get_payment(
        &self,
        _: Request<GetPaymentRequest>,
    ) -> Result<Response<GetPaymentResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(Status::not_found("no such payment"))
    }
}

struct Running {
    addr: SocketAddr,
    replica: Replica,
}

impl Running {
    fn calls(&self) -> usize {
        self.replica.calls.load(Ordering::SeqCst)
    }
}

async fn replica() -> Running {
    shop_testkit::init();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let replica = Replica::default();
    let authorities = replica.authorities.clone();
    let record_authority = tower::util::MapRequestLayer::new(move |request: http::Request<_>| {
        let authority = request
            .uri()
            .authority()
            .map(ToString::to_string)
            .unwrap_or_default();
        authorities.lock().unwrap().push(authority);
        request
    });
    let server = tonic::transport::Server::builder()
        .layer(record_authority)
        .add_service(PaymentServiceServer::new(replica.clone()))
        .serve_with_incoming(TcpListenerStream::new(listener));
    tokio::spawn(server);
    Running { addr, replica }
}

/// A resolver the test steers: the peer's name stands for whatever addresses it holds now, or
/// the lookup fails. It counts the lookups.
#[derive(Clone, Default)]
struct Names {
    answer: Arc<Mutex<Option<Vec<SocketAddr>>>>,
    lookups: Arc<AtomicUsize>,
}

impl Names {
    fn resolve_to(&self, addresses: &[SocketAddr]) {
        *self.answer.lock().unwrap() = Some(addresses.to_vec());
    }

    fn fail(&self) {
        *self.answer.lock().unwrap() = None;
    }

    /// Waits until the channel has looked the name up `more` times from now.
    async fn looked_up_again(&self, more: usize) {
        let target = self.lookups.load(Ordering::SeqCst) + more;
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.lookups.load(Ordering::SeqCst) < target {
            assert!(
                Instant::now() < deadline,
                "the channel stopped looking the name up"
            );
            tokio::time::sleep(RESOLVE_EVERY / 5).await;
        }
    }
}

impl Resolve for Names {
    fn resolve(&self, _host: &str, _port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let answer = self.answer.lock().unwrap().clone();
        Box::pin(async move {
            answer.ok_or_else(|| io::Error::other("temporary failure in name resolution"))
        })
    }
}

async fn call(client: &mut PaymentServiceClient<GrpcChannel>) {
    let mut request = Request::new(GetPaymentRequest {
        order_id: "0".to_owned(),
    });
    request.set_timeout(Duration::from_secs(2));
    let status = client.get_payment(request).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

/// Calls until `done` holds for a whole round of calls, for at most a few seconds.
async fn until_a_round_of_calls(
    client: &mut PaymentServiceClient<GrpcChannel>,
    what: &str,
    done: impl Fn(usize, usize) -> bool,
    a: &Running,
    b: &Running,
) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let before = (a.calls(), b.calls());
        for _ in 0..20 {
            call(client).await;
        }
        if done(a.calls() - before.0, b.calls() - before.1) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(RESOLVE_EVERY).await;
    }
}

#[tokio::test]
async fn calls_spread_over_every_address_of_the_name_and_follow_it_as_replicas_come_and_go() {
    let (a, b) = (replica().await, replica().await);
    let names = Names::default();
    names.resolve_to(&[a.addr, b.addr]);
    let mut client =
        PaymentServiceClient::new(balanced_channel(PEER, names.clone(), RESOLVE_EVERY).unwrap());

    for _ in 0..40 {
        call(&mut client).await;
    }
    assert_eq!(a.calls() + b.calls(), 40);
    assert!(
        a.calls() > 0 && b.calls() > 0,
        "both replicas answer: {} and {}",
        a.calls(),
        b.calls()
    );
    for running in [&a, &b] {
        let authorities = running.replica.authorities.lock().unwrap();
        assert!(
            authorities.iter().all(|a| a == "payment.test:50054"),
            "calls name the peer, not the address (a mesh routes by it): {authorities:?}"
        );
    }

    names.resolve_to(&[b.addr]);
    until_a_round_of_calls(
        &mut client,
        "the replica gone from the name gets no calls",
        |to_a, to_b| to_a == 0 && to_b == 20,
        &a,
        &b,
    )
    .await;

    names.resolve_to(&[a.addr, b.addr]);
    until_a_round_of_calls(
        &mut client,
        "the replica back in the name gets calls again",
        |to_a, _| to_a > 0,
        &a,
        &b,
    )
    .await;
}

#[tokio::test]
async fn a_failed_lookup_keeps_the_addresses_last_seen() {
    let (a, b) = (replica().await, replica().await);
    let names = Names::default();
    names.resolve_to(&[a.addr]);
    let mut client =
        PaymentServiceClient::new(balanced_channel(PEER, names.clone(), RESOLVE_EVERY).unwrap());
    call(&mut client).await;

    names.fail();
    names.looked_up_again(3).await;
    for _ in 0..10 {
        call(&mut client).await;
    }
    assert_eq!((a.calls(), b.calls()), (11, 0));

    names.resolve_to(&[]);
    names.looked_up_again(3).await;
    call(&mut client).await;
    assert_eq!(
        a.calls(),
        12,
        "an empty answer keeps the last addresses too"
    );
}

#[tokio::test]
async fn an_address_literal_is_one_connection_with_nothing_to_resolve() {
    let a = replica().await;
    let names = Names::default(); // Fails every lookup: it must not be asked.
    let uri = format!("http://{}", a.addr);
    let mut client =
        PaymentServiceClient::new(balanced_channel(&uri, names.clone(), RESOLVE_EVERY).unwrap());
    call(&mut client).await;
    assert_eq!(a.calls(), 1);
    assert_eq!(names.lookups.load(Ordering::SeqCst), 0);
}
