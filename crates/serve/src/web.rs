//! The HTTP side: small handlers over [`crate::view`] (one route each),
//! the dashboard's pages rendered on the server (no script, no external
//! asset), the JSON API with the same data, the two state changes (a run,
//! an ignore) behind the bearer token, `/metrics`, `/healthz` and the
//! OpenAPI description made from the route table and the response types.
//! Every response carries the security headers; everything from images and
//! advisories is escaped by the templates.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use model::Timestamp;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::api::{Health, Ignored, Problem, RunRequest, Started};
use crate::ignore::{IgnoreError, IgnoreRequest};
use crate::schedule::{Job, Jobs};
use crate::view;

/// Opens a connection to the store.
pub type Opener = Box<dyn Fn() -> Result<Box<dyn store::StateStore>, String> + Send + Sync>;

/// How long the overview is reused before it is read again.
pub const OVERVIEW_TTL: Duration = Duration::from_secs(5);

/// What the handlers share.
pub struct AppState {
    /// The fleet's images: (name, repository), in config order.
    pub images: Vec<(String, String)>,
    /// `[sla]`.
    pub sla: store::sla::Sla,
    /// `[scan] ignore_files`.
    pub ignore_files: Vec<PathBuf>,
    /// SHA-256 of the token (none: no state change is accepted).
    pub token: Option<[u8; 32]>,
    /// Connections to the store.
    pub opener: Opener,
    /// Idle connections.
    pub pool: Mutex<Vec<Box<dyn store::StateStore>>>,
    /// What runs jobs.
    pub jobs: Arc<dyn Jobs>,
    /// This process (`host:pid`).
    pub holder: String,
    /// The advisory DB, for its age.
    pub db: Option<PathBuf>,
    /// Pages read lately, by key (`""`: the overview; an image's name).
    pub cache: Mutex<std::collections::HashMap<String, Cached>>,
    /// Keys being read again in the background.
    pub refreshing: Mutex<HashSet<String>>,
    /// Store work for requests at once (the rest wait their turn, not the
    /// store).
    pub permits: tokio::sync::Semaphore,
    /// Store work for background refreshes at once.
    pub background: tokio::sync::Semaphore,
    /// Jobs started from the API and still running here.
    pub busy: Mutex<HashSet<String>>,
    /// Set on SIGTERM.
    pub stop: Arc<AtomicBool>,
    /// The pages' templates.
    pub templates: minijinja::Environment<'static>,
}

/// A page as last read: its HTML and its JSON.
#[derive(Clone)]
pub struct Cached {
    at: Instant,
    html: Arc<String>,
    json: Arc<String>,
}

struct Failure(StatusCode, Problem);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, axum::Json(self.1)).into_response()
    }
}

fn fail(status: StatusCode, error: impl Into<String>) -> Failure {
    Failure(
        status,
        Problem {
            error: error.into(),
            field: None,
        },
    )
}

impl AppState {
    fn now(store: &dyn store::StateStore) -> Timestamp {
        store.time().ok().flatten().unwrap_or_else(Timestamp::now)
    }

