//! Repeated measurements and what the report says of them: median, min, max.

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

/// `a / b` of two medians, as the report prints it.
pub fn ratio(a: &Samples, b: &Samples) -> String {
    format!("{:.2}", a.median() / b.median())
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
}
