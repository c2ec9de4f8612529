//! Checks on single instructions: MAINTAINER, WORKDIR, CMD/ENTRYPOINT/HEALTHCHECK,
//! EXPOSE, ADD/COPY, ARG/ENV secrets, and consecutive RUNs.

use std::sync::LazyLock;

use parse_dockerfile::{Command, Instruction, Source};
use regex::Regex;

use super::Ctx;
use crate::args::key_values;
use crate::model::keyword_span;

pub(super) fn check(ctx: &mut Ctx<'_, '_>) {
    let p = ctx.p;
    // global ARGs (before the first FROM) are build arguments too
    let first_stage = p
        .stages
        .first()
        .map_or(p.instructions.len(), |s| s.range.start);
    for ins in &p.instructions[..first_stage] {
        if let Instruction::Arg(a) = ins {
            secrets(
                ctx,
                &a.arguments.value,
                a.arguments.span.start,
                "ARG",
                false,
            );
        }
    }
    for st in &p.stages {
        let mut cmds = Vec::new();
        let mut entrypoints = Vec::new();
        let mut healthchecks = Vec::new();
        let mut has_workdir = has_workdir_in_parents(ctx, st.index);
        // ONBUILD instructions run in the child build, in their own order
        let mut onbuild_workdir = false;
        let mut prev_single_run: Option<usize> = None;
        for idx in st.range.clone() {
            // ONBUILD bodies get the rules of the instruction they wrap; they
            // do not count towards this stage's CMD/ENTRYPOINT/WORKDIR.
            let (ins, onbuild) = match &p.instructions[idx] {
                Instruction::Onbuild(o) => {
                    if matches!(
                        &*o.instruction,
                        Instruction::From(_) | Instruction::Maintainer(_) | Instruction::Onbuild(_)
                    ) {
                        ctx.hit(
                            "onbuild-forbidden",
                            keyword_span(&p.instructions[idx]).start..keyword_span(&o.instruction).end,
                            "ONBUILD cannot wrap FROM, MAINTAINER or ONBUILD; child builds fail on it",
                        );
                        continue;
                    }
                    (&*o.instruction, true)
                }
                i => (i, false),
            };
            let kw = keyword_span(ins);
            if !matches!(ins, Instruction::Run(_)) {
                prev_single_run = None;
            }
            match ins {
                Instruction::Maintainer(m) => ctx.hit(
                    "maintainer",
                    kw.start..m.name.span.end,
                    "MAINTAINER is deprecated; use LABEL org.opencontainers.image.authors=\"...\"",
                ),
                Instruction::Workdir(w) => {
                    if onbuild {
                        onbuild_workdir = true;
                    } else {
                        has_workdir = true;
                    }
                    let v = w.arguments.value.trim_matches(['"', '\'']);
                    if !is_absolute(v) {
                        ctx.hit("workdir-relative", w.arguments.span.clone(), format!("WORKDIR `{v}` is relative; it depends on every earlier WORKDIR, so use an absolute path"));
                    }
                }
                Instruction::Cmd(c) => {
                    if !onbuild {
                        cmds.push(kw.clone());
                    }
                    if let Command::Shell(s) = &c.arguments {
                        ctx.hit("shell-form-cmd", s.span.clone(), "CMD in shell form runs under /bin/sh -c, which does not pass signals on; use the JSON form CMD [\"prog\", \"arg\"]");
                    }
                }
                Instruction::Entrypoint(e) => {
                    if !onbuild {
                        entrypoints.push(kw.clone());
                    }
                    if let Command::Shell(s) = &e.arguments {
                        ctx.hit("shell-form-cmd", s.span.clone(), "ENTRYPOINT in shell form runs under /bin/sh -c, which does not pass signals on; use the JSON form ENTRYPOINT [\"prog\"]");
                    }
                }
                Instruction::Healthcheck(_) if !onbuild => healthchecks.push(kw.clone()),
                Instruction::Expose(e) => {
                    for a in &e.arguments {
                        expose(ctx, &a.value, a.span.clone());
                    }
                }
                Instruction::Add(a) => {
                    add(ctx, a, kw.clone());
                    copy_dest(
                        ctx,
                        a.src.len(),
                        &a.dest.value,
                        a.dest.span.clone(),
                        has_workdir || (onbuild && onbuild_workdir),
                    );
                }
                Instruction::Copy(c) => {
                    copy_dest(
                        ctx,
                        c.src.len(),
                        &c.dest.value,
                        c.dest.span.clone(),
                        has_workdir || (onbuild && onbuild_workdir),
                    );
                    if let Some(from) =
                        crate::model::flag(&c.options, "from").and_then(|f| f.value.as_ref())
                        && c.src.iter().any(|s| {
                            matches!(s, Source::Path(p) if matches!(unquote(&p.value), "/" | "/*"))
                                && matches!(unquote(&c.dest.value), "/" | "/*")
                        })
                    {
                        ctx.hit("copy-whole-filesystem", kw.start..c.dest.span.end, format!("COPY --from={} / copies a whole filesystem, package databases and all; copy only the files you need", from.value));
                    }
                }
                Instruction::User(u) => {
                    let name = u.arguments.value.split(':').next().unwrap_or("");
                    if st.index + 1 == p.stages.len()
                        && !name.is_empty()
                        && !name.contains('$')
                        && !name.bytes().all(|b| b.is_ascii_digit())
                        && name != "root"
                    {
                        ctx.hit("user-not-numeric", u.arguments.span.clone(), format!("USER {name} is a name; a numeric UID (e.g. USER 10001) lets Kubernetes verify runAsNonRoot"));
                    }
                }
                Instruction::Arg(a) => secrets(
                    ctx,
                    &a.arguments.value,
                    a.arguments.span.start,
                    "ARG",
                    false,
                ),
                Instruction::Env(e) => {
                    env_self_reference(ctx, &e.arguments.value, e.arguments.span.start);
                    secrets(ctx, &e.arguments.value, e.arguments.span.start, "ENV", true)
                }
                Instruction::Run(_) => {
                    let single = p
                        .runs
                        .iter()
                        .find(|r| r.instruction == idx)
                        .is_some_and(|r| {
                            r.mounts.is_empty()
                                && r.scripts.len() == 1
                                && r.scripts[0].commands.len() == 1
                        });
                    if single {
                        if let Some(prev) = prev_single_run {
                            ctx.hit("consecutive-run", kw.clone(), format!("this RUN and the one on line {} each run one command; joining them with && makes one layer", ctx.src.line_col(prev).0));
                        }
                        prev_single_run = Some(kw.start);
                    } else {
                        prev_single_run = None;
                    }
                }
                _ => {}
            }
        }
        for (list, code, what) in [
            (cmds, "multiple-cmd", "CMD"),
            (entrypoints, "multiple-entrypoint", "ENTRYPOINT"),
            (healthchecks, "multiple-healthcheck", "HEALTHCHECK"),
        ] {
            if list.len() > 1 {
                let last_line = ctx.src.line_col(list[list.len() - 1].start).0;
                for span in &list[..list.len() - 1] {
                    ctx.hit(code, span.clone(), format!("this {what} is overridden by the one on line {last_line}; only the last {what} in a stage takes effect"));
                }
            }
        }
    }
}