    /// Runs `f` on a store connection off the async threads.
    async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&AppState, &mut dyn store::StateStore) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        self.with_store_on(&self.permits, f).await
    }

    /// As [`Self::with_store`], for refreshes nobody waits for: they take
    /// their own turns, so a request never queues behind them.
    async fn with_store_later<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&AppState, &mut dyn store::StateStore) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        self.with_store_on(&self.background, f).await
    }

    async fn with_store_on<T: Send + 'static>(
        self: &Arc<Self>,
        turns: &tokio::sync::Semaphore,
        f: impl FnOnce(&AppState, &mut dyn store::StateStore) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let _turn = turns
            .acquire()
            .await
            .map_err(|e| fail(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
        let st = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = match st.pool.lock().ok().and_then(|mut p| p.pop()) {
                Some(s) => s,
                None => (st.opener)().map_err(|e| fail(StatusCode::SERVICE_UNAVAILABLE, e))?,
            };
            let r = f(&st, &mut *s);
            if let Ok(mut p) = st.pool.lock() {
                p.push(s);
            }
            r
        })
        .await
        .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    }

    fn fleet(&self) -> view::Fleet<'_> {
        view::Fleet {
            images: &self.images,
            sla: &self.sla,
        }
    }

    /// Reads page `key` (`""`: the overview, else an image) and keeps it;
    /// `None` for an image the fleet does not have.
    fn read_page(
        &self,
        store: &dyn store::StateStore,
        key: &str,
    ) -> Result<Option<Cached>, Failure> {
        let now = Self::now(store);
        let (html, json) = if key.is_empty() {
            let o = view::overview(&self.fleet(), store, now).map_err(store_err)?;
            let chart = crate::chart::svg(&o.trend, 900, 160);
            let html = self.render(
                "overview.html",
                serde_json::json!({"o": &o, "chart": chart}),
            )?;
            (html, serde_json::to_string(&o).unwrap_or_default())
        } else {
            let Some(d) = view::image(&self.fleet(), key, store, now).map_err(store_err)? else {
                return Ok(None);
            };
            let chart = crate::chart::svg(&d.trend, 900, 140);
            let html = self.render("image.html", serde_json::json!({"d": &d, "chart": chart}))?;
            (html, serde_json::to_string(&d).unwrap_or_default())
        };
        let c = Cached {
            at: Instant::now(),
            html: Arc::new(html),
            json: Arc::new(json),
        };
        if let Ok(mut m) = self.cache.lock() {
            m.insert(key.to_string(), c.clone());
        }
        Ok(Some(c))
    }

    /// Page `key`: the kept one while fresh; when stale, the kept one
    /// still, while one read runs in the background (requests never wait
    /// for it); read in place only when none is kept.
    async fn page_of(self: &Arc<Self>, key: &str) -> Result<Option<Cached>, Failure> {
        let kept = self.cache.lock().ok().and_then(|m| m.get(key).cloned());
        match kept {
            Some(c) if c.at.elapsed() < OVERVIEW_TTL => Ok(Some(c)),
            Some(c) => {
                let first = self
                    .refreshing
                    .lock()
                    .map(|mut r| r.insert(key.to_string()))
                    .unwrap_or(false);
                if first {
                    let st = self.clone();
                    let key = key.to_string();
                    tokio::spawn(async move {
                        let k = key.clone();
                        let _ = st.with_store_later(move |st, s| st.read_page(s, &k)).await;
                        if let Ok(mut r) = st.refreshing.lock() {
                            r.remove(&key);
                        }
                    });
                }
                Ok(Some(c))
            }
            None => {
                let k = key.to_string();
                self.with_store(move |st, s| st.read_page(s, &k)).await
            }
        }
    }

    /// Reads every page once in the background after start (the
    /// overview, then each image), so the first visitors find them read.
    pub async fn warm(self: Arc<Self>) {
        let keys: Vec<String> = std::iter::once(String::new())
            .chain(self.images.iter().map(|(n, _)| n.clone()))
            .collect();
        for k in keys {
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let _ = self
                .with_store_later(move |st, s| st.read_page(s, &k))
                .await;
        }
    }

    /// Forgets kept pages (after a change).
    fn forget_pages(&self) {
        if let Ok(mut m) = self.cache.lock() {
            m.clear();
        }
    }

    /// Whether `given` is the token (compared in constant time, as
    /// digests, so neither its value nor its length leaks).
    fn token_ok(&self, given: Option<&str>) -> bool {
        let (Some(want), Some(given)) = (self.token, given) else {
            return false;
        };
        let got: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        bool::from(want.ct_eq(&got))
    }

    fn page(&self, name: &str, ctx: impl Serialize) -> Result<Html<String>, Failure> {
        self.render(name, ctx).map(Html)
    }

    fn render(&self, name: &str, ctx: impl Serialize) -> Result<String, Failure> {
        self.templates
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(&ctx)))
            .map_err(|e| {
                fail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("template {name}: {e}"),
                )
            })
    }
}

