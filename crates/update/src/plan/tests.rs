use std::sync::atomic::{AtomicUsize, Ordering};

use store::MemoryStore;

use super::*;

fn dg(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .unwrap()
}

fn amd64() -> Platform {
    "linux/amd64".parse().unwrap()
}
fn arm64() -> Platform {
    "linux/arm64".parse().unwrap()
}

/// Registry contents by tag and by digest, with a count of questions.
#[derive(Default)]
struct Fake {
    tags: Mutex<BTreeMap<String, Vec<String>>>,
    by_tag: Mutex<BTreeMap<String, Manifests>>,
    by_digest: Mutex<BTreeMap<String, Manifests>>,
    asked: AtomicUsize,
}

impl Fake {
    fn publish(&self, repo: &str, tag: &str, index: char, platforms: &[(Platform, char)]) {
        let m = Manifests {
            digest: dg(index),
            platforms: platforms
                .iter()
                .map(|(p, d)| (Some(p.clone()), dg(*d)))
                .collect(),
        };
        let full = format!("r.example/{repo}");
        let mut tags = self.tags.lock().unwrap();
        let t = tags.entry(full.clone()).or_default();
        if !t.iter().any(|x| x == tag) {
            t.push(tag.to_string());
        }
        self.by_tag
            .lock()
            .unwrap()
            .insert(format!("{full}:{tag}"), m.clone());
        self.by_digest
            .lock()
            .unwrap()
            .insert(format!("{full}@{}", dg(index)), m);
    }
}

impl Lookup for Fake {
    fn tags(&self, repo: &ImageRef) -> Result<Vec<String>, LookupError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let key = format!("{}/{}", repo.registry(), repo.repository());
        Ok(self
            .tags
            .lock()
            .unwrap()
            .get(&key)
            .cloned()
            .unwrap_or_default())
    }
    fn manifests(&self, r: &ImageRef) -> Result<Option<Manifests>, LookupError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let base = format!("{}/{}", r.registry(), r.repository());
        Ok(match r.digest() {
            Some(d) => self
                .by_digest
                .lock()
                .unwrap()
                .get(&format!("{base}@{d}"))
                .cloned(),
            None => self
                .by_tag
                .lock()
                .unwrap()
                .get(&format!("{base}:{}", r.tag().unwrap_or("latest")))
                .cloned(),
        })
    }
}

struct Fleet {
    dir: tempfile::TempDir,
    images: Vec<FleetImage>,
}

fn fleet(files: &[(&str, &str)], platforms: &[Platform]) -> Fleet {
    let dir = tempfile::tempdir().unwrap();
    let images = files
        .iter()
        .map(|(name, text)| {
            let p = dir.path().join(format!("{name}.Dockerfile"));
            std::fs::write(&p, text).unwrap();
            FleetImage {
                name: name.to_string(),
                dockerfile: p,
                build_args: HashMap::new(),
                platforms: platforms.to_vec(),
                policy: None,
            }
        })
        .collect();
    Fleet { dir, images }
}

const DAY: i64 = 86_400;

fn run(f: &Fleet, reg: &Fake, store: &mut MemoryStore, s: &UpdateSettings, now: i64) -> Plan {
    plan(&f.images, reg, store, s, now).unwrap()
}

#[test]
fn a_new_digest_of_the_pinned_tag_is_one_proposal_with_only_the_reference_rewritten() {
    let reg = Fake::default();
    reg.publish("base", "1.2", 'a', &[(amd64(), '1')]);
    let text = format!(
        "# keep me\nFROM r.example/base:1.2@{} AS b\nRUN true\n",
        dg('a')
    );
    let f = fleet(&[("app", &text)], &[amd64()]);
    let mut store = MemoryStore::default();
    let s = UpdateSettings::default();
    assert!(
        run(&f, &reg, &mut store, &s, 0).proposals.is_empty(),
        "nothing new yet"
    );
    reg.publish("base", "1.2", 'b', &[(amd64(), '2')]);
    let p = run(&f, &reg, &mut store, &s, 10);
    assert_eq!(p.proposals.len(), 1, "{p:#?}");
    let u = &p.proposals[0].updates[0];
    assert_eq!(u.change, Change::Digest);
    assert_eq!(u.to, format!("r.example/base:1.2@{}", dg('b')));
    assert_eq!(
        u.platforms[0].from.as_deref(),
        Some(dg('1').to_string().as_str())
    );
    assert_eq!(p.proposals[0].branch, "safeimage/update/app");
    assert_eq!(
        p.proposals[0].files[0].1,
        text.replace(&dg('a').to_string(), &dg('b').to_string())
    );
    drop(f.dir);
}

#[test]
fn an_index_that_moved_only_for_another_platform_is_no_update() {
    let reg = Fake::default();
    reg.publish("base", "1.2", 'a', &[(amd64(), '1')]);
    let text = format!("FROM r.example/base:1.2@{}\n", dg('a'));
    let f = fleet(&[("app", &text)], &[amd64()]);
    // arm64 added: the index digest moves, amd64's manifest does not
    reg.publish("base", "1.2", 'b', &[(amd64(), '1'), (arm64(), '9')]);
    let p = run(
        &f,
        &reg,
        &mut MemoryStore::default(),
        &UpdateSettings::default(),
        0,
    );
    assert!(p.proposals.is_empty() && p.waiting.is_empty(), "{p:#?}");
}

