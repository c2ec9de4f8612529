//! Checks on RUN scripts: sudo, package managers (apt, apk, yum/dnf/zypper,
//! pip, npm, gem, go), pipes without pipefail, `curl | sh`, `cd`, and tools
//! that make no sense while building.

use parse_dockerfile::Instruction;

use super::Ctx;
use crate::model::RunInfo;
use crate::shell::{SimpleCommand, Word, basename};

const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox"];
const INTERPRETERS: &[&str] = &[
    "python", "python3", "python2", "perl", "ruby", "node", "php",
];
const POINTLESS: &[&str] = &[
    "ssh",
    "vim",
    "vi",
    "nano",
    "shutdown",
    "reboot",
    "service",
    "ps",
    "free",
    "top",
    "kill",
    "mount",
    "ifconfig",
    "systemctl",
];

pub(super) fn check(ctx: &mut Ctx<'_, '_>) {
    let p = ctx.p;
    let final_chain = p.final_chain();
    let mut first_curl: Option<usize> = None;
    let mut first_wget: Option<usize> = None;
    let mut both_reported = false;
    let mut stage = usize::MAX;
    for run in &p.runs {
        if run.stage != stage {
            // Hadolint DL4001 looks at each stage on its own
            stage = run.stage;
            first_curl = None;
            first_wget = None;
            both_reported = false;
        }
        // an ONBUILD RUN runs in the child image, whichever stage declares it
        let in_final = final_chain.contains(&run.stage) || run.onbuild;
        let cmds: Vec<&SimpleCommand> =
            run.scripts.iter().flat_map(|s| s.commands.iter()).collect();
        for c in &cmds {
            command(ctx, run, c, &cmds, in_final);
            match c.program() {
                Some("curl") => {
                    first_curl.get_or_insert(c.span().start);
                }
                Some("wget") => {
                    first_wget.get_or_insert(c.span().start);
                }
                _ => {}
            }
            if !both_reported && let (Some(a), Some(b)) = (first_curl, first_wget) {
                both_reported = true;
                let (other, tool) = if a < b { (a, "curl") } else { (b, "wget") };
                ctx.hit("wget-and-curl", c.span(), format!("both curl and wget are used ({tool} first on line {}); pick one to keep the image smaller", ctx.src.line_col(other).0));
            }
        }
        pipes(ctx, run);
        apt_whole_run(ctx, run, &cmds, in_final);
    }
}

fn has_mount_target(run: &RunInfo, prefix: &str) -> bool {
    run.mounts.iter().any(|m| {
        m.iter()
            .any(|(k, v)| k == "type" && (v == "cache" || v == "tmpfs"))
            && m.iter().any(|(k, v)| {
                (k == "target" || k == "dst" || k == "destination") && v.starts_with(prefix)
            })
    })
}

fn words_span(ws: &[&Word]) -> std::ops::Range<usize> {
    match (ws.first(), ws.last()) {
        (Some(a), Some(b)) => a.start..b.end,
        _ => 0..0,
    }
}

fn list(ws: &[&Word]) -> String {
    let names: Vec<&str> = ws.iter().take(5).map(|w| w.text.as_str()).collect();
    let more = if ws.len() > 5 {
        format!(" and {} more", ws.len() - 5)
    } else {
        String::new()
    };
    format!("{}{more}", names.join(", "))
}

/// Splits args into (flags, positionals), skipping values of options that take one.
fn positionals<'w>(args: &'w [Word], takes_value: &[&str]) -> (Vec<&'w Word>, Vec<&'w Word>) {
    let mut flags = Vec::new();
    let mut pos = Vec::new();
    let mut it = args.iter();
    while let Some(w) = it.next() {
        if w.text.starts_with('-') && w.text.len() > 1 {
            flags.push(w);
            if takes_value.contains(&w.text.as_str()) {
                it.next();
            }
        } else if w.text.starts_with('>')
            || w.text.starts_with('<')
            || w.text.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.text.contains('>')
        {
            // redirection: skip it (and its target when separate)
            if w.text == ">" || w.text == ">>" || w.text == "<" {
                it.next();
            }
        } else {
            pos.push(w);
        }
    }
    (flags, pos)
}

