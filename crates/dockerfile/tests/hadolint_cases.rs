//! Hadolint parity, code by code: for each Hadolint DL code we map, inputs its
//! documented behaviour says must be caught and inputs it must leave alone.
//! Every "catch" input is checked three ways, as Hadolint lints them: after a
//! `FROM` line, as a fragment with no `FROM` at all, and (for instruction
//! rules) wrapped in `ONBUILD`. The `why` of each case states the Hadolint
//! behaviour it encodes; where we deliberately differ, the rule page says so.

use dockerfile::{LintConfig, SourceFile, lint};

struct Case {
    /// Hadolint's code.
    dl: &'static str,
    /// Our rule.
    code: &'static str,
    /// The Hadolint behaviour this case encodes.
    why: &'static str,
    /// Instruction lines that must be reported.
    catch: &'static [&'static str],
    /// Instruction lines that must not be reported.
    pass: &'static [&'static str],
    /// Whether the rule looks at single instructions (so ONBUILD applies).
    onbuild: bool,
}

const CASES: &[Case] = &[
    Case {
        dl: "DL3000",
        code: "workdir-relative",
        why: "WORKDIR must be absolute; variables are allowed",
        catch: &["WORKDIR app", "WORKDIR \"app/x\""],
        pass: &["WORKDIR /app", "WORKDIR $HOME", "WORKDIR \"/app\""],
        onbuild: true,
    },
    Case {
        dl: "DL3001",
        code: "pointless-command",
        why: "ssh, vim, shutdown, service, ps, free, top, kill, mount, ifconfig make no sense in a build",
        catch: &["RUN vim /etc/hosts", "RUN service nginx start"],
        pass: &["RUN apt-get install -y --no-install-recommends vim=2"],
        onbuild: true,
    },
    Case {
        dl: "DL3003",
        code: "run-cd",
        why: "cd in RUN should be WORKDIR",
        catch: &["RUN cd /usr/src && make"],
        pass: &["RUN make -C /usr/src"],
        onbuild: true,
    },
    Case {
        dl: "DL3004",
        code: "sudo",
        why: "sudo is never needed in a build",
        catch: &["RUN sudo apt-get update", "RUN DEBIAN_FRONTEND=x sudo make"],
        pass: &["RUN apt-get update", "RUN echo sudo"],
        onbuild: true,
    },
    Case {
        dl: "DL3008",
        code: "apt-unpinned",
        why: "apt-get install names a version for each package; .deb files and variables are exempt",
        catch: &["RUN apt-get install -y curl"],
        pass: &[
            "RUN apt-get install -y curl=8.0",
            "RUN apt-get install -y ./x.deb",
            "RUN apt-get install -y $PKGS",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3009",
        code: "apt-lists-not-cleaned",
        why: "apt lists are removed in the same RUN, or kept in a cache mount",
        catch: &["RUN apt-get update && apt-get install -y --no-install-recommends curl=8"],
        pass: &[
            "RUN apt-get update && apt-get install -y --no-install-recommends curl=8 && rm -rf /var/lib/apt/lists/*",
            "RUN --mount=type=cache,target=/var/lib/apt apt-get update && apt-get install -y --no-install-recommends curl=8",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3014",
        code: "apt-missing-yes",
        why: "apt-get install needs -y/--yes/--assume-yes; quiet level 2 (-qq, -q -q, --quiet --quiet, -q=2) implies yes",
        catch: &[
            "RUN apt-get install --no-install-recommends curl=8",
            "RUN apt-get -q install --no-install-recommends curl=8",
        ],
        pass: &[
            "RUN apt-get install -y --no-install-recommends curl=8",
            "RUN apt-get -qq install --no-install-recommends curl=8",
            "RUN apt-get -q -q install --no-install-recommends curl=8",
            "RUN apt-get --quiet --quiet install --no-install-recommends curl=8",
            "RUN apt-get -q=2 install --no-install-recommends curl=8",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3015",
        code: "apt-no-install-recommends",
        why: "apt-get install without --no-install-recommends",
        catch: &["RUN apt-get install -y curl=8"],
        pass: &[
            "RUN apt-get install -y --no-install-recommends curl=8",
            "RUN apt-get install -y -o APT::Install-Recommends=false curl=8",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3016",
        code: "npm-unpinned",
        why: "npm install of a registry package needs @version; git URLs need #commit; tarballs and local folders are exempt",
        catch: &[
            "RUN npm install express",
            "RUN npm install git+ssh://git@github.com/a/b.git",
            "RUN npm install git+https://github.com/a/b.git",
        ],
        pass: &[
            "RUN npm install express@4.1.0",
            "RUN npm install @scope/pkg@1.0.0",
            "RUN npm install git+ssh://git@github.com/a/b.git#v1.0.0",
            "RUN npm install ./local-folder",
            "RUN npm install ./pkg.tgz",
            "RUN npm install",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3018",
        code: "apk-unpinned",
        why: "apk add names a version for each package",
        catch: &["RUN apk add --no-cache curl"],
        pass: &["RUN apk add --no-cache curl=8.0-r0"],
        onbuild: true,
    },
    Case {
        dl: "DL3019",
        code: "apk-no-cache",
        why: "apk add without --no-cache (or a cache mount)",
        catch: &["RUN apk add curl=8.0-r0"],
        pass: &[
            "RUN apk add --no-cache curl=8.0-r0",
            "RUN --mount=type=cache,target=/var/cache/apk apk add curl=8.0-r0",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3020",
        code: "add-instead-of-copy",
        why: "ADD for plain local files should be COPY; URLs and archives (what ADD unpacks) are exempt",
        catch: &["ADD app.py /app/", "ADD \"dir\" /app/"],
        pass: &[
            "ADD https://example.com/x.txt /x",
            "ADD rootfs.tar.xz /",
            "ADD file.gz /x/",
            "ADD \"rootfs.tar.gz\" /",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3021",
        code: "copy-dest-not-dir",
        why: "COPY with several sources needs a destination ending in /",
        catch: &["COPY a b /app"],
        pass: &["COPY a b /app/", "COPY a b \"/app/\""],
        onbuild: true,
    },
    Case {
        dl: "DL3025",
        code: "shell-form-cmd",
        why: "CMD and ENTRYPOINT in JSON form",
        catch: &["CMD node app.js", "ENTRYPOINT /bin/run"],
        pass: &["CMD [\"node\", \"app.js\"]"],
        onbuild: true,
    },
    Case {
        dl: "DL3027",
        code: "apt-use-apt-get",
        why: "apt is for interactive use",
        catch: &["RUN apt install -y curl=8"],
        pass: &["RUN apt-get install -y --no-install-recommends curl=8"],
        onbuild: true,
    },
    Case {
        dl: "DL3028",
        code: "gem-unpinned",
        why: "gem install needs a version (name:version or -v)",
        catch: &["RUN gem install rails"],
        pass: &[
            "RUN gem install rails:7.0.0",
            "RUN gem install rails -v 7.0.0",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3033",
        code: "rpm-unpinned",
        why: "yum install names versions",
        catch: &["RUN yum install -y httpd && yum clean all"],
        pass: &["RUN yum install -y httpd-2.4.6 && yum clean all"],
        onbuild: true,
    },
    Case {
        dl: "DL3042",
        code: "pip-no-cache-dir",
        why: "pip install without --no-cache-dir, unless PIP_NO_CACHE_DIR is set to a true value; pip2 too",
        catch: &[
            "RUN pip install a==1",
            "RUN pip2 install a==1",
            "ENV PIP_NO_CACHE_DIR=off\nRUN pip install a==1",
            "ENV PIP_NO_CACHE_DIR=0\nRUN pip install a==1",
            "ENV PIP_NO_CACHE_DIR=false\nRUN pip install a==1",
        ],
        pass: &[
            "RUN pip install --no-cache-dir a==1",
            "ENV PIP_NO_CACHE_DIR=1\nRUN pip install a==1",
            "ENV PIP_NO_CACHE_DIR=on\nRUN pip install a==1",
        ],
        onbuild: false,
    },
    Case {
        dl: "DL3045",
        code: "copy-relative-without-workdir",
        why: "COPY to a relative destination needs a WORKDIR first; quoted absolute paths are absolute",
        catch: &["COPY a.txt dest/"],
        pass: &[
            "COPY a.txt /dest/",
            "COPY a \"/usr/local/bin/b\"",
            "WORKDIR /app\nCOPY a.txt dest/",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3062",
        code: "go-install-unpinned",
        why: "go install/get/run of a module path needs @version (not @latest)",
        catch: &[
            "RUN go install github.com/a/b@latest",
            "RUN go install github.com/a/b",
            "RUN go get github.com/a/b",
            "RUN go run github.com/a/c@latest",
        ],
        pass: &[
            "RUN go install github.com/a/b@v1.2.3",
            "RUN go run main.go",
            "RUN go run .",
            "RUN go get github.com/a/b@v1.2.3",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3043",
        code: "onbuild-forbidden",
        why: "ONBUILD may not wrap FROM, MAINTAINER or ONBUILD",
        catch: &["ONBUILD MAINTAINER me", "ONBUILD FROM debian:12"],
        pass: &["ONBUILD RUN make"],
        onbuild: false,
    },
    Case {
        dl: "DL3061",
        code: "missing-from",
        why: "a Dockerfile begins with FROM, ARG or comments",
        catch: &[],
        pass: &["ARG A=1\nFROM debian:12"],
        onbuild: false,
    },
    Case {
        dl: "DL3063",
        code: "reserved-stage-name",
        why: "stages may not be named scratch or context",
        catch: &["FROM debian:12 AS scratch", "FROM debian:12 AS context"],
        pass: &["FROM debian:12 AS build"],
        onbuild: false,
    },
    Case {
        dl: "DL3064",
        code: "secret-value-in-arg-env",
        why: "a secret-named ENV/ARG with a literal value is a leaked credential (AWS access key IDs included)",
        catch: &[
            "ENV AWS_ACCESS_KEY_ID=AKIA0000000000000000",
            "ENV DB_PASSWORD=hunter2",
        ],
        pass: &["ENV GPG_KEY=ABCDEF", "ENV PASSWORD_FILE=/run/secrets/pw"],
        onbuild: true,
    },
    Case {
        dl: "DL3064",
        code: "secret-name-in-arg-env",
        why: "an ARG/ENV named like a secret stores it in the image metadata, in any letter case",
        catch: &["ARG openai_api_key", "ARG NPM_TOKEN"],
        pass: &["ARG TOKEN_URL", "ARG VERSION"],
        onbuild: true,
    },
    Case {
        dl: "DL3067",
        code: "copy-whole-filesystem",
        why: "COPY --from of / (quoted or not) copies a whole filesystem",
        catch: &[
            "COPY --from=busybox:1.36 / /",
            "COPY --from=busybox:1.36 \"/\" \"/\"",
        ],
        pass: &["COPY --from=busybox:1.36 /bin/busybox /bin/"],
        onbuild: false,
    },
    Case {
        dl: "DL3044",
        code: "env-self-reference",
        why: "an ENV may not use a variable it defines itself",
        catch: &["ENV A=1 B=$A", "ENV A=1 B=${A}/x"],
        pass: &["ENV A=1\nENV B=$A", "ENV A=1 B=$AB"],
        onbuild: true,
    },
    Case {
        dl: "DL3046",
        code: "useradd-high-uid",
        why: "useradd with a high UID needs -l",
        catch: &["RUN useradd -u 123456789 app"],
        pass: &["RUN useradd -l -u 123456789 app", "RUN useradd -u 1000 app"],
        onbuild: true,
    },
    Case {
        dl: "DL3060",
        code: "yarn-cache-not-cleaned",
        why: "yarn install is followed by yarn cache clean in the same RUN",
        catch: &["RUN yarn install"],
        pass: &["RUN yarn install && yarn cache clean"],
        onbuild: true,
    },
    Case {
        dl: "DL3035",
        code: "zypper-dist-upgrade",
        why: "no zypper dist-upgrade in a build",
        catch: &["RUN zypper dist-upgrade -y", "RUN zypper dup -y"],
        pass: &["RUN zypper install -y curl-8.0 && zypper clean"],
        onbuild: true,
    },
    Case {
        dl: "DL4005",
        code: "ln-bin-sh",
        why: "use SHELL, not ln, to change the shell",
        catch: &["RUN ln -sf /bin/bash /bin/sh"],
        pass: &["RUN ln -sf /usr/bin/python3 /usr/bin/python"],
        onbuild: true,
    },
    Case {
        dl: "DL3047",
        code: "wget-progress",
        why: "wget needs --progress (or a quiet/log-file option) to keep build logs small",
        catch: &["RUN wget https://a/x"],
        pass: &[
            "RUN wget --progress=dot:giga https://a/x",
            "RUN wget -q https://a/x",
            "RUN wget -nv https://a/x",
            "RUN wget -O- -q https://a/x",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3048",
        code: "label-key-invalid",
        why: "label keys are lowercase reverse-DNS, outside Docker's reserved namespaces",
        catch: &[
            "LABEL com.docker.x=1",
            "LABEL invalid..key=1",
            "LABEL -key=1",
            "LABEL bad$char=1",
        ],
        pass: &[
            "LABEL org.opencontainers.image.version=1",
            "LABEL maintainer=me",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3065",
        code: "redundant-target-platform",
        why: "FROM --platform=$TARGETPLATFORM is the default",
        catch: &[
            "FROM --platform=$TARGETPLATFORM debian:12",
            "FROM --platform=${TARGETPLATFORM} debian:12",
        ],
        pass: &["FROM --platform=$BUILDPLATFORM debian:12", "FROM debian:12"],
        onbuild: false,
    },
    Case {
        dl: "DL3013",
        code: "pip-unpinned",
        why: "pip/pipx install needs versions; VCS URLs need @ref; constraint files and local paths are exempt",
        catch: &[
            "RUN pip install requests",
            "RUN pipx install black",
            "RUN pip install git+https://github.com/a/b.git#egg=b",
        ],
        pass: &[
            "RUN pip install requests==2.31.0",
            "RUN pip install git+https://github.com/a/b.git@v1.0#egg=b",
            "RUN pip install -c constraints.txt requests",
            "RUN pip install ./pkg",
            "RUN pip install --root-user-action ignore requests==2.31.0",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3040",
        code: "rpm-cache-not-cleaned",
        why: "dnf/yum/microdnf install, upgrade and reinstall are followed by a clean in the same RUN (after them, by any rpm tool), or use a cache/tmpfs mount",
        catch: &[
            "RUN dnf -y upgrade",
            "RUN dnf -y up",
            "RUN microdnf clean all && dnf install -y mariadb-10.4",
        ],
        pass: &[
            "RUN dnf install -y mariadb-10.4 && dnf clean all",
            "RUN dnf install -y mariadb-10.4 && microdnf clean all",
            "RUN --mount=type=tmpfs,target=/var/cache/libdnf5 dnf install -y mariadb-10.4",
            "RUN --mount=type=cache,target=/var/cache/dnf dnf install -y mariadb-10.4",
        ],
        onbuild: true,
    },
    Case {
        dl: "DL3041",
        code: "rpm-unpinned",
        why: "dnf module install names a stream (name:stream)",
        catch: &["RUN dnf module install -y tomcat && dnf clean all"],
        pass: &["RUN dnf module install -y tomcat:9 && dnf clean all"],
        onbuild: true,
    },
    Case {
        dl: "DL3002",
        code: "last-user-root",
        why: "the last USER of the image is not root",
        catch: &["USER root", "USER 0"],
        pass: &["USER 10001", "USER root\nUSER app"],
        onbuild: false,
    },
    Case {
        dl: "DL3006",
        code: "base-untagged",
        why: "FROM names a tag (or digest); stage names, scratch and variables are exempt",
        catch: &["FROM debian"],
        pass: &[
            "FROM debian:12",
            "FROM scratch",
            "FROM debian:12 AS build\nFROM build",
            "FROM debian@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ],
        onbuild: false,
    },
    Case {
        dl: "DL3007",
        code: "base-latest",
        why: "FROM does not use :latest",
        catch: &["FROM debian:latest"],
        pass: &["FROM debian:12"],
        onbuild: false,
    },
    Case {
        dl: "DL3011",
        code: "expose-invalid-port",
        why: "EXPOSE ports are 0-65535 (ranges and variables allowed)",
        catch: &["EXPOSE 80000"],
        pass: &["EXPOSE 8080", "EXPOSE 8000-8010", "EXPOSE $PORT"],
        onbuild: true,
    },
    Case {
        dl: "DL3012",
        code: "multiple-healthcheck",
        why: "one HEALTHCHECK per stage",
        catch: &["HEALTHCHECK CMD a\nHEALTHCHECK CMD b"],
        pass: &[
            "HEALTHCHECK CMD a",
            "HEALTHCHECK CMD a\nFROM debian:12\nHEALTHCHECK CMD b",
        ],
        onbuild: false,
    },
    Case {
        dl: "DL3019",
        code: "apk-no-cache",
        why: "apk add uses --no-cache",
        catch: &["RUN apk add curl=8.0-r0"],
        pass: &["RUN apk add --no-cache curl=8.0-r0"],
        onbuild: true,
    },
    Case {
        dl: "DL3022",
        code: "copy-from-unknown-stage",
        why: "COPY --from names an earlier stage (or an image)",
        catch: &["COPY --from=nosuchstage /a /b"],
        pass: &[
            "FROM debian:12 AS build\nFROM debian:12\nCOPY --from=build /a /b",
            "COPY --from=busybox:1.36 /bin/busybox /bin/",
        ],
        onbuild: false,
    },
    Case {
        dl: "DL3023",
        code: "copy-from-self",
        why: "COPY --from may not name its own stage",
        catch: &["FROM debian:12 AS x\nCOPY --from=x /a /b"],
        pass: &["FROM debian:12 AS x\nFROM debian:12\nCOPY --from=x /a /b"],
        onbuild: false,
    },
    Case {
        dl: "DL3024",
        code: "duplicate-stage-name",
        why: "stage names are unique",
        catch: &["FROM debian:12 AS x\nFROM debian:12 AS x"],
        pass: &["FROM debian:12 AS x\nFROM debian:12 AS y"],
        onbuild: false,
    },
    Case {
        dl: "DL3029",
        code: "from-platform-constant",
        why: "FROM --platform takes a variable, not a constant",
        catch: &["FROM --platform=linux/amd64 debian:12"],
        pass: &["FROM --platform=$BUILDPLATFORM debian:12"],
        onbuild: false,
    },
    Case {
        dl: "DL3030",
        code: "rpm-missing-yes",
        why: "yum install needs -y",
        catch: &["RUN yum install httpd-2.4.6 && yum clean all"],
        pass: &["RUN yum install -y httpd-2.4.6 && yum clean all"],
        onbuild: true,
    },
    Case {
        dl: "DL3032",
        code: "rpm-cache-not-cleaned",
        why: "yum clean all after yum install, in the same RUN",
        catch: &[
            "RUN yum install -y httpd-2.4.6",
            "RUN yum clean all && yum install -y httpd-2.4.6",
        ],
        pass: &["RUN yum install -y httpd-2.4.6 && yum clean all"],
        onbuild: true,
    },
    Case {
        dl: "DL3034",
        code: "rpm-missing-yes",
        why: "zypper install needs -n/-y",
        catch: &["RUN zypper install httpd=2.4 && zypper clean"],
        pass: &["RUN zypper -n install httpd=2.4 && zypper clean"],
        onbuild: true,
    },
    Case {
        dl: "DL3036",
        code: "rpm-cache-not-cleaned",
        why: "zypper clean after zypper install",
        catch: &["RUN zypper install -y httpd=2.4"],
        pass: &["RUN zypper install -y httpd=2.4 && zypper clean"],
        onbuild: true,
    },
    Case {
        dl: "DL3037",
        code: "rpm-unpinned",
        why: "zypper install names versions",
        catch: &["RUN zypper install -y httpd && zypper clean"],
        pass: &["RUN zypper install -y httpd=2.4 && zypper clean"],
        onbuild: true,
    },
    Case {
        dl: "DL3038",
        code: "rpm-missing-yes",
        why: "dnf (and microdnf) install needs -y",
        catch: &[
            "RUN dnf install httpd-2.4 && dnf clean all",
            "RUN microdnf install httpd-2.4 && microdnf clean all",
        ],
        pass: &["RUN dnf install -y httpd-2.4 && dnf clean all"],
        onbuild: true,
    },
    Case {
        dl: "DL3057",
        code: "missing-healthcheck",
        why: "the image has a HEALTHCHECK (or HEALTHCHECK NONE)",
        catch: &["FROM debian:12\nCMD [\"a\"]"],
        pass: &[
            "FROM debian:12\nHEALTHCHECK NONE",
            "FROM debian:12\nHEALTHCHECK CMD a",
        ],
        onbuild: false,
    },
    Case {
        dl: "DL3059",
        code: "consecutive-run",
        why: "consecutive single-command RUNs could be one",
        catch: &["RUN echo a\nRUN echo b"],
        pass: &["RUN echo a && echo b", "RUN echo a\nWORKDIR /x\nRUN echo b"],
        onbuild: false,
    },
    Case {
        dl: "DL3066",
        code: "user-not-numeric",
        why: "USER is numeric so runAsNonRoot can check it",
        catch: &["USER app"],
        pass: &["USER 10001", "USER 10001:10001"],
        onbuild: true,
    },
    Case {
        dl: "DL4003",
        code: "multiple-cmd",
        why: "one CMD per stage",
        catch: &["CMD [\"a\"]\nCMD [\"b\"]"],
        pass: &["CMD [\"a\"]", "CMD [\"a\"]\nFROM debian:12\nCMD [\"b\"]"],
        onbuild: false,
    },
    Case {
        dl: "DL4004",
        code: "multiple-entrypoint",
        why: "one ENTRYPOINT per stage",
        catch: &["ENTRYPOINT [\"a\"]\nENTRYPOINT [\"b\"]"],
        pass: &["ENTRYPOINT [\"a\"]"],
        onbuild: false,
    },
    Case {
        dl: "DL4000",
        code: "maintainer",
        why: "MAINTAINER is deprecated",
        catch: &["MAINTAINER me@example.com"],
        pass: &["LABEL org.opencontainers.image.authors=me"],
        onbuild: false,
    },
    Case {
        dl: "DL4001",
        code: "wget-and-curl",
        why: "use either wget or curl, not both",
        catch: &["RUN wget -q http://a/x\nRUN curl -fsS http://a/y"],
        pass: &["RUN curl -fsS http://a/x\nRUN curl -fsS http://a/y"],
        onbuild: false,
    },
    Case {
        dl: "DL4006",
        code: "pipefail",
        why: "RUN with a pipe sets -o pipefail first (SHELL or set)",
        catch: &["RUN curl -fsS http://a/x | tar -x"],
        pass: &[
            "RUN set -o pipefail && curl -fsS http://a/x | tar -x",
            "SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN curl -fsS http://a/x | tar -x",
        ],
        onbuild: false,
    },
];

fn codes(text: &str) -> Vec<String> {
    let cfg = LintConfig {
        shell_checks: false,
        ..LintConfig::default()
    };
    lint(&[SourceFile::new("Dockerfile", text)], &cfg)
        .findings
        .into_iter()
        .map(|f| f.code)
        .collect()
}

fn with_from(lines: &str) -> String {
    if lines.starts_with("FROM ") {
        format!("{lines}\n")
    } else {
        format!("FROM debian:12\n{lines}\n")
    }
}

#[test]
fn every_case_holds_after_from_as_fragment_and_under_onbuild() {
    let mut failures = Vec::new();
    for c in CASES {
        let label = format!("{} {} ({})", c.dl, c.code, c.why);
        for input in c.catch {
            if !codes(&with_from(input)).iter().any(|x| x == c.code) {
                failures.push(format!("{label}: not caught after FROM: {input:?}"));
            }
            if !input.starts_with("FROM ")
                && !codes(&format!("{input}\n")).iter().any(|x| x == c.code)
            {
                failures.push(format!("{label}: not caught as a fragment: {input:?}"));
            }
            if c.onbuild {
                let wrapped: Vec<String> = input.lines().map(|l| format!("ONBUILD {l}")).collect();
                if !codes(&with_from(&wrapped.join("\n")))
                    .iter()
                    .any(|x| x == c.code)
                {
                    failures.push(format!("{label}: not caught under ONBUILD: {input:?}"));
                }
            }
        }
        for input in c.pass {
            let found = codes(&with_from(input));
            if found.iter().any(|x| x == c.code) {
                failures.push(format!("{label}: reported but must not be: {input:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_fragment_gets_one_missing_from_and_its_instruction_findings() {
    let found = codes("# a template\nRUN sudo apt-get install curl\nUSER root\n");
    assert_eq!(found.iter().filter(|c| *c == "missing-from").count(), 1);
    for code in ["sudo", "apt-unpinned", "apt-missing-yes", "last-user-root"] {
        assert!(found.iter().any(|c| c == code), "{code} missing: {found:?}");
    }
    // Hadolint DL3022: a fragment declares no stages, so --from=0 names none
    let copy = codes("COPY --from=0 bar /bar\n");
    assert!(
        copy.iter().any(|c| c == "copy-from-unknown-stage"),
        "{copy:?}"
    );
    // nothing about the stage the linter had to assume
    for code in ["missing-healthcheck", "final-stage-not-minimal"] {
        assert!(!found.iter().any(|c| c == code), "{code}: {found:?}");
    }
}

/// Codes not covered yet, listed so a gap is visible (none today).
const PENDING: &[&str] = &[];

#[test]
fn every_hadolint_code_is_mapped_or_explained() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules/README.md"),
    )
    .unwrap();
    let mut missing = Vec::new();
    let codes = std::iter::once(1001)
        .chain(3000..=3067)
        .chain(4000..=4006)
        .map(|n| format!("DL{n}"));
    for dl in codes {
        let row = readme.lines().find(|l| l.starts_with(&format!("| {dl} |")));
        match row {
            None => missing.push(format!("{dl}: no row")),
            Some(r) if r.contains("not covered yet") && !PENDING.contains(&dl.as_str()) => {
                missing.push(format!("{dl}: {r}"))
            }
            Some(_) => {}
        }
        let mapped = dockerfile::rules::codes_for_hadolint(&dl);
        if let Some(r) = row
            && r.contains("| covered |")
            && mapped.is_empty()
            && !r.contains("syntax-error")
        {
            missing.push(format!("{dl}: marked covered but no rule maps it"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

fn schema_codes(cfg: &LintConfig, text: &str) -> Vec<String> {
    lint(&[SourceFile::new("Dockerfile", text)], cfg)
        .findings
        .into_iter()
        .map(|f| f.code)
        .collect()
}

#[test]
fn label_schema_from_safeimage_toml_and_hadolint_yaml() {
    // Hadolint DL3049-DL3058: a schema of required labels and their types
    let toml = LintConfig::from_toml(
        "safeimage.toml",
        "[lint]\nstrict_labels = true\n[lint.label_schema]\nsource = \"url\"\nlicense = \"spdx\"\n",
    )
    .unwrap();
    let mut yaml = LintConfig::default();
    yaml.merge_hadolint_yaml(
        ".hadolint.yaml",
        "label-schema:\n  source: url\n  license: spdx\nstrict-labels: true\n",
    )
    .unwrap();
    for cfg in [&toml, &yaml] {
        // every stage, unless it inherits the labels from the stage it builds on
        let two = schema_codes(cfg, "FROM a:1\nFROM b:1\n");
        assert_eq!(
            two.iter().filter(|c| *c == "label-missing").count(),
            2,
            "{two:?}"
        );
        let inherited = schema_codes(
            cfg,
            "FROM a:1 AS base\nLABEL source=https://x.org/a license=MIT\nFROM base\n",
        );
        assert!(
            !inherited.contains(&"label-missing".to_string()),
            "{inherited:?}"
        );
        let bad = schema_codes(
            cfg,
            "FROM a:1\nLABEL source=not-a-url license=not-spdx other=x\n",
        );
        assert_eq!(
            bad.iter().filter(|c| *c == "label-invalid-value").count(),
            2,
            "{bad:?}"
        );
        assert!(bad.contains(&"label-not-in-schema".to_string()), "{bad:?}");
        let empty = schema_codes(cfg, "FROM a:1\nLABEL source=\"\" license=MIT\n");
        assert!(empty.contains(&"label-empty".to_string()), "{empty:?}");
        let good = schema_codes(
            cfg,
            "FROM a:1\nLABEL source=https://x.org/a license=\"Apache-2.0 OR MIT\"\n",
        );
        assert!(!good.iter().any(|c| c.starts_with("label-")), "{good:?}");
    }
    // without a schema none of these run
    let none = schema_codes(&LintConfig::default(), "FROM a:1\nLABEL source=nope\n");
    assert!(!none.iter().any(|c| c.starts_with("label-")), "{none:?}");
    let err = LintConfig::from_toml("s.toml", "[lint.label_schema]\nx = \"uri\"\n").unwrap_err();
    assert!(
        err.to_string().contains("unknown label type `uri`"),
        "{err}"
    );
}

#[test]
fn allowed_registries_from_hadolint_yaml_feed_the_registry_rule() {
    // Hadolint DL3026 reads `trustedRegistries` (and `allowedRegistries`)
    let mut cfg = LintConfig::default();
    cfg.merge_hadolint_yaml(".hadolint.yaml", "allowedRegistries:\n  - docker.io\n")
        .unwrap();
    let found = schema_codes(&cfg, "FROM quay.io/a/b:1\nFROM debian:12\n");
    assert_eq!(
        found
            .iter()
            .filter(|c| *c == "base-untrusted-registry")
            .count(),
        1,
        "{found:?}"
    );
}

#[test]
fn every_mapped_hadolint_code_has_cases() {
    // the label-schema codes and DL3026 need a configuration: their own tests above
    let configured = [
        "DL3026", "DL3049", "DL3050", "DL3051", "DL3052", "DL3053", "DL3054", "DL3055", "DL3056",
        "DL3058",
    ];
    let mut missing = Vec::new();
    for r in dockerfile::rules::RULES {
        for dl in r.hadolint {
            if !configured.contains(dl) && !CASES.iter().any(|c| c.dl == *dl) {
                missing.push(format!("{dl} ({})", r.code));
            }
        }
    }
    assert!(missing.is_empty(), "no Hadolint cases for: {missing:?}");
}
