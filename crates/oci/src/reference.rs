//! The Docker/OCI image reference grammar (`[registry[:port]/]path[:tag][@digest]`),
//! normalised the way the Docker CLI and BuildKit normalise it.

use std::fmt;
use std::str::FromStr;

use crate::digest::{Digest, DigestError};

/// The registry a reference names when it names none.
pub const DEFAULT_REGISTRY: &str = "docker.io";
const NAME_MAX: usize = 255;
const TAG_MAX: usize = 128;

/// A fully qualified image reference.
///
/// `nginx` parses to registry `docker.io`, repository `library/nginx`, no tag;
/// `localhost:5000/team/app:1.2@sha256:…` keeps every part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a string is not an image reference.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// Empty input.
    #[error("image reference is empty")]
    Empty,
    /// Name longer than 255 characters.
    #[error("image name `{0}` is longer than 255 characters")]
    NameTooLong(String),
    /// A path component has characters outside `[a-z0-9._-]` or bad separators.
    #[error("invalid repository path component `{component}` in `{reference}`")]
    BadPathComponent {
        /// The offending component.
        component: String,
        /// The whole reference.
        reference: String,
    },
    /// Uppercase letters in the repository.
    #[error("repository name in `{0}` must be lowercase")]
    Uppercase(String),
    /// Bad registry host or port.
    #[error("invalid registry host `{host}` in `{reference}`")]
    BadRegistry {
        /// The host part.
        host: String,
        /// The whole reference.
        reference: String,
    },
    /// Bad tag.
    #[error("invalid tag `{tag}` in `{reference}` (tags are [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})")]
    BadTag {
        /// The tag.
        tag: String,
        /// The whole reference.
        reference: String,
    },
    /// Bad digest.
    #[error(transparent)]
    BadDigest(#[from] DigestError),
}

impl ImageRef {
    /// Registry host with optional port, e.g. `docker.io`, `localhost:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }
    /// Repository path inside the registry, e.g. `library/nginx`.
    pub fn repository(&self) -> &str {
        &self.repository
    }
    /// Tag, if given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    /// Digest, if given.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }
    /// `registry/repository`, the fully qualified repository name policies match on.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
    /// A Docker Official Image: `docker.io/library/<name>`.
    pub fn is_docker_official(&self) -> bool {
        self.registry == DEFAULT_REGISTRY
            && self
                .repository
                .strip_prefix("library/")
                .is_some_and(|rest| !rest.contains('/'))
    }
    /// The same reference with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Self {
        ImageRef {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }
    /// The same reference pinned to a digest (the tag is kept for readability).
    pub fn with_digest(&self, digest: Digest) -> Self {
        ImageRef {
            digest: Some(digest),
            ..self.clone()
        }
    }
}

fn valid_path_component(c: &str) -> bool {
    // [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() {
        return false;
    }
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_host_label(l: &str) -> bool {
    let b = l.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
}

fn valid_registry(host: &str) -> bool {
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        // [ipv6]:port
        let Some((addr, after)) = rest.split_once(']') else {
            return false;
        };
        if addr.is_empty()
            || !addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return false;
        }
        match after.strip_prefix(':') {
            Some(p) => return !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()),
            None => return after.is_empty(),
        }
    } else {
        match host.rsplit_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        }
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    !name.is_empty() && name.split('.').all(valid_host_label)
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= TAG_MAX
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || b"_.-".contains(x))
}