fn store_err(e: store::StoreError) -> Failure {
    fail(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// A state change from another site (a form posted from elsewhere) is
/// refused whatever it carries.
fn cross_site(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if matches!(site, Some("cross-site" | "same-site")) {
        return true;
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => {
            origin != "null"
                && origin
                    .split_once("://")
                    .is_none_or(|(_, rest)| rest.trim_end_matches('/') != host)
        }
        (Some("null"), None) => true,
        _ => false,
    }
}

// ---- pages ----

fn json_response(body: &Arc<String>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.as_ref().clone(),
    )
        .into_response()
}

async fn overview_page(State(st): State<Arc<AppState>>) -> Result<Response, Failure> {
    let c = st
        .page_of("")
        .await?
        .ok_or_else(|| fail(StatusCode::INTERNAL_SERVER_ERROR, "no overview"))?;
    Ok(Html(c.html.as_ref().clone()).into_response())
}

async fn image_page(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, Failure> {
    if name.is_empty() {
        return Err(fail(StatusCode::NOT_FOUND, "no image named"));
    }
    match st.page_of(&name).await? {
        Some(c) => Ok(Html(c.html.as_ref().clone()).into_response()),
        None => Ok((
            StatusCode::NOT_FOUND,
            st.page(
                "missing.html",
                serde_json::json!({"what": format!("image {name}")}),
            )?,
        )
            .into_response()),
    }
}

async fn runs_page(State(st): State<Arc<AppState>>) -> Result<Html<String>, Failure> {
    let r = st
        .with_store(|_, s| view::runs(s, 50).map_err(store_err))
        .await?;
    st.page("runs.html", serde_json::json!({"r": r}))
}

async fn run_page(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(fail(StatusCode::BAD_REQUEST, "a run id is a number"));
    };
    let r = st
        .with_store(move |_, s| view::run(s, id).map_err(store_err))
        .await?;
    match r {
        Some(r) => Ok(st
            .page("run.html", serde_json::json!({"r": r}))?
            .into_response()),
        None => Ok((
            StatusCode::NOT_FOUND,
            st.page(
                "missing.html",
                serde_json::json!({"what": format!("run {id}")}),
            )?,
        )
            .into_response()),
    }
}

async fn audit_page(State(st): State<Arc<AppState>>) -> Result<Html<String>, Failure> {
    let a = st
        .with_store(|_, s| view::audit(s).map_err(store_err))
        .await?;
    st.page("audit.html", serde_json::json!({"a": a}))
}

async fn image_report(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, Failure> {
    let n = name.clone();
    let d = st
        .with_store(move |st, s| {
            let Some((_, repo)) = st.images.iter().find(|(i, _)| *i == n) else {
                return Ok(None);
            };
            pipeline::dossier::dossier(&n, repo, s, &st.sla, AppState::now(s)).map_err(store_err)
        })
        .await?;
    match d {
        Some(d) => Ok(Html(report::dossier::html(&d)).into_response()),
        None => Err(fail(
            StatusCode::NOT_FOUND,
            format!("{name}: no promoted image of that name"),
        )),
    }
}

/// The report for consumers as a PDF (printed by headless Chromium on the
/// service's machine).
async fn image_pdf(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, Failure> {
    let n = name.clone();
    let bytes = st
        .with_store(move |st, s| {
            let Some((_, repo)) = st.images.iter().find(|(i, _)| *i == n) else {
                return Ok(None);
            };
            let Some(d) = pipeline::dossier::dossier(&n, repo, s, &st.sla, AppState::now(s))
                .map_err(store_err)?
            else {
                return Ok(None);
            };
            let dir = tempfile::tempdir()
                .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            let out = dir.path().join("report.pdf");
            pipeline::dossier::print_pdf(&report::dossier::html(&d), &out).map_err(|e| {
                let code = match e {
                    pipeline::dossier::PdfError::NoChromium => StatusCode::NOT_IMPLEMENTED,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                fail(code, e.to_string())
            })?;
            std::fs::read(&out)
                .map(Some)
                .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
        })
        .await?
        .ok_or_else(|| {
            fail(
                StatusCode::NOT_FOUND,
                format!("{name}: no promoted image of that name"),
            )
        })?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/pdf"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{name}.pdf\""))
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// `?platform=` of a download.
#[derive(Debug, serde::Deserialize)]
struct PlatformQuery {
    #[serde(default)]
    platform: Option<String>,
}

fn download(body: String, media: &'static str, file: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(media)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{file}\""))
                    .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
            ),
        ],
        body,
    )
        .into_response()
}

