//! Checks about stages and base images: tags, ARGs in FROM, stage names,
//! `COPY --from`, the final stage's user, healthcheck and size.

use parse_dockerfile::Instruction;

use super::Ctx;
use crate::model::{Base, flag, keyword_span};

pub(super) fn check(ctx: &mut Ctx<'_, '_>) {
    base_tags(ctx);
    stage_names(ctx);
    copy_from(ctx);
    final_stage(ctx);
}

fn base_tags(ctx: &mut Ctx<'_, '_>) {
    for st in &ctx.p.stages {
        let span = st.image_span.clone();
        for v in &st.undeclared_args {
            ctx.hit(
                "undefined-arg-in-from",
                span.clone(),
                format!("FROM uses ${v}, but no ARG before the first FROM declares it"),
            );
        }
        for v in &st.empty_args {
            ctx.hit("arg-in-from-no-default", span.clone(), format!("FROM uses ARG {v}, which has no default; the build fails unless --build-arg {v}=... is given"));
        }
        if let Some(p) = &st.platform
            && matches!(p.trim(), "$TARGETPLATFORM" | "${TARGETPLATFORM}")
        {
            ctx.hit(
                "redundant-target-platform",
                span.clone(),
                "FROM --platform=$TARGETPLATFORM says what the build does anyway; drop the flag",
            );
        }
        if let Some(p) = &st.platform
            && !p.contains('$')
        {
            ctx.hit("from-platform-constant", span.clone(), format!("FROM --platform={p} pins the platform; use $BUILDPLATFORM/$TARGETPLATFORM or leave it to the build"));
        }
        match &st.base {
            Base::Image { reference }
                if reference.digest().is_none() => {
                    match reference.tag() {
                        None => ctx.hit("base-untagged", span.clone(), format!("`{}` has no tag: the build takes whatever :latest is at that moment; pin a tag or a digest", st.image_expanded)),
                        Some("latest") => ctx.hit("base-latest", span.clone(), format!("`{}` uses :latest, which moves without notice; pin a release tag or a digest", st.image_expanded)),
                        Some(_) => {}
                    }
                }
            Base::Invalid { error } => ctx.hit(
                "base-invalid-reference",
                span.clone(),
                format!(
                    "`{}` is not a valid image reference: {error}",
                    st.image_expanded
                ),
            ),
            _ => {}
        }
    }
}

fn stage_names(ctx: &mut Ctx<'_, '_>) {
    let stages = &ctx.p.stages;
    let mut hits = Vec::new();
    for (i, st) in stages.iter().enumerate() {
        let (Some(name), Some(span)) = (&st.name, &st.name_span) else {
            continue;
        };
        if let Some(first) = stages[..i].iter().find(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        }) {
            let (line, _) = ctx.src.line_col(first.image_span.start);
            hits.push((
                "duplicate-stage-name",
                span.clone(),
                format!("stage name `{name}` is already used by the stage on line {line}"),
            ));
        }
        if name.eq_ignore_ascii_case("scratch") || name.eq_ignore_ascii_case("context") {
            hits.push((
                "reserved-stage-name",
                span.clone(),
                format!("`{name}` is reserved by the builder and cannot name a stage"),
            ));
        }
        if name.chars().any(|c| c.is_ascii_uppercase()) {
            hits.push((
                "stage-name-casing",
                span.clone(),
                format!("stage name `{name}` should be lowercase"),
            ));
        }
    }
    for (c, s, m) in hits {
        ctx.hit(c, s, m);
    }
}