fn has_short(flags: &[&Word], letter: char, long: &[&str]) -> bool {
    flags.iter().any(|f| {
        long.contains(&f.text.as_str())
            || (f.text.starts_with('-')
                && !f.text.starts_with("--")
                && !f.text.contains('=')
                && f.text[1..].contains(letter))
    })
}

fn command(
    ctx: &mut Ctx<'_, '_>,
    run: &RunInfo,
    c: &SimpleCommand,
    all: &[&SimpleCommand],
    in_final: bool,
) {
    // sudo as the program, after assignments
    if let Some(first) = c.words.iter().find(|w| !w.text.contains('='))
        && basename(&first.text) == "sudo"
    {
        ctx.hit("sudo", first.start..first.end, "sudo in RUN: builds already run as root (or as the USER set); use USER to switch, or gosu/su-exec at runtime");
    }
    let Some(prog) = c.program() else { return };
    let args = c.args();
    match prog {
        "apt-get" | "apt" => apt(ctx, c, prog, args),
        "apk" => apk(ctx, run, args, all),
        "zypper" if args.iter().any(|a| a.text == "dist-upgrade" || a.text == "dup") => ctx.hit("zypper-dist-upgrade", c.span(), "zypper dist-upgrade moves the image to whatever the repositories hold today; rebuild on a newer base image instead"),
        "yum" | "dnf" | "microdnf" | "tdnf" | "zypper" => rpm(ctx, run, prog, c, args, all, in_final),
        "pip" | "pip2" | "pip3" | "pipx" => pip(ctx, run, c, args, in_final),
        p if p.starts_with("pip3.") || p.starts_with("pip2.") => pip(ctx, run, c, args, in_final),
        p if p.starts_with("python") && args.len() >= 2 && args[0].text == "-m" && args[1].text == "pip" => pip(ctx, run, c, &args[2..], in_final),
        "npm" => npm(ctx, args),
        "yarn" => yarn(ctx, run, c, args, all),
        "useradd" | "adduser" => useradd(ctx, c, args),
        "ln" => ln_sh(ctx, c, args),
        "wget" => wget_progress(ctx, c, args),
        "gem" => gem(ctx, args),
        "go" => go_install(ctx, args),
        "cd" => ctx.hit("run-cd", c.span(), "cd inside RUN only lasts for this RUN; use WORKDIR to change directory for later instructions"),
        p if POINTLESS.contains(&p) => ctx.hit("pointless-command", c.span(), format!("`{p}` does nothing useful while building an image (no init system, no interactive session)")),
        _ => {}
    }
}

const APT_VALUE_OPTS: &[&str] = &["-o", "-t", "--target-release", "-c", "--config-file"];

fn apt(ctx: &mut Ctx<'_, '_>, c: &SimpleCommand, prog: &str, args: &[Word]) {
    let (flags, pos) = positionals(args, APT_VALUE_OPTS);
    let Some(sub) = pos.first() else { return };
    if prog == "apt" {
        ctx.hit(
            "apt-use-apt-get",
            c.span(),
            "`apt` has no stable command-line interface for scripts; use apt-get or apt-cache",
        );
    }
    if sub.text != "install" {
        return;
    }
    if !has_short(&flags, 'y', &["--yes", "--assume-yes", "--force-yes"]) && quiet_level(&flags) < 2
    {
        ctx.hit(
            "apt-missing-yes",
            c.span(),
            "apt-get install without -y waits for a confirmation no one can give in a build",
        );
    }
    let no_rec = flags.iter().any(|f| f.text == "--no-install-recommends")
        || args.windows(2).any(|w| {
            w[0].text == "-o"
                && w[1]
                    .text
                    .to_ascii_lowercase()
                    .starts_with("apt::install-recommends=")
                && !w[1].text.ends_with("true")
        });
    if !no_rec {
        ctx.hit("apt-no-install-recommends", c.span(), "apt-get install without --no-install-recommends also installs recommended packages you did not ask for");
    }
    let unpinned: Vec<&Word> = pos[1..]
        .iter()
        .copied()
        .filter(|w| !w.text.contains(['=', '$', '/']) && !w.text.ends_with(".deb"))
        .collect();
    if !unpinned.is_empty() {
        ctx.hit("apt-unpinned", words_span(&unpinned), format!("apt-get install without versions: {} (use name=version, or accept this rule's trade-off and ignore it)", list(&unpinned)));
    }
}

