//! The parsed Dockerfile: instructions from `parse-dockerfile`, grouped into
//! stages, with FROM references expanded and classified, and every base image
//! reference (`FROM`, `COPY --from`, `RUN --mount=from=`) collected.
//!
//! Unlike `parse_dockerfile::parse`, duplicate stage names are not a parse
//! error here: a linter reports them and keeps going.

use std::collections::HashMap;
use std::ops::Range;

use oci::{ImageRef, ReferenceError};
use parse_dockerfile::{Command, Flag, Instruction, RunInstruction, ShellInstruction};
use serde::Serialize;

use crate::args::{Expanded, expand, key_values};
use crate::shell::{Script, tokenize};
use crate::source::SourceFile;

/// A file that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct SyntaxError {
    /// File.
    pub path: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Parser message.
    pub message: String,
}

/// What a stage is built on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Base {
    /// `FROM scratch`.
    Scratch,
    /// An earlier stage, by index.
    Stage {
        /// Stage index.
        index: usize,
    },
    /// A registry image.
    Image {
        /// The parsed reference.
        reference: ImageRef,
    },
    /// The reference is not valid after expansion.
    Invalid {
        /// Why.
        error: String,
    },
    /// A variable could not be resolved.
    Unresolved,
}

/// One build stage.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    /// 0-based index.
    pub index: usize,
    /// Instruction indices `[FROM, ...)`.
    pub range: Range<usize>,
    /// `AS name`, as written.
    pub name: Option<String>,
    /// Byte range of the name.
    pub name_span: Option<Range<usize>>,
    /// FROM image text as written.
    pub image_raw: String,
    /// Byte range of the image text.
    pub image_span: Range<usize>,
    /// The image after ARG expansion.
    pub image_expanded: String,
    /// Variables referenced in FROM that no global ARG declares.
    pub undeclared_args: Vec<String>,
    /// Variables declared without default and not given as build args.
    pub empty_args: Vec<String>,
    /// `--platform` value, if any.
    pub platform: Option<String>,
    /// Classification of the base.
    pub base: Base,
}

/// Where a base image reference came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum BaseRefKind {
    /// `FROM image`.
    From,
    /// `COPY --from=image`.
    CopyFrom,
    /// `RUN --mount=...,from=image`.
    MountFrom,
}

/// One instruction of the stages that end up in the image
/// ([`Parsed::build_steps`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildStep {
    /// The stage it belongs to.
    pub stage: usize,
    /// 1-based line of its keyword.
    pub line: u32,
    /// `RUN`, `COPY`, `ADD`, `WORKDIR`...
    pub keyword: String,
    /// Its first line as written.
    pub text: String,
    /// For `RUN`: the command with line continuations joined and blanks
    /// collapsed, as image histories record it.
    pub command: Option<String>,
}

/// A shell-form command as one line: escaped newlines removed, runs of
/// blanks made one space.
pub fn normalize_command(text: &str, escape: u8) -> String {
    let esc = escape as char;
    let mut joined = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == esc {
            // an escape before the end of a line (blanks allowed) continues it
            let mut ahead = chars.clone();
            while ahead.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                ahead.next();
            }
            match ahead.peek() {
                Some('\n') => {
                    ahead.next();
                    chars = ahead;
                    joined.push(' ');
                    continue;
                }
                Some('\r') => {
                    ahead.next();
                    if ahead.peek() == Some(&'\n') {
                        ahead.next();
                    }
                    chars = ahead;
                    joined.push(' ');
                    continue;
                }
                _ => {}
            }
        }
        joined.push(c);
    }
    joined.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An image the build pulls from a registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseRef {
    /// How it is referenced.
    pub kind: BaseRefKind,
    /// The reference.
    pub reference: ImageRef,
    /// Byte range in the Dockerfile.
    #[serde(skip)]
    pub span: Range<usize>,
    /// Stage that references it.
    pub stage: usize,
}

