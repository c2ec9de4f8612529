//! Attribution against the histories buildah and BuildKit write (the
//! `created_by` texts below are theirs, from builds on this machine and
//! BuildKit's documented history format).

use super::*;

fn h(created_by: &str, empty: bool) -> HistoryEntry {
    HistoryEntry {
        created_by: created_by.to_string(),
        empty_layer: empty,
    }
}

fn step(line: u32, keyword: &str, command: Option<&str>) -> Step {
    Step {
        file: "Dockerfile".into(),
        line,
        keyword: keyword.into(),
        text: format!("{keyword} ..."),
        command: command.map(str::to_string),
    }
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("sha256:{i:064x}")).collect()
}

/// FROM base; ARG VERSION=1; WORKDIR /app; RUN echo one && echo two;
/// COPY Dockerfile /app/; ENV A=b; COPY --from=build ...; ADD ...; RUN echo $VERSION
fn dockerfile() -> Vec<Step> {
    vec![
        step(5, "ARG", None),
        step(6, "WORKDIR", None),
        step(7, "RUN", Some("echo one > /one.txt && echo two > /two.txt")),
        step(9, "COPY", None),
        step(10, "ENV", None),
        step(11, "COPY", None),
        step(12, "ADD", None),
        step(13, "RUN", Some("echo $VERSION > /v")),
    ]
}

/// buildah bud --layers: a layer per RUN/COPY/ADD
fn buildah_layers() -> Vec<HistoryEntry> {
    vec![
        h("/bin/sh", false),
        h("/bin/sh -c #(nop) ARG VERSION", true),
        h("/bin/sh -c #(nop) WORKDIR /app", true),
        h(
            "|1 VERSION=1 /bin/sh -c echo one > /one.txt &&     echo two > /two.txt",
            false,
        ),
        h("/bin/sh -c #(nop) COPY file:b57bb333f6c3 in /app/ ", false),
        h("/bin/sh -c #(nop) ENV A=b", true),
        h("/bin/sh -c #(nop) COPY file:ec725a48ac82 in /app/ ", false),
        h("/bin/sh -c #(nop) ADD file:5c995bb31a04 in /app/D2 ", false),
        h("|1 VERSION=1 /bin/sh -c echo $VERSION > /v", false),
    ]
}

#[test]
fn each_layer_of_a_per_instruction_build_is_traced_to_its_line_and_the_rest_is_base() {
    let a = attribute(&ids(6), &buildah_layers(), None, Some(&dockerfile()));
    assert!(a.notes.is_empty(), "{:?}", a.notes);
    assert_eq!(a.base_layers, Some(1));
    let got: Vec<(Part, Option<u32>)> = a
        .layers
        .iter()
        .map(|o| (o.part, o.step.as_ref().map(|s| s.line)))
        .collect();
    assert_eq!(
        got,
        [
            (Part::Base, None),
            (Part::App, Some(7)),
            (Part::App, Some(9)),
            (Part::App, Some(11)),
            (Part::App, Some(12)),
            (Part::App, Some(13)),
        ]
    );
}

#[test]
fn a_known_base_decides_the_boundary_even_without_a_dockerfile() {
    let d = ids(6);
    let base = BaseImage {
        name: "debian@sha256:aa".into(),
        diff_ids: d[..1].to_vec(),
    };
    let a = attribute(&d, &buildah_layers(), Some(&base), None);
    assert_eq!(a.base.as_deref(), Some("debian@sha256:aa"));
    assert_eq!(a.layers[0].part, Part::Base);
    assert!(
        a.layers[1..]
            .iter()
            .all(|o| o.part == Part::App && o.step.is_none())
    );
    assert_eq!(a.layers[3].remedy(), "fix in this image's Dockerfile");
    assert_eq!(a.layers[0].remedy(), "fix by bumping the base image");
}

