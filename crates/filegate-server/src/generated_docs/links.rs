//! Every relative link in README.md and docs/**/*.md points at a file that exists and, with a
//! `#fragment`, at a heading of that file: moving or renaming a section cannot leave a link
//! behind that leads nowhere. Links to other sites are not followed.

use std::path::{Path, PathBuf};

/// The anchor a heading gets on GitHub (and most renderers): lower case, spaces as `-`,
/// every character but letters, digits, `-` and `_` dropped.
pub fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The lines of a Markdown text outside fenced code blocks, with inline code spans removed.
fn prose(markdown: &str) -> String {
    let mut fenced = false;
    let mut out = String::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            // Every other piece between backticks is code: keep the rest.
            out.extend(line.split('`').step_by(2));
            out.push('\n');
        }
    }
    out
}

/// The targets of the inline links `[text](target)`.
fn links(markdown: &str) -> Vec<String> {
    prose(markdown)
        .split("](")
        .skip(1)
        .map(|rest| rest.split([')', ' ']).next().unwrap_or_default().to_owned())
        .collect()
}

/// The anchors of a Markdown file's headings, a repeated one numbered as GitHub does (`-1`, …).
fn anchors(markdown: &str) -> Vec<String> {
    let (mut anchors, mut seen) = (Vec::new(), Vec::new());
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        let heading = line.trim_start_matches('#');
        if fenced || heading.len() == line.len() || !heading.starts_with(' ') {
            continue;
        }
        let base = slug(heading);
        let repeats = seen.iter().filter(|s| **s == base).count();
        anchors.push(if repeats == 0 {
            base.clone()
        } else {
            format!("{base}-{repeats}")
        });
        seen.push(base);
    }
    anchors
}

fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("docs/ is readable") {
        let path = entry.expect("a docs/ entry").path();
        if path.is_dir() {
            markdown_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "md") {
            found.push(path);
        }
    }
}

/// What is wrong with the relative links of `file`, one line each.
fn broken_links(root: &Path, file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("a Markdown file is readable");
    let name = file.strip_prefix(root).unwrap_or(file).display();
    let mut broken = Vec::new();
    for target in links(&text) {
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (path, fragment) = match target.split_once('#') {
            Some((path, fragment)) => (path, Some(fragment)),
            None => (target.as_str(), None),
        };
        let linked = if path.is_empty() {
            file.to_path_buf()
        } else {
            file.parent().unwrap().join(path)
        };
        if !linked.exists() {
            broken.push(format!("{name}: ({target}): no file {path}"));
        } else if let Some(fragment) = fragment {
            let headings = std::fs::read_to_string(&linked)
                .map(|t| anchors(&t))
                .unwrap_or_default();
            if !headings.iter().any(|a| a == fragment) {
                broken.push(format!("{name}: ({target}): no heading #{fragment} there"));
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_leads_to_a_file_and_a_heading() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = vec![root.join("README.md")];
    markdown_files(&root.join("docs"), &mut files);
    let broken: Vec<String> = files.iter().flat_map(|f| broken_links(&root, f)).collect();
    assert!(broken.is_empty(), "links that lead nowhere:\n{}", broken.join("\n"));
}

#[test]
fn links_and_anchors_are_read_as_github_renders_them() {
    let text = "# Quotas and rate limits\n## `POST /v1/uploads/{id}`\n## Faults\n## Faults\n\
                ```sh\n# not a heading [no](link.md)\n```\nSee [one](a.md#x) and `[code](b.md)`,\n\
                [split\nlines](c.md).\n";
    assert_eq!(
        anchors(text),
        ["quotas-and-rate-limits", "post-v1uploadsid", "faults", "faults-1"]
    );
    assert_eq!(links(text), ["a.md#x", "c.md"]);
}