/// A RUN instruction prepared for rules: tokenized scripts and mounts.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// Instruction index.
    pub instruction: usize,
    /// Stage index.
    pub stage: usize,
    /// An `ONBUILD RUN`: it runs in every image built FROM this one.
    pub onbuild: bool,
    /// Shell-form script and shell heredoc bodies, tokenized.
    pub scripts: Vec<Script>,
    /// Raw shell text pieces `(offset, text, is_heredoc)` for ShellCheck.
    pub shell_texts: Vec<(usize, String, bool)>,
    /// Whether the RUN is in exec (JSON) form.
    pub exec_form: bool,
    /// `--mount` options, each as key/value pairs.
    pub mounts: Vec<Vec<(String, String)>>,
    /// Byte range of the whole instruction keyword.
    pub keyword_span: Range<usize>,
}

/// A parsed Dockerfile.
pub struct Parsed<'a> {
    /// Parser directives (`# syntax=`, `# escape=`, `# check=`).
    pub directives: Directives,
    /// All instructions in order.
    pub instructions: Vec<Instruction<'a>>,
    /// Stages in order.
    pub stages: Vec<Stage>,
    /// Global ARGs (before the first FROM) merged with build args.
    pub global_args: HashMap<String, Option<String>>,
    /// RUN instructions, prepared.
    pub runs: Vec<RunInfo>,
    /// The escape character.
    pub escape: u8,
    /// Whether stage 0 is the `FROM scratch` assumed for a fragment (see
    /// [`SourceFile::virtual_from`]); it cannot be named by `--from`.
    pub virtual_first_stage: bool,
}

impl std::fmt::Debug for Parsed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parsed")
            .field("stages", &self.stages)
            .finish_non_exhaustive()
    }
}

/// The byte range of an instruction's keyword.
pub fn keyword_span(i: &Instruction<'_>) -> Range<usize> {
    match i {
        Instruction::Add(x) => x.add.span.clone(),
        Instruction::Arg(x) => x.arg.span.clone(),
        Instruction::Cmd(x) => x.cmd.span.clone(),
        Instruction::Copy(x) => x.copy.span.clone(),
        Instruction::Entrypoint(x) => x.entrypoint.span.clone(),
        Instruction::Env(x) => x.env.span.clone(),
        Instruction::Expose(x) => x.expose.span.clone(),
        Instruction::From(x) => x.from.span.clone(),
        Instruction::Healthcheck(x) => x.healthcheck.span.clone(),
        Instruction::Label(x) => x.label.span.clone(),
        Instruction::Maintainer(x) => x.maintainer.span.clone(),
        Instruction::Onbuild(x) => x.onbuild.span.clone(),
        Instruction::Run(x) => x.run.span.clone(),
        Instruction::Shell(x) => x.shell.span.clone(),
        Instruction::Stopsignal(x) => x.stopsignal.span.clone(),
        Instruction::User(x) => x.user.span.clone(),
        Instruction::Volume(x) => x.volume.span.clone(),
        Instruction::Workdir(x) => x.workdir.span.clone(),
        _ => 0..0,
    }
}

/// Looks up a flag by name.
pub fn flag<'f, 'a>(flags: &'f [Flag<'a>], name: &str) -> Option<&'f Flag<'a>> {
    flags.iter().find(|f| f.name.value == name)
}

/// Parses `--mount=type=cache,target=/x,from=img` into key/value pairs.
pub fn mount_options(value: &str) -> Vec<(String, String)> {
    value
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_string()),
            None => (kv.trim().to_ascii_lowercase(), String::new()),
        })
        .collect()
}

const SHELLS: &[&str] = &["sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox"];

