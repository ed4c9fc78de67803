//! A simulated card processor: what the payment service talks to instead of a real one. It
//! behaves like one where it matters: it keeps its own ledger, applies each operation once per
//! idempotency key, answers by test card token, and can be made slow and flaky on purpose.
//!
//! | token | behaviour |
//! |---|---|
//! | `tok_visa`, `tok_mastercard` | approved |
//! | `tok_declined` | declined: `card_declined` |
//! | `tok_insufficient_funds` | declined: `insufficient_funds` |
//! | `tok_processing_error` | the first attempt per order fails transiently; a retry succeeds |
//! | `tok_timeout` | the first attempt per order is applied but its answer is lost (the caller times out); a retry returns the original sale |
//! | anything else | declined: `unknown_card` |
//!
//! Its ledger of authorizations is kept in memory and, given a database
//! ([`SimulatedProcessor::with_store`], as the service runs it), written through to a table of
//! its own and read back on a miss: like a real processor's, it survives a restart of the
//! payment service and every replica knows every authorization (a refund may be handled by
//! another replica than the charge). With a store, memory holds an authorization only while
//! operations on it run (or a change of it could not be stored yet), so the service's memory
//! does not grow with the orders it has taken. Declines and scripted trouble stay in memory:
//! one entry per order paid with such a test token.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use shop_events::Money;
use shop_platform::flags::Flags;
use sqlx::PgPool;
use uuid::Uuid;

use crate::app::ports::{Authorization, ProcessorPort, ProviderError};
use crate::domain::CardToken;

/// Knobs for chaos experiments.
#[derive(Debug, Clone, Copy)]
pub struct ProcessorBehaviour {
    /// Added to every call.
    pub latency: Duration,
    /// Share of calls (0.0 to 1.0) that fail transiently before doing anything.
    pub failure_rate: f64,
    /// How long the caller waits for an answer.
    pub timeout: Duration,
}

/// One authorization in the processor's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub reference: String,
    pub amount: Money,
    pub captured: bool,
    pub voided: bool,
    pub refunded: bool,
}

#[derive(Default)]
struct Ledger {
    authorizations: HashMap<Uuid, LedgerEntry>,
    declines: HashMap<Uuid, String>,
    /// Keys whose first attempt already had its scripted trouble.
    troubled: HashSet<Uuid>,
    captures: u64,
    refunds: u64,
    /// The keys with operations running or changes not yet stored; see [`Operation`].
    in_flight: HashMap<Uuid, Flight>,
}

/// What runs on one key: how many operations, and how far its changes are stored.
#[derive(Debug, Default)]
struct Flight {
    operations: usize,
    /// Changes made to the key's entry in memory, counted.
    changed: u64,
    /// The latest of those changes that a successful write has stored (every write stores the
    /// whole entry, so it stores every change before it too).
    stored: u64,
}

impl Ledger {
    /// Counts a change of `key`'s entry; returns its number, for [`Ledger::stored`].
    fn changed(&mut self, key: Uuid) -> u64 {
        let flight = self.in_flight.entry(key).or_default();
        flight.changed += 1;
        flight.changed
    }

    /// Change `change` of `key`'s entry, and all before it, are stored.
    fn stored(&mut self, key: Uuid, change: u64) {
        if let Some(flight) = self.in_flight.get_mut(&key) {
            flight.stored = flight.stored.max(change);
        }
    }
}

/// One operation on one key, counted from its start until it ends, however it ends (an answer,
/// an error, or the caller's timeout dropping it). Memory is where concurrent operations on a
/// key meet, so an entry is never dropped while one runs; when the last one ends and memory
/// holds nothing the store lacks, the entry leaves memory (given a store: without one, memory
/// is the ledger). A change whose write failed keeps the entry until a later write stores it.
struct Operation<'a> {
    processor: &'a SimulatedProcessor,
    key: Uuid,
}

