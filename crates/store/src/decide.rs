//! How a decision is recorded, once for every SQL store: inside the
//! store's transaction (which it opens holding its write lock), the image's
//! audit head is read, the next record is appended where the store keeps
//! its audit log, the image's row and, for a promotion, the promoted rows
//! (the digest, the bases, every platform, the promotion history) are
//! written, the head moves, and with an audit key the head set is signed
//! under the next global number. A store supplies the seam ([`Tx`]): its
//! SQL dialect (statements here use `$1`… placeholders and `{now}`), its
//! parameter types and its audit log's home. Also which migrations a
//! store still needs, and the text both stores give for recovered runs.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::audit::{self, AuditKey};
use crate::lifecycle;
use crate::{Decision, StoreError};

/// A statement parameter, in terms every dialect has.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    /// An integer.
    Int(i64),
    /// Text.
    Text(&'a str),
    /// Text or NULL.
    Opt(Option<&'a str>),
    /// An integer or NULL.
    OptInt(Option<i64>),
}

/// A store's open transaction, as recording a decision needs it.
pub(crate) trait Tx {
    /// Runs a statement (`$1`… placeholders, `{now}` for the time now).
    fn exec(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<(), StoreError>;
    /// The first row's integer and text columns, if there is a row.
    fn int_text(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Option<(i64, String)>, StoreError>;
    /// The first row's integer column, if there is a row.
    fn int(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Option<i64>, StoreError>;
    /// Every row, each column text or NULL (the statement casts others).
    fn texts(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError>;
    /// Every audit head: image, seq, hash.
    fn heads(&mut self) -> Result<Vec<(String, u64, String)>, StoreError>;
    /// Appends the image's next audit record where this store keeps the
    /// log; returns the record's hash.
    fn append_audit(
        &mut self,
        image: &str,
        seq: u64,
        prev: &str,
        fields: Map<String, Value>,
        signing: Option<(&AuditKey, u64)>,
    ) -> Result<String, StoreError>;
}

const HEAD: &str = "SELECT seq, hash FROM audit_head WHERE image = $1";
const GLOBAL_SEQ: &str = "SELECT seq FROM audit_global WHERE id = 1";
const UPSERT_IMAGE: &str = "INSERT INTO images (run, name, status, digest, detail, seq)
     VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(MAX(seq), 0) + 1 FROM images))
     ON CONFLICT (run, name) DO UPDATE SET status = excluded.status, digest = excluded.digest,
     detail = excluded.detail, seq = excluded.seq, updated = {now}";
const UPSERT_PROMOTED: &str = "INSERT INTO promoted (name, digest, run, findings, version, inputs)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (name) DO UPDATE SET digest = excluded.digest, run = excluded.run,
     findings = excluded.findings, version = excluded.version, inputs = excluded.inputs";
const CLEAR_BASES: &str = "DELETE FROM promoted_bases WHERE name = $1";
const CLEAR_PLATFORMS: &str = "DELETE FROM promoted_platforms WHERE name = $1";
const INSERT_PLATFORM: &str =
    "INSERT INTO promoted_platforms (name, platform, digest) VALUES ($1, $2, $3)";
const UPSERT_BASE: &str = "INSERT INTO promoted_bases (name, reference, digest) VALUES ($1, $2, $3)
     ON CONFLICT (name, reference) DO UPDATE SET digest = excluded.digest";
const INSERT_PROMOTION: &str =
    "INSERT INTO promotions (name, version, run, digest) VALUES ($1, $2, $3, $4)";
const OPEN_FINDINGS: &str = "SELECT platform, advisory, package, CAST(occurrence AS TEXT), state
     FROM findings WHERE image = $1 AND fixed_at IS NULL";
const INSERT_FINDING: &str = "INSERT INTO findings (image, platform, advisory, package, occurrence,
       severity, state, reason, expires, first_seen, last_seen, fix_available, digest, kev_due)
     VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(occurrence), 0) + 1 FROM findings
       WHERE image = $1 AND platform = $2 AND advisory = $3 AND package = $4),
       $5, $6, $7, $8, $9, $9, $10, $11, $12)";
