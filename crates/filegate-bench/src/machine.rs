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
    /// filegate's commit and the baselines' and engines' versions.
    pub versions: Vec<(&'static str, String)>,
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
    pub async fn read(work_dir: &Path, urls: &crate::deploy::EngineUrls) -> Self {
        let mut versions = Vec::new();
        let commit = output("git", &["rev-parse", "--short=12", "HEAD"]).map(|c| {
            let dirty = output("git", &["status", "--porcelain", "--untracked-files=no"]).is_some();
            if dirty {
                format!("{c} (with uncommitted changes)")
            } else {
                c
            }
        });
        versions.push(("filegate commit", commit.unwrap_or_else(|| "unknown".into())));
        versions.push((
            "nginx",
            crate::nginx::version().unwrap_or_else(|| "not installed".into()),
        ));
        versions.push((
            "openssl",
            output("openssl", &["version"]).unwrap_or_else(|| "not installed".into()),
        ));
        if let Some(url) = &urls.postgres {
            versions.push((
                "PostgreSQL",
                crate::deploy::postgres_version(url)
                    .await
                    .unwrap_or_else(|| "unreachable".into()),
            ));
        }
        if let Some(s3s) = &urls.s3s_fs {
            let v = output(&s3s.display().to_string(), &["--version"]).unwrap_or_else(|| "s3s-fs".into());
            versions.push(("S3 server", v));
        }
        if urls.amqp.is_some() {
            versions.push((
                "RabbitMQ",
                output("rabbitmqctl", &["version"]).unwrap_or_else(|| "unknown".into()),
            ));
        }
        Self::read_sync(work_dir, versions)
    }

    fn read_sync(work_dir: &Path, versions: Vec<(&'static str, String)>) -> Self {
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
            versions,
        }
    }

    pub fn markdown(&self) -> String {
        let mut out = format!(
            "| | |\n|---|---|\n| CPU | {} |\n| cores | {} |\n| filesystem of the work directory | {} |\n| kernel | {} |\n| rustc | {} |\n| filegate | {} ({} build) |\n| date | {} |\n",
            self.cpu,
            self.cores,
            self.filesystem,
            self.kernel,
            self.rustc,
            env!("CARGO_PKG_VERSION"),
            if cfg!(debug_assertions) { "debug" } else { "release" },
            self.date
        );
        for (name, version) in &self.versions {
            out.push_str(&format!("| {name} | {version} |\n"));
        }
        out
    }
}
