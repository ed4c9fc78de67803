//! Who is calling: the verified identity behind a request.

use shop_platform::access::CallerKind;
use uuid::Uuid;

use crate::claims::{Claims, Role, SERVICE_SUBJECT_PREFIX};

/// A verified principal: a person (with their roles and session) or a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User(Caller),
    Service(ServiceCaller),
}

impl Principal {
    /// Reads the principal out of verified claims; `Err` says why the claims are not a valid
    /// token of either kind.
    pub(crate) fn from_claims(claims: Claims, token: String) -> Result<Self, String> {
        if let Some(name) = claims.sub.strip_prefix(SERVICE_SUBJECT_PREFIX) {
            if !is_service_name(name) {
                return Err(format!("{:?} is not a service name", claims.sub));
            }
            if !claims.roles.is_empty() || claims.sid.is_some() {
                return Err("a service token carries roles or a session".to_owned());
            }
            return Ok(Self::Service(ServiceCaller {
                name: name.to_owned(),
                claims,
                token,
            }));
        }
        let user_id = Uuid::parse_str(&claims.sub)
            .map_err(|_| format!("subject {:?} is neither a user nor a service", claims.sub))?;
        let session_id = claims
            .sid
            .ok_or_else(|| "a person's token without a session".to_owned())?;
        Ok(Self::User(Caller {
            user_id,
            session_id,
            claims,
            token,
        }))
    }

    /// What the authorization table needs to know.
    pub fn kind(&self) -> CallerKind<'_> {
        match self {
            Self::User(caller) => CallerKind::Person {
                customer: caller.claims.roles.contains(&Role::Customer),
                admin: caller.is_admin(),
            },
            Self::Service(service) => CallerKind::Service(&service.name),
        }
    }

    /// `user:<id>` or `service:<name>`, for logs.
    pub fn label(&self) -> String {
        match self {
            Self::User(caller) => format!("user:{}", caller.user_id),
            Self::Service(service) => format!("service:{}", service.name),
        }
    }
}

/// Service names: lower-case letters and digits, starting with a letter, at most 32 (they
/// appear in environment variable names, `SHOP_SERVICE_CLIENTS__<NAME>`).
pub fn is_service_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// A verified person. Carries the original token so it can be forwarded to the next service
/// (each service verifies it again: zero trust inside the mesh).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub claims: Claims,
    user_id: Uuid,
    session_id: Uuid,
    token: String,
}

impl Caller {
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }

    /// The session (refresh-token family) the token was issued in.
    pub fn session_id(&self) -> Uuid {
        self.session_id
    }

    pub fn is_admin(&self) -> bool {
        self.claims.roles.contains(&Role::Admin)
    }

    /// Whether the caller may see data owned by `owner`: their own, or anything for an admin.
    pub fn may_access(&self, owner: Uuid) -> bool {
        self.is_admin() || self.user_id == owner
    }

    /// The bearer token as received.
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// A verified service, by the name its token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCaller {
    pub claims: Claims,
    name: String,
    token: String,
}

impl ServiceCaller {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bearer token as received.
    pub fn token(&self) -> &str {
        &self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str, roles: Vec<Role>, sid: Option<Uuid>) -> Claims {
        Claims {
            sub: sub.to_owned(),
            iss: "i".to_owned(),
            aud: "a".to_owned(),
            exp: 0,
            iat: 0,
            jti: Uuid::nil(),
            roles,
            sid,
        }
    }

    #[test]
    fn a_persons_token_needs_a_user_id_and_a_session() {
        let id = Uuid::now_v7();
        let sid = Uuid::now_v7();
        let principal = Principal::from_claims(
            claims(&id.to_string(), vec![Role::Customer], Some(sid)),
            "t".into(),
        )
        .unwrap();
        let Principal::User(caller) = &principal else {
            panic!("not a user: {principal:?}")
        };
        assert_eq!((caller.user_id(), caller.session_id()), (id, sid));
        assert_eq!(
            principal.kind(),
            CallerKind::Person {
                customer: true,
                admin: false
            }
        );
        assert!(
            Principal::from_claims(
                claims(&id.to_string(), vec![Role::Customer], None),
                "t".into()
            )
            .is_err()
        );
        assert!(Principal::from_claims(claims("root", vec![], Some(sid)), "t".into()).is_err());
    }

    #[test]
    fn a_service_token_names_a_service_and_carries_no_roles_or_session() {
        let principal =
            Principal::from_claims(claims("service:order", vec![], None), "t".into()).unwrap();
        assert_eq!(principal.kind(), CallerKind::Service("order"));
        assert_eq!(principal.label(), "service:order");
        for bad in [
            claims("service:order", vec![Role::Admin], None),
            claims("service:order", vec![], Some(Uuid::nil())),
            claims("service:", vec![], None),
            claims("service:Order", vec![], None),
        ] {
            assert!(
                Principal::from_claims(bad.clone(), "t".into()).is_err(),
                "{bad:?}"
            );
        }
    }
}
