//! SIGINT and SIGTERM during `run`: the first stops the run cleanly (no
//! further image starts, the engine's process groups get SIGTERM, the
//! credentials file goes with the build step, the run is recorded as
//! interrupted); a second one exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use pipeline::deps::Cancel;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// Watches for SIGINT/SIGTERM while it lives.
pub struct Stopper {
    handle: Handle,
    caught: Arc<AtomicI32>,
}

impl Stopper {
    /// Starts watching; `cancel` is set on the first signal.
    pub fn watch(cancel: Cancel) -> std::io::Result<Stopper> {
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let handle = signals.handle();
        let caught = Arc::new(AtomicI32::new(0));
        let seen = caught.clone();
        std::thread::spawn(move || {
            for sig in signals.forever() {
                if cancel.is_set() {
                    std::process::exit(128 + sig);
                }
                seen.store(sig, Ordering::SeqCst);
                cancel.set();
                eprintln!(
                    "{}: stopping the build and recording the run as interrupted (again to quit now)",
                    if sig == SIGINT { "SIGINT" } else { "SIGTERM" }
                );
                pipeline::engine::terminate_all();
            }
        });
        Ok(Stopper { handle, caught })
    }

    /// The signal that stopped the run, if one did.
    pub fn caught(&self) -> Option<i32> {
        Some(self.caught.load(Ordering::SeqCst)).filter(|s| *s != 0)
    }
}

impl Drop for Stopper {
    fn drop(&mut self) {
        self.handle.close();
    }
}
