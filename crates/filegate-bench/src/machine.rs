//! What the numbers were measured on: they only mean something next to this.

use std::path::Path;
use std::process::Command;

pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub filesystem: String,
    pub kernel: String,
    pub rustc: String,
    pub date: String,
}

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
}

impl Machine {
    /// Reads the machine; `work_dir` is where the files are written (its filesystem matters).
    pub fn read(work_dir: &Path) -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines().find_map(|l| {
                    l.strip_prefix("model name")
                        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
                })
            })
            .unwrap_or_else(|| "unknown".into());
        let sha_ni = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|i| i.contains(" sha_ni"));
        let dir = work_dir.display().to_string();
        Self {
            cpu: if sha_ni { format!("{cpu} (SHA extensions)") } else { cpu },
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            filesystem: output("df", &["--output=fstype,source", &dir])
                .and_then(|s| {
                    s.lines()
                        .nth(1)
                        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" on "))
                })
                .unwrap_or_else(|| "unknown".into()),
            kernel: output("uname", &["-sr"]).unwrap_or_else(|| "unknown".into()),
            rustc: output("rustc", &["--version"]).unwrap_or_else(|| "unknown".into()),
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }

    pub fn markdown(&self) -> String {
        format!(
            "| | |\n|---|---|\n| CPU | {} |\n| cores | {} |\n| filesystem of the work directory | {} |\n| kernel | {} |\n| rustc | {} |\n| filegate | {} ({} build) |\n| date | {} |\n",
            self.cpu,
            self.cores,
            self.filesystem,
            self.kernel,
            self.rustc,
            env!("CARGO_PKG_VERSION"),
            if cfg!(debug_assertions) { "debug" } else { "release" },
            self.date
        )
    }
}
