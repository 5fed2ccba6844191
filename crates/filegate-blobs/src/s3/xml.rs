//! The few S3 XML documents filegate reads and writes (quick-xml).

use quick_xml::events::Event;
use serde::Deserialize;

/// An S3 error document: `<Error><Code>NoSuchKey</Code><Message>…</Message></Error>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "Code", default)]
    pub code: String,
    #[serde(rename = "Message", default)]
    pub message: String,
}

#[derive(Debug, Deserialize)]
struct InitiateResult {
    #[serde(rename = "UploadId")]
    upload_id: String,
}

/// `CompleteMultipartUploadResult` and `CopyPartResult`: what filegate reads of them.
#[derive(Debug, Deserialize)]
struct EtagResult {
    #[serde(rename = "ETag")]
    etag: String,
}

/// The name of the document's root element, without a namespace prefix.
pub fn root_name(xml: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return Some(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// The error document in `xml`, if it is one.
pub fn error(xml: &str) -> Option<ErrorBody> {
    if root_name(xml)? != "Error" {
        return None;
    }
    quick_xml::de::from_str(xml).ok()
}

/// What a `CompleteMultipartUpload` answered: S3 may answer `200 OK` and still have failed,
/// with an `Error` document as the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completed {
    /// The etag, without quotes.
    Done(String),
    Failed(ErrorBody),
}

pub fn completed(xml: &str) -> Result<Completed, String> {
    etag_answer(xml, "CompleteMultipartUploadResult", "CompleteMultipartUpload")
}

/// What an `UploadPartCopy` answered: like `CompleteMultipartUpload`, S3 may answer
/// `200 OK` with an `Error` document.
pub fn copied_part(xml: &str) -> Result<Completed, String> {
    etag_answer(xml, "CopyPartResult", "UploadPartCopy")
}

/// An error document, or the etag of a `root` document answering `action`.
fn etag_answer(xml: &str, root: &str, action: &str) -> Result<Completed, String> {
    if let Some(e) = error(xml) {
        return Ok(Completed::Failed(e));
    }
    match root_name(xml) {
        Some(name) if name == root => {}
        other => return Err(format!("unexpected answer to {action}: root {other:?}")),
    }
    let result: EtagResult = quick_xml::de::from_str(xml).map_err(|e| e.to_string())?;
    Ok(Completed::Done(unquote(&result.etag).to_owned()))
}

pub fn upload_id(xml: &str) -> Result<String, String> {
    match root_name(xml).as_deref() {
        Some("InitiateMultipartUploadResult") => {}
        other => {
            return Err(format!("unexpected answer to CreateMultipartUpload: root {other:?}"));
        }
    }
    let result: InitiateResult = quick_xml::de::from_str(xml).map_err(|e| e.to_string())?;
    Ok(result.upload_id)
}

/// The `CompleteMultipartUpload` body, with explicit part numbers.
pub fn complete_body<'a>(parts: impl IntoIterator<Item = (u32, &'a str)>) -> String {
    let mut body = String::from("<CompleteMultipartUpload>");
    for (number, etag) in parts {
        body.push_str(&format!(
            "<Part><PartNumber>{number}</PartNumber><ETag>\"{}\"</ETag></Part>",
            quick_xml::escape::escape(etag)
        ));
    }
    body.push_str("</CompleteMultipartUpload>");
    body
}

/// An etag without its surrounding quotes (and a weak `W/` prefix).
pub fn unquote(etag: &str) -> &str {
    let etag = etag.trim();
    etag.strip_prefix("W/").unwrap_or(etag).trim_matches('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_s3_answers() {
        let ok = r#"<?xml version="1.0" encoding="UTF-8"?>
            <CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Location>https://b.s3.amazonaws.com/k</Location><Bucket>b</Bucket><Key>k</Key>
              <ETag>&quot;3858f62230ac3c915f300c664312c11f-9&quot;</ETag>
            </CompleteMultipartUploadResult>"#;
        assert_eq!(
            completed(ok).unwrap(),
            Completed::Done("3858f62230ac3c915f300c664312c11f-9".into())
        );
        let failed = r#"<?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message>
            <RequestId>656c76696e6727732072657175657374</RequestId></Error>"#;
        assert_eq!(
            completed(failed).unwrap(),
            Completed::Failed(ErrorBody {
                code: "InternalError".into(),
                message: "We encountered an internal error. Please try again.".into()
            })
        );
        assert!(completed("<Other/>").is_err());
        assert!(completed("not xml").is_err());

        let initiated = r#"<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE&amp;x</UploadId></InitiateMultipartUploadResult>"#;
        assert_eq!(upload_id(initiated).unwrap(), "VXBsb2FkIElE&x");
        assert!(upload_id("<Error><Code>AccessDenied</Code></Error>").is_err());

        let copied = r#"<CopyPartResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>"b1946ac9"</ETag></CopyPartResult>"#;
        assert_eq!(copied_part(copied).unwrap(), Completed::Done("b1946ac9".into()));
        assert!(matches!(
            copied_part("<Error><Code>InvalidRange</Code></Error>").unwrap(),
            Completed::Failed(_)
        ));
        assert!(copied_part("<Other/>").is_err());

        assert_eq!(
            error("<Error><Code>NoSuchKey</Code></Error>").unwrap().code,
            "NoSuchKey"
        );
        assert_eq!(error("<Result/>"), None);
        assert_eq!(error(""), None);
    }

    #[test]
    fn writes_part_numbers_explicitly() {
        assert_eq!(
            complete_body([(1, "a1"), (3, "b-2")]),
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"a1\"</ETag></Part>\
             <Part><PartNumber>3</PartNumber><ETag>\"b-2\"</ETag></Part></CompleteMultipartUpload>"
        );
        assert_eq!(unquote("\"abc\""), "abc");
        assert_eq!(unquote("W/\"abc\""), "abc");
    }
}
