//! The benchmark in its smoke mode, so that it never rots: it must run end to end and write
//! a report with every section. (No number is checked: timing belongs to the real run.)
//! nginx is not needed (the smoke run skips its baselines); PostgreSQL, RabbitMQ and s3s-fs
//! are used when their `FILEGATE_TEST_*` variables are set, as in CI.

use std::process::Command;

fn set(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| !v.is_empty())
}

#[test]
fn the_smoke_run_writes_a_report_with_every_section() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("REPORT.md");
    let status = Command::new(env!("CARGO_BIN_EXE_filegate-bench"))
        .args(["all", "--smoke", "--out"])
        .arg(&out)
        .arg("--work-dir")
        .arg(dir.path())
        .status()
        .expect("the benchmark starts");
    assert!(status.success(), "the smoke run failed: {status}");
    let report = std::fs::read_to_string(&out).expect("a report");
    let mut headings = vec![
        "# filegate benchmark report",
        "## Data plane:",
        "## Control plane: embedded",
        "## Pipeline: 50 × 10 KiB files, `complete` → `ready`, embedded",
        "## Hash stage",
        "## Growth: list and change feed, embedded",
        "## Scan stage",
        "## Decrypt stage",
        "nginx baselines: skipped in a smoke run",
    ];
    if set("FILEGATE_TEST_POSTGRES_URL") {
        headings.extend([
            "## Control plane: PostgreSQL",
            "## Growth: list and change feed, PostgreSQL",
        ]);
        if set("FILEGATE_TEST_AMQP_URL") && set("FILEGATE_TEST_S3S_FS") {
            headings.push("## Control plane: scale-out");
            headings.push("## Pipeline: 50 × 10 KiB files, `complete` → `ready`, scale-out");
        }
    }
    for heading in headings {
        assert!(report.contains(heading), "missing {heading:?} in:\n{report}");
    }
    assert!(report.contains("files/s") && report.contains("MB/s"), "{report}");
    assert!(report.contains("- target ") && report.contains("cycles/s"), "{report}");
}
