//! The gRPC face of the user service: decodes requests, calls the use cases, and maps their
//! errors to status codes. This file is the only place that knows both.

use shop_auth::grpc::caller;
use shop_platform::access::{AccessTable, Allow, Rule};
use shop_platform::grpc_status;
use shop_platform::validation::Violations;
use shop_proto::convert::timestamp;
use shop_proto::user::v1 as pb;
use shop_proto::user::v1::user_service_server::UserService;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use crate::app::{TokenPair, UserError, Users};
use crate::domain::User;

/// Who may call each RPC. Signing in, the key set and service sign-in are open; what reads or
/// ends a person's session needs that person's token.
pub static ACCESS: AccessTable = AccessTable::new(
    "shop.user.v1.UserService",
    &[
        Rule::new("Register", &[Allow::Anyone]),
        Rule::new("Login", &[Allow::Anyone]),
        Rule::new("Refresh", &[Allow::Anyone]),
        Rule::new("GetJwks", &[Allow::Anyone]),
        Rule::new("IssueServiceToken", &[Allow::Anyone]),
        Rule::new("Logout", &[Allow::Customers]),
        Rule::new("GetUser", &[Allow::Customers]),
    ],
);

/// Implements `shop.user.v1.UserService` over the [`Users`] application.
#[derive(Debug, Clone)]
pub struct GrpcUserService {
    users: Users,
}

impl GrpcUserService {
    pub fn new(users: Users) -> Self {
        Self { users }
    }
}

impl From<UserError> for Status {
    fn from(err: UserError) -> Self {
        match err {
            UserError::Invalid(violations) => grpc_status::invalid_argument(&violations),
            UserError::EmailTaken => {
                Status::already_exists("an account with this email already exists")
            }
            UserError::InvalidCredentials => Status::unauthenticated("wrong email or password"),
            UserError::LockedOut { retry_after } => grpc_status::with_reason(
                Code::ResourceExhausted,
                "LOGIN_THROTTLED",
                "too many failed logins; try again later",
                &[(
                    "retry_after_seconds",
                    retry_after.as_secs().max(1).to_string(),
                )],
            ),
            UserError::InvalidRefreshToken => {
                Status::unauthenticated("the refresh token is not valid")
            }
            UserError::NotFound => Status::not_found("no such user"),
            UserError::InvalidClientCredentials => {
                Status::unauthenticated("unknown client or wrong secret")
            }
            UserError::Unexpected(err) => grpc_status::internal(&err),
        }
    }
}

fn user(user: &User) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        email: user.email.to_string(),
        name: user.name.clone(),
        roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        created_at: Some(timestamp(user.created_at)),
    }
}

fn tokens(pair: TokenPair) -> pb::TokenPair {
    pb::TokenPair {
        access_token: pair.access_token,
        token_type: "Bearer".to_owned(),
        expires_in: i64::try_from(pair.expires_in.as_secs()).unwrap_or(i64::MAX),
        refresh_token: pair.refresh_token,
    }
}

#[tonic::async_trait]
impl UserService for GrpcUserService {
    async fn register(
        &self,
        request: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterResponse>, Status> {
        let request = request.into_inner();
        let created = self
            .users
            .register(&request.email, request.password, &request.name)
            .await?;
        Ok(Response::new(pb::RegisterResponse {
            user: Some(user(&created)),
        }))
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let request = request.into_inner();
        let pair = self
            .users
            .login(&request.email, &request.password, &request.client)
            .await?;
        Ok(Response::new(pb::LoginResponse {
            tokens: Some(tokens(pair)),
        }))
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        let pair = self
            .users
            .refresh(&request.into_inner().refresh_token)
            .await?;
        Ok(Response::new(pb::RefreshResponse {
            tokens: Some(tokens(pair)),
        }))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let caller = caller(&request)?;
        self.users.logout(&caller).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let caller = caller(&request)?;
        let id = Uuid::parse_str(&request.get_ref().user_id).map_err(|_| {
            grpc_status::invalid_argument(&Violations::single("user_id", "must be a UUID"))
        })?;
        let found = self.users.get_user(&caller, id).await?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(user(&found)),
        }))
    }

    async fn get_jwks(
        &self,
        _: Request<pb::GetJwksRequest>,
    ) -> Result<Response<pb::GetJwksResponse>, Status> {
        let keys = self.users.jwks().await?;
        Ok(Response::new(pb::GetJwksResponse {
            keys: keys
                .into_iter()
                .map(|k| pb::Jwk {
                    kty: k.kty,
                    crv: k.crv,
                    x: k.x,
                    kid: k.kid,
                    alg: k.alg,
                    r#use: k.key_use,
                })
                .collect(),
        }))
    }

    async fn issue_service_token(
        &self,
        request: Request<pb::IssueServiceTokenRequest>,
    ) -> Result<Response<pb::IssueServiceTokenResponse>, Status> {
        let request = request.into_inner();
        let issued = self
            .users
            .issue_service_token(&request.client_id, &request.client_secret)
            .await?;
        Ok(Response::new(pb::IssueServiceTokenResponse {
            access_token: issued.access_token,
            token_type: "Bearer".to_owned(),
            expires_in: i64::try_from(issued.expires_in.as_secs()).unwrap_or(i64::MAX),
        }))
    }
}
