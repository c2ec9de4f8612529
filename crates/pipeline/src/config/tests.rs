//! The fleet config's tests: every problem at once, paths, policies,
//! hostile configs.

use super::*;
use vulndb::Severity;

#[test]
fn every_problem_at_once_with_lines() {
    let text = r#"
[gate]
fail_on = "severe"

[[image]]
name = "api"
context = "fleet/api"
repository = "127.0.0.1:5000/examples/api:1"
tags = ["latest", "{date}", "{nope}"]
colour = "blue"

[[image]]
context = "x"

[[image]]
name = ".."
context = "x"
repository = "127.0.0.1:5000/examples/dots"
version = "1.0/../../other"

[notify.webhook]
url = "http://127.0.0.1:9/hook"
on = ["promoted", "exploded"]

[engine]
kind = "kaniko"

[bogus]
"#;
    let e = FleetConfig::from_toml(Path::new("/etc/fleet.toml"), text).unwrap_err();
    let msgs: Vec<String> = e.0.iter().map(|x| x.to_string()).collect();
    let all = msgs.join("\n");
    assert!(
        all.contains("/etc/fleet.toml:3:12: `gate.fail_on`"),
        "{all}"
    );
    assert!(
        all.contains(":8:15: repository `127.0.0.1:5000/examples/api:1` must not have a tag"),
        "{all}"
    );
    assert!(all.contains("unknown variable `{nope}`"), "{all}");
    assert!(all.contains(":10:1: unknown key `colour`"), "{all}");
    assert!(all.contains("[[image]] needs a `name`"), "{all}");
    assert!(all.contains("image name `..`"), "{all}");
    assert!(
        all.contains("version `1.0/../../other` cannot be part of a tag"),
        "{all}"
    );
    assert!(all.contains("unknown outcome `exploded`"), "{all}");
    assert!(all.contains("unknown engine `kaniko`"), "{all}");
    assert!(
        all.contains(":28:2: unknown top-level key `bogus`"),
        "{all}"
    );
    assert!(msgs.len() >= 10, "{all}");
}

#[test]
fn defaults_and_relative_paths() {
    let text = r#"
[[image]]
name = "api"
context = "fleet/api"
repository = "127.0.0.1:5000/examples/api"

[[image]]
name = "worker"
context = "/abs/worker"
dockerfile = "Containerfile"
repository = "127.0.0.1:5000/examples/worker"
tags = ["latest", "{version}-r{n}"]
version = "2.1"
rebuild = "on-change"
[image.gate]
fail_on = "critical"
"#;
    // /abs/worker is outside the config's directory: only when allowed
    let e = FleetConfig::from_toml(Path::new("/srv/fleet/safeimage.toml"), text)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            ":9:12: `image.context` /abs/worker is outside the config's directory /srv/fleet"
        ) && e.contains("--allow-outside-root"),
        "{e}"
    );
    let c = FleetConfig::from_toml_with(
        Path::new("/srv/fleet/safeimage.toml"),
        text,
        &LoadOptions {
            allow_outside_root: true,
        },
    )
    .unwrap();
    assert_eq!(c.images[0].context, Path::new("/srv/fleet/fleet/api"));
    assert_eq!(
        c.images[0].dockerfile,
        Path::new("/srv/fleet/fleet/api/Dockerfile")
    );
    assert_eq!(c.images[0].tags, vec!["latest", "{date}"]);
    assert_eq!(c.images[0].gate, Gate::daily());
    assert_eq!(c.images[0].rebuild, Rebuild::Always);
    assert_eq!(
        c.images[1].dockerfile,
        Path::new("/abs/worker/Containerfile")
    );
    assert_eq!(c.images[1].gate.fail_on, Some(Severity::Critical));
    assert!(c.images[1].gate.only_fixed);
    assert_eq!(c.images[1].rebuild, Rebuild::OnChange);
    assert_eq!(c.store.path, Path::new("/srv/fleet/.safeimage/state.db"));
    assert_eq!(c.engine, EngineKind::Buildah);
    assert_eq!(c.scan.max_age_hours, 120);
}

