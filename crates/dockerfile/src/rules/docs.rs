//! Documentation for every rule: why it matters, how to fix it, and a bad and
//! a good Dockerfile. The same examples drive the per-rule tests and the
//! generated `docs/rules/CODE.md` pages, so the docs cannot drift from the code.

/// A rule's documentation.
#[derive(Debug, Clone, Copy)]
pub struct RuleDoc {
    /// Rule code.
    pub code: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// How to fix it.
    pub fix: &'static str,
    /// A Dockerfile that triggers the rule.
    pub bad: &'static str,
    /// A Dockerfile that does not.
    pub good: &'static str,
}

/// A digest used in examples.
pub const EXAMPLE_DIGEST: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

macro_rules! docs {
    ($( $code:literal { why: $why:literal, fix: $fix:literal, bad: $bad:literal, good: $good:literal } )*) => {
        /// Documentation for every rule, in registry order.
        pub static DOCS: &[RuleDoc] = &[ $( RuleDoc { code: $code, why: $why, fix: $fix, bad: $bad, good: $good }, )* ];
    };
}

docs! {
"syntax-error" {
    why: "A Dockerfile the builder cannot parse fails every build; safeimage reports the line where parsing stopped and keeps linting the other files.",
    fix: "Correct the instruction at the reported line (unterminated heredoc, unknown instruction, instruction before FROM).",
    bad: "FROM alpine:3.20\nRUNN echo hi\n",
    good: "FROM alpine:3.20\nRUN echo hi\n"
}
"missing-from" {
    why: "BuildKit refuses a Dockerfile whose first instruction (after global ARGs) is not FROM. Fragments, templates and files meant to be concatenated are still linted instruction by instruction; this finding says the file cannot be built as it is.",
    fix: "Start the file with `FROM image:tag` (global ARGs may come before it), or ignore `missing-from` for files that are fragments on purpose.",
    bad: "RUN apt-get update\n",
    good: "FROM debian:12\nRUN apt-get update\n"
}
"onbuild-forbidden" {
    why: "`ONBUILD FROM`, `ONBUILD MAINTAINER` and `ONBUILD ONBUILD` are rejected when a child image builds on this one, so the base breaks every image built from it.",
    fix: "Remove the wrapped FROM/MAINTAINER/ONBUILD; put LABELs in place of MAINTAINER.",
    bad: "FROM debian:12\nONBUILD MAINTAINER me\n",
    good: "FROM debian:12\nONBUILD RUN echo child build\n"
}
"reserved-stage-name" {
    why: "`scratch` and `context` have fixed meanings for the builder (the empty image, the build context); a stage with that name cannot be referred to as intended.",
    fix: "Rename the stage (`AS build`).",
    bad: "FROM debian:12 AS scratch\nRUN echo hi\n",
    good: "FROM debian:12 AS build\nRUN echo hi\n"
}
"last-user-root" {
    why: "A process running as root inside the container is root on the host's kernel; a container escape or a writable mount turns into full compromise. Without a USER the container runs as whatever the base image sets, usually root.",
    fix: "Create an unprivileged user and switch to it after the steps that need root: `USER 10001` (numeric) or a named user.",
    bad: "FROM alpine:3.20\nRUN adduser -D app\nUSER root\nCMD [\"sh\"]\n",
    good: "FROM alpine:3.20\nRUN adduser -D -u 10001 app\nUSER 10001\nCMD [\"sh\"]\n"
}
"sudo" {
    why: "Builds already run as root unless a USER says otherwise; sudo adds a setuid binary and a TTY/PAM dependency that behaves unpredictably in containers.",
    fix: "Run the step before switching USER, or use `gosu`/`su-exec` at runtime.",
    bad: "FROM debian:12\nRUN sudo apt-get update\n",
    good: "FROM debian:12\nRUN apt-get update\n"
}
"base-untagged" {
    why: "An untagged base means `:latest` at build time; two builds of the same commit can get different operating systems.",
    fix: "Pin a release tag (`debian:12-slim`) or a digest (`@sha256:...`).",
    bad: "FROM debian\n",
    good: "FROM debian:12\n"
}
"base-latest" {
    why: "`:latest` moves whenever the publisher pushes; builds are not reproducible and upgrades arrive unannounced.",
    fix: "Pin a release tag or a digest; let safeimage's daily run pick up new digests deliberately.",
    bad: "FROM alpine:latest\n",
    good: "FROM alpine:3.20\n"
}
"base-invalid-reference" {
    why: "The builder rejects references with uppercase repositories, bad tags or malformed digests.",
    fix: "Write the reference in the `[registry[:port]/]repository[:tag][@digest]` form, repository in lowercase.",
    bad: "FROM Debian:12\n",
    good: "FROM debian:12\n"
}
"undefined-arg-in-from" {
    why: "FROM only sees ARGs declared before the first FROM; an undeclared variable expands to nothing and the build fails or pulls the wrong image.",
    fix: "Declare the ARG (with a default) before the first FROM.",
    bad: "FROM debian:${DEBIAN_TAG}\n",
    good: "ARG DEBIAN_TAG=12\nFROM debian:${DEBIAN_TAG}\n"
}
"arg-in-from-no-default" {
    why: "An ARG without a default expands to an empty string unless every build passes --build-arg, which breaks plain `docker build`.",
    fix: "Give the ARG a default value, or use `${VAR:-default}` in FROM.",
    bad: "ARG BASE\nFROM ${BASE}\n",
    good: "ARG BASE=debian:12\nFROM ${BASE}\n"
}
"from-platform-constant" {
    why: "A constant --platform forces one architecture, so multi-platform builds silently produce the wrong binaries (or run under emulation).",
    fix: "Use `--platform=$BUILDPLATFORM` for build stages, or leave the platform to the builder.",
    bad: "FROM --platform=linux/amd64 alpine:3.20\n",
    good: "FROM --platform=$BUILDPLATFORM alpine:3.20\n"
}
"duplicate-stage-name" {
    why: "BuildKit rejects two stages with the same name (case-insensitively); `COPY --from` would be ambiguous.",
    fix: "Give each stage a unique name.",
    bad: "FROM alpine:3.20 AS build\nFROM alpine:3.20 AS build\n",
    good: "FROM alpine:3.20 AS build\nFROM alpine:3.20 AS test\n"
}
"stage-name-casing" {
    why: "Stage names are case-insensitive; mixed case suggests a distinction that does not exist.",
    fix: "Use lowercase stage names.",
    bad: "FROM alpine:3.20 AS Builder\n",
    good: "FROM alpine:3.20 AS builder\n"
}
"copy-from-unknown-stage" {
    why: "A `--from` value that is neither an earlier stage nor an image-looking reference is usually a typo; BuildKit then tries to pull `docker.io/library/<name>`.",
    fix: "Use the name (or index) of an earlier stage, or a full image reference.",
    bad: "FROM golang:1.23 AS build\nRUN go build -o /app .\nFROM alpine:3.20\nCOPY --from=biuld /app /app\n",
    good: "FROM golang:1.23 AS build\nRUN go build -o /app .\nFROM alpine:3.20\nCOPY --from=build /app /app\n"
}
"copy-from-self" {
    why: "A stage cannot copy from itself; the build fails with a cycle.",
    fix: "Copy from an earlier stage, or use a plain COPY from the context.",
    bad: "FROM alpine:3.20 AS app\nCOPY --from=app /a /b\n",
    good: "FROM alpine:3.20 AS base\nFROM alpine:3.20 AS app\nCOPY --from=base /a /b\n"
}
"copy-whole-filesystem" {
    why: "Copying `/` from another image brings its package database, caches and setuid binaries along, and defeats scanning of what the image really contains.",
    fix: "Copy only the files the final image needs.",
    bad: "FROM alpine:3.20 AS tools\nFROM alpine:3.20\nCOPY --from=tools / /\n",
    good: "FROM alpine:3.20 AS tools\nFROM alpine:3.20\nCOPY --from=tools /usr/bin/jq /usr/bin/jq\n"
}
"user-not-numeric" {
    why: "Kubernetes `runAsNonRoot` can only verify numeric UIDs; a user name also depends on the image's /etc/passwd.",
    fix: "Use a numeric UID (and GID): `USER 10001:10001`.",
    bad: "FROM alpine:3.20\nRUN adduser -D app\nUSER app\n",
    good: "FROM alpine:3.20\nRUN adduser -D -u 10001 app\nUSER 10001\n"
}
"copy-dest-not-dir" {
    why: "With several sources, the destination must be a directory; without a trailing slash the build fails.",
    fix: "End the destination with `/`.",
    bad: "FROM alpine:3.20\nWORKDIR /app\nCOPY a.txt b.txt /app\n",
    good: "FROM alpine:3.20\nWORKDIR /app\nCOPY a.txt b.txt /app/\n"
}
"copy-relative-without-workdir" {
    why: "A relative destination lands in the base image's working directory, which you do not control and which can change with the base.",
    fix: "Set WORKDIR first, or use an absolute destination.",
    bad: "FROM alpine:3.20\nCOPY app.sh bin/\n",
    good: "FROM alpine:3.20\nWORKDIR /opt/app\nCOPY app.sh bin/\n"
}
"add-instead-of-copy" {
    why: "ADD also downloads URLs and unpacks archives; using it for plain files hides that behaviour from reviewers and can unpack files you meant to copy.",
    fix: "Use COPY for local files and folders; keep ADD for URLs you verify with `--checksum` or for archives you mean to unpack.",
    bad: "FROM alpine:3.20\nADD app.sh /usr/local/bin/\n",
    good: "FROM alpine:3.20\nCOPY app.sh /usr/local/bin/\n"
}
"maintainer" {
    why: "MAINTAINER has been deprecated since Docker 1.13; the OCI annotation is what tools read.",
    fix: "Use `LABEL org.opencontainers.image.authors=\"...\"`.",
    bad: "FROM alpine:3.20\nMAINTAINER ops@example.com\n",
    good: "FROM alpine:3.20\nLABEL org.opencontainers.image.authors=\"ops@example.com\"\n"
}
"workdir-relative" {
    why: "A relative WORKDIR is resolved against the previous one, so its meaning depends on instructions elsewhere (or in the base image).",
    fix: "Use an absolute path.",
    bad: "FROM alpine:3.20\nWORKDIR app\n",
    good: "FROM alpine:3.20\nWORKDIR /app\n"
}
"multiple-cmd" {
    why: "Only the last CMD of a stage takes effect; earlier ones are dead code that misleads readers.",
    fix: "Keep one CMD per stage.",
    bad: "FROM alpine:3.20\nCMD [\"a\"]\nCMD [\"b\"]\n",
    good: "FROM alpine:3.20\nCMD [\"b\"]\n"
}
"multiple-entrypoint" {
    why: "Only the last ENTRYPOINT of a stage takes effect.",
    fix: "Keep one ENTRYPOINT per stage.",
    bad: "FROM alpine:3.20\nENTRYPOINT [\"a\"]\nENTRYPOINT [\"b\"]\n",
    good: "FROM alpine:3.20\nENTRYPOINT [\"b\"]\n"
}
"multiple-healthcheck" {
    why: "Only the last HEALTHCHECK of a stage takes effect.",
    fix: "Keep one HEALTHCHECK per stage.",
    bad: "FROM alpine:3.20\nHEALTHCHECK CMD [\"true\"]\nHEALTHCHECK CMD [\"false\"]\n",
    good: "FROM alpine:3.20\nHEALTHCHECK CMD [\"true\"]\n"
}
"shell-form-cmd" {
    why: "In shell form the process runs under `/bin/sh -c`, which does not forward SIGTERM; containers are then killed after the stop timeout instead of shutting down cleanly.",
    fix: "Use the JSON (exec) form: `CMD [\"nginx\", \"-g\", \"daemon off;\"]`.",
    bad: "FROM alpine:3.20\nCMD nginx -g 'daemon off;'\n",
    good: "FROM alpine:3.20\nCMD [\"nginx\", \"-g\", \"daemon off;\"]\n"
}
"expose-ssh" {
    why: "An SSH daemon in a container is an extra service to patch and attack; orchestrators already provide exec access.",
    fix: "Remove the SSH server and EXPOSE 22; use `kubectl exec` or `docker exec`.",
    bad: "FROM alpine:3.20\nEXPOSE 22\n",
    good: "FROM alpine:3.20\nEXPOSE 8080\n"
}
"expose-invalid-port" {
    why: "Ports outside 1-65535 or malformed protocols are rejected at run time.",
    fix: "Use a port from 1 to 65535, optionally `/tcp`, `/udp` or `/sctp`.",
    bad: "FROM alpine:3.20\nEXPOSE 80000\n",
    good: "FROM alpine:3.20\nEXPOSE 8080/tcp\n"
}
"secret-name-in-arg-env" {
    why: "ARG and ENV values are stored in the image config and history; anyone who can pull the image can read a secret passed this way.",
    fix: "Use BuildKit secrets: `RUN --mount=type=secret,id=npm_token ...`.",
    bad: "FROM alpine:3.20\nARG NPM_TOKEN\n",
    good: "FROM alpine:3.20\nRUN --mount=type=secret,id=npm_token cat /run/secrets/npm_token > /dev/null\n"
}
"secret-value-in-arg-env" {
    why: "A literal credential in the Dockerfile is in version control and in every image layer's history.",
    fix: "Revoke the credential, remove it, and pass it with `--secret` at build time.",
    bad: "FROM alpine:3.20\nENV AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n",
    good: "FROM alpine:3.20\nENV AWS_REGION=eu-west-1\n"
}
"missing-healthcheck" {
    why: "Without a HEALTHCHECK, Docker and Swarm only know whether the process exists, not whether it serves.",
    fix: "Add a HEALTHCHECK, or `HEALTHCHECK NONE` when the orchestrator probes instead.",
    bad: "FROM alpine:3.20\nCMD [\"sh\"]\n",
    good: "FROM alpine:3.20\nHEALTHCHECK NONE\nCMD [\"sh\"]\n"
}
"final-stage-not-minimal" {
    why: "Full OS images ship shells, package managers and hundreds of packages the application never uses; each is a vulnerability to patch.",
    fix: "Build in a full image, then copy the result into a distroless, slim or alpine final stage.",
    bad: "FROM debian:12\nCOPY app /app\n",
    good: "FROM debian:12 AS build\nCOPY app /app\nFROM gcr.io/distroless/static-debian12:nonroot\nCOPY --from=build /app /app\n"
}
"consecutive-run" {
    why: "Each RUN makes a layer; single commands in separate RUNs grow the image and split related steps.",
    fix: "Join related commands with `&&` in one RUN.",
    bad: "FROM alpine:3.20\nRUN mkdir /data\nRUN chmod 700 /data\n",
    good: "FROM alpine:3.20\nRUN mkdir /data && chmod 700 /data\n"
}
"apt-unpinned" {
    why: "Unpinned packages make builds unreproducible. safeimage's daily rebuild is the other answer to the same problem, so many teams ignore this rule deliberately.",
    fix: "Pin `name=version`, or ignore the rule in `[lint] ignored` when you rely on daily rebuilds with scanning.",
    bad: "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n",
    good: "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u8 && rm -rf /var/lib/apt/lists/*\n"
}
"apt-missing-yes" {
    why: "Without `-y`, apt-get asks for confirmation and the non-interactive build aborts.",
    fix: "Add `-y`.",
    bad: "FROM debian:12\nRUN apt-get install curl=7.88.1-10+deb12u8\n",
    good: "FROM debian:12\nRUN apt-get install -y curl=7.88.1-10+deb12u8\n"
}
"apt-no-install-recommends" {
    why: "Recommended packages are installed by default and often triple the size of what you asked for.",
    fix: "Add `--no-install-recommends`.",
    bad: "FROM debian:12\nRUN apt-get install -y curl=7.88.1-10+deb12u8\n",
    good: "FROM debian:12\nRUN apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u8\n"
}
"apt-lists-not-cleaned" {
    why: "Package lists in /var/lib/apt/lists add tens of megabytes to the final image and go stale immediately.",
    fix: "End the RUN with `rm -rf /var/lib/apt/lists/*`, or use `--mount=type=cache,target=/var/lib/apt`.",
    bad: "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u8\n",
    good: "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u8 && rm -rf /var/lib/apt/lists/*\n"
}
"apt-update-alone" {
    why: "A RUN with only `apt-get update` is cached; later installs then use stale lists and can fail or install outdated versions.",
    fix: "Run `apt-get update && apt-get install ...` in the same RUN.",
    bad: "FROM debian:12\nRUN apt-get update\n",
    good: "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u8 && rm -rf /var/lib/apt/lists/*\n"
}
"apt-use-apt-get" {
    why: "`apt` warns that its command-line interface is not stable; its output and prompts change between releases.",
    fix: "Use `apt-get` (or `apt-cache`) in scripts.",
    bad: "FROM debian:12\nRUN apt update\n",
    good: "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u8 && rm -rf /var/lib/apt/lists/*\n"
}
"apk-unpinned" {
    why: "Unpinned apk packages make builds unreproducible.",
    fix: "Pin `name=version`, or ignore the rule when daily rebuilds with scanning are your policy.",
    bad: "FROM alpine:3.20\nRUN apk add --no-cache curl\n",
    good: "FROM alpine:3.20\nRUN apk add --no-cache curl=8.9.1-r2\n"
}
"apk-no-cache" {
    why: "Without `--no-cache`, the package index stays in /var/cache/apk in the layer.",
    fix: "Use `apk add --no-cache`.",
    bad: "FROM alpine:3.20\nRUN apk add curl=8.9.1-r2\n",
    good: "FROM alpine:3.20\nRUN apk add --no-cache curl=8.9.1-r2\n"
}
"rpm-unpinned" {
    why: "Unpinned RPM packages make builds unreproducible.",
    fix: "Pin `name-version` (yum/dnf) or `name=version` (zypper).",
    bad: "FROM fedora:40\nRUN dnf install -y curl && dnf clean all\n",
    good: "FROM fedora:40\nRUN dnf install -y curl-8.6.0 && dnf clean all\n"
}
"rpm-missing-yes" {
    why: "Without `-y` (or zypper's `-n`), the package manager waits for confirmation and the build aborts.",
    fix: "Add `-y` (yum/dnf) or `-n` (zypper).",
    bad: "FROM fedora:40\nRUN dnf install curl-8.6.0 && dnf clean all\n",
    good: "FROM fedora:40\nRUN dnf install -y curl-8.6.0 && dnf clean all\n"
}
"rpm-cache-not-cleaned" {
    why: "yum/dnf/zypper metadata and package caches stay in the layer.",
    fix: "Finish the RUN with `dnf clean all` (or `yum clean all`, `zypper clean`).",
    bad: "FROM fedora:40\nRUN dnf install -y curl-8.6.0\n",
    good: "FROM fedora:40\nRUN dnf install -y curl-8.6.0 && dnf clean all\n"
}
"pip-unpinned" {
    why: "Unpinned pip installs resolve to whatever is newest at build time, including a compromised release.",
    fix: "Pin `name==version`, or install from a requirements file with `--require-hashes`.",
    bad: "FROM python:3.12-slim\nRUN pip install --no-cache-dir flask\n",
    good: "FROM python:3.12-slim\nRUN pip install --no-cache-dir flask==3.0.3\n"
}
"pip-no-cache-dir" {
    why: "pip keeps downloaded wheels in ~/.cache/pip inside the layer.",
    fix: "Add `--no-cache-dir`, set `ENV PIP_NO_CACHE_DIR=1`, or use a cache mount.",
    bad: "FROM python:3.12-slim\nRUN pip install flask==3.0.3\n",
    good: "FROM python:3.12-slim\nRUN pip install --no-cache-dir flask==3.0.3\n"
}
"npm-unpinned" {
    why: "`npm install name` takes the newest release at build time.",
    fix: "Use `name@version`, or `npm ci` with a committed lockfile.",
    bad: "FROM node:22-slim\nRUN npm install -g typescript\n",
    good: "FROM node:22-slim\nRUN npm install -g typescript@5.6.3\n"
}
"gem-unpinned" {
    why: "`gem install name` takes the newest release at build time.",
    fix: "Use `gem install name:version` or `-v version`.",
    bad: "FROM ruby:3.3-slim\nRUN gem install bundler\n",
    good: "FROM ruby:3.3-slim\nRUN gem install bundler:2.5.22\n"
}
"yarn-cache-not-cleaned" {
    why: "yarn install keeps every downloaded package in its cache directory; without cleaning it in the same RUN it ships in the image layer.",
    fix: "End the RUN with `yarn cache clean`, or use `RUN --mount=type=cache,target=/usr/local/share/.cache/yarn`.",
    bad: "FROM node:20\nRUN yarn install --frozen-lockfile\n",
    good: "FROM node:20\nRUN yarn install --frozen-lockfile && yarn cache clean\n"
}
"useradd-high-uid" {
    why: "useradd records every UID in /var/log/lastlog and faillog; a large UID makes a sparse file of gigabytes that layer storage does not keep sparse.",
    fix: "Add `-l` (`--no-log-init`), or use a UID below 100000.",
    bad: "FROM debian:12\nRUN useradd -u 123456789 app\n",
    good: "FROM debian:12\nRUN useradd -l -u 123456789 app\n"
}
"ln-bin-sh" {
    why: "Relinking /bin/sh changes the shell for every script and package hook in the image, not just for the Dockerfile's RUN steps.",
    fix: "Use `SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` to run RUN steps with another shell.",
    bad: "FROM debian:12\nRUN ln -sf /bin/bash /bin/sh\n",
    good: "FROM debian:12\nSHELL [\"/bin/bash\", \"-c\"]\n"
}
"zypper-dist-upgrade" {
    why: "A distribution upgrade inside a build gives an image whose contents depend on the day it was built and no longer match its base image's tag.",
    fix: "Rebuild on a newer base image tag; safeimage's daily run rebuilds on the newest base digest.",
    bad: "FROM opensuse/leap:15.6\nRUN zypper dist-upgrade -y\n",
    good: "FROM opensuse/leap:15.6\nRUN zypper install -y curl-8.0\n"
}
"env-self-reference" {
    why: "Variables in an ENV instruction are expanded with the values from before that instruction, so `ENV A=1 B=$A` sets B to the old A (often empty), not 1.",
    fix: "Split it: `ENV A=1` then `ENV B=$A`.",
    bad: "FROM debian:12\nENV A=1 B=$A\n",
    good: "FROM debian:12\nENV A=1\nENV B=$A\n"
}
"wget-progress" {
    why: "wget's progress bar writes a line for every chunk it downloads when there is no terminal; a large download turns into megabytes of build log that bury the lines that matter.",
    fix: "Add `--progress=dot:giga`, or `-q`/`-nv` when the progress is not wanted at all.",
    bad: "FROM debian:12\nRUN wget https://example.com/app.tar.gz\n",
    good: "FROM debian:12\nRUN wget --progress=dot:giga https://example.com/app.tar.gz\n"
}
"label-key-invalid" {
    why: "Docker recommends label keys of lowercase letters, digits, dots and hyphens, in reverse-DNS form, and reserves com.docker., io.docker. and org.dockerproject. for itself; tools that read labels (registries, scanners, Kubernetes admission) expect that form.",
    fix: "Rename the key, e.g. `org.opencontainers.image.source` instead of `Source` or `com.docker.source`.",
    bad: "FROM debian:12\nLABEL com.docker.version=1\n",
    good: "FROM debian:12\nLABEL org.opencontainers.image.version=1\n"
}
"label-missing" {
    why: "An organisation's label schema says which metadata every image carries (source, licence, owner, revision); an image without it cannot be traced back or audited.",
    fix: "Add the missing labels to the stage (a stage built FROM another stage inherits that stage's labels).",
    bad: "FROM debian:12\nLABEL org.opencontainers.image.source=https://example.com/app\n",
    good: "FROM debian:12\nLABEL org.opencontainers.image.source=https://example.com/app org.opencontainers.image.licenses=MIT org.opencontainers.image.revision=43c572f1272b6b3171dd1db9e41b7027128ce080\n"
}
"label-not-in-schema" {
    why: "With strict labels, the schema is the whole vocabulary: a label outside it is a typo or an undocumented key.",
    fix: "Use a key from the schema, or add the key to the schema.",
    bad: "FROM debian:12\nLABEL org.opencontainers.image.source=https://example.com/app org.opencontainers.image.licenses=MIT org.opencontainers.image.revision=43c572f1272b6b3171dd1db9e41b7027128ce080 team=payments\n",
    good: "FROM debian:12\nLABEL org.opencontainers.image.source=https://example.com/app org.opencontainers.image.licenses=MIT org.opencontainers.image.revision=43c572f1272b6b3171dd1db9e41b7027128ce080\n"
}
"label-empty" {
    why: "A required label set to an empty string satisfies the letter of the schema but carries nothing.",
    fix: "Give the label its value (often from a build argument: `LABEL org.opencontainers.image.revision=$GIT_SHA`).",
    bad: "FROM debian:12\nLABEL org.opencontainers.image.source=https://example.com/app org.opencontainers.image.licenses=MIT org.opencontainers.image.revision=\"\"\n",
    good: "FROM debian:12\nLABEL org.opencontainers.image.source=https://example.com/app org.opencontainers.image.licenses=MIT org.opencontainers.image.revision=43c572f1272b6b3171dd1db9e41b7027128ce080\n"
}
"label-invalid-value" {
    why: "Labels are read by machines: a source that is not a URL, a licence that is not an SPDX expression or a revision that is not a commit hash breaks the tools that rely on them.",
    fix: "Write the value in the schema's type: url, rfc3339 (2024-01-31T12:00:00Z), spdx (Apache-2.0 OR MIT), hash (git commit), semver (1.2.3), email.",
    bad: "FROM debian:12\nLABEL org.opencontainers.image.source=github org.opencontainers.image.licenses=MIT org.opencontainers.image.revision=43c572f1272b6b3171dd1db9e41b7027128ce080\n",
    good: "FROM debian:12\nLABEL org.opencontainers.image.source=https://github.com/example/app org.opencontainers.image.licenses=MIT org.opencontainers.image.revision=43c572f1272b6b3171dd1db9e41b7027128ce080\n"
}
"redundant-target-platform" {
    why: "Every stage is built for the target platform unless told otherwise; spelling it out adds nothing and hides the stages that really do differ.",
    fix: "Drop `--platform=$TARGETPLATFORM`; keep `--platform=$BUILDPLATFORM` for stages that must run on the build machine.",
    bad: "FROM --platform=$TARGETPLATFORM debian:12\n",
    good: "FROM debian:12\n"
}
"go-install-unpinned" {
    why: "`go install path@latest` (or without a version) changes with every upstream release.",
    fix: "Use `go install path@vX.Y.Z`.",
    bad: "FROM golang:1.23\nRUN go install golang.org/x/tools/gopls@latest\n",
    good: "FROM golang:1.23\nRUN go install golang.org/x/tools/gopls@v0.16.2\n"
}
"pipefail" {
    why: "In `a | b` the shell only reports b's exit status; a failed download piped into a parser builds a broken image that looks fine.",
    fix: "Add `SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]` before the RUN (or `set -o pipefail` in shells that support it).",
    bad: "FROM debian:12\nRUN wget -qO- https://example.com/x.txt | wc -l\n",
    good: "FROM debian:12\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN wget -qO- https://example.com/x.txt | wc -l\n"
}
"curl-pipe-shell" {
    why: "Piping a download into a shell runs whatever the server returns at that moment, unverified and unrecorded.",
    fix: "Download to a file, verify a pinned checksum or signature, then run it.",
    bad: "FROM debian:12\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN curl -fsSL https://example.com/install.sh | bash\n",
    good: "FROM debian:12\nRUN curl -fsSLo /tmp/install.sh https://example.com/install.sh && echo \"0000  /tmp/install.sh\" | sha256sum -c && bash /tmp/install.sh\n"
}
"run-cd" {
    why: "`cd` only lasts for one RUN; WORKDIR states the directory once for every later instruction.",
    fix: "Use WORKDIR.",
    bad: "FROM alpine:3.20\nRUN cd /tmp && touch x\n",
    good: "FROM alpine:3.20\nWORKDIR /tmp\nRUN touch x\n"
}
"wget-and-curl" {
    why: "Two download tools where one suffices add packages to patch.",
    fix: "Use one of them throughout.",
    bad: "FROM alpine:3.20\nRUN wget -q https://example.com/a\nRUN curl -fsSO https://example.com/b\n",
    good: "FROM alpine:3.20\nRUN curl -fsSO https://example.com/a && curl -fsSO https://example.com/b\n"
}
"pointless-command" {
    why: "Commands such as `service`, `systemctl`, `ssh`, `vim` or `top` have no effect in a build (no init system, no terminal).",
    fix: "Remove them; start services from the container's CMD.",
    bad: "FROM debian:12\nRUN service nginx start\n",
    good: "FROM debian:12\nCMD [\"nginx\", \"-g\", \"daemon off;\"]\n"
}
"base-prohibited" {
    why: "The base-image policy prohibits this image (or it matches no pattern and the default tier is prohibited: an image nobody vetted cannot be verified).",
    fix: "Switch to a preferred or permitted base, or ask for the policy to be extended.",
    bad: "FROM quay.io/someone/tool:1.0@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    good: "FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
}
"base-restricted" {
    why: "Restricted images are allowed but discouraged (e.g. full language images); the finding names the pattern that matched.",
    fix: "Prefer a preferred tier image (build in the language image, ship on distroless).",
    bad: "FROM node:22@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    good: "FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
}
"base-untrusted-registry" {
    why: "Images from registries outside the trusted list bypass your mirroring, scanning and access controls.",
    fix: "Pull through a trusted registry or mirror.",
    bad: "FROM quay.io/someone/tool:1.0@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    good: "FROM gcr.io/distroless/static-debian12@sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
}
"base-not-pinned" {
    why: "With `require_digest`, only digests are accepted: a tag can be moved to different content, a digest cannot.",
    fix: "Pin `image:tag@sha256:...`; safeimage's daily run updates digests deliberately.",
    bad: "FROM alpine:3.20\n",
    good: "FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
}
"base-release-eol" {
    why: "With `current_release`, a base whose release no longer gets security updates (past its end of life in the advisory DB's data: Debian's distro-info-data, endoflife.date) is a finding: nothing will fix what is found in it.",
    fix: "Move to a supported release of the same product; the message names the newest one.",
    bad: "FROM python:3.8-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    good: "FROM python:3.13-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
}
"base-release-not-current" {
    why: "With `current_release`, a base must be on the newest LTS release of its product (or, for products without LTS releases, the newest stable one): older releases end sooner and get fewer fixes.",
    fix: "Move to the release the message names.",
    bad: "FROM debian:bookworm-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    good: "FROM debian:trixie-slim@sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
}
"base-unofficial" {
    why: "With `docker_official_only`, Docker Hub images must be Docker Official Images (docker.io/library/*), which are reviewed and rebuilt for security updates.",
    fix: "Use the official image or a vetted image from a trusted registry.",
    bad: "FROM bitnami/redis:7.4@sha256:0000000000000000000000000000000000000000000000000000000000000000\n",
    good: "FROM alpine:3.20@sha256:0000000000000000000000000000000000000000000000000000000000000000\n"
}
}

