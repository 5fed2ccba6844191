//! Progress bars (indicatif) on stderr: one per file and one for the total, only when a
//! person watches a terminal (`Output::shows_bars`); otherwise commands print a plain
//! line per finished file.

use std::sync::Arc;

use filegate_client::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars of one command; `None` inside when bars are off.
pub struct Bars {
    multi: Option<MultiProgress>,
    total: Option<ProgressBar>,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Bars {
    /// Bars for `files` files of `bytes` bytes in all (a total bar when more than one).
    pub fn new(enabled: bool, files: usize, bytes: u64) -> Bars {
        if !enabled {
            return Bars {
                multi: None,
                total: None,
            };
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let total = (files > 1).then(|| {
            let bar = multi.add(ProgressBar::new(bytes));
            bar.set_style(style(
                "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            ));
            bar.set_prefix(format!("{files} files"));
            bar
        });
        Bars {
            multi: Some(multi),
            total,
        }
    }

    /// A bar for one file of `size` bytes, named `name`.
    pub fn file(&self, name: &str, size: u64) -> Option<Arc<FileBar>> {
        let multi = self.multi.as_ref()?;
        let bar = match &self.total {
            Some(total) => multi.insert_before(total, ProgressBar::new(size)),
            None => multi.add(ProgressBar::new(size)),
        };
        bar.set_style(style(
            "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
        ));
        bar.set_prefix(short(name));
        Some(Arc::new(FileBar {
            bar,
            total: self.total.clone(),
            expected: size,
        }))
    }

    /// Runs `print` with the bars hidden (so that what it prints to stdout or stderr does
    /// not tear them), or plainly when there are none.
    pub fn suspend<R>(&self, print: impl FnOnce() -> R) -> R {
        match &self.multi {
            Some(multi) => multi.suspend(print),
            None => print(),
        }
    }
}

/// The last 12 characters of a name, for the bar's label.
fn short(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() <= 12 {
        name.to_owned()
    } else {
        let tail: String = chars[chars.len() - 11..].iter().collect();
        format!("…{tail}")
    }
}

/// One file's bar; its bytes count towards the total bar too.
pub struct FileBar {
    bar: ProgressBar,
    total: Option<ProgressBar>,
    expected: u64,
}

impl FileBar {
    /// The file is done: its bar goes, leaving room for the others.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for FileBar {
    fn total(&self, bytes: u64) {
        self.bar.set_length(bytes);
        // An encrypted upload sends a little more than the file's size.
        if let Some(total) = &self.total
            && bytes > self.expected
        {
            total.inc_length(bytes - self.expected);
        }
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
        if let Some(total) = &self.total {
            total.inc(bytes);
        }
    }
}

/// A bar counting items (`reindex`: files), on stderr when it is a terminal; hidden
/// otherwise, so scripts and logs get the final line alone.
pub fn counter(prefix: &str) -> ProgressBar {
    use std::io::IsTerminal as _;
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(style(
        "{prefix:>12} [{bar:30}] {pos}/{len} files {per_sec} eta {eta} {msg}",
    ));
    bar.set_prefix(prefix.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_keep_their_end() {
        assert_eq!(short("a.csv"), "a.csv");
        assert_eq!(short("2026/11/ward-a-extract.csv"), "…extract.csv");
        assert_eq!(short("2026/11/ward-a-extract.csv").chars().count(), 12);
    }

    #[test]
    fn bars_off_means_no_bars() {
        let bars = Bars::new(false, 3, 100);
        assert!(bars.file("x", 10).is_none());
    }
}
