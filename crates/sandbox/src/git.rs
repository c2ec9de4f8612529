//! git on repositories we do not trust.
//!
//! A repository controls much of what git runs: `.gitattributes`
//! `diff=X` with the repository's `diff.X.textconv`, `log.showSignature`
//! with `gpg.program` on a signed commit, `diff.external`, `core.pager`,
//! `core.fsmonitor`, hooks, a bare repository committed inside a clone
//! (whose own config git would read when pointed into it), replace refs
//! that rewrite the history shown, a promisor remote fetched lazily. Every
//! git safeimage runs is made by [`command`]: the system and global configs
//! are not read (the caller's identity and helpers have no business here),
//! each of those settings is overridden on the command line (which wins
//! over the repository's), bare repositories are used only when named
//! explicitly, no replace refs, no lazy fetch, no network protocol at all,
//! no terminal prompt. Revisions pass [`revision`] and go after
//! `--end-of-options`.

use std::path::Path;
use std::process::Command;

/// Settings that switch off what a repository could make git run.
pub const OVERRIDES: &[&str] = &[
    "core.fsmonitor=",
    "core.hooksPath=/dev/null",
    "core.pager=cat",
    "core.sshCommand=false",
    "core.askPass=false",
    "core.alternateRefsCommand=false",
    "diff.external=",
    "gpg.program=false",
    "gpg.openpgp.program=false",
    "gpg.x509.program=false",
    "gpg.ssh.program=false",
    "log.showSignature=false",
    "safe.bareRepository=explicit",
    "protocol.allow=never",
    "credential.helper=",
    "uploadpack.packObjectsHook=",
];

/// `git -C dir` with repository-run commands switched off; add the
/// subcommand and, for commands that diff, [`DIFF_FLAGS`].
pub fn command(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_ATTR_NOSYSTEM", "1")
        .env("GIT_NO_REPLACE_OBJECTS", "1")
        .env("GIT_NO_LAZY_FETCH", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PROTOCOL_FROM_USER", "0")
        .env_remove("GIT_EXTERNAL_DIFF")
        .env_remove("GIT_PAGER")
        .env_remove("GIT_SSH")
        .env_remove("GIT_SSH_COMMAND")
        .env_remove("GIT_ASKPASS")
        .env_remove("GIT_CONFIG_PARAMETERS")
        .env_remove("GIT_CONFIG_COUNT")
        .arg("-C")
        .arg(dir);
    for o in OVERRIDES {
        c.args(["-c", o]);
    }
    c.arg("--no-pager");
    c
}

/// Flags for `log -p`/`diff`/`show`: no textconv, no external diff, no
/// signature checks.
pub const DIFF_FLAGS: &[&str] = &["--no-textconv", "--no-ext-diff", "--no-show-signature"];

/// A revision or range as given by a user or a config: refused when it
/// could be read as an option (it still goes after `--end-of-options`).
pub fn revision(rev: &str) -> Result<&str, String> {
    if rev.is_empty() {
        return Err("an empty revision".into());
    }
    if rev.starts_with('-') {
        return Err(format!("`{rev}` is not a revision (it starts with `-`)"));
    }
    if rev.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "`{}` is not a revision (it has spaces or control characters)",
            rev.escape_debug()
        ));
    }
    Ok(rev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_looking_revisions_are_refused() {
        assert!(revision("--output=/tmp/x").is_err());
        assert!(revision("-p").is_err());
        assert!(revision("a b").is_err());
        assert!(revision("").is_err());
        assert_eq!(revision("abc123..HEAD").unwrap(), "abc123..HEAD");
        assert_eq!(revision("v1.2^{commit}").unwrap(), "v1.2^{commit}");
    }

    #[test]
    fn every_override_is_on_the_command_line() {
        let c = command(Path::new("/r"));
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for o in OVERRIDES {
            assert!(args.iter().any(|a| a == o), "{o}");
        }
        let env: Vec<(String, Option<String>)> = c
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert!(env.contains(&("GIT_CONFIG_NOSYSTEM".into(), Some("1".into()))));
        assert!(env.contains(&("GIT_CONFIG_GLOBAL".into(), Some("/dev/null".into()))));
    }
}
