//! The audit log: one JSON-lines file per image, append-only. Each record
//! carries `seq`, the hash of the previous record (`prev`) and its own
//! `hash` (SHA-256 of the record without `hash` and `mac`, keys sorted).
//! The store keeps the head (seq and hash) of every file, so editing,
//! deleting (including the last record) or reordering records is detected.
//!
//! With an [`AuditKey`] (an HMAC key from the environment), every record
//! also carries `gseq`, its number across all images' logs, and `mac`, the
//! HMAC of its hash; and the store keeps the last `gseq` with an HMAC over
//! it and every head. Without the key nobody can forge a record, and
//! deleting a whole log together with its head leaves a gap in `gseq` and
//! a head set that no longer matches its HMAC.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use model::{ImageOutcome, RunId, Timestamp};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// Hash of "no previous record".
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One problem found by verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// File.
    pub file: PathBuf,
    /// 1-based line (0 for the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// The file for an image.
pub fn file_for(dir: &Path, image: &str) -> PathBuf {
    dir.join(format!("{image}.jsonl"))
}

/// An HMAC-SHA256 key for the audit log. Never printed.
#[derive(Clone)]
pub struct AuditKey(Vec<u8>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(<redacted>)")
    }
}

impl AuditKey {
    /// A key from its bytes (at least 16).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<AuditKey> {
        let b = bytes.into();
        (b.len() >= 16).then_some(AuditKey(b))
    }

    fn hmac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length")
    }

    /// The hex HMAC of `msg`.
    pub fn mac(&self, msg: &[u8]) -> String {
        let mut m = self.hmac();
        m.update(msg);
        hex::encode(m.finalize().into_bytes())
    }

    /// Whether `mac` (hex) is the HMAC of `msg` (constant-time comparison).
    pub fn check(&self, msg: &[u8], mac: &str) -> bool {
        let Ok(bytes) = hex::decode(mac) else {
            return false;
        };
        let mut m = self.hmac();
        m.update(msg);
        m.verify_slice(&bytes).is_ok()
    }
}

/// What the store's global HMAC covers: the last `gseq` and every head.
pub fn global_message(gseq: u64, heads: &[(String, u64, String)]) -> Vec<u8> {
    let mut heads = heads.to_vec();
    heads.sort();
    let mut s = format!("safeimage-audit-global/1\n{gseq}\n");
    for (image, seq, hash) in heads {
        s.push_str(&format!("{image} {seq} {hash}\n"));
    }
    s.into_bytes()
}

/// SHA-256 of a record without its `hash` and `mac` keys, keys sorted.
pub fn record_hash(rec: &Map<String, Value>) -> String {
    let mut m = rec.clone();
    m.remove("hash");
    m.remove("mac");
    // serde_json's Map is a BTreeMap here: keys serialise sorted.
    let text = serde_json::to_string(&Value::Object(m)).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The fields of an image's decision record.
pub fn record_fields(run: RunId, time: Timestamp, o: &ImageOutcome) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("time".into(), Value::from(time.to_string()));
    m.insert("run".into(), Value::from(run.0));
    m.insert("outcome".into(), Value::from(o.outcome.as_str()));
    m.insert("repository".into(), Value::from(o.repository.to_string()));
    m.insert(
        "digest".into(),
        o.digest
            .as_ref()
            .map_or(Value::Null, |d| Value::from(d.to_string())),
    );
    m.insert(
        "previous_digest".into(),
        o.previous_digest
            .as_ref()
            .map_or(Value::Null, |d| Value::from(d.to_string())),
    );
    m.insert(
        "tags".into(),
        Value::Array(o.tags.iter().map(|t| Value::from(t.as_str())).collect()),
    );
    m.insert(
        "reasons".into(),
        Value::Array(o.reasons.iter().map(|t| Value::from(t.as_str())).collect()),
    );
    m.insert(
        "bases".into(),
        Value::Array(
            o.bases
                .iter()
                .map(|b| serde_json::json!({"reference": b.reference.to_string(), "digest": b.digest.to_string()}))
                .collect(),
        ),
    );
    // what was signed and attached, and what hardening did (newer
    // records; absent when nothing was)
    if !o.signed.is_empty() {
        m.insert(
            "signed".into(),
            Value::Array(o.signed.iter().map(|t| Value::from(t.as_str())).collect()),
        );
    }
    let hardened: Map<String, Value> = o
        .platforms
        .iter()
        .filter_map(|p| {
            let h = p.hardened.as_ref()?;
            Some((
                p.platform.to_string(),
                serde_json::to_value(h).unwrap_or(Value::Null),
            ))
        })
        .collect();
    if !hardened.is_empty() {
        m.insert("hardened".into(), Value::Object(hardened));
    }
    m.insert(
        "counts".into(),
        Value::Object(
            o.counts
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), Value::from(*v)))
                .collect(),
        ),
    );
    m
}

