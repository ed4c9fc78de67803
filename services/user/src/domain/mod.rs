//! Domain of the user service: what an account is and the rules about credentials, free of
//! frameworks. Types are parsed once at the edge ("parse, don't validate") and then trusted.

mod email;
mod login_throttle;
mod name;
mod password;
mod user;

pub use email::{Email, EmailError};
pub use login_throttle::LoginThrottle;
pub use name::{DisplayName, NameError};
pub use password::{Password, PasswordError, check_login_password};
pub use user::{User, UserId};
