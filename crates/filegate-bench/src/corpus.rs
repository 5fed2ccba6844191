//! The search benchmark's files and queries: what a hospital's or a company's shared drive
//! holds, generated from the file's number alone (file `i` is the same in every run and at
//! every size), and queries drawn from the same words as people type them.
//!
//! - **Folders** `department/year/person`: 16 departments, 8 years, 48 people.
//! - **Names**, one of four shapes: `discharge summary okafor.pdf` (topic, document type,
//!   person), `referral-9434765919.pdf` (document type and the patient's number),
//!   `IMG_20250612_143207.jpg` (a camera's name, no words), `budget_forecast_minutes_v3.xlsx`.
//! - **Metadata**: `subject` (a 10-digit patient number, ten files each), `ward`, `author`,
//!   `doc_type`; an `external_id` on one file in four.
//! - **Word frequencies** are skewed (a cube of a uniform draw): the first word of each list
//!   is on a quarter to two fifths of the files (`report`, the first document type, is the
//!   `doc_type` of 40%), the last ones on under 1%. Queries take their words from files, so
//!   they meet the same skew: most are for common words, the hardest case for an index.
//!
//! Sizes run from 2 KiB to 40 MiB, creation times one minute apart (a million files span
//! about two years), owners are 50 users.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike as _, Duration, Timelike as _, Utc};
use filegate_core::domain::{ContentType, FileRecord, Metadata, ObjectPath, Processing};

use crate::seed::ready_file;

const DEPARTMENTS: &[&str] = &[
    "radiology",
    "cardiology",
    "finance",
    "oncology",
    "legal",
    "pediatrics",
    "marketing",
    "engineering",
    "research",
    "admissions",
    "pharmacy",
    "facilities",
    "neurology",
    "procurement",
    "security",
    "training",
];

const DOC_TYPES: &[&str] = &[
    "report",
    "summary",
    "invoice",
    "scan",
    "letter",
    "referral",
    "results",
    "contract",
    "minutes",
    "consent",
    "prescription",
    "proposal",
    "statement",
    "receipt",
    "notes",
    "checklist",
];

const TOPICS: &[&str] = &[
    "quarterly",
    "annual",
    "discharge",
    "admission",
    "budget",
    "imaging",
    "blood",
    "forecast",
    "cholesterol",
    "vendor",
    "payroll",
    "compliance",
    "insurance",
    "thyroid",
    "travel",
    "conference",
    "onboarding",
    "network",
    "backup",
    "migration",
    "roadmap",
    "prototype",
    "survey",
    "interview",
    "feedback",
    "campaign",
    "pricing",
    "customer",
    "supplier",
    "inventory",
    "shipping",
    "maintenance",
    "inspection",
    "safety",
    "incident",
    "renovation",
    "lease",
    "patent",
    "trademark",
    "litigation",
    "settlement",
    "merger",
    "dividend",
    "pension",
    "benefits",
    "vaccination",
    "allergy",
    "ultrasound",
    "biopsy",
    "physiotherapy",
    "dermatology",
    "endoscopy",
    "anesthesia",
    "nutrition",
    "audiology",
    "orthopedic",
    "sterilization",
    "telemetry",
    "calibration",
    "accreditation",
];

const PEOPLE: &[&str] = &[
    "smith",
    "garcia",
    "nguyen",
    "okafor",
    "kowalski",
    "schmidt",
    "rossi",
    "tanaka",
    "haddad",
    "larsen",
    "dubois",
    "silva",
    "novak",
    "patel",
    "cohen",
    "murphy",
    "fischer",
    "moreau",
    "jensen",
    "yamamoto",
    "fernandes",
    "ivanova",
    "kaplan",
    "osei",
    "lindqvist",
    "romero",
    "sato",
    "mbeki",
    "oconnor",
    "weber",
    "horvath",
    "petrov",
    "alvarez",
    "chandra",
    "dimitriou",
    "eriksen",
    "farouk",
    "gallagher",
    "hoffmann",
    "ishikawa",
    "jovanovic",
    "kruger",
    "lombardi",
    "mendoza",
    "nakamura",
    "oliveira",
    "quigley",
    "ramirez",
];

const WARDS: &[&str] = &["a", "b", "c", "d", "e", "f", "icu", "er", "maternity", "oncology-2"];

/// A deterministic stream of numbers from a seed (splitmix64): the same for the same seed.
pub struct Draws(u64);

impl Draws {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Skewed toward 0: the cube of a uniform draw, so index 0 is the most common.
    pub fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((u * u * u) * n as f64) as usize % n.max(1)
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.skewed(words.len())]
    }
}

/// The patient number of file `i` (ten files per patient).
pub fn subject_of(i: usize) -> String {
    let mut d = Draws::new(0x5eed_u64.wrapping_mul(1 + (i / 10) as u64));
    format!("{}", 1_000_000_000 + d.next() % 9_000_000_000)
}