fn apt_whole_run(ctx: &mut Ctx<'_, '_>, run: &RunInfo, cmds: &[&SimpleCommand], in_final: bool) {
    let apt_sub = |c: &&SimpleCommand, subs: &[&str]| {
        matches!(c.program(), Some("apt-get" | "apt" | "aptitude"))
            && positionals(c.args(), APT_VALUE_OPTS)
                .1
                .first()
                .is_some_and(|s| subs.contains(&s.text.as_str()))
    };
    let updates: Vec<&&SimpleCommand> = cmds.iter().filter(|c| apt_sub(c, &["update"])).collect();
    let installs = cmds.iter().any(|c| {
        apt_sub(
            c,
            &[
                "install",
                "upgrade",
                "dist-upgrade",
                "full-upgrade",
                "build-dep",
            ],
        )
    });
    if let Some(u) = updates.first()
        && !installs
    {
        ctx.hit("apt-update-alone", u.span(), "apt-get update in a RUN that installs nothing: the layer is cached, so a later install can use stale package lists; update and install in one RUN");
    }
    if in_final && (installs || !updates.is_empty()) {
        let cleaned = cmds.iter().any(|c| {
            c.program() == Some("rm")
                && c.args()
                    .iter()
                    .any(|a| a.text.starts_with("/var/lib/apt/lists"))
        }) || (has_mount_target(run, "/var/lib/apt")
            && (!removes_docker_clean(ctx, run) || has_mount_target(run, "/var/cache/apt")));
        if !cleaned {
            ctx.hit("apt-lists-not-cleaned", run.keyword_span.clone(), "apt package lists stay in this layer; end the RUN with `rm -rf /var/lib/apt/lists/*` (or use a cache mount)");
        }
    }
}

/// Whether a RUN before `run` in its stage removes Debian's docker-clean
/// apt hook, so that downloaded .deb files stay in /var/cache/apt as well.
fn removes_docker_clean(ctx: &Ctx<'_, '_>, run: &RunInfo) -> bool {
    ctx.p.runs.iter().any(|r| {
        r.stage == run.stage
            && r.instruction < run.instruction
            && r.scripts.iter().flat_map(|s| s.commands.iter()).any(|c| {
                c.program() == Some("rm")
                    && c.args()
                        .iter()
                        .any(|a| a.text.ends_with("apt.conf.d/docker-clean"))
            })
    })
}

fn apk(ctx: &mut Ctx<'_, '_>, run: &RunInfo, args: &[Word], all: &[&SimpleCommand]) {
    let (flags, pos) = positionals(
        args,
        &[
            "--virtual",
            "-t",
            "--repository",
            "-X",
            "--root",
            "-p",
            "--arch",
            "--keys-dir",
            "--repositories-file",
        ],
    );
    if pos.first().is_none_or(|s| s.text != "add") {
        return;
    }
    let span = words_span(&pos);
    let cleaned = flags.iter().any(|f| f.text == "--no-cache")
        || has_mount_target(run, "/var/cache/apk")
        || has_mount_target(run, "/etc/apk/cache")
        || all.iter().any(|c| {
            c.program() == Some("rm")
                && c.args()
                    .iter()
                    .any(|a| a.text.starts_with("/var/cache/apk"))
        });
    if !cleaned {
        ctx.hit(
            "apk-no-cache",
            span.clone(),
            "apk add without --no-cache leaves the package index in the layer",
        );
    }
    let unpinned: Vec<&Word> = pos[1..]
        .iter()
        .copied()
        .filter(|w| !w.text.contains(['=', '~', '<', '>', '$']) && !w.text.ends_with(".apk"))
        .collect();
    if !unpinned.is_empty() {
        ctx.hit(
            "apk-unpinned",
            words_span(&unpinned),
            format!(
                "apk add without versions: {} (use name=version)",
                list(&unpinned)
            ),
        );
    }
}