/// The promoted image's SBOM (CycloneDX, from the inventory kept with the
/// promotion; `?platform=` for one of several).
async fn image_sbom(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<PlatformQuery>,
) -> Result<Response, Failure> {
    if !st.images.iter().any(|(n, _)| *n == name) {
        return Err(fail(
            StatusCode::NOT_FOUND,
            format!("no image named {name} in the fleet"),
        ));
    }
    let n = name.clone();
    let kept = st
        .with_store(move |_, s| {
            Ok(s.promoted_inventories()
                .map_err(store_err)?
                .into_iter()
                .filter(|k| k.image == n)
                .find(|k| q.platform.as_deref().is_none_or(|p| p == k.platform)))
        })
        .await?
        .ok_or_else(|| {
            fail(
                StatusCode::NOT_FOUND,
                format!("{name}: no inventory kept for that platform"),
            )
        })?;
    let inv: inventory::Inventory = serde_json::from_str(&kept.inventory).map_err(|e| {
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{name} {}: its kept inventory: {e}", kept.platform),
        )
    })?;
    let subject = inventory::sbom::Subject {
        name: st
            .images
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, r)| r.clone())
            .unwrap_or_default(),
        digest: Some(kept.digest.clone()),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        created: Timestamp::now().to_string(),
    };
    let body = serde_json::to_string_pretty(&inventory::sbom::cyclonedx(&inv, &subject))
        .unwrap_or_default();
    Ok(download(
        body,
        "application/vnd.cyclonedx+json",
        format!("{name}.cdx.json"),
    ))
}

