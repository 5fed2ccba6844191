//! Repeated measurements and what the report says of them: median, min, max; and the
//! latency quantiles (p50, p99) of one run.

use std::time::Duration;

/// The values of one measurement over several runs (seconds, MiB/s, files/s, ...).
#[derive(Debug, Clone, Default)]
pub struct Samples {
    values: Vec<f64>,
}

impl Samples {
    pub fn push(&mut self, v: f64) {
        self.values.push(v);
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.values.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    pub fn median(&self) -> f64 {
        let v = self.sorted();
        match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    }

    pub fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(f64::NAN)
    }

    pub fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }

    /// `median (min–max)` with `digits` decimals.
    pub fn summary(&self, digits: usize) -> String {
        format!(
            "{:.digits$} ({:.digits$}–{:.digits$})",
            self.median(),
            self.min(),
            self.max()
        )
    }
}

/// The `q` quantile (0.0 to 1.0) of `values`, nearest-rank: the smallest value with at
/// least `q` of all values at or below it. `None` when there are none.
pub fn quantile(values: &[Duration], q: f64) -> Option<Duration> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * n as f64).ceil() as usize;
    Some(v[rank.clamp(1, n) - 1])
}

/// Milliseconds, as the latency columns print them.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `a / b` of two medians, as the report prints it.
pub fn ratio(a: &Samples, b: &Samples) -> String {
    format!("{:.2}", a.median() / b.median())
}

/// The p50 and p99 of each run of a latency measurement.
#[derive(Default, Clone)]
pub struct Latency {
    pub p50: Samples,
    pub p99: Samples,
}

impl Latency {
    /// Adds one run's latencies.
    pub fn push(&mut self, values: &[Duration]) {
        self.p50.push(millis(quantile(values, 0.5).unwrap_or_default()));
        self.p99.push(millis(quantile(values, 0.99).unwrap_or_default()));
    }
}

/// `count` requests one after another (`op(n)` is the `n`th), each timed.
pub async fn timed<F, Fut>(count: usize, op: F) -> anyhow::Result<Vec<Duration>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let t = std::time::Instant::now();
        op(n).await?;
        out.push(t.elapsed());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(values: &[f64]) -> Samples {
        let mut s = Samples::default();
        for v in values {
            s.push(*v);
        }
        s
    }

    #[test]
    fn median_min_and_max() {
        let s = of(&[5.0, 1.0, 3.0]);
        assert_eq!((s.median(), s.min(), s.max()), (3.0, 1.0, 5.0));
        assert_eq!(of(&[1.0, 2.0, 3.0, 4.0]).median(), 2.5);
        assert!(Samples::default().median().is_nan());
        assert_eq!(ratio(&of(&[2.0]), &of(&[4.0])), "0.50");
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let ms: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(quantile(&ms, 0.5), Some(Duration::from_millis(50)));
        assert_eq!(quantile(&ms, 0.99), Some(Duration::from_millis(99)));
        assert_eq!(quantile(&ms, 1.0), Some(Duration::from_millis(100)));
        assert_eq!(quantile(&ms[..1], 0.99), Some(Duration::from_millis(100)));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
