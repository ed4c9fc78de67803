//! AMQP message headers: the trace context carrier, and reading RabbitMQ's `x-death` record.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use opentelemetry::propagation::{Extractor, Injector};

/// Trace context in AMQP headers (`traceparent`, `tracestate`), as W3C Trace Context.
pub(crate) struct HeaderCarrier<'a>(pub &'a mut FieldTable);

impl Injector for HeaderCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(
            ShortString::from(key),
            AMQPValue::LongString(LongString::from(value)),
        );
    }
}

/// Reads trace context from the headers of a delivery.
pub(crate) struct HeaderReader<'a>(pub Option<&'a FieldTable>);

impl Extractor for HeaderReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match self.0?.inner().get(key)? {
            AMQPValue::LongString(value) => std::str::from_utf8(value.as_bytes()).ok(),
            AMQPValue::ShortString(value) => Some(value.as_str()),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .map(|table| table.inner().keys().map(ShortString::as_str).collect())
            .unwrap_or_default()
    }
}

/// How many times RabbitMQ has dead-lettered this message out of `queue` (for any reason: a
/// handler failure sent it to the retry queue, or the delivery limit was hit). The `x-death`
/// header keeps one entry per (queue, reason) with a running count.
pub(crate) fn times_dead_lettered_from(headers: Option<&FieldTable>, queue: &str) -> u32 {
    let Some(AMQPValue::FieldArray(deaths)) = headers.and_then(|h| h.inner().get("x-death")) else {
        return 0;
    };
    deaths
        .as_slice()
        .iter()
        .filter_map(|entry| match entry {
            AMQPValue::FieldTable(entry) => Some(entry),
            _ => None,
        })
        .filter(|entry| matches!(entry.inner().get("queue"), Some(AMQPValue::LongString(q)) if q.as_bytes() == queue.as_bytes()))
        .map(|entry| match entry.inner().get("count") {
            Some(AMQPValue::LongLongInt(n)) => u32::try_from(*n).unwrap_or(u32::MAX),
            Some(AMQPValue::LongInt(n)) => u32::try_from(*n).unwrap_or(u32::MAX),
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use lapin::types::FieldArray;

    use super::*;

    fn death(queue: &str, reason: &str, count: i64) -> AMQPValue {
        let mut entry = FieldTable::default();
        entry.insert("queue".into(), AMQPValue::LongString(queue.into()));
        entry.insert("reason".into(), AMQPValue::LongString(reason.into()));
        entry.insert("count".into(), AMQPValue::LongLongInt(count));
        AMQPValue::FieldTable(entry)
    }

    #[test]
    fn dead_letterings_from_one_queue_are_summed_and_others_ignored() {
        let mut headers = FieldTable::default();
        headers.insert(
            "x-death".into(),
            AMQPValue::FieldArray(FieldArray::from(vec![
                death("q", "rejected", 3),
                death("q.retry", "expired", 3),
                death("q", "delivery_limit", 1),
            ])),
        );
        assert_eq!(times_dead_lettered_from(Some(&headers), "q"), 4);
        assert_eq!(times_dead_lettered_from(Some(&headers), "other"), 0);
        assert_eq!(times_dead_lettered_from(None, "q"), 0);
    }

    #[test]
    fn trace_context_round_trips_through_headers() {
        let mut headers = FieldTable::default();
        HeaderCarrier(&mut headers).set("traceparent", "00-abc-def-01".to_owned());
        assert_eq!(
            HeaderReader(Some(&headers)).get("traceparent"),
            Some("00-abc-def-01")
        );
        assert_eq!(HeaderReader(Some(&headers)).keys(), vec!["traceparent"]);
    }
}