impl<'a> Parsed<'a> {
    /// Parses a file. `build_args` override ARG defaults (as `--build-arg`).
    pub fn parse(
        src: &'a SourceFile,
        build_args: &HashMap<String, String>,
    ) -> Result<Self, SyntaxError> {
        let syntax_error = |e: parse_dockerfile::Error| SyntaxError {
            path: src.path.clone(),
            line: e.line() as u32,
            column: e.column() as u32,
            message: e.to_string(),
        };
        let iter = parse_dockerfile::parse_iter(src.parse_text()).map_err(syntax_error)?;
        let mut instructions = Vec::new();
        for i in iter {
            instructions.push(i.map_err(syntax_error)?);
        }
        let directives = src.directives.clone();

        let mut global_args: HashMap<String, Option<String>> = HashMap::new();
        let mut stages: Vec<Stage> = Vec::new();
        let mut stage_names: HashMap<String, usize> = HashMap::new();
        for (idx, ins) in instructions.iter().enumerate() {
            match ins {
                Instruction::Arg(arg) if stages.is_empty() => {
                    for kv in key_values(&arg.arguments.value, false) {
                        let v = build_args.get(&kv.name).cloned().or(kv.value);
                        global_args.insert(kv.name, v);
                    }
                }
                Instruction::From(from) => {
                    if let Some(last) = stages.last_mut() {
                        last.range.end = idx;
                    }
                    let index = stages.len();
                    let Expanded {
                        value,
                        undeclared,
                        empty,
                    } = expand(&from.image.value, &global_args);
                    let name = from.as_.as_ref().map(|(_, n)| n.value.to_string());
                    let base = if !undeclared.is_empty() || !empty.is_empty() && value.is_empty() {
                        Base::Unresolved
                    } else if value.eq_ignore_ascii_case("scratch") {
                        Base::Scratch
                    } else if let Some(&i) = stage_names.get(&value.to_ascii_lowercase()) {
                        Base::Stage { index: i }
                    } else {
                        match value.parse::<ImageRef>() {
                            Ok(reference) => Base::Image { reference },
                            Err(e @ ReferenceError::Empty) => Base::Invalid {
                                error: e.to_string(),
                            },
                            Err(e) => Base::Invalid {
                                error: e.to_string(),
                            },
                        }
                    };
                    if let Some(n) = &name {
                        stage_names.entry(n.to_ascii_lowercase()).or_insert(index);
                    }
                    stages.push(Stage {
                        index,
                        range: idx..instructions.len(),
                        name,
                        name_span: from.as_.as_ref().map(|(_, n)| n.span.clone()),
                        image_raw: from.image.value.to_string(),
                        image_span: from.image.span.clone(),
                        image_expanded: value,
                        undeclared_args: undeclared,
                        empty_args: empty,
                        platform: flag(&from.options, "platform")
                            .and_then(|f| f.value.as_ref())
                            .map(|v| v.value.to_string()),
                        base,
                    });
                }
                _ => {}
            }
        }
        let escape = directives.escape.map_or(b'\\', |c| c as u8);
        let mut parsed = Parsed {
            directives,
            instructions,
            stages,
            global_args,
            runs: Vec::new(),
            escape,
            virtual_first_stage: src.virtual_from.is_some(),
        };
        parsed.runs = parsed.prepare_runs(src);
        Ok(parsed)
    }

    /// The stage an instruction belongs to (`None` for global ARGs).
    pub fn stage_of(&self, instruction: usize) -> Option<usize> {
        self.stages
            .iter()
            .position(|s| s.range.contains(&instruction))
    }