impl<'a> Operation<'a> {
    fn begin(processor: &'a SimulatedProcessor, key: Uuid) -> Self {
        processor
            .ledger()
            .in_flight
            .entry(key)
            .or_default()
            .operations += 1;
        Self { processor, key }
    }
}

impl Drop for Operation<'_> {
    fn drop(&mut self) {
        let mut ledger = self.processor.ledger();
        let Some(flight) = ledger.in_flight.get_mut(&self.key) else {
            return;
        };
        flight.operations = flight.operations.saturating_sub(1);
        if flight.operations == 0 && flight.stored == flight.changed {
            ledger.in_flight.remove(&self.key);
            if self.processor.store.is_some() {
                ledger.authorizations.remove(&self.key);
            }
        }
    }
}

/// Runtime flags that add faults on top of [`ProcessorBehaviour`]: the larger of the two
/// applies, so a flag can add trouble to what the environment configured, never remove it.
pub const FAILURE_RATE_FLAG: &str = "payment-failure-rate";
pub const LATENCY_FLAG: &str = "payment-latency-ms";

/// The simulated processor. Clones share one ledger.
#[derive(Clone)]
pub struct SimulatedProcessor {
    behaviour: ProcessorBehaviour,
    flags: Flags,
    ledger: Arc<Mutex<Ledger>>,
    /// Where the ledger's authorizations are written through, when set.
    store: Option<PgPool>,
}

impl std::fmt::Debug for SimulatedProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedProcessor")
            .field("behaviour", &self.behaviour)
            .finish_non_exhaustive()
    }
}

impl SimulatedProcessor {
    pub fn new(behaviour: ProcessorBehaviour) -> Self {
        Self::with_flags(behaviour, Flags::default())
    }

    /// A processor whose faults `flags` can raise at run time.
    pub fn with_flags(behaviour: ProcessorBehaviour, flags: Flags) -> Self {
        Self {
            behaviour,
            flags,
            ledger: Arc::new(Mutex::new(Ledger::default())),
            store: None,
        }
    }

    /// The same processor, keeping its authorizations in `pool` (table
    /// `simulated_processor_ledger`) as well as in memory.
    #[must_use]
    pub fn with_store(self, pool: PgPool) -> Self {
        Self {
            store: Some(pool),
            ..self
        }
    }

    /// Reads a stored authorization into memory when memory does not have it.
    async fn load(&self, key: Uuid) -> Result<(), ProviderError> {
        if self.ledger().authorizations.contains_key(&key) {
            return Ok(());
        }
        if let Some(stored) = self.fetch(key).await? {
            self.ledger().authorizations.entry(key).or_insert(stored);
        }
        Ok(())
    }

