//! Every RPC of every service, called with no token, as a customer, as an admin and as each
//! service, answers exactly as that service's authorization table says.
//!
//! The RPCs come from the compiled proto descriptors, not from the tables: an RPC added to a
//! contract without an entry in its service's table fails this test (and is refused at run
//! time), as does an entry for an RPC that no longer exists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Fail loudly.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::str::FromStr as _;

use prost::Message as _;
use shop_auth::grpc::reasons;
use shop_platform::access::{AccessTable, Allow, CallerKind, Decision};
use shop_platform::grpc_status::reason_of;
use shop_test_services::{SERVICES, TestShop, admin, customer, login, service_token};
use tonic::Code;

/// Who a call is made as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum As {
    Anonymous,
    Customer,
    Admin,
    Service(&'static str),
}

impl As {
    fn kind(self) -> CallerKind<'static> {
        match self {
            Self::Anonymous => CallerKind::Anonymous,
            Self::Customer => CallerKind::Person {
                customer: true,
                admin: false,
            },
            Self::Admin => CallerKind::Person {
                customer: true,
                admin: true,
            },
            Self::Service(name) => CallerKind::Service(name),
        }
    }
}

/// The services and RPCs the contracts define, from the descriptors compiled into the binaries.
fn contract_rpcs() -> Vec<(String, Vec<String>)> {
    let set = prost_types::FileDescriptorSet::decode(shop_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut services = Vec::new();
    for file in set.file {
        let package = file.package().to_owned();
        if !package.starts_with("shop.") {
            continue;
        }
        for service in file.service {
            let methods = service.method.iter().map(|m| m.name().to_owned()).collect();
            services.push((format!("{package}.{}", service.name()), methods));
        }
    }
    services
}

/// Calls `/<service>/<method>` with an empty request message, as `token` says.
async fn call(addr: SocketAddr, service: &str, method: &str, token: Option<&str>) -> tonic::Status {
    let channel = shop_testkit::grpc::connect(addr).await;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(());
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let path = http::uri::PathAndQuery::from_str(&format!("/{service}/{method}")).unwrap();
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    match grpc.unary(request, path, codec).await {
        Ok(_) => tonic::Status::ok(""),
        Err(status) => status,
    }
}

#[tokio::test]
async fn every_rpc_answers_every_principal_exactly_as_its_table_says() {
    let mut shop = TestShop::new().await;
    let user = shop.user(|_| {}).await;
    let inventory = shop.inventory(&user, |_| {}).await;
    let payment = shop.payment(&user, |_| {}).await;
    let order = shop.order(&user, &inventory, &payment, |_| {}).await;
    let servers: [(&AccessTable, SocketAddr); 4] = [
        (&shop_user::adapters::grpc::ACCESS, user.addr),
        (&shop_inventory::adapters::grpc::ACCESS, inventory.addr),
        (&shop_order::adapters::grpc::ACCESS, order.addr),
        (&shop_payment::adapters::grpc::ACCESS, payment.addr),
    ];

    let (customer_email, admin_email) = ("ann@example.com", "root@example.com");
    customer(&user, customer_email).await;
    admin(&user, admin_email).await;
    let mut principals = vec![As::Anonymous, As::Customer, As::Admin];
    principals.extend(SERVICES.into_iter().map(As::Service));

    let mut checked = 0;
    for (service, methods) in contract_rpcs() {
        let (table, addr) = servers
            .iter()
            .find(|(table, _)| table.service == service)
            .unwrap_or_else(|| {
                panic!("{service} is in proto/ but no server of this test serves it")
            });
        let listed: BTreeSet<&str> = table.rules.iter().map(|rule| rule.method).collect();
        let defined: BTreeSet<&str> = methods.iter().map(String::as_str).collect();
        let missing: Vec<_> = defined.difference(&listed).collect();
        assert!(
            missing.is_empty(),
            "{service}: {missing:?} have no entry in its authorization table"
        );
        let stale: Vec<_> = listed.difference(&defined).collect();
        assert!(
            stale.is_empty(),
            "the authorization table of {service} lists {stale:?}, which the contract does not define"
        );

        for method in &methods {
            for principal in &principals {
                // A fresh token for each call: one of these calls is Logout.
                let token = match *principal {
                    As::Anonymous => None,
                    As::Customer => {
                        Some(login(&user, customer_email, shop_test_services::PASSWORD).await)
                    }
                    As::Admin => {
                        Some(login(&user, admin_email, shop_test_services::PASSWORD).await)
                    }
                    As::Service(name) => Some(service_token(&user, name).await),
                };
                let status = call(*addr, &service, method, token.as_deref()).await;
                let refusal = reason_of(&status).filter(|r| reasons::ALL.contains(&r.as_str()));
                let expected = table.decide(method, principal.kind());
                let outcome = (status.code(), refusal.as_deref());
                let context = format!(
                    "{service}/{method} as {principal:?}: table says {expected:?}, got {:?} {:?}",
                    status.code(),
                    status.message()
                );
                match expected {
                    Decision::Allowed => assert_eq!(refusal, None, "{context}"),
                    Decision::NeedsAuthentication => assert_eq!(
                        outcome,
                        (Code::Unauthenticated, Some(reasons::TOKEN_REQUIRED)),
                        "{context}"
                    ),
                    Decision::Forbidden => assert_eq!(
                        outcome,
                        (Code::PermissionDenied, Some(reasons::CALLER_NOT_ALLOWED)),
                        "{context}"
                    ),
                    Decision::Unlisted => panic!("{context}: unlisted RPCs fail above"),
                }
                checked += 1;
            }
        }
    }
    // 4 services, 21 RPCs, 8 principals.
    assert!(checked >= 21 * 8, "only {checked} calls checked");
    shop.stop().await;
}

#[tokio::test]
async fn the_tables_say_what_the_shop_promises() {
    let order_only = [Allow::Service("order")].as_slice();
    let inventory = &shop_inventory::adapters::grpc::ACCESS;
    let payment = &shop_payment::adapters::grpc::ACCESS;
    let user = &shop_user::adapters::grpc::ACCESS;
    let order = &shop_order::adapters::grpc::ACCESS;

    // The saga's steps move stock and money: only the order service may call them.
    for (table, method) in [
        (inventory, "ReserveStock"),
        (inventory, "ReleaseReservation"),
        (payment, "Charge"),
        (payment, "Refund"),
    ] {
        assert_eq!(table.rule(method), Some(order_only), "{method}");
    }
    // Catalog writes are the admins'.
    for method in ["CreateProduct", "UpdateProduct", "AdjustStock"] {
        assert_eq!(
            inventory.rule(method),
            Some([Allow::Admins].as_slice()),
            "{method}"
        );
    }
    // Public reads and signing in stay open.
    for (table, method) in [
        (inventory, "ListProducts"),
        (inventory, "GetProduct"),
        (inventory, "BatchGetProducts"),
        (user, "Register"),
        (user, "Login"),
        (user, "Refresh"),
        (user, "GetJwks"),
        (user, "IssueServiceToken"),
    ] {
        assert!(table.is_public(method), "{method} must stay open");
    }
    // Nothing else is open to everyone.
    for table in [inventory, payment, user, order] {
        let open: Vec<&str> = table
            .rules
            .iter()
            .filter(|rule| rule.allow.contains(&Allow::Anyone))
            .map(|rule| rule.method)
            .collect();
        for method in open {
            assert!(
                [
                    "ListProducts",
                    "GetProduct",
                    "BatchGetProducts",
                    "Register",
                    "Login",
                    "Refresh",
                    "GetJwks",
                    "IssueServiceToken"
                ]
                .contains(&method),
                "{}/{method} is open to everyone",
                table.service
            );
        }
    }
}