    /// Looks up a stage by name (case-insensitive) or numeric index, as
    /// `COPY --from` and `--mount from=` do. Only stages before `before` count.
    pub fn find_stage(&self, name: &str, before: usize) -> Option<usize> {
        if let Ok(n) = name.parse::<usize>() {
            // the stages the file declares, numbered from 0
            let n = n + usize::from(self.virtual_first_stage);
            return (n < self.stages.len()).then_some(n);
        }
        self.stages[..before.min(self.stages.len())]
            .iter()
            .position(|s| {
                s.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
    }

    /// The stage and the stages it is built `FROM`, nearest first.
    pub fn ancestry(&self, stage: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut cur = Some(stage).filter(|&s| s < self.stages.len());
        while let Some(i) = cur {
            if out.contains(&i) {
                break;
            }
            out.push(i);
            cur = match self.stages[i].base {
                Base::Stage { index } => Some(index),
                _ => None,
            };
        }
        out
    }

    /// Stage indices whose filesystem ends up in the final image: the last
    /// stage and the chain of stages it is built `FROM`.
    pub fn final_chain(&self) -> Vec<usize> {
        self.stages
            .len()
            .checked_sub(1)
            .map_or_else(Vec::new, |last| self.ancestry(last))
    }

    /// The instructions whose results end up in the image, in build order:
    /// those of the final stage and of the stages it is built `FROM` (not
    /// `FROM` itself, nor global `ARG`s). An image's history has one entry
    /// per such instruction after its base's entries, which is how
    /// findings are traced to a line.
    pub fn build_steps(&self, src: &SourceFile) -> Vec<BuildStep> {
        self.build_steps_to(src, self.stages.len().saturating_sub(1))
    }

    /// [`Parsed::build_steps`] of a build that stops at stage `last`
    /// (`--target`).
    pub fn build_steps_to(&self, src: &SourceFile, last: usize) -> Vec<BuildStep> {
        let mut chain = self.ancestry(last);
        chain.reverse();
        let mut out = Vec::new();
        for stage in chain {
            let range = self.stages[stage].range.clone();
            for ins in &self.instructions[range] {
                if matches!(ins, Instruction::From(_)) {
                    continue;
                }
                let span = keyword_span(ins);
                let (line, _) = src.line_col(span.start);
                let keyword = src
                    .parse_text()
                    .get(span.clone())
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                let command = match ins {
                    Instruction::Run(r) => Some(match &r.arguments {
                        Command::Shell(s) => normalize_command(s.value, self.escape),
                        Command::Exec(e) => e
                            .value
                            .iter()
                            .map(|a| a.value.as_ref())
                            .collect::<Vec<&str>>()
                            .join(" "),
                        _ => String::new(),
                    }),
                    _ => None,
                };
                out.push(BuildStep {
                    stage,
                    line,
                    keyword,
                    text: src.line_text(line).trim().to_string(),
                    command,
                });
            }
        }
        out
    }

    /// The SHELL in effect for instruction `instruction` of `stage`: the last
    /// SHELL before it in the stage, else the one inherited from the stages it
    /// is built `FROM`.
    pub fn shell_for(&self, stage: usize, instruction: usize) -> Option<&ShellInstruction<'a>> {
        self.ancestry(stage).into_iter().find_map(|s| {
            let range = self.stages[s].range.clone();
            let end = if s == stage {
                instruction.clamp(range.start, range.end)
            } else {
                range.end
            };
            (range.start..end)
                .rev()
                .find_map(|i| match &self.instructions[i] {
                    Instruction::Shell(sh) => Some(sh),
                    _ => None,
                })
        })
    }

    /// Every registry image the build pulls, in file order.
    pub fn base_refs(&self) -> Vec<BaseRef> {
        let mut out = Vec::new();
        for st in &self.stages {
            if let Base::Image { reference } = &st.base {
                out.push(BaseRef {
                    kind: BaseRefKind::From,
                    reference: reference.clone(),
                    span: st.image_span.clone(),
                    stage: st.index,
                });
            }
            for idx in st.range.clone() {
                match &self.instructions[idx] {
                    Instruction::Copy(c) => {
                        if let Some(v) = flag(&c.options, "from").and_then(|f| f.value.as_ref())
                            && let Some(r) = self.external_image(&v.value, st.index)
                        {
                            out.push(BaseRef {
                                kind: BaseRefKind::CopyFrom,
                                reference: r,
                                span: v.span.clone(),
                                stage: st.index,
                            });
                        }
                    }
                    Instruction::Run(r) => {
                        for f in r.options.iter().filter(|f| f.name.value == "mount") {
                            let Some(v) = &f.value else { continue };
                            for (k, val) in mount_options(&v.value) {
                                if k == "from"
                                    && let Some(r) = self.external_image(&val, st.index)
                                {
                                    out.push(BaseRef {
                                        kind: BaseRefKind::MountFrom,
                                        reference: r,
                                        span: v.span.clone(),
                                        stage: st.index,
                                    });
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// A `--from` value that names an image rather than a stage.
    pub fn external_image(&self, value: &str, stage: usize) -> Option<ImageRef> {
        let value = expand(value, &self.global_args).value;
        if value.contains('$')
            || self.find_stage(&value, stage + 1).is_some()
            || value.eq_ignore_ascii_case("scratch")
        {
            return None;
        }
        // A bare word that matches no stage is ambiguous (typo or image); BuildKit pulls it.
        value.parse().ok()
    }

    fn prepare_runs(&self, src: &SourceFile) -> Vec<RunInfo> {
        let mut out = Vec::new();
        for (idx, ins) in self.instructions.iter().enumerate() {
            let run = match ins {
                Instruction::Run(r) => r,
                Instruction::Onbuild(o) => match &*o.instruction {
                    Instruction::Run(r) => r,
                    _ => continue,
                },
                _ => continue,
            };
            let Some(stage) = self.stage_of(idx) else {
                continue;
            };
            out.push(self.run_info(src, idx, stage, run));
        }
        out
    }

    fn run_info(
        &self,
        src: &SourceFile,
        idx: usize,
        stage: usize,
        run: &RunInstruction<'_>,
    ) -> RunInfo {
        let mut scripts = Vec::new();
        let mut shell_texts = Vec::new();
        let exec_form = matches!(run.arguments, Command::Exec(_));
        if let Command::Shell(s) = &run.arguments {
            let script = tokenize(s.value, s.span.start, self.escape, true);
            // Heredoc bodies are shell when no program or a shell reads them.
            let heredoc_is_shell = script
                .commands
                .first()
                .and_then(|c| c.program())
                .is_none_or(|p| p.starts_with("<<") || SHELLS.contains(&p));
            shell_texts.push((s.span.start, s.value.to_string(), false));
            scripts.push(script);
            let line = src.line_col(run.run.span.start).0;
            let extra = src
                .extra_heredocs
                .iter()
                .filter(|h| h.instruction_line == line)
                .map(|h| (h.offset, h.body.as_str()));
            let bodies: Vec<(usize, &str)> = run
                .here_docs
                .iter()
                .map(|h| (h.span.start, h.value.as_ref()))
                .chain(extra)
                .collect();
            if heredoc_is_shell {
                for (offset, body) in bodies {
                    scripts.push(tokenize(body, offset, self.escape, false));
                    shell_texts.push((offset, body.to_string(), true));
                }
            }
        }
        let mounts = run
            .options
            .iter()
            .filter(|f| f.name.value == "mount")
            .filter_map(|f| f.value.as_ref().map(|v| mount_options(&v.value)))
            .collect();
        RunInfo {
            onbuild: matches!(self.instructions[idx], Instruction::Onbuild(_)),
            instruction: idx,
            stage,
            scripts,
            shell_texts,
            exec_form,
            mounts,
            keyword_span: run.run.span.clone(),
        }
    }
}

pub use crate::source::Directives;

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(text: &str) -> Vec<BuildStep> {
        let src = SourceFile::new("Dockerfile", text);
        let parsed = Parsed::parse(&src, &HashMap::new()).unwrap();
        parsed.build_steps(&src)
    }

    #[test]
    fn build_steps_are_the_final_stage_s_instructions_with_their_lines() {
        let s = steps(
            "FROM debian:12 AS build\nRUN make\n\nFROM debian:12\nWORKDIR /app\nRUN apt-get update && \\\n    apt-get install -y curl\nCOPY --from=build /out /app/\n",
        );
        let got: Vec<(u32, &str)> = s.iter().map(|s| (s.line, s.keyword.as_str())).collect();
        assert_eq!(got, [(5, "WORKDIR"), (6, "RUN"), (8, "COPY")]);
        assert_eq!(
            s[1].command.as_deref(),
            Some("apt-get update && apt-get install -y curl")
        );
        assert_eq!(s[1].text, "RUN apt-get update && \\");
    }

    #[test]
    fn a_final_stage_built_from_another_stage_includes_that_stage_s_steps_first() {
        let s = steps("FROM debian:12 AS base\nRUN one\nFROM base\nRUN two\n");
        let got: Vec<(u32, Option<&str>)> =
            s.iter().map(|s| (s.line, s.command.as_deref())).collect();
        assert_eq!(got, [(2, Some("one")), (4, Some("two"))]);
    }

    #[test]
    fn exec_form_runs_are_their_arguments_joined() {
        let s = steps("FROM debian:12\nRUN [\"pip\", \"install\", \"x==1\"]\n");
        assert_eq!(s[0].command.as_deref(), Some("pip install x==1"));
    }

    #[test]
    fn continuations_with_a_custom_escape_are_joined() {
        assert_eq!(normalize_command("a `\n  b\tc", b'`'), "a b c");
        assert_eq!(normalize_command("a \\  \r\n b", b'\\'), "a b");
        assert_eq!(normalize_command("echo a\\b", b'\\'), "echo a\\b");
    }
}
