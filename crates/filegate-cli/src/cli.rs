//! The command-line grammar. Commands that talk to a server take `--profile` and `--json`
//! (global); every command's help lists its options.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

/// Shown under `--help`: scripts branch on these (see `exit.rs`).
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  other failure (local I/O, server error, unexpected answer)
  2  usage: wrong arguments
  3  authentication: the token is missing, invalid, expired or not allowed
  4  not found
  5  processing did not end `ready` (failed, quarantined, or still going when --wait gave up)
  6  server unreachable or unavailable
  7  configuration: no usable profile or config file
  8  integrity: a checksum or size differs
  9  refused by the server (another 4xx)";

#[derive(Parser)]
#[command(name = "filegate", version, about = "A self-hosted file gateway: the server and its command-line client", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// The profile to use (`filegate login --profile NAME` makes one).
    #[arg(long, global = true, env = "FILEGATE_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// Print results as JSON on stdout (and errors as JSON on stderr), for scripts.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP API and the processing workers.
    Serve {
        /// A TOML config file (every option is in docs/configuration.md); FILEGATE_* variables override it.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Data directory [default: ./filegate-data].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Serve the API only; run `filegate worker` processes for the processing.
        #[arg(long)]
        no_workers: bool,
    },
    /// Run the processing workers only (no HTTP), against the same engines as the gateways.
    Worker {
        #[arg(long, short)]
        config: Option<PathBuf>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Rebuild the search index from the database (the embedded index needs the server stopped).
    Reindex {
        /// A TOML config file, as for `serve`.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Data directory [default: ./filegate-data].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Only this tenant [default: every tenant].
        #[arg(long, value_name = "T")]
        tenant: Option<String>,
    },
    /// Print a signed JWT for a data directory (alone on stdout).
    Token {
        #[arg(long, default_value = "./filegate-data")]
        data_dir: PathBuf,
        #[arg(long, default_value = "default")]
        tenant: String,
        /// reader, writer, admin, superadmin or exchange.
        #[arg(long, default_value = "admin")]
        role: String,
        /// The subject (who the token speaks for).
        #[arg(long, default_value = "cli")]
        sub: String,
        /// Lifetime in seconds, at most 30 days (2592000): the gateway refuses longer ones.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
    /// Save a server URL and token as a profile (in the config directory, mode 0600).
    Login(LoginArgs),
    /// Upload files and directories (recursively).
    Upload(UploadArgs),
    /// Download a file (resuming an interrupted download; the sha256 is checked).
    Download(DownloadArgs),
    /// List files.
    Ls(LsArgs),
    /// Find files by words (typo-tolerant), type, bucket and metadata.
    Search(SearchArgs),
    /// Show one file.
    Stat(TargetArgs),
    /// Delete files (they can be restored until the bucket's retention ends).
    Rm(RmArgs),
    /// Restore a deleted file.
    Restore(TargetArgs),
    /// Move (rename) a file.
    Mv(MvArgs),
    /// Share a file by link (and show its QR code).
    Share(ShareArgs),
    /// File requests: list the pending ones, or upload a file against one.
    Requests(RequestsArgs),
    /// The exchange passphrase that encrypts uploads (`--encrypt` fetches it itself).
    Exchange {
        #[command(subcommand)]
        command: ExchangeCommand,
    },
    /// The tenant's audit trail (admins).
    Audit(AuditArgs),
    /// Upload every file that appears in a directory; move it to DIR/.sent once ready.
    Watch(WatchArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Args)]
pub struct LoginArgs {
    /// The server, e.g. https://files.example.org
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// A JWT or an API key (`fgk_…`).
    #[arg(long, value_name = "TOKEN")]
    pub token: String,
    /// The bucket this profile's commands use by default [default: default].
    #[arg(long, value_name = "B")]
    pub bucket: Option<String>,
    /// Save without asking the server whether it accepts the token.
    #[arg(long)]
    pub no_verify: bool,
}

/// How bytes are sent; shared by `upload`, `requests fulfil` and `watch`.
#[derive(Args, Clone, Debug)]
pub struct TransferArgs {
    /// Parts (and files) in flight at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
    /// Files larger than this go up in parts (e.g. 100M, 1G).
    #[arg(long, value_name = "SIZE", env = "FILEGATE_MULTIPART_THRESHOLD", default_value = "100M", value_parser = parse_size)]
    pub multipart_threshold: u64,
    /// Limit the bandwidth, in bytes per second (e.g. 10M).
    #[arg(long, value_name = "RATE", value_parser = parse_size)]
    pub bwlimit: Option<u64>,
}

#[derive(Args, Clone, Debug)]
pub struct UploadArgs {
    /// Files and directories (directories are uploaded recursively, as PREFIX/DIRNAME/...).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_name = "B")]
    pub bucket: Option<String>,
    /// A folder in the bucket to upload into.
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
    /// Metadata for every uploaded file (repeatable).
    #[arg(long = "metadata", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub metadata: Vec<(String, String)>,
    /// The content type [default: guessed from the file name].
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
    /// Encrypt with age and the current exchange passphrase while uploading.
    #[arg(long)]
    pub encrypt: bool,
    /// The file request this upload answers.
    #[arg(long = "request", value_name = "ID")]
    pub request: Option<String>,
    /// Wait until processing ends; exit 5 unless every file is `ready`.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub wait_timeout: u64,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

#[derive(Args)]
pub struct DownloadArgs {
    /// A file id, or a path in the bucket.
    #[arg(value_name = "ID|PATH")]
    pub target: String,
    /// Where to write [default: the file's name, here]; a directory; `-` for stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(long, value_name = "B")]
    pub bucket: Option<String>,
    /// Limit the bandwidth, in bytes per second (e.g. 10M).
    #[arg(long, value_name = "RATE", value_parser = parse_size)]
    pub bwlimit: Option<u64>,
}

#[derive(Args)]
pub struct LsArgs {
    /// Only paths starting with this.
    #[arg(value_name = "PREFIX")]
    pub prefix: Option<String>,
    /// Only this bucket [default: every bucket].
    #[arg(long, value_name = "B")]
    pub bucket: Option<String>,
    /// Id, status, size and date too.
    #[arg(long, short)]
    pub long: bool,
    /// Only files in this status (pending, uploaded, processing, ready, failed, quarantined, deleted).
    #[arg(long, value_name = "S")]
    pub status: Option<String>,
    /// At most this many files.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

#[derive(Args)]
pub struct SearchArgs {
    /// Words (the last one may be the beginning of a word) and "quoted phrases".
    #[arg(value_name = "QUERY", default_value = "")]
    pub query: String,
    /// A content type (text/csv) or a family (image/*).
    #[arg(long = "type", value_name = "TYPE")]
    pub content_type: Option<String>,
    #[arg(long, value_name = "B")]
    pub bucket: Option<String>,
    /// Only files whose metadata KEY is VALUE (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub meta: Vec<(String, String)>,
    /// At most this many files.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: u32,
}

#[derive(Args)]
pub struct TargetArgs {
    /// A file id, or a path in the bucket.
    #[arg(value_name = "ID|PATH")]
    pub target: String,
    #[arg(long, value_name = "B")]
    pub bucket: Option<String>,
}

#[derive(Args)]
pub struct RmArgs {
    /// File ids or paths.
    #[arg(required = true, value_name = "ID|PATH")]
    pub targets: Vec<String>,
    #[arg(long, value_name = "B")]
    pub bucket: Option<String>,
}

#[derive(Args)]
pub struct MvArgs {
    /// A file id, or a path in the bucket.
    #[arg(value_name = "ID|PATH")]
    pub target: String,
    /// The new path in the same bucket.
    #[arg(value_name = "NEW_PATH")]
    pub new_path: String,
    #[arg(long, value_name = "B")]
    pub bucket: Option<String>,
}

#[derive(Args)]
pub struct ShareArgs {
    /// A file id, or a path in the bucket.
    #[arg(value_name = "ID|PATH")]
    pub target: String,
    #[arg(long, value_name = "B")]
    pub bucket: Option<String>,
    /// `view` or `download`.
    #[arg(long, default_value = "download")]
    pub permission: String,
    /// How long the link works, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 86_400)]
    pub expires_in: u64,
    /// A password the recipient must give.
    #[arg(long)]
    pub password: Option<String>,
    /// Stop working after this many downloads.
    #[arg(long, value_name = "N")]
    pub max_downloads: Option<u64>,
    /// Email the link to this address (when the server has SMTP configured).
    #[arg(long, value_name = "ADDRESS")]
    pub email: Option<String>,
    /// Also draw the link as a QR code in the terminal.
    #[arg(long)]
    pub qr: bool,
}

#[derive(Args)]
pub struct RequestsArgs {
    #[command(subcommand)]
    pub command: Option<RequestsCommand>,
    /// List requests of every status, not only the pending ones.
    #[arg(long)]
    pub all: bool,
}

#[derive(Subcommand)]
pub enum RequestsCommand {
    /// Upload FILE against the pending request ID.
    Fulfil {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[arg(long, value_name = "B")]
        bucket: Option<String>,
        #[arg(long, value_name = "P")]
        prefix: Option<String>,
        /// Encrypt with age and the current exchange passphrase while uploading.
        #[arg(long)]
        encrypt: bool,
        /// Wait until processing ends; exit 5 unless the file is `ready`.
        #[arg(long)]
        wait: bool,
        #[arg(long, value_name = "SECS", default_value_t = 3600)]
        wait_timeout: u64,
        #[command(flatten)]
        transfer: TransferArgs,
    },
}

#[derive(Subcommand)]
pub enum ExchangeCommand {
    /// Print the current exchange passphrase (alone on stdout).
    Passphrase,
}

#[derive(Args)]
pub struct AuditArgs {
    /// Only records about this file.
    #[arg(long = "file", value_name = "ID")]
    pub file_id: Option<String>,
    #[arg(long)]
    pub actor: Option<String>,
    /// An action (`file.downloaded`) or a family (`file.*`).
    #[arg(long)]
    pub action: Option<String>,
    /// Only records since this time (RFC 3339, e.g. 2026-11-30T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many records (newest first).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: usize,
}

#[derive(Args, Clone)]
pub struct WatchArgs {
    /// The directory to watch.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    #[arg(long, value_name = "B")]
    pub bucket: Option<String>,
    /// A folder in the bucket to upload into.
    #[arg(long, value_name = "P")]
    pub prefix: Option<String>,
    /// Encrypt with age and the current exchange passphrase while uploading.
    #[arg(long)]
    pub encrypt: bool,
    /// Seconds between two looks at the directory.
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    pub interval: f64,
    /// A file is sent once its size and modification time stayed the same this many looks in a row.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub settle: u32,
    /// How long to wait for processing of one file, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub wait_timeout: u64,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

/// `KEY=VALUE`.
fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// A byte count: `1048576`, `512K`, `100M`, `1G`, `2GiB` (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 512K, 100M, 1G)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("{s:?}: unknown unit (use K, M, G or T)")),
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size(" 1g "), Ok(1 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("1.5G").is_err());
        assert!(parse_size("3X").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn metadata_is_key_equals_value() {
        assert_eq!(parse_key_value("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert_eq!(parse_key_value("a="), Ok(("a".into(), String::new())));
        assert!(parse_key_value("=b").is_err());
        assert!(parse_key_value("ab").is_err());
    }
}
