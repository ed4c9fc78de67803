//! Who may call what: one authorization table per gRPC service, deny by default.
//!
//! A service declares, for every RPC it serves, which principals may call it. The server layer
//! (`shop_auth::grpc::AuthLayer`) consults the table before the request is decoded, validated or
//! touches a database; an RPC that is not in the table is refused whoever calls it. The same
//! table is printed by `shop-<service> access-table` (what the deployment check compares the
//! mesh's AuthorizationPolicies with) and is what the generated authorization test exercises.
//!
//! ```
//! use shop_platform::access::{AccessTable, Allow, Rule};
//!
//! pub static ACCESS: AccessTable = AccessTable::new(
//!     "shop.inventory.v1.InventoryService",
//!     &[
//!         Rule::new("GetProduct", &[Allow::Anyone]),
//!         Rule::new("AdjustStock", &[Allow::Admins]),
//!         Rule::new("ReserveStock", &[Allow::Service("order")]),
//!     ],
//! );
//! ```

use serde::Serialize;

/// One kind of principal an RPC admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// Everyone, with or without a token: public reads and signing in.
    Anyone,
    /// A signed-in person with the customer role (admins have it too).
    Customers,
    /// A signed-in person with the admin role.
    Admins,
    /// The named service, by its service token (`service:<name>`).
    Service(&'static str),
}

impl Allow {
    /// The name used in the printed table and the docs: `anyone`, `customer`, `admin`,
    /// `service:<name>`.
    pub fn label(self) -> String {
        match self {
            Self::Anyone => "anyone".to_owned(),
            Self::Customers => "customer".to_owned(),
            Self::Admins => "admin".to_owned(),
            Self::Service(name) => format!("service:{name}"),
        }
    }
}

/// An RPC and who may call it.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub method: &'static str,
    pub allow: &'static [Allow],
}

impl Rule {
    pub const fn new(method: &'static str, allow: &'static [Allow]) -> Self {
        Self { method, allow }
    }
}

/// The authorization table of one gRPC service.
#[derive(Debug)]
pub struct AccessTable {
    /// The fully qualified service name, `shop.order.v1.OrderService`.
    pub service: &'static str,
    pub rules: &'static [Rule],
}

/// Who is calling, as far as the table is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind<'a> {
    /// No token at all.
    Anonymous,
    /// A person, with the roles their token carries.
    Person { customer: bool, admin: bool },
    /// A service, by the name in its token.
    Service(&'a str),
}

/// What the table says about one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// The RPC needs a principal and the call had none: UNAUTHENTICATED.
    NeedsAuthentication,
    /// The caller is known and not admitted: PERMISSION_DENIED.
    Forbidden,
    /// The RPC is not in the table: PERMISSION_DENIED, whoever calls.
    Unlisted,
}

impl AccessTable {
    pub const fn new(service: &'static str, rules: &'static [Rule]) -> Self {
        Self { service, rules }
    }

    /// Who may call `method` (the bare name, `PlaceOrder`), if the table lists it.
    pub fn rule(&self, method: &str) -> Option<&'static [Allow]> {
        self.rules
            .iter()
            .find(|rule| rule.method == method)
            .map(|rule| rule.allow)
    }

    /// Whether `method` is open to everyone (a token, if any, is still checked).
    pub fn is_public(&self, method: &str) -> bool {
        self.rule(method)
            .is_some_and(|allow| allow.contains(&Allow::Anyone))
    }

    /// The decision for `caller` calling `method`.
    pub fn decide(&self, method: &str, caller: CallerKind<'_>) -> Decision {
        let Some(allow) = self.rule(method) else {
            return Decision::Unlisted;
        };
        let admitted = allow.iter().any(|allowed| match (*allowed, caller) {
            (Allow::Anyone, _) => true,
            (Allow::Customers, CallerKind::Person { customer, .. }) => customer,
            (Allow::Admins, CallerKind::Person { admin, .. }) => admin,
            (Allow::Service(name), CallerKind::Service(caller)) => name == caller,
            _ => false,
        });
        match (admitted, caller) {
            (true, _) => Decision::Allowed,
            (false, CallerKind::Anonymous) => Decision::NeedsAuthentication,
            (false, _) => Decision::Forbidden,
        }
    }

    /// The table as JSON: `{"service": ..., "methods": {"PlaceOrder": ["customer"], ...}}`.
    pub fn to_json(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct Printed<'a> {
            service: &'a str,
            methods: std::collections::BTreeMap<&'a str, Vec<String>>,
        }
        let methods = self
            .rules
            .iter()
            .map(|rule| {
                (
                    rule.method,
                    rule.allow.iter().map(|allow| allow.label()).collect(),
                )
            })
            .collect();
        serde_json::to_value(Printed {
            service: self.service,
            methods,
        })
        .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TABLE: AccessTable = AccessTable::new(
        "shop.test.v1.TestService",
        &[
            Rule::new("Read", &[Allow::Anyone]),
            Rule::new("Buy", &[Allow::Customers]),
            Rule::new("Restock", &[Allow::Admins]),
            Rule::new("Reserve", &[Allow::Service("order")]),
        ],
    );

    const CUSTOMER: CallerKind<'static> = CallerKind::Person {
        customer: true,
        admin: false,
    };
    const ADMIN: CallerKind<'static> = CallerKind::Person {
        customer: true,
        admin: true,
    };

    #[test]
    fn public_rpcs_admit_everyone() {
        for caller in [
            CallerKind::Anonymous,
            CUSTOMER,
            ADMIN,
            CallerKind::Service("order"),
        ] {
            assert_eq!(TABLE.decide("Read", caller), Decision::Allowed);
        }
    }

    #[test]
    fn anonymous_calls_need_authentication_and_the_wrong_principal_is_forbidden() {
        assert_eq!(
            TABLE.decide("Buy", CallerKind::Anonymous),
            Decision::NeedsAuthentication
        );
        assert_eq!(TABLE.decide("Buy", CUSTOMER), Decision::Allowed);
        assert_eq!(TABLE.decide("Buy", ADMIN), Decision::Allowed);
        assert_eq!(
            TABLE.decide("Buy", CallerKind::Service("order")),
            Decision::Forbidden
        );
        assert_eq!(TABLE.decide("Restock", CUSTOMER), Decision::Forbidden);
        assert_eq!(TABLE.decide("Restock", ADMIN), Decision::Allowed);
        assert_eq!(TABLE.decide("Reserve", ADMIN), Decision::Forbidden);
        assert_eq!(
            TABLE.decide("Reserve", CallerKind::Service("payment")),
            Decision::Forbidden
        );
        assert_eq!(
            TABLE.decide("Reserve", CallerKind::Service("order")),
            Decision::Allowed
        );
    }

    #[test]
    fn an_rpc_missing_from_the_table_is_refused_to_everyone() {
        for caller in [CallerKind::Anonymous, ADMIN, CallerKind::Service("order")] {
            assert_eq!(TABLE.decide("Unknown", caller), Decision::Unlisted);
        }
    }

    #[test]
    fn the_printed_table_names_every_principal() {
        let json = TABLE.to_json();
        assert_eq!(json["service"], "shop.test.v1.TestService");
        assert_eq!(json["methods"]["Reserve"][0], "service:order");
        assert_eq!(json["methods"]["Read"][0], "anyone");
    }
}