/// The promoted image's findings as SARIF.
async fn image_sarif(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, Failure> {
    let n = name.clone();
    let promoted = st
        .with_store(move |st, s| {
            if !st.images.iter().any(|(i, _)| *i == n) {
                return Ok(None);
            }
            Ok(s.history(&n.as_str().into(), None)
                .map_err(store_err)?
                .promoted)
        })
        .await?
        .ok_or_else(|| {
            fail(
                StatusCode::NOT_FOUND,
                format!("{name}: no promoted image of that name"),
            )
        })?;
    let findings: Vec<scan::Finding> = promoted.findings.values().flatten().cloned().collect();
    let notes = Vec::new();
    let r = report::vulns::ScanReport::new(
        report::ToolInfo {
            name: "safeimage".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        Timestamp::now().to_string(),
        report::vulns::Target {
            name: name.clone(),
            digest: Some(promoted.digest.to_string()),
            distro: None,
        },
        report::vulns::DbInfo {
            built_at: String::new(),
            schema_version: 0,
        },
        &findings,
        0,
        0,
        &notes,
    );
    let body = serde_json::to_string_pretty(&report::vulns::sarif(&r)).unwrap_or_default();
    Ok(download(
        body,
        "application/sarif+json",
        format!("{name}.sarif"),
    ))
}

/// The form's fields.
#[derive(Debug, serde::Deserialize)]
struct IgnoreForm {
    advisory: String,
    #[serde(default)]
    package: String,
    reason: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    token: String,
}

async fn ignore_form(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<IgnoreForm>,
) -> Result<Response, Failure> {
    let req = IgnoreRequest {
        advisory: f.advisory,
        package: Some(f.package).filter(|p| !p.trim().is_empty()),
        reason: f.reason,
        expires: Some(f.expires).filter(|p| !p.trim().is_empty()),
    };
    let back = format!("/images/{}", percent(&name));
    match ignore(&st, &name, &headers, Some(f.token.as_str()), req).await {
        Ok(_) => Ok(Redirect::to(&back).into_response()),
        Err(Failure(code, p)) => Ok((
            code,
            st.page(
                "refused.html",
                serde_json::json!({"error": p.error, "back": back}),
            )?,
        )
            .into_response()),
    }
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---- API ----

async fn api_overview(State(st): State<Arc<AppState>>) -> Result<Response, Failure> {
    let c = st
        .page_of("")
        .await?
        .ok_or_else(|| fail(StatusCode::INTERNAL_SERVER_ERROR, "no overview"))?;
    Ok(json_response(&c.json))
}

async fn api_image(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Response, Failure> {
    let found = if name.is_empty() {
        None
    } else {
        st.page_of(&name).await?
    };
    found.map(|c| json_response(&c.json)).ok_or_else(|| {
        fail(
            StatusCode::NOT_FOUND,
            format!("no image named {name} in the fleet"),
        )
    })
}

async fn api_runs(State(st): State<Arc<AppState>>) -> Result<axum::Json<view::Runs>, Failure> {
    st.with_store(|_, s| view::runs(s, 100).map_err(store_err))
        .await
        .map(axum::Json)
}

async fn api_run(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<axum::Json<view::RunDetail>, Failure> {
    let id: i64 = id.parse().map_err(|_| {
        Failure(
            StatusCode::BAD_REQUEST,
            Problem {
                error: "a run id is a number".into(),
                field: Some("id".into()),
            },
        )
    })?;
    st.with_store(move |_, s| view::run(s, id).map_err(store_err))
        .await?
        .map(axum::Json)
        .ok_or_else(|| fail(StatusCode::NOT_FOUND, format!("no run {id}")))
}

async fn api_audit(State(st): State<Arc<AppState>>) -> Result<axum::Json<view::Audit>, Failure> {
    st.with_store(|_, s| view::audit(s).map_err(store_err))
        .await
        .map(axum::Json)
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|e| {
        // serde names the field it choked on in its message
        let field = e.to_string().split('`').nth(1).map(str::to_string);
        Failure(
            StatusCode::BAD_REQUEST,
            Problem {
                error: format!("the request body: {e}"),
                field,
            },
        )
    })
}

async fn api_start_run(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Failure> {
    if !st.token_ok(bearer(&headers)) {
        return Err(fail(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required",
        ));
    }
    let req: RunRequest = if body.is_empty() {
        RunRequest::default()
    } else {
        json_body(&body)?
    };
    if let Some(i) = &req.image
        && !st.images.iter().any(|(n, _)| n == i)
    {
        return Err(fail(
            StatusCode::NOT_FOUND,
            format!("no image named {i} in the fleet"),
        ));
    }
    let job = Job::Run { image: req.image };
    let name = job.name();
    {
        let mut busy = st
            .busy
            .lock()
            .map_err(|_| fail(StatusCode::INTERNAL_SERVER_ERROR, "lock"))?;
        if busy.contains("run") || busy.contains(&name) {
            return Err(fail(
                StatusCode::CONFLICT,
                "a run started here is still going",
            ));
        }
        busy.insert(name.clone());
    }
    let tick = Timestamp::now();
    let st2 = st.clone();
    let n2 = name.clone();
    std::thread::spawn(move || {
        if let Ok(mut s) = (st2.opener)() {
            let now = || Timestamp::now();
            let _ = crate::schedule::run_claimed(
                &mut *s,
                &*st2.jobs,
                &job,
                tick,
                &st2.holder,
                &now,
                &st2.stop,
            );
        }
        st2.forget_pages();
        if let Ok(mut b) = st2.busy.lock() {
            b.remove(&n2);
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Started {
            job: name,
            tick: tick.to_string(),
        }),
    )
        .into_response())
}

async fn ignore(
    st: &Arc<AppState>,
    name: &str,
    headers: &HeaderMap,
    token: Option<&str>,
    req: IgnoreRequest,
) -> Result<Ignored, Failure> {
    if cross_site(headers) {
        return Err(fail(
            StatusCode::FORBIDDEN,
            "a change from another site is refused",
        ));
    }
    if !st.token_ok(token) {
        return Err(fail(StatusCode::UNAUTHORIZED, "a valid token is required"));
    }
    if !st.images.iter().any(|(n, _)| n == name) {
        return Err(fail(
            StatusCode::NOT_FOUND,
            format!("no image named {name} in the fleet"),
        ));
    }
    let to_failure = |e: IgnoreError| match e {
        IgnoreError::Field { field, message } => Failure(
            StatusCode::BAD_REQUEST,
            Problem {
                error: format!("{field}: {message}"),
                field: Some(field.into()),
            },
        ),
        IgnoreError::NoFile => fail(StatusCode::CONFLICT, e.to_string()),
        IgnoreError::File { .. } => fail(StatusCode::CONFLICT, e.to_string()),
    };
    req.check().map_err(to_failure)?;
    let file = crate::ignore::home(&st.ignore_files)
        .map_err(to_failure)?
        .to_path_buf();
    let name = name.to_string();
    let st2 = st.clone();
    let out = st
        .with_store(move |_, s| {
            crate::ignore::write(&file, &req).map_err(to_failure)?;
            let mut fields = serde_json::Map::new();
            fields.insert("advisory".into(), req.advisory.clone().into());
            fields.insert(
                "package".into(),
                req.package
                    .clone()
                    .map_or(serde_json::Value::Null, Into::into),
            );
            fields.insert("reason".into(), req.reason.clone().into());
            fields.insert(
                "expires".into(),
                req.expires
                    .clone()
                    .map_or(serde_json::Value::Null, Into::into),
            );
            fields.insert("file".into(), file.display().to_string().into());
            s.audit_event(&name, AppState::now(s), "ignored", fields)
                .map_err(store_err)?;
            // judged again now, so the finding shows as ignored at once
            let job = Job::Rematch {
                image: Some(name.clone()),
            };
            let r = st2.jobs.run(&job, &st2.stop);
            Ok(Ignored {
                file: file.display().to_string(),
                rejudged: r.ok,
            })
        })
        .await?;
    st.forget_pages();
    Ok(out)
}

async fn api_ignore(
    State(st): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, Failure> {
    // the token first: nothing about the request is told without it
    if !st.token_ok(bearer(&headers)) {
        return Err(fail(
            StatusCode::UNAUTHORIZED,
            "a valid bearer token is required",
        ));
    }
    let req: IgnoreRequest = json_body(&body)?;
    let token = bearer(&headers).map(str::to_string);
    let r = ignore(&st, &name, &headers, token.as_deref(), req).await?;
    Ok((StatusCode::CREATED, axum::Json(r)).into_response())
}

async fn healthz(State(st): State<Arc<AppState>>) -> Result<axum::Json<Health>, Failure> {
    st.with_store(|_, s| {
        s.runs(1).map_err(store_err)?;
        Ok(Health {
            status: "ok".into(),
        })
    })
    .await
    .map(axum::Json)
}

async fn metrics(State(st): State<Arc<AppState>>) -> Result<Response, Failure> {
    let text = st
        .with_store(|st, s| {
            let o = view::overview(&st.fleet(), s, AppState::now(s)).map_err(store_err)?;
            let runs = s.runs(1000).map_err(store_err)?;
            let jobs = s.jobs(1000).map_err(store_err)?;
            Ok(crate::metrics::text(
                &o,
                &runs,
                &jobs,
                st.db.as_deref(),
                AppState::now(s),
            ))
        })
        .await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        crate::openapi::document().to_string(),
    )
        .into_response()
}

async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn not_found() -> Failure {
    fail(StatusCode::NOT_FOUND, "no such page")
}

/// The routes (every one in [`crate::openapi::ROUTES`] or a page).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(overview_page))
        .route("/images/{name}", get(image_page))
        .route("/images/{name}/report.html", get(image_report))
        .route("/images/{name}/report.pdf", get(image_pdf))
        .route("/images/{name}/sbom.cdx.json", get(image_sbom))
        .route("/images/{name}/findings.sarif", get(image_sarif))
        .route("/images/{name}/ignore", post(ignore_form))
        .route("/runs", get(runs_page))
        .route("/runs/{id}", get(run_page))
        .route("/audit", get(audit_page))
        .route("/api/v1/overview", get(api_overview))
        .route("/api/v1/images/{name}", get(api_image))
        .route("/api/v1/images/{name}/ignores", post(api_ignore))
        .route("/api/v1/runs", get(api_runs).post(api_start_run))
        .route("/api/v1/runs/{id}", get(api_run))
        .route("/api/v1/audit", get(api_audit))
        .route("/api/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(security_headers))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

/// The templates.
pub fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    for (name, text) in [
        ("base.html", include_str!("../templates/base.html")),
        ("overview.html", include_str!("../templates/overview.html")),
        ("image.html", include_str!("../templates/image.html")),
        ("runs.html", include_str!("../templates/runs.html")),
        ("run.html", include_str!("../templates/run.html")),
        ("audit.html", include_str!("../templates/audit.html")),
        ("missing.html", include_str!("../templates/missing.html")),
        ("refused.html", include_str!("../templates/refused.html")),
    ] {
        env.add_template(name, text)
            .unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    env.add_filter("urlpart", |s: String| percent(&s));
    env
}

/// Sets `stop` and waits for jobs started here to end.
pub fn drain(state: &AppState) {
    state.stop.store(true, Ordering::SeqCst);
    while state.busy.lock().map(|b| !b.is_empty()).unwrap_or(false) {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The counts by severity in the fixed order pages show.
pub fn severities(m: &BTreeMap<String, usize>) -> [usize; 4] {
    ["CRITICAL", "HIGH", "MEDIUM", "LOW"].map(|k| m.get(k).copied().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_a_cross_site_form_is_told_apart() {
        let _ = templates();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!cross_site(&h), "no Origin: a non-browser client");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!cross_site(&h), "same origin");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(cross_site(&h));
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_site(&h));
    }
}