fn has_workdir_in_parents(ctx: &Ctx<'_, '_>, stage: usize) -> bool {
    let p = ctx.p;
    p.ancestry(stage).into_iter().skip(1).any(|s| {
        p.stages[s]
            .range
            .clone()
            .any(|i| matches!(p.instructions[i], Instruction::Workdir(_)))
    })
}

fn is_absolute(v: &str) -> bool {
    v.starts_with('/')
        || v.starts_with('$')
        || v.starts_with('\\')
        || v.as_bytes().get(1) == Some(&b':')
}

fn expose(ctx: &mut Ctx<'_, '_>, value: &str, span: std::ops::Range<usize>) {
    if value.contains('$') {
        return;
    }
    let (ports, proto) = match value.split_once('/') {
        Some((p, proto)) => (p, Some(proto)),
        None => (value, None),
    };
    if let Some(proto) = proto
        && !["tcp", "udp", "sctp"].contains(&proto.to_ascii_lowercase().as_str())
    {
        ctx.hit(
            "expose-invalid-port",
            span,
            format!("EXPOSE {value}: protocol must be tcp, udp or sctp"),
        );
        return;
    }
    let parts: Vec<&str> = ports.splitn(2, '-').collect();
    let nums: Vec<Option<u32>> = parts.iter().map(|p| p.parse::<u32>().ok()).collect();
    if nums.iter().any(|n| !matches!(n, Some(1..=65535))) || (nums.len() == 2 && nums[0] > nums[1])
    {
        ctx.hit(
            "expose-invalid-port",
            span,
            format!("EXPOSE {value}: ports must be numbers from 1 to 65535 (a range as LOW-HIGH)"),
        );
        return;
    }
    let lo = nums[0].unwrap_or(0);
    let hi = nums.get(1).copied().flatten().unwrap_or(lo);
    if (lo..=hi).contains(&22) {
        ctx.hit("expose-ssh", span, "port 22 is exposed: running SSH in a container widens the attack surface; use `docker exec`/`kubectl exec` instead");
    }
}

