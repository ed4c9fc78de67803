//! From the backends' protobuf messages to the public JSON shapes.

use shop_proto::common::v1::Money as PbMoney;
use shop_proto::inventory::v1 as inventory;
use shop_proto::order::v1 as order;
use shop_proto::user::v1 as user;

use super::dto::{
    Cart, CartLine, Money, Order, OrderItem, Price, Product, ShippingAddress, ShippingMethod,
    TimelineEntry, User,
};

pub fn money(m: &PbMoney) -> Money {
    Money {
        amount_minor: m.amount_minor,
        currency: m.currency.clone(),
    }
}

pub fn pb_price(p: &Price) -> PbMoney {
    PbMoney {
        amount_minor: p.amount_minor,
        currency: p.currency.clone(),
    }
}

fn rfc3339(t: Option<&prost_types::Timestamp>) -> String {
    t.and_then(shop_proto::convert::datetime)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

pub fn product(p: &inventory::Product) -> Product {
    Product {
        id: p.id.clone(),
        name: p.name.clone(),
        description: p.description.clone(),
        price: p.price.as_ref().map(money).unwrap_or(Money {
            amount_minor: 0,
            currency: "EUR".to_owned(),
        }),
        image_url: p.image_url.clone(),
        available: p.available,
        active: p.active,
    }
}

pub fn user(u: &user::User) -> User {
    User {
        id: u.id.clone(),
        email: u.email.clone(),
        name: u.name.clone(),
        roles: u.roles.clone(),
    }
}

pub fn order(o: &order::Order) -> Order {
    Order {
        id: o.id.clone(),
        customer_id: o.user_id.clone(),
        status: o
            .status()
            .as_str_name()
            .trim_start_matches("ORDER_STATUS_")
            .to_owned(),
        reason: o.reason.clone(),
        items: o
            .lines
            .iter()
            .map(|l| OrderItem {
                product_id: l.product_id.clone(),
                name: l.name.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price.as_ref().map(money),
            })
            .collect(),
        subtotal: o.subtotal.as_ref().map(money),
        shipping: o.shipping.as_ref().map(money),
        total: o.total.as_ref().map(money),
        shipping_address: o.shipping_address.as_ref().map(|a| ShippingAddress {
            name: a.name.clone(),
            line1: a.line1.clone(),
            line2: a.line2.clone(),
            city: a.city.clone(),
            postal_code: a.postal_code.clone(),
            country: a.country.clone(),
        }),
        shipping_method: shipping_method(o.shipping_method()),
        carrier: Some(o.carrier.clone()).filter(|c| !c.is_empty()),
        tracking_number: Some(o.tracking_number.clone()).filter(|t| !t.is_empty()),
        created_at: rfc3339(o.created_at.as_ref()),
        timeline: o
            .timeline
            .iter()
            .map(|e| TimelineEntry {
                at: rfc3339(e.at.as_ref()),
                event: e.event.clone(),
                detail: e.detail.clone(),
            })
            .collect(),
    }
}

pub fn shipping_method(method: order::ShippingMethod) -> Option<ShippingMethod> {
    match method {
        order::ShippingMethod::Standard => Some(ShippingMethod::Standard),
        order::ShippingMethod::Express => Some(ShippingMethod::Express),
        order::ShippingMethod::Unspecified => None,
    }
}

pub fn pb_shipping_method(method: ShippingMethod) -> order::ShippingMethod {
    match method {
        ShippingMethod::Standard => order::ShippingMethod::Standard,
        ShippingMethod::Express => order::ShippingMethod::Express,
    }
}

pub fn pb_address(a: &ShippingAddress) -> order::ShippingAddress {
    order::ShippingAddress {
        name: a.name.clone(),
        line1: a.line1.clone(),
        line2: a.line2.clone(),
        city: a.city.clone(),
        postal_code: a.postal_code.clone(),
        country: a.country.clone(),
    }
}

pub fn cart(c: &order::Cart) -> Cart {
    let zero = |m: Option<&PbMoney>| {
        m.map(money).unwrap_or_else(|| Money {
            amount_minor: 0,
            currency: String::new(),
        })
    };
    Cart {
        items: c
            .lines
            .iter()
            .map(|l| CartLine {
                product_id: l.product_id.clone(),
                name: l.name.clone(),
                quantity: l.quantity,
                unit_price: zero(l.unit_price.as_ref()),
                line_total: zero(l.line_total.as_ref()),
                available: l.available,
                active: l.active,
                price_changed: l.price_changed,
                seen_price: zero(l.seen_price.as_ref()),
            })
            .collect(),
        subtotal: c.subtotal.as_ref().map(money),
        item_count: c.lines.iter().map(|l| l.quantity).sum(),
    }
}