#[test]
fn a_newer_minor_tag_is_proposed_and_a_major_only_when_allowed() {
    let reg = Fake::default();
    reg.publish("py", "3.12-slim", 'a', &[(amd64(), '1')]);
    reg.publish("py", "3.13-slim", 'b', &[(amd64(), '2')]);
    reg.publish("py", "4.0-slim", 'c', &[(amd64(), '3')]);
    reg.publish("py", "3.14", 'd', &[(amd64(), '4')]);
    let f = fleet(&[("app", "FROM r.example/py:3.12-slim\n")], &[amd64()]);
    let mut store = MemoryStore::default();
    let p = run(&f, &reg, &mut store, &UpdateSettings::default(), 0);
    let u = &p.proposals[0].updates[0];
    assert_eq!(
        (u.change.clone(), u.to.clone()),
        (Change::Tag, format!("r.example/py:3.13-slim@{}", dg('b')))
    );
    let major = UpdateSettings {
        allow_major: true,
        ..Default::default()
    };
    let p = run(&f, &reg, &mut store, &major, 0);
    assert_eq!(
        p.proposals[0].updates[0].to,
        format!("r.example/py:4.0-slim@{}", dg('c'))
    );
}

#[test]
fn an_unpinned_reference_is_pinned_to_the_index_digest() {
    let reg = Fake::default();
    reg.publish("base", "latest", 'a', &[(amd64(), '1'), (arm64(), '2')]);
    let f = fleet(&[("app", "FROM r.example/base\n")], &[amd64(), arm64()]);
    let p = run(
        &f,
        &reg,
        &mut MemoryStore::default(),
        &UpdateSettings::default(),
        0,
    );
    let u = &p.proposals[0].updates[0];
    assert_eq!(u.change, Change::Pin);
    assert_eq!(
        p.proposals[0].files[0].1,
        format!("FROM r.example/base:latest@{}\n", dg('a'))
    );
}

#[test]
fn staggered_platform_pushes_inside_the_window_make_one_proposal_of_the_final_index() {
    let reg = Fake::default();
    reg.publish("base", "1", 'a', &[(amd64(), '1'), (arm64(), '2')]);
    let text = format!("FROM r.example/base:1@{}\n", dg('a'));
    let f = fleet(&[("app", &text)], &[amd64(), arm64()]);
    let s = UpdateSettings {
        min_age_secs: 3 * DAY,
        ..Default::default()
    };
    let mut store = MemoryStore::default();
    assert!(run(&f, &reg, &mut store, &s, 0).proposals.is_empty());
    // day 1: amd64 rebuilt; day 2: arm64 too — two index digests
    reg.publish("base", "1", 'b', &[(amd64(), '3'), (arm64(), '2')]);
    let p = run(&f, &reg, &mut store, &s, DAY);
    assert!(p.proposals.is_empty() && p.waiting.len() == 1, "{p:#?}");
    reg.publish("base", "1", 'c', &[(amd64(), '3'), (arm64(), '4')]);
    for day in [2, 3, 4] {
        let p = run(&f, &reg, &mut store, &s, day * DAY);
        assert!(
            p.proposals.is_empty(),
            "day {day}: arm64 is {} days old",
            day - 2
        );
        assert_eq!(p.waiting[0].ready_at, 5 * DAY);
    }
    let p = run(&f, &reg, &mut store, &s, 5 * DAY);
    assert_eq!(p.proposals.len(), 1);
    assert_eq!(
        p.proposals[0].updates[0].to,
        format!("r.example/base:1@{}", dg('c'))
    );
}

#[test]
fn a_tag_that_disappeared_is_a_note_and_no_proposal() {
    let reg = Fake::default();
    let f = fleet(&[("app", "FROM r.example/gone:1\n")], &[amd64()]);
    let p = run(
        &f,
        &reg,
        &mut MemoryStore::default(),
        &UpdateSettings::default(),
        0,
    );
    assert!(p.proposals.is_empty());
    assert!(p.notes[0].contains("no longer exists"), "{:?}", p.notes);
    assert!(p.notes[0].contains(".Dockerfile:1"), "{:?}", p.notes);
}

#[test]
fn a_base_shared_by_many_images_is_asked_once_and_grouped_per_fleet() {
    let reg = Fake::default();
    reg.publish("base", "1", 'a', &[(amd64(), '1')]);
    let files: Vec<(String, String)> = (0..20)
        .map(|i| {
            (
                format!("img{i}"),
                "FROM r.example/base:1\nCOPY --from=r.example/base:1 /x /y\n".to_string(),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let f = fleet(&refs, &[amd64()]);
    let s = UpdateSettings {
        group: Group::Fleet,
        ..Default::default()
    };
    let p = run(&f, &reg, &mut MemoryStore::default(), &s, 0);
    assert_eq!(
        reg.asked.load(Ordering::SeqCst),
        2,
        "one tag list, one manifest"
    );
    assert_eq!(p.proposals.len(), 1);
    assert_eq!(p.proposals[0].images.len(), 20);
    assert_eq!(p.proposals[0].files.len(), 20);
    assert!(
        p.proposals[0].files[0]
            .1
            .contains(&format!("COPY --from=r.example/base:1@{}", dg('a')))
    );
}

#[test]
fn a_file_the_rewrite_cannot_reproduce_gets_a_note_and_no_proposal() {
    let reg = Fake::default();
    reg.publish("base", "1", 'a', &[(amd64(), '1')]);
    let f = fleet(
        &[("app", "ARG V=1\nFROM r.example/base:${V}\n")],
        &[amd64()],
    );
    let p = run(
        &f,
        &reg,
        &mut MemoryStore::default(),
        &UpdateSettings::default(),
        0,
    );
    assert!(p.proposals.is_empty(), "{p:#?}");
    let note = p
        .notes
        .iter()
        .find(|n| n.contains("cannot be rewritten"))
        .unwrap();
    assert!(
        note.contains(":2:") && note.contains("no proposal"),
        "{note}"
    );
}