const ARCHIVE_EXT: &[&str] = &[
    ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz", ".tar.zst", ".tzst",
    ".gz", ".bz2", ".xz", ".zst", ".lz", ".lzma", ".tb2", ".tlz",
];

/// A path word without the quotes a Dockerfile allows around it.
pub(crate) fn unquote(v: &str) -> &str {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

fn add(
    ctx: &mut Ctx<'_, '_>,
    a: &parse_dockerfile::AddInstruction<'_>,
    kw: std::ops::Range<usize>,
) {
    let all_local_plain = a.src.iter().all(|s| match s {
        Source::Path(p) => {
            let v = unquote(&p.value).to_ascii_lowercase();
            !(v.contains("://")
                || v.starts_with("git@")
                || v.contains('$')
                || ARCHIVE_EXT.iter().any(|e| v.ends_with(e)))
        }
        Source::HereDoc(_) => true,
        _ => false,
    });
    if all_local_plain && !a.src.is_empty() {
        ctx.hit("add-instead-of-copy", kw.start..a.dest.span.end, "ADD copies local files the same way COPY does, but also fetches URLs and unpacks archives; use COPY for plain files and folders");
    }
}

fn copy_dest(
    ctx: &mut Ctx<'_, '_>,
    sources: usize,
    dest: &str,
    span: std::ops::Range<usize>,
    has_workdir: bool,
) {
    let dest = unquote(dest);
    if sources > 1 && !dest.ends_with('/') && !dest.ends_with('\\') && !dest.contains('$') {
        ctx.hit("copy-dest-not-dir", span.clone(), format!("several sources are copied to `{dest}`: the destination must be a directory ending in /"));
    }
    if !has_workdir && !is_absolute(dest) && dest != "." && dest != "./" {
        ctx.hit("copy-relative-without-workdir", span, format!("`{dest}` is relative, but no WORKDIR is set yet; the base image's working directory decides where it lands"));
    } else if !has_workdir && (dest == "." || dest == "./") {
        ctx.hit("copy-relative-without-workdir", span, "copying to `.` before any WORKDIR puts files in the base image's working directory (often /)");
    }
}

static SECRET_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        r"|\bgh[pousr]_[A-Za-z0-9]{36,}",
        r"|\bgithub_pat_[A-Za-z0-9_]{22,}",
        r"|\bglpat-[A-Za-z0-9_-]{20,}",
        r"|\bxox[abprs]-[A-Za-z0-9-]{10,}",
        r"|\bAIza[0-9A-Za-z_-]{35}",
        r"|\b[sr]k_live_[0-9A-Za-z]{20,}",
        r"|\bnpm_[A-Za-z0-9]{36}",
        r"|-----BEGIN [A-Z ]*PRIVATE KEY-----",
    ))
    .expect("secret regex")
});