fn rpm(
    ctx: &mut Ctx<'_, '_>,
    run: &RunInfo,
    prog: &str,
    c: &SimpleCommand,
    args: &[Word],
    all: &[&SimpleCommand],
    in_final: bool,
) {
    let (flags, pos) = positionals(
        args,
        &[
            "--setopt",
            "--enablerepo",
            "--disablerepo",
            "--installroot",
            "--releasever",
            "-x",
            "--exclude",
            "--repo",
            "--config",
            "-c",
        ],
    );
    let Some(sub) = pos.first() else { return };
    // `dnf module install name:stream`
    let module = sub.text == "module" && pos.get(1).is_some_and(|w| w.text == "install");
    let is_install = module
        || matches!(
            sub.text.as_str(),
            "install" | "in" | "reinstall" | "rei" | "groupinstall"
        );
    // commands that fill the package cache without installing by name
    let fills_cache = is_install
        || (prog != "zypper"
            && matches!(
                sub.text.as_str(),
                "upgrade" | "up" | "update" | "upgrade-minimal" | "up-min" | "distro-sync"
            ));
    if !fills_cache {
        return;
    }
    if is_install {
        rpm_install(
            ctx,
            prog,
            c,
            &flags,
            &pos[if module { 2 } else { 1 }..],
            module,
        );
    }
    if in_final {
        // a clean counts only after this command, by any of the rpm tools
        let cleaned = all.iter().skip_while(|x| !std::ptr::eq(**x, c)).any(|x| {
            let p = x.program().unwrap_or("");
            (["yum", "dnf", "microdnf", "tdnf", "zypper"].contains(&p)
                && x.args().iter().any(|a| a.text == "clean" || a.text == "cc"))
                || (p == "rm"
                    && x.args().iter().any(|a| {
                        a.text.starts_with("/var/cache/yum")
                            || a.text.starts_with("/var/cache/dnf")
                            || a.text.starts_with("/var/cache/libdnf5")
                            || a.text.starts_with("/var/cache/zypp")
                    }))
        }) || has_mount_target(run, "/var/cache/");
        if !cleaned {
            ctx.hit(
                "rpm-cache-not-cleaned",
                c.span(),
                format!("{prog} caches stay in this layer; finish the RUN with `{prog} clean all`"),
            );
        }
    }
}

fn rpm_install(
    ctx: &mut Ctx<'_, '_>,
    prog: &str,
    c: &SimpleCommand,
    flags: &[&Word],
    names: &[&Word],
    module: bool,
) {
    let yes = match prog {
        "zypper" => has_short(flags, 'n', &["--non-interactive", "--no-confirm", "-y"]),
        _ => has_short(flags, 'y', &["--assumeyes"]),
    };
    if !yes {
        ctx.hit(
            "rpm-missing-yes",
            c.span(),
            format!(
                "{prog} install without the non-interactive switch (-y{}) waits for a confirmation",
                if prog == "zypper" { " / -n" } else { "" }
            ),
        );
    }
    let unpinned: Vec<&Word> = names
        .iter()
        .copied()
        .filter(|w| {
            let t = &w.text;
            if module {
                // a module pins with :stream
                return !t.contains([':', '$']);
            }
            !(t.contains(['=', '<', '>', '$', '*'])
                || t.ends_with(".rpm")
                || t.starts_with('/')
                || t.starts_with('@')
                || has_version_suffix(t))
        })
        .collect();
    if !unpinned.is_empty() {
        ctx.hit(
            "rpm-unpinned",
            words_span(&unpinned),
            format!(
                "{prog} install without versions: {} (use name-version)",
                list(&unpinned)
            ),
        );
    }
}