/// The JSON line of record `seq` after `prev`, and its hash; signed as
/// global record `gseq` when a key is given.
pub fn line_for(
    image: &str,
    seq: u64,
    prev: &str,
    mut fields: Map<String, Value>,
    signing: Option<(&AuditKey, u64)>,
) -> (String, String) {
    fields.insert("seq".into(), Value::from(seq));
    fields.insert("prev".into(), Value::from(prev));
    fields.insert("image".into(), Value::from(image));
    if let Some((_, gseq)) = signing {
        fields.insert("gseq".into(), Value::from(gseq));
    }
    let h = record_hash(&fields);
    fields.insert("hash".into(), Value::from(h.clone()));
    if let Some((key, _)) = signing {
        fields.insert("mac".into(), Value::from(key.mac(h.as_bytes())));
    }
    let mut line = Value::Object(fields).to_string();
    line.push('\n');
    (line, h)
}

/// Append a record (fsynced) after `prev` (hash) as number `seq`; returns its hash.
pub fn append(
    dir: &Path,
    image: &str,
    seq: u64,
    prev: &str,
    fields: Map<String, Value>,
    signing: Option<(&AuditKey, u64)>,
) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    let (line, h) = line_for(image, seq, prev, fields, signing);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file_for(dir, image))?;
    f.write_all(line.as_bytes())?;
    f.sync_all()?;
    Ok(h)
}

/// A parsed, chain-checked file.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// Records read.
    pub records: Vec<Map<String, Value>>,
    /// Problems (empty = the chain holds).
    pub problems: Vec<Problem>,
}

impl Chain {
    /// Hash of the last record.
    pub fn head(&self) -> (u64, String) {
        match self.records.last() {
            Some(r) => (
                r.get("seq").and_then(Value::as_u64).unwrap_or(0),
                r.get("hash")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
            None => (0, GENESIS.to_string()),
        }
    }
}

/// Read a file and check every link.
pub fn read_chain(file: &Path) -> Chain {
    match std::fs::read_to_string(file) {
        Ok(t) => parse_chain(&t, file),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Chain::default(),
        Err(e) => Chain {
            records: Vec::new(),
            problems: vec![Problem {
                file: file.into(),
                line: 0,
                message: e.to_string(),
            }],
        },
    }
}

/// Check every link of a log's text (`file` names it in problems).
pub fn parse_chain(text: &str, file: &Path) -> Chain {
    let mut c = Chain::default();
    let mut prev = GENESIS.to_string();
    let mut expect_seq = 1u64;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let p = |message: String| Problem {
            file: file.into(),
            line: n,
            message,
        };
        let rec: Map<String, Value> = match serde_json::from_str(line) {
            Ok(Value::Object(m)) => m,
            _ => {
                c.problems
                    .push(p("not a JSON object (edited or truncated)".into()));
                continue;
            }
        };
        let stated = rec.get("hash").and_then(Value::as_str).unwrap_or("");
        let actual = record_hash(&rec);
        if stated != actual {
            c.problems.push(p(format!(
                "record {} was changed: its hash is {actual}, it says {stated}",
                rec.get("seq").and_then(Value::as_u64).unwrap_or(0)
            )));
        }
        let seq = rec.get("seq").and_then(Value::as_u64).unwrap_or(0);
        if seq != expect_seq {
            c.problems.push(p(format!(
                "record number {seq} where {expect_seq} was expected (a record was deleted or moved)"
            )));
        }
        let rprev = rec.get("prev").and_then(Value::as_str).unwrap_or("");
        if rprev != prev {
            c.problems.push(p(format!(
                "record {seq} does not follow the previous record (prev {rprev}, previous hash {prev}): deleted or reordered records"
            )));
        }
        prev = stated.to_string();
        expect_seq = seq + 1;
        c.records.push(rec);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("outcome".into(), Value::from("promoted"));
        m.insert("run".into(), Value::from(i));
        m
    }

    #[test]
    fn edits_deletions_and_reordering_break_the_chain() {
        let d = tempfile::tempdir().unwrap();
        let mut prev = GENESIS.to_string();
        for i in 1..=4 {
            prev = append(d.path(), "api", i, &prev, rec(i), None).unwrap();
        }
        let f = file_for(d.path(), "api");
        let good = read_chain(&f);
        assert!(good.problems.is_empty(), "{:?}", good.problems);
        assert_eq!(good.head(), (4, prev.clone()));
        let text = std::fs::read_to_string(&f).unwrap();
        let lines: Vec<&str> = text.lines().collect();

        std::fs::write(&f, text.replace("\"run\":2", "\"run\":9")).unwrap();
        let c = read_chain(&f);
        assert!(
            c.problems
                .iter()
                .any(|p| p.line == 2 && p.message.contains("was changed")),
            "{:?}",
            c.problems
        );

        std::fs::write(&f, format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3])).unwrap();
        assert!(
            read_chain(&f)
                .problems
                .iter()
                .any(|p| p.message.contains("deleted"))
        );

        std::fs::write(
            &f,
            format!("{}\n{}\n{}\n{}\n", lines[0], lines[2], lines[1], lines[3]),
        )
        .unwrap();
        assert!(!read_chain(&f).problems.is_empty());

        // Deleting the last record keeps a valid chain: the store's head catches it.
        std::fs::write(&f, format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2])).unwrap();
        let c = read_chain(&f);
        assert!(c.problems.is_empty());
        assert_ne!(c.head(), (4, prev));
    }
}