fn copy_from(ctx: &mut Ctx<'_, '_>) {
    let p = ctx.p;
    let mut hits = Vec::new();
    for st in &p.stages {
        for idx in st.range.clone() {
            let Instruction::Copy(c) = &p.instructions[idx] else {
                continue;
            };
            let Some(v) = flag(&c.options, "from").and_then(|f| f.value.as_ref()) else {
                continue;
            };
            let name = v.value.as_ref();
            if name.contains('$') {
                continue;
            }
            let by_name = st
                .name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name));
            // stage numbers count the stages the file declares
            let declared = st.index.checked_sub(usize::from(p.virtual_first_stage));
            if by_name || (declared.is_some() && name.parse::<usize>().ok() == declared) {
                hits.push((
                    "copy-from-self",
                    v.span.clone(),
                    format!("COPY --from={name} refers to the stage it is in"),
                ));
                continue;
            }
            if p.find_stage(name, st.index).is_some() {
                continue;
            }
            let later = p.stages[st.index + 1..].iter().any(|s| {
                s.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            });
            if later {
                hits.push(("copy-from-unknown-stage", v.span.clone(), format!("COPY --from={name} refers to a stage defined later; stages can only copy from earlier ones")));
            } else if !name.contains(['/', ':', '.', '@']) {
                hits.push(("copy-from-unknown-stage", v.span.clone(), format!("COPY --from={name} matches no earlier stage; BuildKit would pull an image `docker.io/library/{name}` instead")));
            }
        }
    }
    for (c, s, m) in hits {
        ctx.hit(c, s, m);
    }
}

fn is_root(user: &str) -> bool {
    let u = user.split(':').next().unwrap_or("").trim();
    u == "root" || u == "0"
}

fn final_stage(ctx: &mut Ctx<'_, '_>) {
    let p = ctx.p;
    let chain = p.final_chain();
    let Some(&last) = chain.first() else { return };
    let final_from = keyword_span(&p.instructions[p.stages[last].range.start]);

    // last USER over the chain (the final stage first, then its parents)
    let mut last_user = None;
    let mut has_healthcheck = false;
    for &s in &chain {
        for idx in p.stages[s].range.clone().rev() {
            match &p.instructions[idx] {
                Instruction::User(u) if last_user.is_none() => {
                    last_user = Some((
                        u.arguments.value.to_string(),
                        u.user.span.start..u.arguments.span.end,
                    ))
                }
                Instruction::Healthcheck(_) => has_healthcheck = true,
                _ => {}
            }
        }
    }
    let root_base = chain.last().map(|&s| &p.stages[s].base);
    match last_user {
        Some((u, span)) if is_root(&u) => ctx.hit("last-user-root", span, format!("the final stage runs as `{u}`; switch to an unprivileged user (USER 10001 or a named user) after the steps that need root")),
        Some(_) => {}
        None => {
            let nonroot_base = matches!(root_base, Some(Base::Image { reference }) if reference.tag().is_some_and(|t| t.contains("nonroot")));
            if !nonroot_base && !matches!(root_base, Some(Base::Unresolved)) {
                ctx.hit("last-user-root", final_from.clone(), "the final stage sets no USER, so the container runs as root unless the base image sets a user; add USER with an unprivileged user");
            }
        }
    }
    if !has_healthcheck {
        ctx.hit("missing-healthcheck", final_from.clone(), "the final stage has no HEALTHCHECK (add one, or HEALTHCHECK NONE to say it is deliberate)");
    }
    if let Some(Base::Image { reference }) = root_base
        && !is_minimal(reference)
    {
        ctx.hit(
                "final-stage-not-minimal",
                p.stages[*chain.last().unwrap_or(&last)].image_span.clone(),
                format!("the final image is built on `{}`, a full OS image; a distroless, slim or alpine base (or a builder stage) ships less to patch", reference),
            );
    }
}

/// Whether a base is a minimal image (distroless, scratch-like, slim, alpine...).
pub(crate) fn is_minimal(r: &oci::ImageRef) -> bool {
    let repo = r.repository();
    let name = repo.rsplit('/').next().unwrap_or(repo);
    let tag = r.tag().unwrap_or("");
    const MINIMAL_NAMES: &[&str] = &[
        "alpine",
        "busybox",
        "static",
        "base",
        "cc",
        "distroless",
        "static-debian12",
        "base-debian12",
        "cc-debian12",
        "wolfi-base",
    ];
    repo.contains("distroless")
        || r.registry() == "cgr.dev"
        || MINIMAL_NAMES.contains(&name)
        || [
            "slim",
            "alpine",
            "distroless",
            "minimal",
            "micro",
            "static",
            "nano",
            "chiseled",
            "busybox",
        ]
        .iter()
        .any(|k| tag.contains(k))
        || name.ends_with("-minimal")
        || name.ends_with("-micro")
}