/// The file number `i` of the corpus, `ready`, in tenant `default`'s bucket `default`
/// ([`ready_file`] with the corpus's path, type, size, owner and metadata).
pub fn file(i: usize, first_created: DateTime<Utc>) -> FileRecord {
    let mut d = Draws::new(i as u64);
    let at = first_created + Duration::minutes(i as i64);
    let person = d.pick(PEOPLE);
    let folder = format!("{}/{}/{person}", d.pick(DEPARTMENTS), 2019 + d.below(8));
    let subject = subject_of(i);
    let doc_type = d.pick(DOC_TYPES);
    let (name, content_type) = match i % 4 {
        0 => (format!("{} {doc_type} {person}.pdf", d.pick(TOPICS)), "application/pdf"),
        1 => (format!("{doc_type}-{subject}.pdf"), "application/pdf"),
        2 => (
            format!(
                "IMG_{:04}{:02}{:02}_{:02}{:02}{:02}.jpg",
                at.year(),
                at.month(),
                at.day(),
                at.hour(),
                at.minute(),
                i % 60
            ),
            "image/jpeg",
        ),
        _ => {
            let (kind, ext) = [
                (
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "xlsx",
                ),
                ("text/csv", "csv"),
                (
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    "docx",
                ),
            ][d.below(3)];
            (
                format!(
                    "{}_{}_{doc_type}_v{}.{ext}",
                    d.pick(TOPICS),
                    d.pick(TOPICS),
                    1 + d.below(9)
                ),
                kind,
            )
        }
    };
    let mut metadata = BTreeMap::from([
        ("subject".to_owned(), subject),
        ("ward".to_owned(), d.pick(WARDS).to_owned()),
        ("author".to_owned(), d.pick(PEOPLE).to_owned()),
        ("doc_type".to_owned(), doc_type.to_owned()),
    ]);
    if content_type == "image/jpeg" {
        metadata.insert("camera".to_owned(), format!("ward camera {}", 1 + d.below(12)));
    }
    let image = (content_type == "image/jpeg").then(|| serde_json::json!({"width": 4032, "height": 3024}));
    let path = ObjectPath::parse(&format!("{folder}/{name}")).expect("a valid path");
    FileRecord {
        size: 2048 + d.next() % (40 << 20),
        content_type: ContentType::parse(content_type).expect("a valid type"),
        owner: format!("user-{}", d.skewed(50)),
        external_id: (i % 4 == 1).then(|| format!("DOC-{i:08}")),
        metadata: Metadata::parse(metadata).expect("valid metadata"),
        processing: Processing {
            scan: Some("clean".into()),
            sniffed_type: Some(content_type.to_owned()),
            image,
            ..Processing::default()
        },
        ..ready_file(i, path, at)
    }
}

/// What people type: words of the corpus's files, so a query never asks for what no file
/// has, and common words come up as often as they are common.
pub struct Queries(Draws);

impl Queries {
    pub fn new(seed: u64) -> Self {
        Self(Draws::new(seed))
    }

    /// The words (not numbers) of the folders and name of a file among the first `files`
    /// whose name has the given shape (`i % 4`).
    fn words_of(&mut self, files: usize, shape: usize) -> Vec<String> {
        let i = (self.0.below(files.max(4) / 4) * 4 + shape).min(files.saturating_sub(1));
        let path = file(i, DateTime::UNIX_EPOCH).path.to_string();
        path.split(|c: char| !c.is_ascii_alphabetic())
            .filter(|w| w.len() > 1 && !["pdf", "jpg", "xlsx", "csv", "docx", "img"].contains(w))
            .map(str::to_owned)
            .collect()
    }

    /// One whole word of a file (a space typed after it: no prefix expansion).
    pub fn one_word(&mut self, files: usize) -> String {
        let shape = self.0.below(4);
        let words = self.words_of(files, shape);
        format!("{} ", words[self.0.below(words.len())])
    }

    /// A file's topic and document type (`discharge summary okafor.pdf`), the longer with a
    /// letter dropped from its middle, as in `dischrge summary`. The longer has at least 6
    /// letters, so that what is typed still has 5: shorter words tolerate no typo.
    pub fn two_words_with_typo(&mut self, files: usize) -> String {
        loop {
            let words = self.words_of(files, 0);
            // Folders (department, person) come first, then the name's topic and type.
            let n = words.len();
            let (topic, doc_type) = (&words[n - 3], &words[n - 2]);
            let (long, short) = if topic.len() >= doc_type.len() {
                (topic, doc_type)
            } else {
                (doc_type, topic)
            };
            if long.len() < 6 {
                continue;
            }
            let cut = long.len() / 2;
            let typo = format!("{}{}", &long[..cut], &long[cut + 1..]);
            return if self.0.below(2) == 0 {
                format!("{typo} {short}")
            } else {
                format!("{short} {typo}")
            };
        }
    }

    /// The first 2 to 4 letters of a word of a file, as typed into a search box.
    pub fn prefix(&mut self, files: usize) -> String {
        let shape = self.0.below(4);
        let words = self.words_of(files, shape);
        let word = &words[self.0.below(words.len())];
        let n = (2 + self.0.below(3)).min(word.len());
        word[..n].to_owned()
    }

    /// The patient number of a file among the first `files`.
    pub fn subject(&mut self, files: usize) -> String {
        subject_of(self.0.below(files))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_the_same_in_every_run() {
        let a = file(12_345, DateTime::UNIX_EPOCH);
        let b = file(12_345, DateTime::UNIX_EPOCH);
        assert_eq!((a.path, a.metadata, a.size), (b.path, b.metadata, b.size));
    }

    #[test]
    fn ten_files_share_a_patient() {
        assert_eq!(subject_of(20), subject_of(29));
        assert_ne!(subject_of(29), subject_of(30));
        assert_eq!(subject_of(7).len(), 10);
    }

    #[test]
    fn a_typo_query_drops_one_letter_of_its_longer_word() {
        let mut q = Queries::new(7);
        for _ in 0..100 {
            let text = q.two_words_with_typo(1000);
            let words: Vec<&str> = text.split(' ').collect();
            assert_eq!(words.len(), 2);
            let longer = words.iter().map(|w| w.len()).max().unwrap_or(0);
            assert!(TOPICS.iter().chain(DOC_TYPES).any(|w| w.len() == longer + 1), "{text}");
        }
    }
}