    /// The stored authorization of `key`, if there is a store and it has one.
    async fn fetch(&self, key: Uuid) -> Result<Option<LedgerEntry>, ProviderError> {
        let Some(pool) = &self.store else {
            return Ok(None);
        };
        let row: Option<(String, i64, String, bool, bool, bool)> = sqlx::query_as(
            "SELECT reference, amount_minor, currency, captured, voided, refunded \
             FROM simulated_processor_ledger WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(ledger_unavailable)?;
        row.map(
            |(reference, amount_minor, currency, captured, voided, refunded)| {
                let amount = Money::new(amount_minor, &currency).map_err(|err| {
                    ProviderError::Transient(format!("the processor's ledger: {err}"))
                })?;
                Ok(LedgerEntry {
                    reference,
                    amount,
                    captured,
                    voided,
                    refunded,
                })
            },
        )
        .transpose()
    }

    /// Writes an authorization through to the store (the first write of a key sets its
    /// reference and amount; later ones its state). Its states only ever become true, and a
    /// write keeps what is stored already, so concurrent writes of one key may land in any
    /// order. `change` is the number [`Ledger::changed`] gave the change written.
    async fn save(&self, key: Uuid, entry: &LedgerEntry, change: u64) -> Result<(), ProviderError> {
        self.write(key, entry).await?;
        self.ledger().stored(key, change);
        Ok(())
    }

    async fn write(&self, key: Uuid, entry: &LedgerEntry) -> Result<(), ProviderError> {
        let Some(pool) = &self.store else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO simulated_processor_ledger \
               (key, reference, amount_minor, currency, captured, voided, refunded) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (key) DO UPDATE SET \
               captured = simulated_processor_ledger.captured OR EXCLUDED.captured, \
               voided = simulated_processor_ledger.voided OR EXCLUDED.voided, \
               refunded = simulated_processor_ledger.refunded OR EXCLUDED.refunded",
        )
        .bind(key)
        .bind(&entry.reference)
        .bind(entry.amount.amount_minor)
        .bind(&entry.amount.currency)
        .bind(entry.captured)
        .bind(entry.voided)
        .bind(entry.refunded)
        .execute(pool)
        .await
        .map_err(ledger_unavailable)?;
        Ok(())
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The processor's record of an order's authorization: memory's, else the store's.
    pub async fn entry(&self, key: Uuid) -> Result<Option<LedgerEntry>, ProviderError> {
        let held = self.ledger().authorizations.get(&key).cloned();
        match held {
            Some(entry) => Ok(Some(entry)),
            None => self.fetch(key).await,
        }
    }

    /// How many authorizations memory holds (the rest are in the store).
    pub fn held(&self) -> usize {
        self.ledger().authorizations.len()
    }

    /// Captures the processor has performed, over all orders.
    pub fn total_captures(&self) -> u64 {
        self.ledger().captures
    }

    /// Refunds the processor has performed, over all orders.
    pub fn total_refunds(&self) -> u64 {
        self.ledger().refunds
    }

    /// Waits the configured latency and maybe fails, like a network and a busy processor.
    async fn network(&self) -> Result<(), ProviderError> {
        let flagged = u64::try_from(self.flags.int(LATENCY_FLAG, 0).await).unwrap_or(0);
        let latency = self.behaviour.latency.max(Duration::from_millis(flagged));
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let failure_rate = self.behaviour.failure_rate.max(
            self.flags
                .float(FAILURE_RATE_FLAG, 0.0)
                .await
                .clamp(0.0, 1.0),
        );
        if failure_rate > 0.0 {
            let mut byte = [0u8; 4];
            getrandom::fill(&mut byte).map_err(|err| ProviderError::Transient(err.to_string()))?;
            let roll = f64::from(u32::from_le_bytes(byte)) / f64::from(u32::MAX);
            if roll < failure_rate {
                return Err(ProviderError::Transient(
                    "simulated processor failure".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Runs `call` with the configured timeout, as a client of a real processor would.
    async fn with_timeout<T>(
        &self,
        call: impl Future<Output = Result<T, ProviderError>>,
    ) -> Result<T, ProviderError> {
        tokio::time::timeout(self.behaviour.timeout, call)
            .await
            .unwrap_or_else(|_| {
                Err(ProviderError::Transient(
                    "the card processor timed out".to_owned(),
                ))
            })
    }

    async fn sale_once(
        &self,
        key: Uuid,
        amount: &Money,
        card: &CardToken,
    ) -> Result<Authorization, ProviderError> {
        let _operation = Operation::begin(self, key);
        self.network().await?;
        let scripted = matches!(card.as_str(), "tok_processing_error" | "tok_timeout");
        let first_attempt = scripted && self.ledger().troubled.insert(key);
        match card.as_str() {
            "tok_processing_error" if first_attempt => {
                return Err(ProviderError::Transient("processing error".to_owned()));
            }
            "tok_timeout" if first_attempt => {
                // The processor charges, but the answer never arrives in time.
                self.record_sale(key, amount).await?;
                tokio::time::sleep(self.behaviour.timeout * 3).await;
                return Err(ProviderError::Transient("no answer".to_owned()));
            }
            _ => {}
        }
        let decline = match card.as_str() {
            "tok_visa" | "tok_mastercard" | "tok_processing_error" | "tok_timeout" => None,
            "tok_declined" => Some("card_declined"),
            "tok_insufficient_funds" => Some("insufficient_funds"),
            _ => Some("unknown_card"),
        };
        {
            let mut ledger = self.ledger();
            if let Some(reason) = ledger.declines.get(&key) {
                return Ok(Authorization::Declined {
                    reason: reason.clone(),
                });
            }
            if let Some(reason) = decline {
                ledger.declines.insert(key, reason.to_owned());
                return Ok(Authorization::Declined {
                    reason: reason.to_owned(),
                });
            }
        }
        Ok(Authorization::Approved {
            reference: self.record_sale(key, amount).await?,
        })
    }

    /// Records a sale once per key: an authorization captured at once, written to the ledger
    /// in one write. Returns its reference.
    async fn record_sale(&self, key: Uuid, amount: &Money) -> Result<String, ProviderError> {
        self.load(key).await?;
        let (entry, change) = {
            let mut ledger = self.ledger();
            let entry = ledger
                .authorizations
                .entry(key)
                .or_insert_with(|| LedgerEntry {
                    reference: format!("auth_{}", key.simple()),
                    amount: amount.clone(),
                    captured: false,
                    voided: false,
                    refunded: false,
                });
            if entry.voided {
                return Err(ProviderError::Rejected(
                    "the authorization was voided".to_owned(),
                ));
            }
            let captured_now = !entry.captured;
            entry.captured = true;
            let entry = entry.clone();
            if captured_now {
                ledger.captures += 1;
            }
            (entry, ledger.changed(key))
        };
        // Written every time, a repeat too: memory is updated first, so a write that failed
        // is made by the retry, never skipped because memory already has it.
        self.save(key, &entry, change).await?;
        Ok(entry.reference)
    }

    async fn update(
        &self,
        key: Uuid,
        change: impl FnOnce(&mut Ledger, Uuid) -> Result<(), ProviderError>,
    ) -> Result<(), ProviderError> {
        let _operation = Operation::begin(self, key);
        self.load(key).await?;
        let entry = {
            let mut ledger = self.ledger();
            if !ledger.authorizations.contains_key(&key) {
                return Err(ProviderError::Rejected(format!(
                    "no authorization for {key}"
                )));
            }
            change(&mut ledger, key)?;
            let number = ledger.changed(key);
            ledger
                .authorizations
                .get(&key)
                .cloned()
                .map(|entry| (entry, number))
        };
        match entry {
            Some((entry, number)) => self.save(key, &entry, number).await,
            None => Ok(()),
        }
    }
}

#[async_trait]
impl ProcessorPort for SimulatedProcessor {
    async fn sale(
        &self,
        key: Uuid,
        amount: &Money,
        card: &CardToken,
    ) -> Result<Authorization, ProviderError> {
        let outcome = self.with_timeout(self.sale_once(key, amount, card)).await;
        record("sale", &outcome);
        outcome
    }

    async fn capture(&self, key: Uuid) -> Result<(), ProviderError> {
        let outcome = self
            .with_timeout(async {
                self.network().await?;
                self.update(key, |ledger, key| {
                    let entry = ledger
                        .authorizations
                        .get_mut(&key)
                        .ok_or_else(|| ProviderError::Rejected("gone".to_owned()))?;
                    if entry.voided {
                        return Err(ProviderError::Rejected(
                            "the authorization was voided".to_owned(),
                        ));
                    }
                    if !entry.captured {
                        entry.captured = true;
                        ledger.captures += 1;
                    }
                    Ok(())
                })
                .await
            })
            .await;
        record("capture", &outcome);
        outcome
    }

    async fn void(&self, key: Uuid) -> Result<(), ProviderError> {
        let outcome = self
            .with_timeout(async {
                self.network().await?;
                self.update(key, |ledger, key| {
                    let entry = ledger
                        .authorizations
                        .get_mut(&key)
                        .ok_or_else(|| ProviderError::Rejected("gone".to_owned()))?;
                    if entry.captured {
                        return Err(ProviderError::Rejected(
                            "captured funds cannot be voided".to_owned(),
                        ));
                    }
                    entry.voided = true;
                    Ok(())
                })
                .await
            })
            .await;
        record("void", &outcome);
        outcome
    }

    async fn refund(&self, key: Uuid) -> Result<(), ProviderError> {
        let outcome = self
            .with_timeout(async {
                self.network().await?;
                self.update(key, |ledger, key| {
                    let entry = ledger
                        .authorizations
                        .get_mut(&key)
                        .ok_or_else(|| ProviderError::Rejected("gone".to_owned()))?;
                    if !entry.captured {
                        return Err(ProviderError::Rejected(
                            "nothing captured to refund".to_owned(),
                        ));
                    }
                    if !entry.refunded {
                        entry.refunded = true;
                        ledger.refunds += 1;
                    }
                    Ok(())
                })
                .await
            })
            .await;
        record("refund", &outcome);
        outcome
    }
}

fn record<T>(operation: &'static str, outcome: &Result<T, ProviderError>) {
    let result = match outcome {
        Ok(_) => "ok",
        Err(ProviderError::Transient(_)) => "transient",
        Err(ProviderError::Rejected(_)) => "rejected",
    };
    metrics::counter!("payment_provider_calls_total", "operation" => operation, "result" => result)
        .increment(1);
}

#[allow(clippy::needless_pass_by_value)] // The shape map_err wants.
fn ledger_unavailable(err: sqlx::Error) -> ProviderError {
    ProviderError::Transient(format!("the processor's ledger: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn processor() -> SimulatedProcessor {
        SimulatedProcessor::new(ProcessorBehaviour {
            latency: Duration::ZERO,
            failure_rate: 0.0,
            timeout: Duration::from_millis(50),
        })
    }

    fn eur(amount: i64) -> Money {
        Money::new(amount, "EUR").unwrap()
    }

    #[tokio::test]
    async fn the_same_key_sells_and_captures_once() {
        let p = processor();
        let key = Uuid::now_v7();
        let card = CardToken::parse("tok_visa").unwrap();
        let first = p.sale(key, &eur(100), &card).await.unwrap();
        let again = p.sale(key, &eur(100), &card).await.unwrap();
        assert_eq!(first, again);
        assert!(
            p.entry(key).await.unwrap().unwrap().captured,
            "a sale captures"
        );
        p.capture(key).await.unwrap();
        assert_eq!(p.total_captures(), 1);
    }

    #[tokio::test]
    async fn test_tokens_behave_as_documented() {
        let p = processor();
        let decline = |token: &str| CardToken::parse(token).unwrap();
        assert!(matches!(
            p.sale(Uuid::now_v7(), &eur(1), &decline("tok_declined")).await.unwrap(),
            Authorization::Declined { reason } if reason == "card_declined"
        ));
        assert!(matches!(
            p.sale(Uuid::now_v7(), &eur(1), &decline("tok_insufficient_funds")).await.unwrap(),
            Authorization::Declined { reason } if reason == "insufficient_funds"
        ));
        let flaky = Uuid::now_v7();
        assert!(
            p.sale(flaky, &eur(1), &decline("tok_processing_error"))
                .await
                .is_err()
        );
        assert!(
            p.sale(flaky, &eur(1), &decline("tok_processing_error"))
                .await
                .is_ok()
        );
        let lost = Uuid::now_v7();
        assert!(matches!(
            p.sale(lost, &eur(1), &decline("tok_timeout")).await,
            Err(ProviderError::Transient(_))
        ));
        assert!(
            p.entry(lost).await.unwrap().is_some(),
            "applied although the answer was lost"
        );
        assert!(p.sale(lost, &eur(1), &decline("tok_timeout")).await.is_ok());
    }
}