#[test]
fn a_base_whose_layers_are_not_under_the_image_is_said_and_not_used() {
    let d = ids(6);
    let base = BaseImage {
        name: "debian:12".into(),
        diff_ids: vec!["sha256:ff".into()],
    };
    let a = attribute(&d, &buildah_layers(), Some(&base), None);
    assert!(a.layers.iter().all(|o| o.part == Part::Unknown));
    assert!(
        a.notes[0].contains("debian:12 is not under this image"),
        "{:?}",
        a.notes
    );
}

#[test]
fn a_squashed_build_is_app_but_not_traced_to_a_line() {
    // buildah bud --layers=false: every instruction recorded, one layer
    let mut hist = buildah_layers();
    for e in &mut hist[1..8] {
        e.empty_layer = true;
    }
    let a = attribute(&ids(2), &hist, None, Some(&dockerfile()));
    assert_eq!(
        a.layers.iter().map(|o| o.part).collect::<Vec<_>>(),
        [Part::Base, Part::App]
    );
    assert!(a.layers[1].step.is_none());
    assert!(
        a.notes[0].contains("one layer (lines 7–13"),
        "{:?}",
        a.notes
    );
}

#[test]
fn buildkit_history_is_traced_including_an_empty_run_and_a_workdir_layer() {
    let hist = vec![
        h("/bin/sh -c #(nop) ADD file:e3f1 in / ", false),
        h("/bin/sh -c #(nop)  CMD [\"bash\"]", true),
        h("WORKDIR /app", false),
        h("RUN /bin/sh -c apt-get install -y curl # buildkit", false),
        h("RUN /bin/sh -c true # buildkit", true),
        h("COPY app.py /app/ # buildkit", false),
        h("CMD [\"python3\", \"app.py\"]", true),
    ];
    let steps = vec![
        step(2, "WORKDIR", None),
        step(3, "RUN", Some("apt-get install -y curl")),
        step(4, "RUN", Some("true")),
        step(5, "COPY", None),
        step(6, "CMD", None),
    ];
    let a = attribute(&ids(4), &hist, None, Some(&steps));
    assert!(a.notes.is_empty(), "{:?}", a.notes);
    let lines: Vec<Option<u32>> = a
        .layers
        .iter()
        .map(|o| o.step.as_ref().map(|s| s.line))
        .collect();
    assert_eq!(lines, [None, Some(2), Some(3), Some(5)]);
    assert_eq!(a.base_layers, Some(1));
}

#[test]
fn a_dockerfile_that_is_not_the_image_s_gives_layers_only_with_a_note() {
    let steps = vec![step(3, "RUN", Some("make install"))];
    let a = attribute(&ids(6), &buildah_layers(), None, Some(&steps));
    assert!(
        a.layers
            .iter()
            .all(|o| o.step.is_none() && o.part == Part::Unknown)
    );
    assert!(
        a.notes[0].starts_with("the Dockerfile does not match the image's history"),
        "{:?}",
        a.notes
    );
}

#[test]
fn a_history_that_does_not_cover_the_layers_traces_nothing() {
    let a = attribute(&ids(7), &buildah_layers(), None, Some(&dockerfile()));
    assert!(a.layers.iter().all(|o| o.step.is_none()));
    assert!(
        a.notes[0].contains("records 6 layers but it has 7"),
        "{:?}",
        a.notes
    );
}

#[test]
fn a_package_takes_the_origin_of_its_first_located_layer() {
    let d = ids(3);
    let a = attribute(
        &d,
        &[],
        Some(&BaseImage {
            name: "b".into(),
            diff_ids: d[..2].to_vec(),
        }),
        None,
    );
    let p = crate::model::Package {
        kind: crate::model::PackageType::Python,
        name: "requests".into(),
        version: "2.25.0".into(),
        source_name: None,
        source_version: None,
        arch: None,
        purl: String::new(),
        licenses: vec![],
        locations: vec![crate::model::Location {
            path: "venv/lib/python3.11/site-packages/requests-2.25.0.dist-info/METADATA".into(),
            layer: Some(d[2].clone()),
        }],
        owned_by: None,
        supplier: None,
        relations: Default::default(),
    };
    let o = a.of_package(&p).unwrap();
    assert_eq!((o.layer, o.part), (2, Part::App));
}