#[test]
fn a_hostile_config_cannot_name_a_program_or_send_host_files_to_a_build() {
    let d = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(d.path()).unwrap();
    std::fs::create_dir(dir.join("app")).unwrap();
    std::os::unix::fs::symlink("/etc", dir.join("linked")).unwrap();
    let text = r#"
[engine]
program = "/tmp/evil"

[[image]]
name = "root"
context = "/"
repository = "r.example/a"

[[image]]
name = "up"
context = "app/../.."
repository = "r.example/b"

[[image]]
name = "link"
context = "linked"
repository = "r.example/c"

[[image]]
name = "df"
context = "app"
dockerfile = "../../../etc/passwd"
repository = "r.example/d"

[[image]]
name = "fine"
context = "app"
repository = "r.example/e"
"#;
    let path = dir.join("safeimage.toml");
    let e = FleetConfig::from_toml(&path, text).unwrap_err().to_string();
    assert!(
        e.contains(":3:12: `engine.program` is not read from the config file"),
        "{e}"
    );
    for (line, what) in [
        (7, "context` /"),
        (12, "context`"),
        (17, "context`"),
        (23, "dockerfile`"),
    ] {
        assert!(
            e.contains(&format!(":{line}:")) && e.contains(&format!("`image.{what}")),
            "line {line}: {e}"
        );
    }
    assert_eq!(
        e.matches("is outside the config's directory").count(),
        4,
        "{e}"
    );
    assert!(!e.contains("r.example/e"), "{e}");
}

#[test]
fn a_committed_link_cannot_redirect_where_the_run_writes() {
    let d = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(d.path()).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.join("app")).unwrap();
    // the repository ships `.safeimage` as a link out of it
    std::os::unix::fs::symlink(elsewhere.path(), dir.join(".safeimage")).unwrap();
    let text = "[[image]]\nname = \"a\"\ncontext = \"app\"\nrepository = \"r.example/a\"\n";
    let e = FleetConfig::from_toml(&dir.join("safeimage.toml"), text)
        .unwrap_err()
        .to_string();
    for what in ["store.path", "store.audit_dir", "report.dir"] {
        assert!(
            e.contains(&format!("`{what}` {}/.safeimage", dir.display())),
            "{what}: {e}"
        );
    }
    // a path out of the directory, given in the file, is named where it is
    let text = format!("{text}\n[report]\ndir = \"/etc/cron.d\"\n");
    std::fs::remove_file(dir.join(".safeimage")).unwrap();
    let e = FleetConfig::from_toml(&dir.join("safeimage.toml"), &text)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(":7:8: `report.dir` /etc/cron.d is outside"),
        "{e}"
    );
    assert_eq!(e.matches("is outside").count(), 1, "{e}");
}

#[test]
fn an_image_policy_overlays_the_fleet_s_and_is_checked_like_it() {
    let text = r#"
[policy.base_images]
preferred = ["debian"]
require_digest = true

[[image]]
name = "api"
context = "api"
repository = "127.0.0.1:5000/examples/api"

[[image]]
name = "legacy"
context = "legacy"
repository = "127.0.0.1:5000/examples/legacy"
[image.policy.base_images]
permitted = ["node"]
require_digest = false
"#;
    let c = FleetConfig::from_toml(Path::new("/srv/safeimage.toml"), text).unwrap();
    assert!(c.images[0].policy.is_none(), "the fleet's");
    let p = c.images[1].policy.as_ref().unwrap();
    assert!(!p.require_digest);
    assert_eq!(p.tiers.len(), 1, "the fleet's tiers stay");
    assert_eq!(p.image_tiers.len(), 1);
    let bad = "[[image]]\nname = \"x\"\ncontext = \"x\"\nrepository = \"r.example/x\"\n[image.policy.base_images]\ndefault_tier = \"banned\"\ncolour = 1\n";
    let e = FleetConfig::from_toml(Path::new("/srv/f.toml"), bad)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "/srv/f.toml:6:17: `image.policy.base_images.default_tier`: unknown tier `banned`"
        ),
        "{e}"
    );
    assert!(
        e.contains("/srv/f.toml:7:1: unknown key `image.policy.base_images.colour`"),
        "{e}"
    );
}

#[test]
fn no_images_is_an_error_for_the_run_only() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("safeimage.toml");
    std::fs::write(&p, "[lint]\nfailure_threshold = \"error\"\n").unwrap();
    assert!(FleetConfig::load(&p).is_ok());
    let e = FleetConfig::load_fleet(&p).unwrap_err().to_string();
    assert!(e.contains("no [[image]] declared"), "{e}");
}