impl FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d.parse::<Digest>()?)),
            None => (s, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => {
                let i = last_slash + i;
                (&name_tag[..i], Some(&name_tag[i + 1..]))
            }
            None => (name_tag, None),
        };
        if name.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if name.len() > NAME_MAX {
            return Err(ReferenceError::NameTooLong(name.to_string()));
        }
        if let Some(t) = tag
            && !valid_tag(t)
        {
            return Err(ReferenceError::BadTag {
                tag: t.to_string(),
                reference: s.to_string(),
            });
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.bytes().any(|b| b.is_ascii_uppercase())
                    || first.starts_with('[') =>
            {
                (first, rest)
            }
            _ => (DEFAULT_REGISTRY, name),
        };
        if !valid_registry(registry) {
            return Err(ReferenceError::BadRegistry {
                host: registry.to_string(),
                reference: s.to_string(),
            });
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(s.to_string()));
        }
        for c in path.split('/') {
            if !valid_path_component(c) {
                return Err(ReferenceError::BadPathComponent {
                    component: c.to_string(),
                    reference: s.to_string(),
                });
            }
        }
        let registry = if registry == "index.docker.io" {
            DEFAULT_REGISTRY
        } else {
            registry
        };
        let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_string()
        };
        // Docker checks the length of the normalised name (`docker.io/library/...`).
        if registry.len() + 1 + repository.len() > NAME_MAX {
            return Err(ReferenceError::NameTooLong(format!(
                "{registry}/{repository}"
            )));
        }
        Ok(ImageRef {
            registry: registry.to_string(),
            repository,
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ImageRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> ImageRef {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn docker_hub_defaults() {
        let r = p("nginx");
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("docker.io", "library/nginx", None)
        );
        assert!(r.is_docker_official());
        let r = p("bitnami/redis:7");
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("docker.io", "bitnami/redis", Some("7"))
        );
        assert!(!r.is_docker_official());
        assert_eq!(
            p("index.docker.io/library/debian").full_name(),
            "docker.io/library/debian"
        );
        assert_eq!(
            p("docker.io/alpine:3.20").full_name(),
            "docker.io/library/alpine"
        );
    }

    #[test]
    fn registry_with_port_and_without_dot() {
        let r = p("localhost:5000/a/b");
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("localhost:5000", "a/b", None)
        );
        let r = p("myregistry:443/team/img:1.2");
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("myregistry:443", "team/img", Some("1.2"))
        );
        let r = p("localhost/img");
        assert_eq!(r.registry(), "localhost");
        let r = p("127.0.0.1:5000/debian:bookworm");
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("127.0.0.1:5000", "debian", Some("bookworm"))
        );
        let r = p("[::1]:5000/x");
        assert_eq!(r.registry(), "[::1]:5000");
        // An uppercase first component is a host, not a path.
        assert_eq!(p("MyHost/img").registry(), "MyHost");
    }

    #[test]
    fn tag_and_digest() {
        let d = format!("sha256:{}", "0123456789abcdef".repeat(4));
        let r = p(&format!("gcr.io/distroless/static:nonroot@{d}"));
        assert_eq!(r.tag(), Some("nonroot"));
        assert_eq!(r.digest().unwrap().to_string(), d);
        assert_eq!(
            r.to_string(),
            format!("gcr.io/distroless/static:nonroot@{d}")
        );
        let r = p(&format!("alpine@{d}"));
        assert_eq!(
            (r.tag(), r.full_name().as_str()),
            (None, "docker.io/library/alpine")
        );
    }

    #[test]
    fn rejects_bad_references() {
        assert_eq!("".parse::<ImageRef>(), Err(ReferenceError::Empty));
        assert!(matches!(
            "Nginx".parse::<ImageRef>(),
            Err(ReferenceError::Uppercase(_))
        ));
        assert!(matches!(
            "a//b".parse::<ImageRef>(),
            Err(ReferenceError::BadPathComponent { .. })
        ));
        assert!(matches!(
            "a/-b".parse::<ImageRef>(),
            Err(ReferenceError::BadPathComponent { .. })
        ));
        assert!(matches!(
            "nginx:".parse::<ImageRef>(),
            Err(ReferenceError::BadTag { .. })
        ));
        assert!(matches!(
            "nginx:.x".parse::<ImageRef>(),
            Err(ReferenceError::BadTag { .. })
        ));
        assert!(matches!(
            "host:abc/x".parse::<ImageRef>(),
            Err(ReferenceError::BadRegistry { .. })
        ));
        assert!(matches!(
            "nginx@sha256:12".parse::<ImageRef>(),
            Err(ReferenceError::BadDigest(_))
        ));
        assert!(matches!(
            "a".repeat(256).to_string().parse::<ImageRef>(),
            Err(ReferenceError::NameTooLong(_))
        ));
        assert!("${BASE}".parse::<ImageRef>().is_err());
    }

    #[test]
    fn length_limit_applies_to_the_normalised_name() {
        // found by the `reference` fuzz target: 250 characters parse alone but
        // not once `docker.io/` is added, so the printed form must be refused too
        let long = format!("a/{}", "b".repeat(248));
        assert!(matches!(
            long.parse::<ImageRef>(),
            Err(ReferenceError::NameTooLong(_))
        ));
        let ok = format!("a/{}", "b".repeat(200));
        let r: ImageRef = ok.parse().unwrap();
        assert_eq!(r.to_string().parse::<ImageRef>().unwrap(), r);
    }

    #[test]
    fn separators() {
        assert!(p("a__b/c-d--e/f.g_h").repository() == "a__b/c-d--e/f.g_h");
        assert!("a___b".parse::<ImageRef>().is_err());
        assert!("a..b".parse::<ImageRef>().is_err());
    }
}
