//! Loading the configuration: defaults, then the file, then `FILEGATE_*` variables; sections
//! checked as they load, unknown keys refused. Each runs in a `figment::Jail` of its own.
// `figment::Jail` fixes the closures' error type (`figment::Error`, which is large).
#![allow(clippy::result_large_err)]

use super::*;

#[test]
fn file_then_env_override_defaults() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "filegate.toml",
            "listen = \"127.0.0.1:9000\"\n[workers]\nconcurrency = 7\n",
        )?;
        jail.set_env("FILEGATE_WORKERS__CONCURRENCY", "3");
        jail.set_env("FILEGATE_DATA_DIR", "/tmp/x");
        let c = Config::load(Some(Path::new("filegate.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.workers.concurrency, 3);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.uploads.url_ttl_secs, 3600);
        Ok(())
    });
}

#[test]
fn scanner_and_pipeline_sections_load_and_sizes_are_checked() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "filegate.toml",
            "[scanner]\nurl = \"tcp://127.0.0.1:3310\"\n[pipeline]\nthumbnail_sizes = [512, 128, 128]\n",
        )?;
        let c = Config::load(Some(Path::new("filegate.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(c.scanner.url.as_deref(), Some("tcp://127.0.0.1:3310"));
        assert_eq!(c.pipeline.thumbnail_sizes().map_err(|e| e.to_string())?, vec![128, 512]);
        Ok(())
    });
    for bad in [vec![], vec![0], vec![4096], (16..30).collect()] {
        let p = PipelineConfig {
            thumbnail_sizes: bad,
            ..PipelineConfig::default()
        };
        assert!(p.thumbnail_sizes().is_err());
    }
}

#[test]
fn rate_limit_classes_and_quota_defaults_load_and_are_checked() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "filegate.toml",
            "[rate_limit.anonymous]\nburst = 5\n[quotas]\ndefault_max_files = 100\n",
        )?;
        jail.set_env("FILEGATE_RATE_LIMIT__SIGNED_URLS__PER_SECOND", "0.5");
        jail.set_env("FILEGATE_QUOTAS__DEFAULT_MAX_BYTES", "1073741824");
        let c = Config::load(Some(Path::new("filegate.toml"))).map_err(|e| e.to_string())?;
        // A partial section keeps the other defaults.
        assert_eq!(
            (c.rate_limit.anonymous.burst, c.rate_limit.anonymous.per_second),
            (5, 1.0)
        );
        assert_eq!(
            (c.rate_limit.signed_urls.burst, c.rate_limit.signed_urls.per_second),
            (1000, 0.5)
        );
        let bucket = c
            .rate_limit
            .signed_urls
            .bucket("signed_urls")
            .map_err(|e| e.to_string())?;
        assert_eq!(bucket.map(|b| b.window()), Some(Duration::from_secs(2000)));
        let quota = c.quotas.default_quota().map_err(|e| e.to_string())?;
        assert_eq!((quota.max_bytes, quota.max_files), (Some(1 << 30), Some(100)));
        Ok(())
    });
    let stalled = BucketConfig {
        burst: 10,
        per_second: 0.0,
    };
    let error = stalled.bucket("anonymous").unwrap_err().to_string();
    assert!(error.contains("rate_limit.anonymous"), "{error}");
    let absurd = QuotasConfig {
        default_max_bytes: Some(u64::MAX),
        default_max_files: None,
    };
    assert!(absurd.default_quota().is_err());
}

#[test]
fn unknown_keys_are_refused() {
    figment::Jail::expect_with(|jail| {
        jail.create_file("filegate.toml", "lisen = \"127.0.0.1:9000\"\n")?;
        assert!(Config::load(Some(Path::new("filegate.toml"))).is_err());
        Ok(())
    });
}

#[test]
fn the_defaults_are_valid() {
    Config::default().validate().unwrap();
}

#[test]
fn validate_reports_every_bad_value_with_its_key() {
    let mut c = Config::default();
    c.pipeline.thumbnail_sizes = vec![];
    c.shares.password_attempts = 0;
    c.http.max_connections = 0;
    c.http.idle_timeout_secs = 0;
    c.rate_limit.anonymous.per_second = 0.0;
    c.alerts.emails = vec!["nobody".into()];
    c.public_url = Some("ftp://example.org".into());
    c.triggers.insert(
        "hook".into(),
        crate::trigger_config::TriggerConfig {
            url: "not a url".into(),
            ..Default::default()
        },
    );
    let error = c.validate().unwrap_err();
    assert_eq!(error.0.len(), 8, "{error}");
    let text = error.to_string();
    for key in [
        "pipeline.thumbnail_sizes",
        "shares.password_attempts",
        "http.max_connections",
        "http.idle_timeout_secs",
        "rate_limit.anonymous",
        "alerts.emails",
        "public_url",
        "triggers.hook",
    ] {
        assert!(text.contains(key), "{key} is not named in:\n{text}");
    }
}
