//! How a measurement is printed: the number, the target, and whether it is met.

use std::time::Duration;

/// One line: `name: measured (target: ..., met|MISSED)`.
pub fn line(name: &str, measured: &str, target: &str, met: bool) {
    let verdict = if met { "met" } else { "MISSED" };
    println!("{name}: {measured}  (target: {target}: {verdict})");
}

/// A line without a target, for context.
pub fn fact(name: &str, measured: &str) {
    println!("{name}: {measured}");
}

/// Milliseconds with two decimals.
pub fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// Microseconds as milliseconds with two decimals.
pub fn us_as_ms(us: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // Display only.
    let ms = us as f64 / 1000.0;
    format!("{ms:.2} ms")
}

/// The median and the largest of `values` (sorted in place).
pub fn median_and_max<T: Ord + Copy>(values: &mut [T]) -> Option<(T, T)> {
    values.sort_unstable();
    Some((*values.get(values.len() / 2)?, *values.last()?))
}
