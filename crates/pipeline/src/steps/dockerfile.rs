//! Read and parse the Dockerfile, with the fleet's and the image's build
//! args; keep the base references the next steps resolve and pin.

use std::collections::HashMap;

use dockerfile::{BaseRef, Parsed, SourceFile};

use crate::cx::ImageCx;
use crate::steps::StepError;

/// A parsed Dockerfile.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    /// The text, as a lint source.
    pub src: SourceFile,
    /// Build args (fleet `[lint]` args, then the image's).
    pub args: HashMap<String, String>,
    /// Every image the build pulls (FROM, COPY --from, RUN --mount from).
    pub bases: Vec<BaseRef>,
}

impl Dockerfile {
    /// The 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        let t = &self.src.text;
        t[..offset.min(t.len())].matches('\n').count() + 1
    }
}

/// The step.
pub fn run(cx: &ImageCx<'_>) -> Result<Dockerfile, StepError> {
    let path = &cx.spec.dockerfile;
    let text = std::fs::read_to_string(path).map_err(|source| StepError::Read {
        path: path.clone(),
        source,
    })?;
    let src = SourceFile::new(path.display().to_string(), text);
    let mut args: HashMap<String, String> = cx.config.lint.build_args.clone();
    args.extend(
        cx.spec
            .build_args
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let bases = Parsed::parse(&src, &args)?.base_refs();
    Ok(Dockerfile { src, args, bases })
}
