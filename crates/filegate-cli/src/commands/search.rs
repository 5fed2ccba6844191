//! `filegate search`: files by words, type, bucket and metadata, best match first, the
//! matched words shown in bold on a terminal.

use std::io::IsTerminal as _;

use filegate_client::Search;
use serde_json::json;

use crate::cli::SearchArgs;
use crate::exit::{Exit, Failure};
use crate::output::{Output, human_size};
use crate::profile::Connection;

pub async fn run(conn: &Connection, args: SearchArgs, out: &Output) -> Result<Exit, Failure> {
    let search = Search {
        q: Some(args.query),
        content_type: args.content_type,
        bucket: args.bucket,
        metadata: args.meta,
        limit: Some(args.limit.clamp(1, 100)),
        ..Search::default()
    };
    let results = conn.client.search(&search).await?;
    if out.is_json() {
        out.json(&json!({
            "items": results.items,
            "total": results.total,
            "total_is_lower_bound": results.total_is_lower_bound,
        }))?;
        return Ok(Exit::Ok);
    }
    let bold = std::io::stdout().is_terminal();
    for hit in &results.items {
        let file = &hit.file;
        let shown = hit
            .highlights
            .get("path")
            .or_else(|| hit.highlights.get("name"))
            .map(|h| marked(h, bold))
            .unwrap_or_else(|| file.path.clone());
        out.line(format!(
            "{}  {:>10}  {}/{shown}",
            file.id,
            human_size(file.size),
            file.bucket
        ));
        for (field, value) in hit
            .highlights
            .iter()
            .filter(|(k, _)| k.starts_with("metadata.") || *k == "external_id")
        {
            out.line(format!("{:>50}  {field}: {}", "", marked(value, bold)));
        }
    }
    let more = if results.total_is_lower_bound { "+" } else { "" };
    out.note(format!("{} of {}{more} files", results.items.len(), results.total));
    Ok(Exit::Ok)
}

/// A highlight as terminal text: `<mark>` as bold (or nothing off a terminal), the HTML
/// escapes undone.
fn marked(html: &str, bold: bool) -> String {
    let (on, off) = if bold { ("\x1b[1m", "\x1b[0m") } else { ("", "") };
    html.replace("<mark>", on)
        .replace("</mark>", off)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::marked;

    #[test]
    fn highlights_become_bold_text() {
        assert_eq!(marked("<mark>ward</mark>-a &amp; b.csv", false), "ward-a & b.csv");
        assert_eq!(marked("<mark>x</mark>&lt;", true), "\x1b[1mx\x1b[0m<");
    }
}