const SENSITIVE: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pword",
    "secret",
    "token",
    "apikey",
    "credential",
    "credentials",
    "auth",
    "passphrase",
    "privatekey",
];
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "access",
    "private",
    "secret",
    "auth",
    "signing",
    "master",
    "encryption",
    "client",
    "account",
];
const NOT_SECRET: &[&str] = &[
    "public",
    "pub",
    "file",
    "path",
    "dir",
    "version",
    "id",
    "url",
    "uri",
    "name",
    "gpg",
    "pgp",
    "type",
    "length",
    "size",
    "mode",
    "endpoint",
    "header",
    "user",
    "username",
    "prefix",
    "algorithm",
    "host",
    "port",
    "fingerprint",
    "server",
    "expiry",
    "ttl",
    "enabled",
    "method",
    "provider",
];

/// Whether a variable name suggests a secret (`DB_PASSWORD`, `API_KEY`, `NPM_TOKEN`),
/// but not `GPG_KEY`, `TOKEN_URL` or `PASSWORD_FILE`.
pub(crate) fn sensitive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let parts: Vec<&str> = lower
        .split(['_', '-', '.'])
        .filter(|s| !s.is_empty())
        .collect();
    // an access key's ID is half of the credential (AWS_ACCESS_KEY_ID)
    if parts.windows(2).any(|w| w == ["access", "key"]) {
        return true;
    }
    if parts.iter().any(|p| NOT_SECRET.contains(p)) {
        return false;
    }
    parts.iter().enumerate().any(|(i, p)| {
        SENSITIVE.contains(p) || (*p == "key" && i > 0 && KEY_QUALIFIERS.contains(&parts[i - 1]))
    })
}

/// DL3044: `ENV A=1 B=$A` expands `$A` from before the instruction.
fn env_self_reference(ctx: &mut Ctx<'_, '_>, raw: &str, base: usize) {
    let kvs = key_values(raw, true);
    for (i, kv) in kvs.iter().enumerate() {
        let Some(v) = &kv.value else { continue };
        for earlier in &kvs[..i] {
            let n = &earlier.name;
            let used = v.match_indices('$').any(|(at, _)| {
                let rest = &v[at + 1..];
                let rest = rest.strip_prefix('{').unwrap_or(rest);
                rest.starts_with(n.as_str())
                    && !rest[n.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            });
            if used {
                let span = base + kv.offset..base + kv.offset + kv.name.len();
                ctx.hit("env-self-reference", span, format!("{} uses ${n}, which this same ENV sets; it gets the value from before this line. Split the ENV", kv.name));
            }
        }
    }
}

fn secrets(ctx: &mut Ctx<'_, '_>, raw: &str, base: usize, what: &str, legacy: bool) {
    for kv in key_values(raw, legacy) {
        let span = base + kv.offset..base + kv.offset + kv.name.len();
        let literal = kv
            .value
            .as_deref()
            .filter(|v| !v.is_empty() && !v.starts_with('$'));
        if let Some(v) = kv.value.as_deref()
            && let Some(m) = SECRET_VALUE.find(v)
        {
            let shown: String = m.as_str().chars().take(4).collect();
            ctx.hit("secret-value-in-arg-env", span.clone(), format!("{what} {} holds what looks like a real credential ({shown}…); it is stored in the image config and history for anyone who pulls it", kv.name));
            continue;
        }
        if sensitive_name(&kv.name) {
            if let (Some(_), "ENV") | (Some(_), "ARG") = (literal, what) {
                ctx.hit("secret-value-in-arg-env", span, format!("{what} {} sets a secret-looking value in the Dockerfile; it is stored in the image for anyone who pulls it. Use RUN --mount=type=secret", kv.name));
            } else {
                ctx.hit("secret-name-in-arg-env", span, format!("{what} {} looks like a secret; {what} values end up in the image metadata. Use RUN --mount=type=secret,id=... instead", kv.name));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sensitive_name;

    #[test]
    fn secret_names() {
        for n in [
            "DB_PASSWORD",
            "API_KEY",
            "NPM_TOKEN",
            "aws_secret_access_key",
            "GITHUB_AUTH",
            "PRIVATE_KEY",
        ] {
            assert!(sensitive_name(n), "{n}");
        }
        for n in [
            "GPG_KEY",
            "TOKEN_URL",
            "PASSWORD_FILE",
            "PYTHON_VERSION",
            "KEY",
            "MONKEY",
            "PUBLIC_KEY",
            "SSH_KEY_PATH",
        ] {
            assert!(!sensitive_name(n), "{n}");
        }
    }
}
