//! The run's progress on stderr, one line per event, and the test hook
//! that parks a run right before its tags move (so a test can kill it
//! there) without any polling: it blocks on a FIFO the test opens.

use std::io::Read as _;
use std::path::PathBuf;

use model::Stage;
use pipeline::deps::{Event, Observer};

/// Progress on stderr; the test hook's pause before tags move.
pub struct Progress {
    /// `SAFEIMAGE_TEST_PAUSE_BEFORE_TAG`.
    pub pause: Option<PathBuf>,
}

impl Observer for Progress {
    fn event(&self, e: &Event<'_>) {
        match e {
            Event::Started {
                run,
                images,
                engine,
                dry_run,
            } => eprintln!(
                "run {run}: {images} image(s) with {engine}{}",
                if *dry_run { " (dry run)" } else { "" }
            ),
            Event::Recovered(n) => eprintln!("note: {}", findings::text::clean(n)),
            Event::ImageStarted(i) => eprintln!("  {i}: started"),
            Event::Stage(i, s) => {
                eprintln!(
                    "  {i}: {}",
                    match s {
                        Stage::Checked => "bases resolved, lint and policy checked",
                        Stage::Pushed => "built and pushed by digest",
                        Stage::Gated => "scanned, gate passed; moving tags",
                    }
                );
                // Tests kill the run here: the FIFO's open blocks until the
                // test opens it for writing, and reading ends when it closes.
                if *s == Stage::Gated
                    && let Some(p) = &self.pause
                    && let Ok(mut f) = std::fs::File::open(p)
                {
                    let _ = f.read_to_end(&mut Vec::new());
                }
            }
            Event::ImageDone(i, o) => eprintln!("  {i}: {o}"),
            Event::Warning(w) => eprintln!("warning: {}", findings::text::clean_lines(w)),
        }
    }
}