/// Looks up a rule's documentation.
pub fn doc(code: &str) -> Option<&'static RuleDoc> {
    DOCS.iter().find(|d| d.code == code)
}

/// Renders the documentation page of a rule as Markdown.
pub fn page(rule: &super::RuleDef) -> String {
    let d = doc(rule.code);
    let mut s = format!("# `{}`\n\n{}.\n\n", rule.code, rule.summary);
    s.push_str(&format!("Default level: **{}**\n\n", rule.level));
    let eq = |xs: &[&str]| {
        if xs.is_empty() {
            "none".to_string()
        } else {
            xs.iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    s.push_str(&format!(
        "Equivalent codes — Hadolint: {}; Docker build checks: {}; Trivy: {}\n\n",
        eq(rule.hadolint),
        eq(rule.docker),
        eq(rule.trivy)
    ));
    if rule.code.starts_with("base-")
        && !matches!(
            rule.code,
            "base-untagged" | "base-latest" | "base-invalid-reference"
        )
    {
        s.push_str("Reported only when `[policy.base_images]` is configured (see the examples' policy in docs/rules/README.md). Applies to every FROM after ARG expansion, `COPY --from=<image>` and `RUN --mount=...,from=<image>`; stage names and `scratch` are exempt. Findings carry the tier and the pattern that matched.\n\n");
    }
    if rule.code.starts_with("label-") && rule.code != "label-key-invalid" {
        s.push_str("Reported only when a label schema is configured: `[lint.label_schema]` in safeimage.toml (label = \"text\" | \"url\" | \"semver\" | \"hash\" | \"rfc3339\" | \"spdx\" | \"email\"; `strict_labels = true` for `label-not-in-schema`), or `label-schema`/`strict-labels` in `.hadolint.yaml`. The examples use:\n\n```toml\n[lint]\nstrict_labels = true\n\n[lint.label_schema]\n\"org.opencontainers.image.source\" = \"url\"\n\"org.opencontainers.image.licenses\" = \"spdx\"\n\"org.opencontainers.image.revision\" = \"hash\"\n```\n\n");
    }
    if let Some(d) = d {
        s.push_str(&format!(
            "## Why\n\n{}\n\n## How to fix\n\n{}\n\n",
            d.why, d.fix
        ));
        s.push_str(&format!(
            "## Bad\n\n```dockerfile\n{}```\n\n## Good\n\n```dockerfile\n{}```\n\n",
            d.bad, d.good
        ));
    }
    s.push_str(&format!("## Ignoring it\n\nIn `safeimage.toml`: `[lint] ignored = [\"{code}\"]`; on the line above an instruction: `# safeimage ignore={code} -- reason`.", code = rule.code));
    if let Some(h) = rule.hadolint.first() {
        s.push_str(&format!(" Hadolint's `# hadolint ignore={h}` and `.hadolint.yaml` `ignored: [{h}]` have the same effect."));
    }
    s.push('\n');
    s
}
