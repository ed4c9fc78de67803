//! A span's fields for JSON log lines, kept as one JSON object that grows in place.
//!
//! Log lines carry the fields of their current span (`request_id`, `trace_id`, the route), so
//! the log layer formats every span's fields when the span is made, whether or not a line is
//! ever written inside it. tracing-subscriber's own `JsonFields` builds a `serde_json` map of
//! owned values for that and, when a field is recorded later (`trace_id` is, on every server
//! span), parses its own output back into a map and writes it again. On the gateway's cached
//! read that was a tenth of the request's CPU (docs/performance.md).
//!
//! [`JsonSpanFields`] writes the same object straight into the span's buffer and adds a later
//! field by reopening the object's closing brace: no map, no values, no parse. The output is
//! still one JSON object, which the JSON event formatter reads as before. Unlike `JsonFields`
//! a field recorded twice appears twice (JSON readers keep the last), and keys keep the order
//! they were declared in.

use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::{FormatFields, Writer};

/// Formats span fields as a JSON object, for `fmt::layer().json().fmt_fields(JsonSpanFields)`.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonSpanFields;

impl<'writer> FormatFields<'writer> for JsonSpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        write_object(&mut writer, fields, true)
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        let object = &mut current.fields;
        if !object.ends_with('}') {
            // Nothing formatted yet (or not by us): start the object afresh.
            object.clear();
            return write_object(object, fields, true);
        }
        object.pop();
        let empty = object.len() == 1; // only the opening brace is left
        let result = write_members(object, fields, empty);
        object.push('}');
        result
    }
}

fn write_object(out: &mut dyn Write, fields: impl RecordFields, empty: bool) -> fmt::Result {
    out.write_char('{')?;
    write_members(out, fields, empty)?;
    out.write_char('}')
}

fn write_members(out: &mut dyn Write, fields: impl RecordFields, empty: bool) -> fmt::Result {
    let mut members = Members {
        out,
        first: empty,
        result: Ok(()),
    };
    fields.record(&mut members);
    members.result
}

/// Writes each visited field as a `"name":value` member, a comma before all but the first.
struct Members<'a> {
    out: &'a mut dyn Write,
    first: bool,
    result: fmt::Result,
}

impl Members<'_> {
    /// Writes `"name":` and the value, in as few writes as the escapes allow: the span's
    /// buffer grows through a `dyn Write`, a call per piece.
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut dyn Write) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        let open = if self.first { "\"" } else { ",\"" };
        self.first = false;
        self.result = self
            .out
            .write_str(open)
            .and_then(|()| Escaped(&mut *self.out).write_str(name))
            .and_then(|()| self.out.write_str("\":"))
            .and_then(|()| value(self.out));
    }
}

impl Visit for Members<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity; `serde_json` writes them as null too.
        if value.is_finite() {
            self.member(field, |out| write!(out, "{value}"));
        } else {
            self.member(field, |out| out.write_str("null"));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| write_json_str(out, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| {
            out.write_str("\"")?;
            write!(Escaped(&mut *out), "{value:?}")?;
            out.write_str("\"")
        });
    }
}

fn write_json_str(out: &mut dyn Write, value: &str) -> fmt::Result {
    out.write_str("\"")?;
    Escaped(&mut *out).write_str(value)?;
    out.write_str("\"")
}

/// Escapes what it is given as the inside of a JSON string (RFC 8259, section 7).
struct Escaped<'a>(&'a mut dyn Write);

/// The bytes a JSON string cannot hold as they are: quote, backslash and control characters.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

impl Write for Escaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        // Runs that need no escape go out whole; an escaped byte is ASCII, so slicing around
        // it stays on character boundaries.
        while let Some(at) = rest
            .bytes()
            .position(|byte| NEEDS_ESCAPE[usize::from(byte)])
        {
            let byte = rest.as_bytes()[at];
            self.0.write_str(&rest[..at])?;
            match byte {
                b'"' => self.0.write_str("\\\"")?,
                b'\\' => self.0.write_str("\\\\")?,
                b'\n' => self.0.write_str("\\n")?,
                b'\r' => self.0.write_str("\\r")?,
                b'\t' => self.0.write_str("\\t")?,
                _ => write!(self.0, "\\u{byte:04x}")?,
            }
            rest = &rest[at + 1..];
        }
        self.0.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::Value;
    use tracing_subscriber::fmt::format::JsonFields;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// What a log line written inside spans made and recorded by `make` says of its span,
    /// with span fields formatted by `fields`.
    fn span_of_a_line<N>(fields: N, make: impl FnOnce() -> tracing::Span) -> Value
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let lines = crate::telemetry::LogLines::default();
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .fmt_fields(fields)
            .with_writer(lines.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = make();
            let _entered = span.enter();
            tracing::info!(answer = 42, "inside");
        });
        let line: Value = serde_json::from_str(lines.text().trim()).unwrap();
        assert_eq!(line["message"], "inside", "{line}");
        line["span"].clone()
    }

    const AWKWARD: &str = "quote \" backslash \\ newline \n tab \t bell \u{7} é 🦀 </script>";

    fn a_server_span() -> tracing::Span {
        let span = tracing::info_span!(
            "http.server",
            otel.kind = "server",
            http.route = %"/products/{id}",
            request_id = AWKWARD,
            attempt = 3_u64,
            offset = -7_i64,
            ratio = 0.25_f64,
            nothing = f64::NAN,
            cached = true,
            r#type = ?Some("debug \"value\""),
            trace_id = tracing::field::Empty,
        );
        span.record("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736");
        span
    }

    #[test]
    fn a_span_reads_the_same_as_with_tracing_subscribers_own_json_fields() {
        let ours = span_of_a_line(JsonSpanFields, a_server_span);
        let theirs = span_of_a_line(JsonFields::default(), a_server_span);
        assert_eq!(ours, theirs);
        assert_eq!(ours["request_id"], AWKWARD);
        assert_eq!(ours["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ours["type"], "Some(\"debug \\\"value\\\"\")");
        assert_eq!(ours["nothing"], Value::Null);
    }

    #[test]
    fn fields_recorded_later_join_an_empty_or_a_full_object() {
        let later = || {
            let span = tracing::info_span!(
                "consume",
                first = tracing::field::Empty,
                second = tracing::field::Empty
            );
            span.record("first", 1_u64);
            span.record("second", "two");
            span
        };
        let ours = span_of_a_line(JsonSpanFields, later);
        assert_eq!(ours, span_of_a_line(JsonFields::default(), later));
        assert_eq!(ours["first"], 1);
        assert_eq!(ours["second"], "two");

        let bare = span_of_a_line(JsonSpanFields, || tracing::info_span!("bare"));
        assert_eq!(bare, serde_json::json!({ "name": "bare" }));
    }
}