/// `name-1.2.3` style pins: a `-` followed by a digit after the first character.
fn has_version_suffix(t: &str) -> bool {
    t.char_indices().skip(1).any(|(i, ch)| {
        ch == '-'
            && t[i + 1..]
                .chars()
                .next()
                .is_some_and(|d| d.is_ascii_digit())
    })
}

const PIP_VALUE_OPTS: &[&str] = &[
    "--root-user-action",
    "--progress-bar",
    "--log",
    "--timeout",
    "--retries",
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-i",
    "--index-url",
    "--extra-index-url",
    "-f",
    "--find-links",
    "-t",
    "--target",
    "--prefix",
    "--root",
    "--trusted-host",
    "--platform",
    "--python-version",
    "--implementation",
    "--abi",
    "--cache-dir",
    "--src",
    "--upgrade-strategy",
    "--progress-bar",
    "--log",
    "--proxy",
    "--timeout",
    "--retries",
    "--cert",
    "--client-cert",
    "--global-option",
    "--install-option",
    "--config-settings",
    "-C",
    "-e",
    "--editable",
    "--only-binary",
    "--no-binary",
    "--report",
];

/// apt-get's quiet level: `-q` counts one each (`-qq` two, `-q -q` two),
/// `--quiet` one, `-q=2`/`--quiet=2` set it. Level 2 implies `-y`.
fn quiet_level(flags: &[&Word]) -> u32 {
    let mut level = 0;
    for f in flags {
        let t = f.text.as_str();
        if let Some(v) = t.strip_prefix("--quiet=").or_else(|| t.strip_prefix("-q=")) {
            level = v.parse().unwrap_or(level);
        } else if t == "--quiet" {
            level += 1;
        } else if t.starts_with('-') && !t.starts_with("--") {
            level += t[1..].chars().filter(|&c| c == 'q').count() as u32;
        }
    }
    level
}

fn pip(ctx: &mut Ctx<'_, '_>, run: &RunInfo, c: &SimpleCommand, args: &[Word], in_final: bool) {
    let (flags, pos) = positionals(args, PIP_VALUE_OPTS);
    if pos.first().is_none_or(|s| s.text != "install") {
        return;
    }
    // a constraints file pins what is installed
    let constrained = args
        .iter()
        .any(|a| a.text == "-c" || a.text == "--constraint" || a.text.starts_with("--constraint="));
    let unpinned: Vec<&Word> = pos[1..]
        .iter()
        .copied()
        .filter(|w| {
            let t = &w.text;
            if constrained {
                return false;
            }
            // a VCS URL pins only with @ref (`git+https://host/x.git@v1#egg=x`)
            if let Some(rest) = t.strip_prefix("git+").or_else(|| t.strip_prefix("hg+")) {
                let path = rest.split_once("://").map_or(rest, |(_, p)| p);
                return !path.split('#').next().unwrap_or("").contains('@');
            }
            !(t.contains(['=', '<', '>', '~', '@', '$'])
                || t.starts_with('.')
                || t.starts_with('/')
                || t.contains('/')
                || t.contains("://")
                || t.ends_with(".whl")
                || t.ends_with(".tar.gz")
                || t.ends_with(".zip"))
        })
        .collect();
    if !unpinned.is_empty() {
        ctx.hit("pip-unpinned", words_span(&unpinned), format!("pip install without versions: {} (use name==version, or a requirements file with hashes)", list(&unpinned)));
    }
    let env_no_cache = ctx.p.instructions.iter().any(|i| match i {
        Instruction::Env(e) => crate::args::key_values(&e.arguments.value, true)
            .iter()
            .any(|kv| {
                kv.name == "PIP_NO_CACHE_DIR" && kv.value.as_deref().is_none_or(disables_pip_cache)
            }),
        _ => false,
    });
    // `PIP_NO_CACHE_DIR=1 pip install ...`, or exported earlier in the RUN
    let sets = |x: &SimpleCommand| {
        x.words.iter().any(|w| {
            w.text
                .strip_prefix("PIP_NO_CACHE_DIR=")
                .is_some_and(disables_pip_cache)
        })
    };
    let run_no_cache = sets(c)
        || run
            .scripts
            .iter()
            .flat_map(|s| s.commands.iter())
            .any(|x| x.words.first().is_some_and(|w| w.text == "export") && sets(x));
    if in_final
        && c.program() != Some("pipx")
        && !env_no_cache
        && !run_no_cache
        && !flags.iter().any(|f| f.text == "--no-cache-dir")
        && !has_mount_target(run, "/root/.cache")
    {
        ctx.hit("pip-no-cache-dir", c.span(), "pip keeps its download cache in the layer; add --no-cache-dir (or ENV PIP_NO_CACHE_DIR=1)");
    }
}

