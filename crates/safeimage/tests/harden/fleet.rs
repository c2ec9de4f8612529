//! The daily run with `[image.harden]`: the hardened image and its `-debug`
//! sibling promoted, a failing smoke check blocking it.

use super::*;

/// A fleet of one nginx image with `[image.harden]`, built on the minbase
/// pushed to a loopback registry; the fixture advisories do not gate it.
struct HardenFleet {
    dir: tempfile::TempDir,
    reg: Registry,
}

impl HardenFleet {
    fn new(port: u16, harden: &str) -> HardenFleet {
        let dir = tempfile::tempdir().unwrap();
        let reg = registry();
        push_minbase(&reg, "base/debian:bookworm");
        import_fixture_db(dir.path());
        let ctx = dir.path().join("web");
        std::fs::create_dir_all(&ctx).unwrap();
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid /tmp/nginx.pid;\nerror_log stderr;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path /tmp/body;\n  proxy_temp_path /tmp/proxy;\n\
             fastcgi_temp_path /tmp/fastcgi;\n  uwsgi_temp_path /tmp/uwsgi;\n  scgi_temp_path /tmp/scgi;\n\
             server {{ listen 127.0.0.1:{port}; root /usr/share/nginx/html; }}\n}}\n"
        );
        std::fs::write(ctx.join("nginx.conf"), conf).unwrap();
        std::fs::write(
            ctx.join("Dockerfile"),
            format!(
                "FROM {}/base/debian:bookworm\n\
                 RUN apt-get update && apt-get install -y --no-install-recommends nginx-light && rm -rf /var/lib/apt/lists/*\n\
                 COPY nginx.conf /etc/nginx/nginx.conf\n\
                 RUN mkdir -p /usr/share/nginx/html && echo 'hello from the fleet' > /usr/share/nginx/html/index.html\n\
                 USER 10001\nHEALTHCHECK NONE\nCMD [\"nginx\"]\n",
                reg.addr
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("fleet.toml"),
            format!(
                "[[image]]\nname = \"web\"\ncontext = \"web\"\nrepository = \"{}/fleet/web\"\ntags = [\"latest\", \"stable\"]\n\
                 [image.gate]\nfail_on = \"none\"\nfail_on_new = \"none\"\nfail_on_increase = false\n\
                 [image.harden]\nentrypoint = \"/usr/sbin/nginx\"\n{harden}\n\n\
                 [scan]\ndb = \"advisories.db\"\nmax_age_hours = 0\n\n\
                 [lint]\nshellcheck = false\nfailure_threshold = \"error\"\n\n[report]\ndir = \"reports\"\n",
                reg.addr
            ),
        )
        .unwrap();
        HardenFleet { dir, reg }
    }

    fn run(&self) -> (Output, Value) {
        let (out, text) = run_fleet(self.dir.path());
        (out, serde_json::from_str(&text).unwrap())
    }

    /// The digest a tag points at, or None.
    fn head(&self, tag: &str) -> Option<String> {
        remote_digest(&format!("{}/fleet/web:{tag}", self.reg.addr))
    }

    fn config_of(&self, tag: &str) -> Value {
        serde_json::from_str(&sh(Command::new("skopeo")
            .args(["inspect", "--tls-verify=false", "--config"])
            .arg(format!("docker://{}/fleet/web:{tag}", self.reg.addr))))
        .unwrap()
    }
}

#[test]
fn a_daily_run_promotes_the_hardened_image_and_its_debug_sibling() {
    let port = free_port();
    let busybox = test_tool("busybox");
    let f = HardenFleet::new(
        port,
        &format!(
            "checks = [\"cmd:-t\", \"http:{port}/\"]\ndebug_variant = true\nbusybox = \"{}\"",
            busybox.display()
        ),
    );
    let (out, r) = f.run();
    assert_eq!(out.status.code(), Some(0));
    let web = &r["images"][0];
    assert_eq!(web["outcome"], "promoted", "{}", web["reasons"]);
    let digest = web["digest"].as_str().unwrap();
    let debug = web["debug_digest"].as_str().unwrap();
    assert_eq!(f.head("latest").as_deref(), Some(digest));
    assert_eq!(f.head("stable").as_deref(), Some(digest));
    assert_eq!(f.head("latest-debug").as_deref(), Some(debug));
    assert_eq!(f.head("stable-debug").as_deref(), Some(debug));
    let tags: Vec<&str> = web["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(tags, ["latest", "stable", "latest-debug", "stable-debug"]);
    // What was pushed and tagged is the hardened image: one layer, non-root.
    let cfg = f.config_of("latest");
    assert_eq!(cfg["config"]["User"], "65532:65532");
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
    assert_eq!(
        f.config_of("latest-debug")["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // The report shows the sizes; the scan saw the hardened packages only.
    let h = &web["platforms"][0]["hardened"];
    assert!(
        h["after_compressed"].as_u64().unwrap() * 12 <= h["before_compressed"].as_u64().unwrap(),
        "{h}"
    );
    assert_eq!(
        h["checks"],
        serde_json::json!(["cmd:-t", format!("http:{port}/")])
    );
    let pkgs: Vec<String> = web["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["package"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !pkgs
            .iter()
            .any(|p| p == "apt" || p == "bash" || p == "perl-base"),
        "{pkgs:?}"
    );
    let html = std::fs::read_to_string(f.dir.path().join("reports/run-1.html")).unwrap();
    let at = html
        .find("Hardened (linux")
        .expect("no hardening line in the HTML report");
    let line = &html[at..at + html[at..].find("</p>").unwrap()];
    assert!(
        line.contains("MB compressed") && line.contains("-debug"),
        "{line}"
    );
}

#[test]
fn a_failing_smoke_check_blocks_the_hardened_image_and_moves_no_tag() {
    let port = free_port();
    let wrong = free_port();
    let f = HardenFleet::new(
        port,
        &format!("checks = [\"http:{wrong}/\"]\ncheck_timeout = 5"),
    );
    let (out, r) = f.run();
    assert_eq!(out.status.code(), Some(1));
    let web = &r["images"][0];
    assert_eq!(web["outcome"], "blocked");
    let why = web["reasons"].to_string();
    assert!(
        why.contains("failed its smoke check") && why.contains(&format!("127.0.0.1:{wrong}")),
        "{why}"
    );
    assert_eq!(f.head("latest"), None);
    assert_eq!(f.head("latest-debug"), None);
}
