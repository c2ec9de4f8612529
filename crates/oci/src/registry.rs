//! Pulling from registries (OCI distribution API) through `oci-client`:
//! anonymous, basic and bearer-token auth with credentials from
//! `~/.docker/config.json` (`auths`, `credHelpers`, `credsStore`), plain HTTP
//! for loopback and `--insecure-registry` hosts, retries with backoff on 429
//! and 5xx, and digest verification of every manifest, config and layer.
//! Layers stream through a bounded channel: memory does not grow with size.

use std::io::{self, Read};
use std::sync::{Arc, Once};
use std::time::Duration;

use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;

use crate::image::{self, Descriptor, Image, ImageConfig, Index, Manifest, media, parse_json};
use crate::source::{Blobs, RegistryOptions, SourceError, is_loopback};
use crate::verify::{Verified, sha256};
use crate::{Digest, ImageRef, Layer, Platform};

pub use crate::error::RegistryError;

fn classify(e: OciDistributionError, r: &ImageRef) -> RegistryError {
    let reference = r.to_string();
    let registry = r.registry().to_string();
    match e {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => RegistryError::Unauthorized {
            registry,
            reference,
        },
        OciDistributionError::ImageManifestNotFoundError(_) => {
            RegistryError::NotFound { reference }
        }
        OciDistributionError::ServerError {
            code: 401 | 403, ..
        } => RegistryError::Unauthorized {
            registry,
            reference,
        },
        OciDistributionError::ServerError { code: 404, .. } => {
            RegistryError::NotFound { reference }
        }
        OciDistributionError::RegistryError { ref envelope, .. }
            if envelope
                .errors
                .iter()
                .any(|x| format!("{:?}", x.code).contains("Unknown")) =>
        {
            RegistryError::NotFound { reference }
        }
        OciDistributionError::RequestError(err) => RegistryError::Unreachable {
            registry,
            message: err.to_string(),
        },
        other => RegistryError::Other {
            reference,
            message: other.to_string(),
        },
    }
}

fn retryable(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ServerError { code, .. } => *code == 429 || *code >= 500,
        OciDistributionError::RequestError(err) => err.is_timeout() || err.is_connect(),
        _ => false,
    }
}

pub(crate) struct Conn {
    rt: tokio::runtime::Runtime,
    pub(crate) client: oci_client::Client,
    /// For manifests, read with a size cap (oci-client reads them whole).
    http: reqwest::Client,
    plain: bool,
    reference: oci_client::Reference,
    image: ImageRef,
    pub(crate) auth: RegistryAuth,
}

/// A failed capped GET: worth retrying (this error if it keeps failing),
/// or final.
enum Fetch {
    Retry(RegistryError),
    Fail(RegistryError),
}