/// pip reads PIP_NO_CACHE_DIR as a boolean: 0/false/off/no (or empty) leave
/// the cache on.
fn disables_pip_cache(value: &str) -> bool {
    !matches!(
        value.to_ascii_lowercase().as_str(),
        "0" | "false" | "off" | "no" | ""
    )
}

/// DL3060: `yarn install` leaves its cache in the layer unless the same RUN
/// cleans it (or it is a cache mount).
fn yarn(
    ctx: &mut Ctx<'_, '_>,
    run: &RunInfo,
    c: &SimpleCommand,
    args: &[Word],
    all: &[&SimpleCommand],
) {
    let installs = args
        .first()
        .is_none_or(|a| a.text == "install" || a.text == "add" || a.text.starts_with('-'));
    if !installs {
        return;
    }
    let cleaned = all.iter().skip_while(|o| !std::ptr::eq(**o, c)).any(|o| {
        o.program() == Some("yarn")
            && o.args().len() >= 2
            && o.args()[0].text == "cache"
            && o.args()[1].text == "clean"
    }) || has_mount_target(run, "/usr/local/share/.cache/yarn")
        || has_mount_target(run, "/root/.cache/yarn")
        || has_mount_target(run, "/root/.yarn");
    if !cleaned {
        ctx.hit("yarn-cache-not-cleaned", c.span(), "yarn keeps its package cache in the layer; add `&& yarn cache clean` to this RUN (or use a cache mount)");
    }
}

/// DL3046: `useradd -u <big uid>` without `-l` writes a sparse but huge
/// /var/log/lastlog and faillog into the layer.
fn useradd(ctx: &mut Ctx<'_, '_>, c: &SimpleCommand, args: &[Word]) {
    if c.program() != Some("useradd") {
        return;
    }
    let no_log = args.iter().any(|a| {
        a.text == "-l"
            || a.text == "--no-log-init"
            || (a.text.starts_with('-') && !a.text.starts_with("--") && a.text.contains('l'))
    });
    let uid = args
        .windows(2)
        .find_map(|w| {
            (w[0].text == "-u" || w[0].text == "--uid")
                .then(|| w[1].text.parse::<u64>().ok())
                .flatten()
        })
        .or_else(|| {
            args.iter()
                .find_map(|a| a.text.strip_prefix("--uid=").and_then(|v| v.parse().ok()))
        });
    if !no_log && uid.is_some_and(|u| u > 99_999) {
        ctx.hit("useradd-high-uid", c.span(), "useradd with a large UID and without -l/--no-log-init writes a huge sparse lastlog file into the layer");
    }
}

/// DL3047: wget's default progress bar prints a line per chunk in build
/// logs; any of the quiet or log-file options, or `--progress`, avoids it.
fn wget_progress(ctx: &mut Ctx<'_, '_>, c: &SimpleCommand, args: &[Word]) {
    let quiet = args.iter().any(|a| {
        let t = a.text.as_str();
        matches!(t, "-q" | "--quiet" | "-nv" | "--no-verbose" | "-o" | "-a")
            || t.starts_with("--progress")
            || t.starts_with("--output-file")
            || t.starts_with("--append-output")
            || (t.starts_with('-')
                && !t.starts_with("--")
                && t.len() > 2
                && (t.contains('q') || t.starts_with("-o") || t.starts_with("-a")))
    });
    if !quiet {
        ctx.hit(
            "wget-progress",
            c.span(),
            "wget without --progress=dot:giga (or -q/-nv) fills the build log with progress lines",
        );
    }
}

