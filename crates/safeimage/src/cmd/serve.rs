//! `safeimage serve`: the fleet on its schedule, the dashboard and the
//! JSON API (`serve::serve`). Each job runs as this same binary's own
//! command (`run`, `update`, `db update`, `rematch`, `report weekly
//! --send`) in a child process: its crash is recorded and the next tick
//! still runs; on SIGTERM the child is told (a run stops as `run` does) and
//! waited for.

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pipeline::FleetConfig;
use serve::{Job, JobResult, Jobs};
use settings::env;

/// Arguments of `safeimage serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Fleet config (its `[serve]` section: schedules, listen, token).
    #[arg(long, short = 'c', env = env::SAFEIMAGE_CONFIG.name, default_value = "safeimage.toml", value_name = "FILE")]
    config: PathBuf,
    /// Listen here instead of `[serve] listen` (default 127.0.0.1:8080;
    /// port 0: any free port, printed).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Let paths the config names be outside its directory.
    #[arg(long)]
    allow_outside_root: bool,
}

/// Runs jobs as child processes of this binary.
struct Children {
    exe: PathBuf,
    config: PathBuf,
    db: PathBuf,
    allow_outside_root: bool,
}

fn db_built(path: &std::path::Path) -> Option<String> {
    vulndb::Db::open(path)
        .ok()
        .map(|d| d.status().built_at.to_string())
}

impl Children {
    fn args(&self, job: &Job) -> Vec<String> {
        let config = self.config.display().to_string();
        let mut a: Vec<String> = match job {
            Job::Run { image } => {
                let mut a = vec!["run".into(), "--config".into(), config];
                if let Some(i) = image {
                    a.extend(["--only".into(), i.clone()]);
                }
                a
            }
            Job::Update => vec!["update".into(), "--config".into(), config],
            Job::DbUpdate => vec![
                "db".into(),
                "update".into(),
                "--db".into(),
                self.db.display().to_string(),
            ],
            Job::Rematch { image } => {
                let mut a = vec!["rematch".into(), "--config".into(), config];
                if let Some(i) = image {
                    a.extend(["--image".into(), i.clone(), "--rejudge".into()]);
                }
                a
            }
            Job::Weekly => vec![
                "report".into(),
                "weekly".into(),
                "--config".into(),
                config,
                "--send".into(),
            ],
        };
        if self.allow_outside_root && !matches!(job, Job::DbUpdate) {
            a.push("--allow-outside-root".into());
        }
        a
    }
}

impl Jobs for Children {
    fn run(&self, job: &Job, stop: &AtomicBool) -> JobResult {
        let before = matches!(job, Job::DbUpdate)
            .then(|| db_built(&self.db))
            .flatten();
        let args = self.args(job);
        let mut log = format!("$ safeimage {}\n", args.join(" "));
        let child = Command::new(&self.exe)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                log.push_str(&format!("could not start: {e}\n"));
                return JobResult {
                    ok: false,
                    log,
                    changed_db: false,
                };
            }
        };
        // both streams read at once, so neither fills its pipe
        let read = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut b = Vec::new();
                let _ = r.read_to_end(&mut b);
                String::from_utf8_lossy(&b).into_owned()
            })
        };
        let out = child.stdout.take().map(|s| read(Box::new(s)));
        let err = child.stderr.take().map(|s| read(Box::new(s)));
        let mut told = false;
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break Ok(s),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
            if stop.load(Ordering::SeqCst) && !told {
                // as a terminal's SIGTERM: a run finishes its step or is
                // recorded as interrupted
                let _ = Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                told = true;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        for h in [out, err].into_iter().flatten() {
            log.push_str(&h.join().unwrap_or_default());
        }
        let ok = match status {
            Ok(s) => {
                log.push_str(&format!("\n{s}\n"));
                s.success()
            }
            Err(e) => {
                log.push_str(&format!("\nwaiting for it failed: {e}\n"));
                false
            }
        };
        let changed_db = matches!(job, Job::DbUpdate) && ok && db_built(&self.db) != before;
        JobResult {
            ok,
            log,
            changed_db,
        }
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = FleetConfig::load_fleet_with(
        &args.config,
        &pipeline::config::LoadOptions {
            allow_outside_root: args.allow_outside_root,
        },
    )?;
    let settings = serve::ServeSettings::load(&args.config)?;
    let parts = crate::shared::fleet::parts(&cfg, false)?;
    let jobs = Children {
        exe: std::env::current_exe()?,
        config: std::path::absolute(&args.config)?,
        db: parts.advisories.path.clone(),
        allow_outside_root: args.allow_outside_root,
    };
    for s in &settings.schedules {
        eprintln!(
            "schedule: {} at `{}` ({})",
            s.kind.as_str(),
            s.text,
            settings.timezone
        );
    }
    serve::serve(
        cfg,
        settings,
        serve::ServeOptions {
            listen: args.listen,
            jobs: Arc::new(jobs),
            db: Some(parts.advisories.path),
            on_listen: Box::new(|a| eprintln!("serving the dashboard on http://{a}/")),
            on_error: Arc::new(|e| eprintln!("error: {e}")),
        },
    )?;
    Ok(ExitCode::SUCCESS)
}
