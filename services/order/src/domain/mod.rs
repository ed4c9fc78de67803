//! Domain of the order service: the order aggregate and the rules of its saga, free of
//! frameworks.

mod cart;
mod order;
mod place;
mod saga;
mod shipping;

pub use cart::{
    Cart, CartItem, CartLine, CatalogProduct, MAX_CART_LINES, MAX_CART_QUANTITY, StoredCartLine,
    merged_quantity,
};
pub use order::{
    LineItem, Order, OrderState, OrderStatus, PricedLine, RejectReason, Shipping, TimelineEntry,
    TimelineEvent, Tracking, TransitionError,
};
pub use place::{OrderRequest, PlaceInput, RequestedLine, fingerprint};
pub use saga::{Step, next_step};
pub use shipping::{
    AddressInput, Country, SHOP_CURRENCY, ShippingAddress, ShippingMethod, ShippingOption, options,
    quote,
};