/// DL4005: replacing /bin/sh with `ln` instead of using SHELL.
fn ln_sh(ctx: &mut Ctx<'_, '_>, c: &SimpleCommand, args: &[Word]) {
    let target = args.iter().rev().find(|a| !a.text.starts_with('-'));
    if args
        .iter()
        .any(|a| a.text.starts_with('-') && a.text.contains('s'))
        && target.is_some_and(|t| t.text == "/bin/sh")
    {
        ctx.hit("ln-bin-sh", c.span(), "replacing /bin/sh with ln changes it for everything in the image; use SHELL [\"/bin/bash\", \"-c\"] to pick the shell for RUN");
    }
}

fn npm(ctx: &mut Ctx<'_, '_>, args: &[Word]) {
    let (_, pos) = positionals(
        args,
        &[
            "--prefix",
            "--registry",
            "--cache",
            "-w",
            "--workspace",
            "--loglevel",
            "--userconfig",
            "--omit",
            "--include",
        ],
    );
    if pos
        .first()
        .is_none_or(|s| !matches!(s.text.as_str(), "install" | "i" | "add" | "isntall"))
    {
        return;
    }
    let unpinned: Vec<&Word> = pos[1..]
        .iter()
        .copied()
        .filter(|w| {
            let t = &w.text;
            let versioned = t.get(1..).is_some_and(|rest| rest.contains('@'));
            // a git URL pins only with #commit-ish
            let git = t.starts_with("git+") || t.starts_with("git:") || t.starts_with("github:");
            if git {
                return !t.contains('#');
            }
            !(versioned
                || t.starts_with('.')
                || t.starts_with('/')
                || t.starts_with('~')
                || t.contains("://")
                || t.contains(':')
                || t.ends_with(".tgz")
                || t.ends_with(".tar.gz")
                || t.ends_with(".tar")
                || t.contains('$'))
        })
        .collect();
    if !unpinned.is_empty() {
        ctx.hit(
            "npm-unpinned",
            words_span(&unpinned),
            format!(
                "npm install without versions: {} (use name@version)",
                list(&unpinned)
            ),
        );
    }
}

fn gem(ctx: &mut Ctx<'_, '_>, args: &[Word]) {
    let (flags, pos) = positionals(
        args,
        &[
            "-v",
            "--version",
            "-i",
            "--install-dir",
            "-n",
            "--bindir",
            "--source",
            "-s",
            "-P",
            "--trust-policy",
        ],
    );
    if pos
        .first()
        .is_none_or(|s| s.text != "install" && s.text != "i")
    {
        return;
    }
    if flags
        .iter()
        .any(|f| f.text == "-v" || f.text == "--version" || f.text.starts_with("--version="))
    {
        return;
    }
    let unpinned: Vec<&Word> = pos[1..]
        .iter()
        .copied()
        // words after `--` are build options for the gem's extension
        .take_while(|w| !args.iter().any(|a| a.text == "--" && a.start < w.start))
        .filter(|w| {
            !w.text.contains([':', '$'])
                && !w.text.ends_with(".gem")
                && !matches!(w.text.as_str(), "true" | "false")
        })
        .collect();
    if !unpinned.is_empty() {
        ctx.hit(
            "gem-unpinned",
            words_span(&unpinned),
            format!(
                "gem install without versions: {} (use name:version or -v)",
                list(&unpinned)
            ),
        );
    }
}

