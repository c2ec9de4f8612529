//! Tags first: a template that cannot be rendered (no version, not a git
//! repository) or renders to something that is not a tag fails the image
//! before any work.

use std::path::Path;

use crate::config::{ImageSpec, is_tag};
use crate::cx::ImageCx;
use crate::steps::StepError;

/// Render the image's tag templates for today and build number `n`.
pub fn render_tags(img: &ImageSpec, date: &str, n: u64) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for t in &img.tags {
        let mut s = t.replace("{date}", date).replace("{n}", &n.to_string());
        if s.contains("{version}") {
            let v = img
                .version
                .as_ref()
                .ok_or_else(|| format!("tag `{t}` needs a declared version"))?;
            s = s.replace("{version}", v);
        }
        if s.contains("{git_sha}") {
            s = s.replace("{git_sha}", &git_sha(&img.context)?);
        }
        if !is_tag(&s) {
            return Err(format!(
                "tag `{t}` renders to `{s}`, which is not a valid tag"
            ));
        }
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

fn git_sha(context: &Path) -> Result<String, String> {
    let out = sandbox::git::command(context)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .map_err(|e| format!("tag {{git_sha}}: cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "tag {{git_sha}}: {} is not in a git repository with a commit",
            context.display()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The step.
pub fn run(cx: &ImageCx<'_>) -> Result<Vec<String>, StepError> {
    render_tags(cx.spec, &cx.today.date_compact(), cx.history.n).map_err(|message| {
        StepError::Tags {
            image: cx.spec.name.to_string(),
            message,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn templates() {
        let mut img = crate::config::FleetConfig::from_toml(
            Path::new("/x/f.toml"),
            "[[image]]\nname = \"a\"\ncontext = \"x\"\nrepository = \"r.example/a\"\ntags = [\"latest\", \"{date}\", \"{version}-r{n}\"]\nversion = \"1.2\"\n",
        )
        .unwrap()
        .images
        .remove(0);
        assert_eq!(
            render_tags(&img, "20261123", 3).unwrap(),
            vec!["latest", "20261123", "1.2-r3"]
        );
        img.tags = vec!["{git_sha}".into()];
        img.context = PathBuf::from("/");
        assert!(
            render_tags(&img, "20261123", 1)
                .unwrap_err()
                .contains("not in a git repository")
        );
        img.tags = vec!["{version}".into()];
        img.version = Some("1.0/../x".into());
        assert!(
            render_tags(&img, "20261123", 1)
                .unwrap_err()
                .contains("not a valid tag")
        );
    }
}
