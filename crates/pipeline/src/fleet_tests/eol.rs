//! End of life in the run: what the DB says of the image's releases is in
//! its outcome (so the run report shows it), and `[gate] block_on_eol_days`
//! holds back an image whose release has ended or ends within the days,
//! naming it, while `latest` stays where it was.

use super::*;

fn status(release: &str, days_left: i64) -> vulndb::feed::eol::EolStatus {
    vulndb::feed::eol::EolStatus {
        release: release.into(),
        evidence: Some("deb python3.9-minimal 3.9.2-1".into()),
        end: Some("2025-10-31".into()),
        days_left: Some(days_left),
        eol: days_left < 0,
        source: "endoflife.date".into(),
    }
}

#[test]
fn the_outcome_carries_the_eol_of_the_image_s_releases_without_blocking_by_default() {
    let mut w = world("", "");
    w.advisories.eol = vec![status("python 3.9", -400)];
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Promoted, "{:?}", a.reasons);
    assert_eq!(a.eol.len(), 1);
    assert_eq!(a.eol[0].release, "python 3.9");
    // the run report says it, in the table and the HTML page
    let text = "python 3.9: EOL since 2025-10-31 [deb python3.9-minimal 3.9.2-1]";
    let table = report::runs::table(&r);
    assert!(table.contains(&format!("end of life: {text}")), "{table}");
    let html = report::runs::html(&r);
    assert!(
        html.contains(&format!("<li class=\"overdue\">{text}")),
        "{html}"
    );
}

#[test]
fn block_on_eol_days_holds_back_an_image_whose_runtime_ended_or_ends_soon() {
    let mut w = world("[image.gate]\nblock_on_eol_days = 30\n", "");
    w.advisories.eol = vec![status("debian 12 (bookworm)", 200)];
    assert_eq!(app(&w.run()).outcome, Outcome::Promoted);
    let promoted = app(&w.run()).digest.clone();
    // 20 days before its end: inside the 30 days
    w.advisories.eol = vec![
        status("debian 12 (bookworm)", 200),
        status("python 3.9", 20),
    ];
    w.base('b');
    let r = w.run();
    let a = app(&r);
    assert_eq!(a.outcome, Outcome::Blocked, "{:?}", a.reasons);
    assert_eq!(a.reasons.len(), 1, "{:?}", a.reasons);
    assert!(
        a.reasons[0].contains("python 3.9: EOL in 20 days (2025-10-31)")
            && a.reasons[0].contains("block_on_eol_days = 30"),
        "{:?}",
        a.reasons
    );
    assert_eq!(
        w.tag("latest"),
        promoted,
        "latest stays on the last good digest"
    );
}

#[test]
fn a_negative_block_on_eol_days_is_a_config_error_naming_the_key() {
    let text = "[[image]]\nname = \"a\"\ndockerfile = \"Dockerfile\"\nrepository = \"localhost:5000/a\"\n[image.gate]\nblock_on_eol_days = -1\n";
    let e = crate::config::FleetConfig::from_toml(std::path::Path::new("/etc/fleet.toml"), text)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("block_on_eol_days") && e.contains("negative"),
        "{e}"
    );
}

#[test]
fn the_current_release_policy_reads_the_db_s_dates_and_holds_back_without_them() {
    let policy =
        "[image.policy.base_images]\npermitted = [\"r.example/**\"]\ncurrent_release = true\n";
    let mut w = world(policy, "");
    // no end-of-life data: the check cannot be made, the image is held back
    let a = app(&w.run()).clone();
    assert_eq!(a.outcome, Outcome::Blocked, "{:?}", a.reasons);
    assert!(
        a.reasons.iter().any(|r| r.contains("no end-of-life data")),
        "{:?}",
        a.reasons
    );
    // with it: the base (debian:12) is a release that ended
    w.advisories.eol_cycles = vec![vulndb::feed::eol::Cycle {
        product: "debian".into(),
        cycle: "12".into(),
        codename: Some("bookworm".into()),
        release: Some("2023-06-10".into()),
        eol: Some("2024-01-01".into()),
        extended: None,
        lts: false,
        ended: false,
        source: "test".into(),
    }];
    let a = app(&w.run()).clone();
    assert_eq!(a.outcome, Outcome::Promoted, "{:?}", a.reasons);
    let f = a
        .lint
        .iter()
        .find(|f| f.code == "base-release-eol")
        .unwrap_or_else(|| panic!("{:?}", a.lint));
    assert!(
        f.message
            .contains("debian 12, which is end of life since 2024-01-01"),
        "{}",
        f.message
    );
}
