//! Parse-tree snapshots for the tricky cases: a comment right after a heredoc
//! (Hadolint's most common parse failure on the corpus), `host:port` registries
//! in FROM (hadolint#355), the backtick escape, CRLF with a BOM, ONBUILD, and
//! ARG expansion in FROM.

mod support;

use std::collections::HashMap;

use dockerfile::{Parsed, SourceFile};
use serde_json::{Value, json};

/// A stable, readable view of a parse: instructions (kind, line, text) from the
/// parser itself, plus our stage model and base references.
fn view(name: &str, text: &str) -> Value {
    let src = SourceFile::new(name, text);
    let p = Parsed::parse(&src, &HashMap::new()).unwrap_or_else(|e| panic!("{e}"));
    let tree = serde_json::to_value(&p.instructions).unwrap();
    let instructions: Vec<Value> = tree
        .as_array()
        .unwrap()
        .iter()
        .zip(&p.instructions)
        .map(|(v, ins)| {
            let span = dockerfile::model::keyword_span(ins);
            json!({ "kind": v["kind"], "line": src.line_col(span.start).0, "node": strip_spans(v.clone()) })
        })
        .collect();
    json!({
        "directives": p.directives,
        "instructions": instructions,
        "stages": p.stages.iter().map(|s| json!({"index": s.index, "name": s.name, "image": s.image_expanded, "base": s.base, "line": src.line_col(s.image_span.start).0})).collect::<Vec<_>>(),
        "base_refs": p.base_refs().iter().map(|b| json!({"kind": b.kind, "reference": b.reference.to_string(), "line": src.line_col(b.span.start).0})).collect::<Vec<_>>(),
        "runs": p.runs.iter().map(|r| json!({"line": src.line_col(r.keyword_span.start).0, "commands": r.scripts.iter().flat_map(|s| s.commands.iter().map(|c| c.words.iter().map(|w| w.text.clone()).collect::<Vec<_>>())).collect::<Vec<_>>()})).collect::<Vec<_>>(),
    })
}

/// Byte spans make snapshots brittle and unreadable; lines are kept above.
fn strip_spans(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| k != "span" && k != "flag_start")
                .map(|(k, v)| (k, strip_spans(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_spans).collect()),
        other => other,
    }
}

fn corpus(path: &str) -> String {
    let p = testkit::data_dir().join("corpus/dockerfiles").join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn heredoc_then_comment_from_corpus() {
    insta::assert_json_snapshot!(view(
        "fastapi/Dockerfile",
        &corpus("docker+awesome-compose/fastapi/Dockerfile")
    ));
}

#[test]
fn registry_host_port_without_dot() {
    let text = "ARG TAG=bookworm\nFROM localhost:5000/debian:${TAG} AS base\nFROM myregistry:443/team/img:1.2\nCOPY --from=base /etc/os-release /\nCOPY --from=127.0.0.1:5000/tools:1 /bin/jq /bin/\nRUN --mount=type=bind,from=myregistry:443/cache/x:2,target=/x ls /x\n";
    insta::assert_json_snapshot!(view("Dockerfile", text));
}

#[test]
fn escape_backtick_crlf_bom_onbuild_and_heredocs() {
    let text = "\u{feff}# escape=`\r\nFROM mcr.microsoft.com/windows/nanoserver:ltsc2022\r\nRUN echo a `\r\n    b\r\nONBUILD RUN echo built\r\nCOPY <<-EOT /etc/motd\r\n\thello\r\n\tEOT\r\nRUN <<'A' <<B\r\necho $x\r\nA\r\necho two\r\nB\r\n";
    insta::assert_json_snapshot!(view("Dockerfile.win", text));
}

#[test]
fn duplicate_stage_names_are_not_a_parse_error() {
    let src = SourceFile::new("D", "FROM a:1 AS x\nFROM b:1 AS X\nFROM x\n");
    let p = Parsed::parse(&src, &HashMap::new()).unwrap();
    assert_eq!(p.stages.len(), 3);
    // the third stage builds on the first `x` (names are case-insensitive)
    assert_eq!(p.stages[2].base, dockerfile::Base::Stage { index: 0 });
}

#[test]
fn build_args_override_defaults() {
    let src = SourceFile::new("D", "ARG BASE=debian:12\nFROM ${BASE}\n");
    let p = Parsed::parse(
        &src,
        &HashMap::from([("BASE".to_string(), "alpine:3.20".to_string())]),
    )
    .unwrap();
    assert_eq!(p.stages[0].image_expanded, "alpine:3.20");
}

#[test]
fn whole_corpus_parses() {
    let files = support::corpus_files();
    assert_eq!(files.len(), 149, "corpus size changed");
    let mut failures = Vec::new();
    for f in &files {
        let src = SourceFile::new(f.display().to_string(), std::fs::read_to_string(f).unwrap());
        if let Err(e) = Parsed::parse(&src, &HashMap::new()) {
            failures.push(e.to_string());
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