const UPDATE_FINDING: &str =
    "UPDATE findings SET severity = $5, state = $6, reason = $7, expires = $8,
       last_seen = $9, fix_available = COALESCE(fix_available, $10), digest = $11, kev_due = $13
     WHERE image = $1 AND platform = $2 AND advisory = $3 AND package = $4 AND occurrence = $12";
const FIX_FINDING: &str = "UPDATE findings SET state = 'fixed', fixed_at = $5
     WHERE image = $1 AND platform = $2 AND advisory = $3 AND package = $4 AND occurrence = $6";
const UPSERT_INVENTORY: &str = "INSERT INTO promoted_inventories (name, platform, digest, inventory, fingerprint)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (name, platform) DO UPDATE SET digest = excluded.digest, inventory = excluded.inventory,
       fingerprint = excluded.fingerprint";
const SET_FINGERPRINT: &str = "UPDATE promoted_inventories SET fingerprint = $3
     WHERE name = $1 AND (platform = $2 OR $2 = '*')";
const SET_FINDINGS: &str = "UPDATE promoted SET findings = $2 WHERE name = $1";
const SET_HEAD: &str = "INSERT INTO audit_head (image, seq, hash) VALUES ($1, $2, $3)
     ON CONFLICT (image) DO UPDATE SET seq = excluded.seq, hash = excluded.hash";
const SET_GLOBAL: &str = "INSERT INTO audit_global (id, seq, mac) VALUES (1, $1, $2)
     ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac";

/// The documents a decision stores as JSON: the outcome and the findings.
pub(crate) fn documents(d: &Decision<'_>) -> Result<(String, String), (&'static str, String)> {
    let detail = serde_json::to_string(d.outcome).map_err(|e| ("outcome", e.to_string()))?;
    let findings = serde_json::to_string(&crate::findings_document(d.outcome))
        .map_err(|e| ("findings", e.to_string()))?;
    Ok((detail, findings))
}

/// Records `d` in `tx` (see the module doc); `detail` and `findings` are
/// [`documents`]. The caller commits.
pub(crate) fn record(
    tx: &mut dyn Tx,
    d: &Decision<'_>,
    key: Option<&AuditKey>,
    detail: &str,
    findings: &str,
) -> Result<(), StoreError> {
    use Arg::{Int, Opt, Text};
    let o = d.outcome;
    let name = o.name.as_str();
    let (seq, prev) = tx
        .int_text(HEAD, &[Text(name)])?
        .map_or((0, audit::GENESIS.to_string()), |(s, h)| (s as u64, h));
    let gseq = match key {
        Some(_) => tx.int(GLOBAL_SEQ, &[])?.unwrap_or(0) as u64 + 1,
        None => 0,
    };
    let hash = tx.append_audit(
        name,
        seq + 1,
        &prev,
        audit::record_fields(d.run, d.time, o),
        key.map(|k| (k, gseq)),
    )?;
    let digest = o.digest.as_ref().map(ToString::to_string);
    tx.exec(
        UPSERT_IMAGE,
        &[
            Int(d.run.0),
            Text(name),
            Text(o.outcome.as_str()),
            Opt(digest.as_deref()),
            Text(detail),
        ],
    )?;
    if o.outcome == model::Outcome::Promoted
        && let Some(dg) = &digest
    {
        tx.exec(
            UPSERT_PROMOTED,
            &[
                Text(name),
                Text(dg),
                Int(d.run.0),
                Text(findings),
                Opt(d.version),
                Opt(o.inputs.as_deref()),
            ],
        )?;
        tx.exec(CLEAR_BASES, &[Text(name)])?;
        tx.exec(CLEAR_PLATFORMS, &[Text(name)])?;
        for (p, pd) in crate::platform_rows(o) {
            tx.exec(INSERT_PLATFORM, &[Text(name), Text(&p), Text(&pd)])?;
        }
        for b in &o.bases {
            tx.exec(
                UPSERT_BASE,
                &[
                    Text(name),
                    Text(&b.reference.to_string()),
                    Text(&b.digest.to_string()),
                ],
            )?;
        }
        tx.exec(
            INSERT_PROMOTION,
            &[Text(name), Opt(d.version), Int(d.run.0), Text(dg)],
        )?;
        for p in &o.platforms {
            if let Some(inv) = &p.inventory {
                let pd = p.digest.as_ref().map_or(dg.clone(), ToString::to_string);
                tx.exec(
                    UPSERT_INVENTORY,
                    &[
                        Text(name),
                        Text(&p.platform.to_string()),
                        Text(&pd),
                        Text(inv),
                        Text(&crate::findings_fingerprint(&p.findings)),
                    ],
                )?;
            }
        }
        track(tx, name, d.time, &crate::findings_document(o), dg)?;
    }
    tx.exec(SET_HEAD, &[Text(name), Int((seq + 1) as i64), Text(&hash)])?;
    if let Some(k) = key {
        sign_heads(tx, k, gseq)?;
    }
    Ok(())
}

