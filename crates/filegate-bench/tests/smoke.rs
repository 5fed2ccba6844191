//! The benchmark in its smoke mode, so that it never rots: it must run end to end and write
//! a report with every section. (No number is checked: timing belongs to the real run.)

use std::process::Command;

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
    for heading in [
        "# filegate benchmark report",
        "## Pipeline:",
        "## Hash stage",
        "## Scan stage",
        "## Decrypt stage",
    ] {
        assert!(report.contains(heading), "missing {heading:?} in:\n{report}");
    }
    assert!(report.contains("files/s") && report.contains("MB/s"), "{report}");
}
