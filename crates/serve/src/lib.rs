//! `safeimage serve`: one long-running process over the fleet's state
//! store. It runs the jobs on their schedules ([`schedule`]: the fleet run,
//! update proposals, the DB update followed by a re-match, the weekly
//! summary; each tick claimed in the store, so replicas run it once), and
//! serves the dashboard and the JSON API ([`web`] over [`view`]), with
//! `/metrics` and `/healthz`. State changes need the bearer token
//! ([`settings`]); without one the service is read-only and stays on
//! loopback. SIGTERM stops new work, lets a running job stop as `run`
//! stops, and exits.
//!
//! - [`settings`]: `[serve]`, read here;
//! - [`view`]: what pages and the API show, from the store;
//! - [`web`]: routes, handlers, templates, security headers;
//! - [`ignore`]: an ignore written into the fleet's ignore file;
//! - [`api`]: the API's own request and response types;
//! - [`chart`], [`metrics`], [`openapi`]: the trend SVG, the Prometheus
//!   text, the OpenAPI description.

pub mod api;
pub mod chart;
pub mod ignore;
pub mod metrics;
pub mod openapi;
pub mod schedule;
pub mod settings;
pub mod view;
pub mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use model::Timestamp;
use sha2::{Digest as _, Sha256};

pub use schedule::{Job, JobResult, Jobs};
pub use settings::ServeSettings;

/// Why the service did not start, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// `[serve]` could not be read.
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    /// The token could not be read.
    #[error("{0}")]
    Token(String),
    /// A non-loopback address without a token.
    #[error(
        "{0} is not a loopback address and no token is set: set SAFEIMAGE_SERVE_TOKEN (or [serve] token_env / token_file) before serving beyond this machine"
    )]
    OpenWithoutToken(SocketAddr),
    /// The address could not be bound.
    #[error("listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("the state store: {0}")]
    Store(String),
    /// The runtime.
    #[error("{0}")]
    Runtime(std::io::Error),
}

/// What `serve` needs beyond the config.
pub struct ServeOptions {
    /// Overrides `[serve] listen`.
    pub listen: Option<SocketAddr>,
    /// What runs jobs.
    pub jobs: Arc<dyn Jobs>,
    /// The advisory DB, for its age in `/metrics`.
    pub db: Option<PathBuf>,
    /// Told the bound address once listening (the binary prints the URL).
    pub on_listen: Box<dyn FnOnce(SocketAddr) + Send>,
    /// Told of problems that do not stop the service.
    pub on_error: Arc<dyn Fn(String) + Send + Sync>,
}

/// Serves `cfg` until SIGTERM or SIGINT.
pub fn serve(
    cfg: pipeline::FleetConfig,
    settings: ServeSettings,
    opts: ServeOptions,
) -> Result<(), ServeError> {
    let token = settings::token(&settings.token).map_err(ServeError::Token)?;
    let listen = opts.listen.unwrap_or(settings.listen);
    if !listen.ip().is_loopback() && token.is_none() {
        return Err(ServeError::OpenWithoutToken(listen));
    }
    let cfg = Arc::new(cfg);
    let opener: web::Opener = {
        let cfg = cfg.clone();
        Box::new(move || cfg.open_store().map_err(|e| e.to_string()))
    };
    // the store's clock, as the runs use it (replicas may disagree)
    let first = opener().map_err(ServeError::Store)?;
    let offset = first
        .time()
        .map_err(|e| ServeError::Store(e.to_string()))?
        .map_or(0, |t| store::clock_offset(t, Timestamp::now()));
    let stop = Arc::new(AtomicBool::new(false));
    let holder = schedule::holder();
    let state = Arc::new(web::AppState {
        images: cfg
            .images
            .iter()
            .map(|i| (i.name.to_string(), i.repository.to_string()))
            .collect(),
        sla: cfg.sla.clone(),
        ignore_files: cfg.scan.ignore_files.clone(),
        token: token.map(|t| Sha256::digest(t.as_bytes()).into()),
        opener,
        pool: std::sync::Mutex::new(vec![first]),
        jobs: opts.jobs.clone(),
        holder: holder.clone(),
        db: opts.db.clone(),
        cache: std::sync::Mutex::new(Default::default()),
        refreshing: std::sync::Mutex::new(Default::default()),
        permits: tokio::sync::Semaphore::new(3),
        background: tokio::sync::Semaphore::new(1),
        busy: std::sync::Mutex::new(Default::default()),
        stop: stop.clone(),
        templates: web::templates(),
    });
    let scheduler = if settings.schedules.is_empty() {
        None
    } else {
        let s = schedule::Scheduler {
            schedules: settings.schedules.clone(),
            tz: settings.timezone,
            store: (state.opener)().map_err(ServeError::Store)?,
            jobs: opts.jobs.clone(),
            holder,
            now: Box::new(move || Timestamp(Timestamp::now().0 + offset)),
            stop: stop.clone(),
            on_error: {
                let e = opts.on_error.clone();
                Box::new(move |m| e(m))
            },
        };
        Some(std::thread::spawn(move || s.run()))
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let router = web::router(state.clone());
    rt.spawn(state.clone().warm());
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: listen,
                source,
            })?;
        let bound = listener.local_addr().map_err(ServeError::Runtime)?;
        (opts.on_listen)(bound);
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("a SIGTERM handler");
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            })
            .await
            .map_err(ServeError::Runtime)
    });
    // no new job starts; running ones are told to stop and are waited for
    stop.store(true, Ordering::SeqCst);
    web::drain(&state);
    if let Some(h) = scheduler {
        let _ = h.join();
    }
    served
}
