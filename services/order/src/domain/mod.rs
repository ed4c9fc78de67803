//! Domain of the order service: the order aggregate and the rules of its saga, free of
//! frameworks.

mod order;
mod place;
mod saga;

pub use order::{
    LineItem, Order, OrderState, OrderStatus, PricedLine, RejectReason, TimelineEntry,
    TimelineEvent, TransitionError,
};
pub use place::{OrderRequest, RequestedLine, fingerprint};
pub use saga::{Step, next_step};
