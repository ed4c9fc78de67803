//! Stock accounting: three counters that move units between them and never go negative.
//!
//! ```text
//!            reserve            commit
//! available ---------> reserved -------> sold
//!     ^    <---------            restock  |
//!     |      release                      |
//!     +-----------------------------------+
//! adjust (receive or write off) changes available, and so the total on hand.
//! ```

use super::Quantity;

/// The stock of one product. Fields are private: every change goes through a method that
/// keeps the counters non-negative and the total unchanged (except `adjust`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stock {
    available: i64,
    reserved: i64,
    sold: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StockError {
    #[error("only {available} available, {requested} requested")]
    Insufficient { available: i64, requested: i64 },
    #[error("stock counters must not be negative")]
    Negative,
    #[error("{0} units are not held in that state")]
    NotHeld(i64),
    #[error("stock would overflow")]
    Overflow,
}

impl Stock {
    /// Stock as stored; refuses negative counters.
    pub fn new(available: i64, reserved: i64, sold: i64) -> Result<Self, StockError> {
        if available < 0 || reserved < 0 || sold < 0 {
            return Err(StockError::Negative);
        }
        Ok(Self {
            available,
            reserved,
            sold,
        })
    }

    pub fn available(&self) -> i64 {
        self.available
    }

    pub fn reserved(&self) -> i64 {
        self.reserved
    }

    pub fn sold(&self) -> i64 {
        self.sold
    }

    /// Everything the shop has: available + reserved + sold.
    pub fn on_hand(&self) -> i64 {
        self.available + self.reserved + self.sold
    }

    /// Holds `quantity` units for an order.
    pub fn reserve(&mut self, quantity: Quantity) -> Result<(), StockError> {
        let q = quantity.get();
        if self.available < q {
            return Err(StockError::Insufficient {
                available: self.available,
                requested: q,
            });
        }
        self.available -= q;
        self.reserved += q;
        Ok(())
    }

    /// Gives held units back.
    pub fn release(&mut self, quantity: Quantity) -> Result<(), StockError> {
        let q = quantity.get();
        if self.reserved < q {
            return Err(StockError::NotHeld(q));
        }
        self.reserved -= q;
        self.available += q;
        Ok(())
    }

    /// Turns held units into sold ones.
    pub fn commit(&mut self, quantity: Quantity) -> Result<(), StockError> {
        let q = quantity.get();
        if self.reserved < q {
            return Err(StockError::NotHeld(q));
        }
        self.reserved -= q;
        self.sold += q;
        Ok(())
    }

    /// Puts sold units back on the shelf (a cancelled order's goods).
    pub fn restock(&mut self, quantity: Quantity) -> Result<(), StockError> {
        let q = quantity.get();
        if self.sold < q {
            return Err(StockError::NotHeld(q));
        }
        self.sold -= q;
        self.available += q;
        Ok(())
    }

    /// Receives (positive) or writes off (negative) available units.
    pub fn adjust(&mut self, delta: i64) -> Result<(), StockError> {
        let available = self
            .available
            .checked_add(delta)
            .ok_or(StockError::Overflow)?;
        if available < 0 {
            return Err(StockError::Insufficient {
                available: self.available,
                requested: -delta,
            });
        }
        self.available = available;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Reserve(i64),
        Release(i64),
        Commit(i64),
        Restock(i64),
        Adjust(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1i64..50).prop_map(Op::Reserve),
            (1i64..50).prop_map(Op::Release),
            (1i64..50).prop_map(Op::Commit),
            (1i64..50).prop_map(Op::Restock),
            (-60i64..60).prop_map(Op::Adjust),
        ]
    }

    proptest! {
        /// Whatever happens, no counter goes negative, and only adjustments change what the
        /// shop has on hand: a failed operation changes nothing at all.
        #[test]
        fn stock_never_goes_negative_and_moves_conserve_units(
            start in 0i64..100,
            ops in proptest::collection::vec(op(), 0..200),
        ) {
            let mut stock = Stock::new(start, 0, 0).unwrap();
            let mut received = start;
            for op in ops {
                let before = stock;
                let result = match op {
                    Op::Reserve(q) => stock.reserve(Quantity::new(q).unwrap()),
                    Op::Release(q) => stock.release(Quantity::new(q).unwrap()),
                    Op::Commit(q) => stock.commit(Quantity::new(q).unwrap()),
                    Op::Restock(q) => stock.restock(Quantity::new(q).unwrap()),
                    Op::Adjust(d) => stock.adjust(d),
                };
                match (&op, &result) {
                    (Op::Adjust(d), Ok(())) => received += d,
                    (_, Err(_)) => prop_assert_eq!(stock, before, "a failed operation changed the stock"),
                    _ => {}
                }
                prop_assert!(stock.available() >= 0 && stock.reserved() >= 0 && stock.sold() >= 0);
                prop_assert_eq!(stock.on_hand(), received);
            }
        }
    }

    #[test]
    fn reserving_more_than_available_fails_and_says_how_much_there_is() {
        let mut stock = Stock::new(2, 0, 0).unwrap();
        assert_eq!(
            stock.reserve(Quantity::new(3).unwrap()),
            Err(StockError::Insufficient {
                available: 2,
                requested: 3
            })
        );
    }
}
