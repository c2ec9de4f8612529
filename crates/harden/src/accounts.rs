//! `etc/passwd` and `etc/group` reduced to root and the user the image runs
//! as; that user is created (`nonroot`, home `/home/nonroot`) when the image
//! does not have it.

use oci::tree::FileTree;

use crate::HardenError;

/// The user the hardened image runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum User {
    /// A numeric uid and gid.
    Id(u32, u32),
    /// A user name from the image's `etc/passwd`.
    Name(String),
}

impl std::str::FromStr for User {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (u, g) = match s.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (s, None),
        };
        match u.parse::<u32>() {
            Ok(uid) => {
                let gid = match g {
                    Some(g) => g
                        .parse::<u32>()
                        .map_err(|_| format!("`{s}`: the group must be a number"))?,
                    None => uid,
                };
                if uid == 0 {
                    return Err(format!("`{s}`: a hardened image never runs as root"));
                }
                Ok(User::Id(uid, gid))
            }
            Err(_) if !u.is_empty() && g.is_none() && !u.contains(['/', ' ']) => {
                Ok(User::Name(u.to_string()))
            }
            Err(_) => Err(format!("`{s}` is not UID[:GID] or a user name")),
        }
    }
}

const NOLOGIN: &str = "/sbin/nologin";

fn lines(tree: &FileTree, path: &str) -> Option<Vec<Vec<String>>> {
    let text = tree.read(path)?;
    Some(
        String::from_utf8_lossy(text)
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| l.split(':').map(String::from).collect())
            .collect(),
    )
}

/// The reduced passwd and group files, and the uid and gid to run as.
pub struct Accounts {
    /// `etc/passwd`.
    pub passwd: Vec<u8>,
    /// `etc/group`.
    pub group: Vec<u8>,
    /// uid and gid.
    pub user: (u32, u32),
}

/// Reduces the image's accounts to root and the user it runs as.
pub fn reduce(tree: &FileTree, user: &User) -> Result<Accounts, HardenError> {
    let passwd = lines(tree, "etc/passwd");
    let group = lines(tree, "etc/group").unwrap_or_default();
    let (uid, gid) = match user {
        User::Id(u, g) => (*u, *g),
        User::Name(name) => {
            let Some(rows) = &passwd else {
                return Err(HardenError::NoPasswd { user: name.clone() });
            };
            let row = rows
                .iter()
                .find(|r| r.first() == Some(name))
                .ok_or_else(|| HardenError::UnknownUser { user: name.clone() })?;
            let id = |i: usize| row.get(i).and_then(|v| v.parse::<u32>().ok());
            match (id(2), id(3)) {
                (Some(0), _) => {
                    return Err(HardenError::UnknownUser {
                        user: format!("{name} (uid 0: a hardened image never runs as root)"),
                    });
                }
                (Some(u), Some(g)) => (u, g),
                _ => return Err(HardenError::UnknownUser { user: name.clone() }),
            }
        }
    };
    let rows = passwd.unwrap_or_default();
    let by_uid = |id: u32| {
        rows.iter()
            .find(|r| r.len() >= 7 && r[2].parse::<u32>().ok() == Some(id))
    };
    let root = by_uid(0).map_or_else(
        || format!("root:x:0:0:root:/root:{NOLOGIN}"),
        |r| {
            let mut r = r.clone();
            r[6] = NOLOGIN.into();
            r.join(":")
        },
    );
    let me = by_uid(uid).map_or_else(
        || format!("nonroot:x:{uid}:{gid}:nonroot:/home/nonroot:{NOLOGIN}"),
        |r| {
            let mut r = r.clone();
            r[6] = NOLOGIN.into();
            r.join(":")
        },
    );
    let by_gid = |id: u32| {
        group
            .iter()
            .find(|r| r.len() >= 3 && r[2].parse::<u32>().ok() == Some(id))
            .map(|r| format!("{}:{}:{}:", r[0], r[1], r[2]))
    };
    let groot = by_gid(0).unwrap_or_else(|| "root:x:0:".into());
    let gme = by_gid(gid).unwrap_or_else(|| format!("nonroot:x:{gid}:"));
    let passwd = format!("{root}\n{me}\n").into_bytes();
    let group = if gid == 0 {
        format!("{groot}\n")
    } else {
        format!("{groot}\n{gme}\n")
    }
    .into_bytes();
    Ok(Accounts {
        passwd,
        group,
        user: (uid, gid),
    })
}

/// The home directory of `uid` (without the leading `/`), as the reduced
/// passwd names it.
pub fn home(tree: &FileTree, uid: u32) -> String {
    lines(tree, "etc/passwd")
        .unwrap_or_default()
        .iter()
        .find(|r| r.len() >= 7 && r[2].parse::<u32>().ok() == Some(uid))
        .map_or_else(
            || "home/nonroot".to_string(),
            |r| r[5].trim_start_matches('/').to_string(),
        )
}