impl Conn {
    pub(crate) fn new(r: &ImageRef, opts: &RegistryOptions) -> Result<Self, RegistryError> {
        static PROVIDER: Once = Once::new();
        PROVIDER.call_once(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let mut plain: Vec<String> = opts.insecure.clone();
        if is_loopback(r.registry()) {
            plain.push(r.registry().to_string());
        }
        let is_plain = plain.iter().any(|h| h == r.registry());
        let config = ClientConfig {
            protocol: ClientProtocol::HttpsExcept(plain),
            connect_timeout: Some(Duration::from_secs(15)),
            read_timeout: Some(Duration::from_secs(120)),
            ..ClientConfig::default()
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| RegistryError::Other {
                reference: r.to_string(),
                message: format!("cannot start the network runtime: {e}"),
            })?;
        let reference = match (r.tag(), r.digest()) {
            (_, Some(d)) => oci_client::Reference::with_digest(
                r.registry().to_string(),
                r.repository().to_string(),
                d.to_string(),
            ),
            (Some(t), None) => oci_client::Reference::with_tag(
                r.registry().to_string(),
                r.repository().to_string(),
                t.to_string(),
            ),
            (None, None) => oci_client::Reference::with_tag(
                r.registry().to_string(),
                r.repository().to_string(),
                "latest".to_string(),
            ),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(120))
            .user_agent(concat!("safeimage/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Other {
                reference: r.to_string(),
                message: format!("cannot start the HTTP client: {e}"),
            })?;
        Ok(Conn {
            rt,
            client: oci_client::Client::new(config),
            http,
            plain: is_plain,
            reference,
            image: r.clone(),
            auth: match opts.basic_auth.get(r.registry()) {
                Some((u, p)) => RegistryAuth::Basic(u.clone(), p.clone()),
                None => credentials(r.registry()),
            },
        })
    }

    /// Runs an operation with retries on 429/5xx/timeouts (0.5 s, 1 s, 2 s).
    fn retry<T, F, Fut>(&self, op: F) -> Result<T, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
    {
        self.retry_for(&self.image, op)
    }

    /// [`Conn::retry`], naming `shown` in errors.
    pub(crate) fn retry_for<T, F, Fut>(
        &self,
        shown: &ImageRef,
        mut op: F,
    ) -> Result<T, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
    {
        let mut delay = Duration::from_millis(500);
        for attempt in 0.. {
            match self.rt.block_on(op()) {
                Ok(v) => return Ok(v),
                Err(e) if attempt < 3 && retryable(&e) => {
                    std::thread::sleep(delay);
                    delay *= 2;
                }
                Err(e) => return Err(classify(e, shown)),
            }
        }
        unreachable!("the loop returns")
    }

    fn manifest(
        &self,
        reference: &oci_client::Reference,
    ) -> Result<(Vec<u8>, Digest), RegistryError> {
        self.manifest_for(&self.image.clone(), reference)
    }

    /// A manifest by reference, checked against its digest when it has
    /// one, and never more than [`image::MAX_MANIFEST_BYTES`] read.
    pub(crate) fn manifest_for(
        &self,
        shown: &ImageRef,
        reference: &oci_client::Reference,
    ) -> Result<(Vec<u8>, Digest), RegistryError> {
        let mut delay = Duration::from_millis(500);
        let mut attempt = 0;
        let bytes = loop {
            match self
                .rt
                .block_on(self.get_capped(shown, reference, "manifests", None))
            {
                Ok(b) => break b,
                Err(Fetch::Retry(_)) if attempt < 3 => {
                    attempt += 1;
                    std::thread::sleep(delay);
                    delay *= 2;
                }
                Err(Fetch::Retry(e) | Fetch::Fail(e)) => return Err(e),
            }
        };
        let actual = sha256(&bytes);
        if let Some(expected) = reference.digest()
            && expected != actual.to_string()
        {
            return Err(RegistryError::DigestMismatch {
                reference: shown.to_string(),
                what: "manifest".into(),
                expected: expected.into(),
                actual: actual.to_string(),
            });
        }
        Ok((bytes, actual))
    }

    /// OCI 1.1 referrers of `digest` in `reference`'s repository: the
    /// index, or `None` when the registry has no referrers API (404).
    pub(crate) fn referrers(
        &self,
        shown: &ImageRef,
        reference: &oci_client::Reference,
    ) -> Result<Option<Vec<u8>>, RegistryError> {
        let mut delay = Duration::from_millis(500);
        let mut attempt = 0;
        loop {
            match self.rt.block_on(self.get_capped(
                shown,
                reference,
                "referrers",
                Some(media::OCI_INDEX),
            )) {
                Ok(b) => return Ok(Some(b)),
                Err(Fetch::Fail(RegistryError::NotFound { .. })) => return Ok(None),
                Err(Fetch::Retry(_)) if attempt < 3 => {
                    attempt += 1;
                    std::thread::sleep(delay);
                    delay *= 2;
                }
                Err(Fetch::Retry(e) | Fetch::Fail(e)) => return Err(e),
            }
        }
    }

    /// A GET of `/v2/<repo>/<kind>/<tag or digest>` (manifests, referrers),
    /// never more than [`image::MAX_MANIFEST_BYTES`] read.
    async fn get_capped(
        &self,
        shown: &ImageRef,
        reference: &oci_client::Reference,
        kind: &str,
        accept: Option<&str>,
    ) -> Result<Vec<u8>, Fetch> {
        let unreachable = |e: reqwest::Error| {
            let err = RegistryError::Unreachable {
                registry: shown.registry().to_string(),
                message: if e.is_timeout() {
                    "timed out".into()
                } else if e.is_connect() {
                    "connection refused or reset".into()
                } else {
                    e.to_string()
                },
            };
            if e.is_timeout() || e.is_connect() {
                Fetch::Retry(err)
            } else {
                Fetch::Fail(err)
            }
        };
        // oci-client does the token dance and hands back the bearer token.
        let token = self
            .client
            .auth(reference, &self.auth, oci_client::RegistryOperation::Pull)
            .await
            .map_err(|e| {
                if retryable(&e) {
                    Fetch::Retry(classify(e, shown))
                } else {
                    Fetch::Fail(classify(e, shown))
                }
            })?;
        let registry = reference.resolve_registry();
        let url = format!(
            "{}://{registry}/v2/{}/{kind}/{}",
            if self.plain { "http" } else { "https" },
            reference.repository(),
            reference
                .digest()
                .unwrap_or_else(|| reference.tag().unwrap_or("latest"))
        );
        let mut req = self.http.get(&url).header(
            "Accept",
            accept.map_or_else(|| media::ALL_MANIFESTS.join(", "), str::to_string),
        );
        req = match (&token, &self.auth) {
            (Some(t), _) => req.bearer_auth(t),
            (None, RegistryAuth::Basic(u, p)) => req.basic_auth(u, Some(p)),
            (None, RegistryAuth::Bearer(t)) => req.bearer_auth(t),
            (None, _) => req,
        };
        let mut resp = req.send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => {}
            401 | 403 => {
                return Err(Fetch::Fail(RegistryError::Unauthorized {
                    registry: shown.registry().to_string(),
                    reference: shown.to_string(),
                }));
            }
            404 => {
                return Err(Fetch::Fail(RegistryError::NotFound {
                    reference: shown.to_string(),
                }));
            }
            429 | 500.. => {
                return Err(Fetch::Retry(RegistryError::Other {
                    reference: shown.to_string(),
                    message: format!("HTTP {status} from the registry (retried)"),
                }));
            }
            _ => {
                return Err(Fetch::Fail(RegistryError::Other {
                    reference: shown.to_string(),
                    message: format!("GET {kind}: HTTP {status}"),
                }));
            }
        }
        let too_large = || {
            Fetch::Fail(RegistryError::TooLarge {
                reference: shown.to_string(),
                what: "manifest".into(),
                limit: image::MAX_MANIFEST_BYTES,
            })
        };
        if resp
            .content_length()
            .is_some_and(|l| l > image::MAX_MANIFEST_BYTES)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
            if (body.len() + chunk.len()) as u64 > image::MAX_MANIFEST_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// A blob as a stream, through a bounded channel (memory does not grow
    /// with its size); not verified: wrap it in [`Verified`].
    pub(crate) fn blob_stream(
        &self,
        desc: &oci_client::manifest::OciDescriptor,
    ) -> Result<Box<dyn Read + Send>, RegistryError> {
        let stream = self.retry(|| self.client.pull_blob_stream(&self.reference, desc))?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let mut s = stream.stream;
        self.rt.spawn(async move {
            while let Some(chunk) = s.next().await {
                let stop = chunk.is_err();
                if tx.send(chunk).await.is_err() || stop {
                    break;
                }
            }
        });
        Ok(Box::new(ChannelReader {
            rx,
            cur: bytes::Bytes::new(),
        }))
    }

    /// A small blob (a config), never more than `limit` bytes read.
    pub(crate) fn blob_bytes(
        &self,
        d: &Descriptor,
        what: &str,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let too_large = || RegistryError::TooLarge {
            reference: self.image.to_string(),
            what: what.into(),
            limit,
        };
        if d.size > 0 && d.size as u64 > limit {
            return Err(too_large());
        }
        let desc = oci_client::manifest::OciDescriptor {
            media_type: d.media_type.clone(),
            digest: d.digest.clone(),
            size: d.size,
            ..Default::default()
        };
        let out = self.retry(|| async {
            let mut s = self
                .client
                .pull_blob_stream(&self.reference, &desc)
                .await?
                .stream;
            let mut v = Vec::new();
            while let Some(chunk) = s.next().await {
                let chunk = chunk.map_err(OciDistributionError::IoError)?;
                if (v.len() + chunk.len()) as u64 > limit {
                    return Ok(None);
                }
                v.extend_from_slice(&chunk);
            }
            Ok(Some(v))
        })?;
        let out = out.ok_or_else(too_large)?;
        let actual = sha256(&out);
        if actual.to_string() != d.digest {
            return Err(RegistryError::DigestMismatch {
                reference: self.image.to_string(),
                what: what.into(),
                expected: d.digest.clone(),
                actual: actual.to_string(),
            });
        }
        Ok(out)
    }
}

/// Credentials for a registry from the Docker config (`DOCKER_CONFIG` or
/// `~/.docker/config.json`), including credential helpers; anonymous otherwise.
/// Never logged.
pub fn credentials(registry: &str) -> RegistryAuth {
    let server = if registry == crate::DEFAULT_REGISTRY {
        "https://index.docker.io/v1/"
    } else {
        registry
    };
    match docker_credential::get_credential(server) {
        Ok(docker_credential::DockerCredential::UsernamePassword(u, p)) => {
            RegistryAuth::Basic(u, p)
        }
        Ok(docker_credential::DockerCredential::IdentityToken(t)) => RegistryAuth::Bearer(t),
        Err(_) => RegistryAuth::Anonymous,
    }
}

/// Streams layer blobs from the registry.
pub struct RegistryBlobs {
    conn: Arc<Conn>,
}

/// Resolves an image in a registry for a platform.
pub fn open(
    r: &ImageRef,
    platform: &Platform,
    opts: &RegistryOptions,
    source: &str,
) -> Result<(Image, RegistryBlobs), SourceError> {
    let conn = Conn::new(r, opts)?;
    let (mut bytes, mut digest) = conn.manifest(&conn.reference)?;
    let mut index_digest = None;
    if image::is_index(None, &bytes) {
        let idx: Index = parse_json(&bytes, &format!("{source}: index"))?;
        let d = image::pick_platform(&idx, platform, source)?;
        index_digest = Some(digest);
        let by_digest = oci_client::Reference::with_digest(
            r.registry().to_string(),
            r.repository().to_string(),
            d.digest.clone(),
        );
        (bytes, digest) = conn.manifest(&by_digest)?;
    }
    let manifest: Manifest = parse_json(&bytes, &format!("{source}: manifest {digest}"))?;
    let cbytes = conn.blob_bytes(&manifest.config, "config", image::MAX_CONFIG_BYTES)?;
    let config: ImageConfig = parse_json(&cbytes, &format!("{source}: config"))?;
    let layers = image::layers(&manifest, &config, source)?;
    let image = Image {
        source: source.to_string(),
        reference: Some(r.clone()),
        manifest_digest: Some(digest),
        index_digest,
        platform: config.platform(),
        config_digest: Some(sha256(&cbytes)),
        config,
        layers,
        annotations: manifest.annotations.unwrap_or_default(),
    };
    Ok((
        image,
        RegistryBlobs {
            conn: Arc::new(conn),
        },
    ))
}

/// The platforms of the index `r` names; `None` when it names one manifest.
pub fn platforms(
    r: &ImageRef,
    opts: &RegistryOptions,
    source: &str,
) -> Result<Option<Vec<Platform>>, SourceError> {
    let conn = Conn::new(r, opts)?;
    let (bytes, _) = conn.manifest(&conn.reference)?;
    if !image::is_index(None, &bytes) {
        return Ok(None);
    }
    let idx: Index = parse_json(&bytes, &format!("{source}: index"))?;
    Ok(Some(image::index_platforms(&idx)))
}

/// A blocking reader over chunks sent from the async side.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<bytes::Bytes>>,
    cur: bytes::Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

impl Blobs for RegistryBlobs {
    fn open(&self, layer: &Layer) -> Result<Verified<Box<dyn Read + Send>>, SourceError> {
        let conn = &self.conn;
        let desc = oci_client::manifest::OciDescriptor {
            media_type: layer.media_type.clone(),
            digest: layer.digest.to_string(),
            size: layer.size as i64,
            ..Default::default()
        };
        Ok(Verified::new(
            conn.blob_stream(&desc)?,
            layer.digest.clone(),
            Some(layer.size).filter(|s| *s > 0),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example.com:5000"));
        assert!(is_loopback("127.8.9.10:443"));
        assert!(is_loopback("[::1]"));
        // Names are not judged by their spelling.
        for h in [
            "127.attacker.invalid",
            "127.attacker.invalid:5000",
            "127.0.0.1.nip.io",
            "localhost.attacker.invalid",
            "::1",
            "[::2]:5000",
            "128.0.0.1:5000",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
        let mut o = RegistryOptions::default();
        o.basic_auth
            .insert("r.example".into(), ("user".into(), "hunter2".into()));
        let shown = format!("{o:?}");
        assert!(
            shown.contains("user") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