/// Moves the image's tracked findings to what the promoted image `digest`
/// has (see [`crate::lifecycle`]).
fn track(
    tx: &mut dyn Tx,
    name: &str,
    time: model::Timestamp,
    document: &BTreeMap<String, &[scan::Finding]>,
    digest: &str,
) -> Result<(), StoreError> {
    use Arg::{Int, Opt, OptInt, Text};
    use lifecycle::{Change, OpenRow, TrackState};
    let now = time.0;
    let mut open: BTreeMap<String, Vec<OpenRow>> = BTreeMap::new();
    for r in tx.texts(OPEN_FINDINGS, &[Text(name)])? {
        let col = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
        open.entry(col(0)).or_default().push(OpenRow {
            advisory: col(1),
            package: col(2),
            occurrence: col(3).parse().unwrap_or(1),
            state: TrackState::parse(&col(4)).unwrap_or(TrackState::Open),
        });
    }
    let mut platforms: Vec<String> = document.keys().cloned().collect();
    platforms.extend(open.keys().filter(|p| !document.contains_key(*p)).cloned());
    for platform in platforms {
        let seen = document
            .get(&platform)
            .map(|f| lifecycle::seen(f))
            .unwrap_or_default();
        let rows = open.remove(&platform).unwrap_or_default();
        for c in lifecycle::changes(&rows, &seen) {
            match c {
                Change::Insert { seen: s, state } => tx.exec(
                    INSERT_FINDING,
                    &[
                        Text(name),
                        Text(&platform),
                        Text(&s.advisory),
                        Text(&s.package),
                        Text(&s.severity),
                        Text(state.as_str()),
                        Opt(s.ignored.as_ref().map(|i| i.0.as_str())),
                        Opt(s.ignored.as_ref().and_then(|i| i.1.as_deref())),
                        Int(now),
                        OptInt(s.has_fix.then_some(now)),
                        Text(digest),
                        Opt(s.kev_due.as_deref()),
                    ],
                )?,
                Change::Update {
                    occurrence,
                    seen: s,
                    state,
                } => tx.exec(
                    UPDATE_FINDING,
                    &[
                        Text(name),
                        Text(&platform),
                        Text(&s.advisory),
                        Text(&s.package),
                        Text(&s.severity),
                        Text(state.as_str()),
                        Opt(s.ignored.as_ref().map(|i| i.0.as_str())),
                        Opt(s.ignored.as_ref().and_then(|i| i.1.as_deref())),
                        Int(now),
                        OptInt(s.has_fix.then_some(now)),
                        Text(digest),
                        Int(occurrence),
                        Opt(s.kev_due.as_deref()),
                    ],
                )?,
                Change::Fix {
                    advisory,
                    package,
                    occurrence,
                } => tx.exec(
                    FIX_FINDING,
                    &[
                        Text(name),
                        Text(&platform),
                        Text(&advisory),
                        Text(&package),
                        Int(now),
                        Int(occurrence),
                    ],
                )?,
            }
        }
    }
    Ok(())
}

