//! Reservations: the stock an order holds while its saga runs, and what happens to it after.
//!
//! ```text
//!            commit (order.confirmed)
//! RESERVED ---------------------------> COMMITTED
//!    |  \                                   |
//!    |   \ release (saga compensation)      | restock (order.cancelled)
//!    |    +----------------------------> RELEASED <-+
//!    |  expire (TTL passed)
//!    +----------------------------------> EXPIRED
//! ```

use std::collections::HashMap;

use chrono::{DateTime, Duration, SubsecRound as _, Utc};
use shop_kernel::Money;
use uuid::Uuid;

use super::{MAX_ORDER_TOTAL_MINOR, Quantity, Stock, StockError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationStatus {
    Reserved,
    Committed,
    Released,
    Expired,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserved => "RESERVED",
            Self::Committed => "COMMITTED",
            Self::Released => "RELEASED",
            Self::Expired => "EXPIRED",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "RESERVED" => Some(Self::Reserved),
            "COMMITTED" => Some(Self::Committed),
            "RELEASED" => Some(Self::Released),
            "EXPIRED" => Some(Self::Expired),
            _ => None,
        }
    }
}

/// Why held stock went back to the shelf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseReason {
    /// The saga compensated (payment declined, or the order timed out).
    Saga,
    /// Nobody came back for it before the TTL.
    Expired,
    /// The order was confirmed and then cancelled; its goods were restocked.
    Cancelled,
}

impl ReleaseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Saga => "saga",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "saga" => Some(Self::Saga),
            "expired" => Some(Self::Expired),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// A line the order asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedLine {
    pub product_id: Uuid,
    pub quantity: Quantity,
}

/// A line as reserved: priced and named at reservation time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedLine {
    pub product_id: Uuid,
    pub name: String,
    pub quantity: Quantity,
    pub unit_price: Money,
}

/// A product as the stock rules need it: locked for the length of the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockedProduct {
    pub name: String,
    pub price: Money,
    pub active: bool,
    pub stock: Stock,
}

/// The locked products of one transaction, by id. The adapter loads them in id order (the one
/// lock order every transaction uses, so reservations cannot deadlock) and writes back those
/// that changed.
pub type StockBook = HashMap<Uuid, StockedProduct>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub order_id: Uuid,
    pub lines: Vec<ReservedLine>,
    pub total: Money,
    pub status: ReservationStatus,
    pub release_reason: Option<ReleaseReason>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReservationError {
    #[error("product {0} is out of stock")]
    OutOfStock(Uuid),
    #[error("product {0} does not exist or is not for sale")]
    UnknownProduct(Uuid),
    #[error("an order needs at least one line")]
    NoLines,
    #[error("product {0} appears twice")]
    DuplicateProduct(Uuid),
    #[error("the order total is above the largest the shop accepts")]
    TotalTooLarge,
    #[error("the order was reserved with other lines")]
    DifferentLines,
    #[error("the stock records do not match the reservation: {0}")]
    Inconsistent(String),
}

/// What committing a reservation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Held stock became sold.
    Committed,
    /// It was committed already (a repeated event).
    AlreadyCommitted,
    /// The order was cancelled before its confirmation arrived; the goods are back on the shelf
    /// and stay there.
    CancelledMeanwhile,
}

impl From<StockError> for ReservationError {
    fn from(err: StockError) -> Self {
        Self::Inconsistent(err.to_string())
    }
}