fn go_install(ctx: &mut Ctx<'_, '_>, args: &[Word]) {
    let (_, pos) = positionals(
        args,
        &[
            "-o",
            "-ldflags",
            "-tags",
            "-gcflags",
            "-mod",
            "-modfile",
            "-pkgdir",
            "-toolexec",
            "-p",
        ],
    );
    // `go install`/`go get`/`go run` of a module path fetch whatever is
    // newest unless it carries @version
    if pos
        .first()
        .is_none_or(|s| !matches!(s.text.as_str(), "install" | "get" | "run"))
    {
        return;
    }
    let run_cmd = pos[0].text == "run";
    let unpinned: Vec<&Word> = pos[1..]
        .iter()
        .copied()
        .filter(|w| {
            let t = &w.text;
            // `go run main.go`, `go run .`, `go run ./cmd/x`: local code; a
            // module path starts with a domain (`example.com/pkg`)
            if run_cmd && (t.ends_with(".go") || !t.split('/').next().unwrap_or("").contains('.')) {
                return false;
            }
            !(t.starts_with('.') || t.starts_with('/') || t.contains('$') || t.starts_with('-'))
                && t.split_once('@')
                    .is_none_or(|(_, v)| v == "latest" || v.is_empty())
        })
        .collect();
    if !unpinned.is_empty() {
        ctx.hit(
            "go-install-unpinned",
            words_span(&unpinned),
            format!(
                "go {} without a fixed version: {} (use path@vX.Y.Z)",
                pos[0].text,
                list(&unpinned)
            ),
        );
    }
}

fn pipes(ctx: &mut Ctx<'_, '_>, run: &RunInfo) {
    let p = ctx.p;
    for script in &run.scripts {
        for pipeline in script.pipelines() {
            // curl/wget | sh
            if let Some(pos) = pipeline
                .iter()
                .position(|c| matches!(c.program(), Some("curl" | "wget")))
                && let Some(sink) = pipeline[pos + 1..].iter().find(|c| {
                    c.program().is_some_and(|p| {
                        SHELLS.contains(&p) || INTERPRETERS.iter().any(|i| p.starts_with(i))
                    })
                })
            {
                let span = pipeline[pos].span().start..sink.span().end;
                ctx.hit("curl-pipe-shell", span, format!("a download is piped into `{}`: nothing checks what runs; download to a file, verify its checksum or signature, then run it", sink.program().unwrap_or("sh")));
            }
        }
        // sh -c "$(curl ...)" and bash <(curl ...)
        for c in &script.commands {
            if c.program().is_some_and(|p| SHELLS.contains(&p))
                && c.args().iter().any(|a| {
                    ["$(curl", "$(wget", "<(curl", "<(wget", "`curl", "`wget"]
                        .iter()
                        .any(|k| a.text.contains(k))
                })
            {
                ctx.hit("curl-pipe-shell", c.span(), "a downloaded script runs straight from curl/wget: download it to a file, verify its checksum or signature, then run it");
            }
        }
    }
    if run.exec_form || !run.scripts.iter().any(|s| s.has_pipe) || p.escape != b'\\' {
        return;
    }
    // SHELL with pipefail in this stage (before this RUN) or a parent stage?
    let shell: Vec<&str> = p
        .shell_for(run.stage, run.instruction)
        .map(|sh| sh.arguments.iter().map(|a| a.value.as_ref()).collect())
        .unwrap_or_default();
    // POSIX sh may not know -o pipefail (Debian's dash before 0.5.11 does not)
    let plain_sh = shell
        .first()
        .is_some_and(|w| basename(w) == "sh" || basename(w) == "dash");
    let pipefail_shell = !plain_sh && shell.iter().any(|w| w.contains("pipefail"));
    let non_posix = shell.first().is_some_and(|w| {
        let b = basename(w).to_ascii_lowercase();
        b.contains("pwsh") || b.contains("powershell") || b.contains("cmd")
    });
    if pipefail_shell || non_posix {
        return;
    }
    let set_in_script = run.scripts.iter().any(|s| {
        s.commands.iter().any(|c| {
            c.program() == Some("set") && c.args().iter().any(|a| a.text.contains("pipefail"))
        })
    });
    if !set_in_script {
        ctx.hit("pipefail", run.keyword_span.clone(), "this RUN pipes commands, but the shell ignores failures before the last `|`; add SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"] (or `set -o pipefail` where the shell supports it)");
    }
}
