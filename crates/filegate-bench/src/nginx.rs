//! nginx, the baseline of uploads (WebDAV `PUT`) and downloads (`sendfile`): Debian's
//! nginx (`bench/nginx.sh` installs it), started by the benchmark on a loopback port with a
//! configuration and prefix of its own under the work directory (nothing of the system's
//! nginx is read or touched), stopped at the end.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

pub struct Nginx {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base_url: String,
    /// What nginx serves; a `PUT /x` lands in `root/x`.
    pub root: PathBuf,
}

/// The nginx binary, when installed.
pub fn binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// `nginx version: nginx/1.22.1`, for the report.
pub fn version() -> Option<String> {
    let out = std::process::Command::new(binary()?).arg("-v").output().ok()?;
    let text = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    Some(text.trim_start_matches("nginx version: ").to_owned())
}

impl Nginx {
    /// nginx over `dir` (which must be on the disk filegate writes to: request bodies go to
    /// a temp directory there and are renamed into place, as filegate's are).
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let binary = binary().context("nginx is not installed (bench/nginx.sh installs it)")?;
        let root = dir.join("www");
        let temp = dir.join("body-temp");
        for d in [&root, &temp, &dir.join("logs")] {
            std::fs::create_dir_all(d)?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let conf = dir.join("nginx.conf");
        let d = dir.display();
        // Started as root, nginx's workers would drop to `nobody`, who may not write in our
        // (private) work directory: they run as us instead.
        let root_user = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let user = if root_user { "user root;\n" } else { "" };
        // Two workers, like filegate's two runtime threads on this machine; no access log
        // (filegate writes none at `warn`).
        std::fs::write(
            &conf,
            format!(
                "{user}daemon off;\nworker_processes auto;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log warn;\n\
                 events {{ worker_connections 4096; }}\n\
                 http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 1000000;\n\
                 client_max_body_size 0;\n  client_body_temp_path {t};\n  proxy_temp_path {d}/proxy-temp;\n\
                 fastcgi_temp_path {d}/fastcgi-temp;\n  uwsgi_temp_path {d}/uwsgi-temp;\n  scgi_temp_path {d}/scgi-temp;\n\
                 server {{\n    listen 127.0.0.1:{port};\n    root {r};\n    location / {{\n      dav_methods PUT;\n\
                 create_full_put_path on;\n      dav_access user:rw;\n    }}\n  }}\n}}\n",
                t = temp.display(),
                r = root.display(),
            ),
        )?;
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("logs/error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting nginx")?;
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(Self {
                    child,
                    base_url: format!("http://127.0.0.1:{port}"),
                    root,
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("nginx did not listen on {port} (see {d}/logs/error.log)")
    }

    /// SIGQUIT (graceful stop), killed after 10 s.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill").arg("-QUIT").arg(pid.to_string()).status().await;
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            self.child.kill().await?;
        }
        Ok(())
    }
}