impl Reservation {
    /// Reserves every requested line or none, pricing each from the catalog.
    pub fn place(
        order_id: Uuid,
        requested: &[RequestedLine],
        book: &mut StockBook,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Self, ReservationError> {
        if requested.is_empty() {
            return Err(ReservationError::NoLines);
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = requested.iter().find(|l| !seen.insert(l.product_id)) {
            return Err(ReservationError::DuplicateProduct(dup.product_id));
        }
        // Check everything before changing anything: all or nothing.
        let mut working = book.clone();
        let mut lines = Vec::with_capacity(requested.len());
        let mut total: Option<Money> = None;
        for line in requested {
            let product = working
                .get_mut(&line.product_id)
                .filter(|p| p.active)
                .ok_or(ReservationError::UnknownProduct(line.product_id))?;
            product
                .stock
                .reserve(line.quantity)
                .map_err(|err| match err {
                    StockError::Insufficient { .. } => {
                        ReservationError::OutOfStock(line.product_id)
                    }
                    other => ReservationError::Inconsistent(other.to_string()),
                })?;
            let subtotal = product
                .price
                .times(line.quantity.get())
                .map_err(|_| ReservationError::TotalTooLarge)?;
            total = Some(match total {
                None => subtotal,
                Some(sum) => sum
                    .plus(&subtotal)
                    .map_err(|_| ReservationError::TotalTooLarge)?,
            });
            lines.push(ReservedLine {
                product_id: line.product_id,
                name: product.name.clone(),
                quantity: line.quantity,
                unit_price: product.price.clone(),
            });
        }
        if total
            .as_ref()
            .is_some_and(|total| total.amount_minor > MAX_ORDER_TOTAL_MINOR)
        {
            return Err(ReservationError::TotalTooLarge);
        }
        *book = working;
        Ok(Self {
            order_id,
            lines,
            total: total.ok_or(ReservationError::NoLines)?,
            status: ReservationStatus::Reserved,
            release_reason: None,
            // Stored with microsecond precision; keep exactly what will be stored, so a replayed
            // reservation equals the original.
            expires_at: (now + ttl).trunc_subsecs(6),
        })
    }

    /// Whether a retried reservation asks for the same lines as the original.
    pub fn matches(&self, requested: &[RequestedLine]) -> bool {
        let mut mine: Vec<(Uuid, i64)> = self
            .lines
            .iter()
            .map(|l| (l.product_id, l.quantity.get()))
            .collect();
        let mut theirs: Vec<(Uuid, i64)> = requested
            .iter()
            .map(|l| (l.product_id, l.quantity.get()))
            .collect();
        mine.sort_unstable();
        theirs.sort_unstable();
        mine == theirs
    }

    /// Gives held stock back (saga compensation or expiry). Anything but a live reservation is
    /// left as it is: releasing twice releases once, and sold goods are not released.
    pub fn release(
        &mut self,
        book: &mut StockBook,
        reason: ReleaseReason,
    ) -> Result<bool, ReservationError> {
        if self.status != ReservationStatus::Reserved {
            return Ok(false);
        }
        for line in &self.lines {
            stock_of(book, line.product_id)?.release(line.quantity)?;
        }
        self.status = if reason == ReleaseReason::Expired {
            ReservationStatus::Expired
        } else {
            ReservationStatus::Released
        };
        self.release_reason = Some(reason);
        Ok(true)
    }

    /// Turns held stock into sold stock when the order is confirmed.
    pub fn commit(&mut self, book: &mut StockBook) -> Result<CommitOutcome, ReservationError> {
        match self.status {
            ReservationStatus::Committed => Ok(CommitOutcome::AlreadyCommitted),
            ReservationStatus::Released
                if self.release_reason == Some(ReleaseReason::Cancelled) =>
            {
                Ok(CommitOutcome::CancelledMeanwhile)
            }
            ReservationStatus::Reserved => {
                for line in &self.lines {
                    stock_of(book, line.product_id)?.commit(line.quantity)?;
                }
                self.status = ReservationStatus::Committed;
                Ok(CommitOutcome::Committed)
            }
            // Confirmed after the stock was given back: the saga's deadline is shorter than the
            // reservation's TTL precisely so this cannot happen. If it does, take the units
            // from the shelf again if they are there, and fail loudly if not.
            ReservationStatus::Released | ReservationStatus::Expired => {
                for line in &self.lines {
                    let stock = stock_of(book, line.product_id)?;
                    stock.reserve(line.quantity).map_err(|_| {
                        ReservationError::Inconsistent(format!(
                            "order {} was confirmed after its stock was released and product {} has too little left",
                            self.order_id, line.product_id
                        ))
                    })?;
                    stock.commit(line.quantity)?;
                }
                self.status = ReservationStatus::Committed;
                self.release_reason = None;
                Ok(CommitOutcome::Committed)
            }
        }
    }

    /// Puts a cancelled order's goods back: sold units if it was confirmed, held units if its
    /// cancellation overtook its confirmation. Returns whether anything changed.
    pub fn restock(&mut self, book: &mut StockBook) -> Result<bool, ReservationError> {
        match self.status {
            ReservationStatus::Committed => {
                for line in &self.lines {
                    stock_of(book, line.product_id)?.restock(line.quantity)?;
                }
            }
            ReservationStatus::Reserved => {
                for line in &self.lines {
                    stock_of(book, line.product_id)?.release(line.quantity)?;
                }
            }
            ReservationStatus::Released | ReservationStatus::Expired => return Ok(false),
        }
        self.status = ReservationStatus::Released;
        self.release_reason = Some(ReleaseReason::Cancelled);
        Ok(true)
    }

    pub fn product_ids(&self) -> Vec<Uuid> {
        self.lines.iter().map(|l| l.product_id).collect()
    }
}

fn stock_of(book: &mut StockBook, product_id: Uuid) -> Result<&mut Stock, ReservationError> {
    book.get_mut(&product_id)
        .map(|p| &mut p.stock)
        .ok_or_else(|| ReservationError::Inconsistent(format!("product {product_id} not loaded")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(available: i64) -> (StockBook, Uuid) {
        let id = Uuid::now_v7();
        let mut book = StockBook::new();
        book.insert(
            id,
            StockedProduct {
                name: "Mug".to_owned(),
                price: Money::new(1200, "EUR").unwrap(),
                active: true,
                stock: Stock::new(available, 0, 0).unwrap(),
            },
        );
        (book, id)
    }

    fn line(product_id: Uuid, quantity: i64) -> RequestedLine {
        RequestedLine {
            product_id,
            quantity: Quantity::new(quantity).unwrap(),
        }
    }

    fn place(
        book: &mut StockBook,
        lines: &[RequestedLine],
    ) -> Result<Reservation, ReservationError> {
        Reservation::place(
            Uuid::now_v7(),
            lines,
            book,
            Duration::minutes(15),
            Utc::now(),
        )
    }

    #[test]
    fn placing_prices_the_lines_and_holds_the_stock() {
        let (mut book, id) = book(5);
        let reservation = place(&mut book, &[line(id, 2)]).unwrap();
        assert_eq!(reservation.total, Money::new(2400, "EUR").unwrap());
        assert_eq!(reservation.lines[0].name, "Mug");
        assert_eq!(
            (book[&id].stock.available(), book[&id].stock.reserved()),
            (3, 2)
        );
    }

    #[test]
    fn one_short_line_reserves_nothing_at_all() {
        let (mut book, mug) = book(5);
        let (other, plate) = self::book(1);
        book.extend(other);
        let before = book.clone();
        assert_eq!(
            place(&mut book, &[line(mug, 2), line(plate, 2)]),
            Err(ReservationError::OutOfStock(plate))
        );
        assert_eq!(book, before);
    }

    #[test]
    fn unknown_inactive_and_duplicate_products_are_refused() {
        let (mut book, id) = book(5);
        assert!(matches!(
            place(&mut book, &[line(Uuid::now_v7(), 1)]),
            Err(ReservationError::UnknownProduct(_))
        ));
        assert!(matches!(
            place(&mut book, &[line(id, 1), line(id, 1)]),
            Err(ReservationError::DuplicateProduct(_))
        ));
        book.get_mut(&id).unwrap().active = false;
        assert!(matches!(
            place(&mut book, &[line(id, 1)]),
            Err(ReservationError::UnknownProduct(_))
        ));
    }

    #[test]
    fn release_is_idempotent_and_never_touches_sold_goods() {
        let (mut book, id) = book(5);
        let mut reservation = place(&mut book, &[line(id, 2)]).unwrap();
        assert!(reservation.release(&mut book, ReleaseReason::Saga).unwrap());
        assert!(!reservation.release(&mut book, ReleaseReason::Saga).unwrap());
        assert_eq!(book[&id].stock.available(), 5);

        let mut sold = place(&mut book, &[line(id, 1)]).unwrap();
        sold.commit(&mut book).unwrap();
        assert!(!sold.release(&mut book, ReleaseReason::Expired).unwrap());
        assert_eq!(book[&id].stock.sold(), 1);
    }

    #[test]
    fn a_cancellation_that_overtakes_its_confirmation_wins() {
        let (mut book, id) = book(5);
        let mut reservation = place(&mut book, &[line(id, 2)]).unwrap();
        assert!(reservation.restock(&mut book).unwrap());
        assert_eq!(
            reservation.commit(&mut book).unwrap(),
            CommitOutcome::CancelledMeanwhile
        );
        assert_eq!(
            (book[&id].stock.available(), book[&id].stock.sold()),
            (5, 0)
        );
    }

    #[test]
    fn a_confirmed_then_cancelled_order_goes_back_on_the_shelf_once() {
        let (mut book, id) = book(5);
        let mut reservation = place(&mut book, &[line(id, 2)]).unwrap();
        assert_eq!(
            reservation.commit(&mut book).unwrap(),
            CommitOutcome::Committed
        );
        assert_eq!(
            reservation.commit(&mut book).unwrap(),
            CommitOutcome::AlreadyCommitted
        );
        assert!(reservation.restock(&mut book).unwrap());
        assert!(!reservation.restock(&mut book).unwrap());
        assert_eq!(
            (book[&id].stock.available(), book[&id].stock.sold()),
            (5, 0)
        );
    }
}