/// Records a re-match of `image`'s promoted digest `digest`: its findings
/// document becomes `document` (JSON in `text`), and its tracked findings
/// move to it (new ones first seen `time`). The caller commits.
pub(crate) fn record_rematch(
    tx: &mut dyn Tx,
    image: &str,
    digest: &str,
    time: model::Timestamp,
    document: &BTreeMap<String, Vec<scan::Finding>>,
    text: &str,
) -> Result<(), StoreError> {
    tx.exec(SET_FINDINGS, &[Arg::Text(image), Arg::Text(text)])?;
    for (platform, findings) in document {
        tx.exec(
            SET_FINGERPRINT,
            &[
                Arg::Text(image),
                Arg::Text(platform),
                Arg::Text(&crate::findings_fingerprint(findings)),
            ],
        )?;
    }
    let view: BTreeMap<String, &[scan::Finding]> = document
        .iter()
        .map(|(k, v)| (k.clone(), v.as_slice()))
        .collect();
    track(tx, image, time, &view, digest)
}

/// Appends an event record (not a decision: a finding ignored through
/// `serve`, say) to `image`'s audit log and moves its head. The caller
/// commits.
pub(crate) fn record_event(
    tx: &mut dyn Tx,
    image: &str,
    fields: Map<String, Value>,
    key: Option<&AuditKey>,
) -> Result<(), StoreError> {
    let (seq, prev) = tx
        .int_text(HEAD, &[Arg::Text(image)])?
        .map_or((0, audit::GENESIS.to_string()), |(s, h)| (s as u64, h));
    let gseq = match key {
        Some(_) => tx.int(GLOBAL_SEQ, &[])?.unwrap_or(0) as u64 + 1,
        None => 0,
    };
    let hash = tx.append_audit(image, seq + 1, &prev, fields, key.map(|k| (k, gseq)))?;
    tx.exec(
        SET_HEAD,
        &[
            Arg::Text(image),
            Arg::Int((seq + 1) as i64),
            Arg::Text(&hash),
        ],
    )?;
    if let Some(k) = key {
        sign_heads(tx, k, gseq)?;
    }
    Ok(())
}

/// Signs the whole head set under global number `gseq`.
pub(crate) fn sign_heads(tx: &mut dyn Tx, key: &AuditKey, gseq: u64) -> Result<(), StoreError> {
    let heads = tx.heads()?;
    let mac = key.mac(&audit::global_message(gseq, &heads));
    tx.exec(SET_GLOBAL, &[Arg::Int(gseq as i64), Arg::Text(&mac)])
}

/// The migrations a store at schema `found` still needs of `all` (the
/// n-th applied makes the schema n+1); a schema newer than this build
/// knows is refused, naming the store.
pub(crate) fn pending<'a>(
    all: &'a [&'a str],
    found: i64,
    store: &std::path::Path,
) -> Result<&'a [&'a str], StoreError> {
    let known = all.len() as i64;
    if found > known {
        return Err(StoreError::Newer {
            path: store.to_path_buf(),
            found,
            known,
        });
    }
    Ok(&all[found.max(0) as usize..])
}

/// Image states a decision ends in: anything else a recovered run left
/// is marked interrupted.
pub(crate) const FINAL_STATES: &str =
    "'promoted','blocked','failed','unchanged','skipped','dry-run','interrupted'";

/// What recovery says it did.
pub(crate) fn recovered_note(runs: usize, images: u64) -> String {
    format!("{runs} interrupted run(s) marked ({images} image(s) had not finished)")
}
