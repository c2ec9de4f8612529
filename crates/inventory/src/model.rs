//! The inventory model.

use serde::Serialize;

/// Package ecosystems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageType {
    /// Debian/Ubuntu package.
    Deb,
    /// Alpine package.
    Apk,
    /// RPM package.
    Rpm,
    /// Python distribution.
    Python,
    /// npm package.
    Npm,
    /// Go module (from a binary's build info).
    Go,
    /// Rust crate (from cargo-auditable data in a binary).
    Rust,
    /// Java archive.
    Java,
}

impl PackageType {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            PackageType::Deb => "deb",
            PackageType::Apk => "apk",
            PackageType::Rpm => "rpm",
            PackageType::Python => "python",
            PackageType::Npm => "npm",
            PackageType::Go => "go",
            PackageType::Rust => "rust",
            PackageType::Java => "java",
        }
    }
    /// Whether this is an OS package type.
    pub fn is_os(self) -> bool {
        matches!(self, PackageType::Deb | PackageType::Apk | PackageType::Rpm)
    }
}

/// The distribution of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distro {
    /// `debian`, `ubuntu`, `alpine`.
    pub id: String,
    /// `12`, `22.04`, `3.20.3`.
    pub version_id: String,
    /// `bookworm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// How it was recognised (`etc/os-release`, `dpkg records`...).
    pub detected_from: String,
}

/// Where a package was found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// Path inside the image.
    pub path: String,
    /// DiffID of the layer that added it (None for `dir:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

/// One package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// Ecosystem.
    #[serde(rename = "type")]
    pub kind: PackageType,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Source package name (deb `Source:`, apk origin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Source package version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Architecture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Package URL; empty when the package has no coordinates a purl
    /// could carry (a Java archive whose groupId is unknown).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub purl: String,
    /// Licenses as recorded.
    pub licenses: Vec<String>,
    /// Where it was found.
    pub locations: Vec<Location>,
    /// The OS package whose files include this language package (scanners
    /// must not report it twice).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
}

/// Something the catalogers could not read or decide: a package database
/// present but unreadable or of a format not supported, a distro that
/// cannot be known. An inventory with notes is incomplete, and says so.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Note {
    /// The file concerned.
    pub path: String,
    /// What is wrong, in a sentence.
    pub message: String,
}

/// Everything found in an image.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    /// The distro, if recognised.
    pub distro: Option<Distro>,
    /// Packages, sorted by type, name, version, path.
    pub packages: Vec<Package>,
    /// What could not be read (sorted); empty when everything was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

impl Inventory {
    /// An inventory with its packages in the documented order.
    pub fn new(distro: Option<Distro>, mut packages: Vec<Package>) -> Inventory {
        packages.sort_by(|a, b| {
            (a.kind, &a.name, &a.version, &a.locations).cmp(&(
                b.kind,
                &b.name,
                &b.version,
                &b.locations,
            ))
        });
        Inventory {
            distro,
            packages,
            notes: Vec::new(),
        }
    }
}
