//! Who is doing a run, and whether that process still exists.
//!
//! A run records its origin: the host name, the kernel's boot id, the PID
//! namespace, the pid and the process's start time. A later run on the same
//! machine, in the same PID namespace, can then tell that a run's process is
//! gone (killed with SIGKILL, out of memory, the container stopped) and
//! recover it at once instead of waiting for its heartbeat to go stale. A run
//! from another machine or namespace is judged by its heartbeat only: its
//! pid means nothing here.

use std::path::Path;

/// This process's origin, as stored with the run.
pub fn current() -> model::Origin {
    let pid = std::process::id();
    model::Origin::new(format!(
        "host={} boot={} pidns={} pid={pid} start={}",
        host(),
        boot_id().unwrap_or_default(),
        pid_namespace(Path::new("/proc/self/ns/pid")).unwrap_or_default(),
        start_time(Path::new("/proc/self/stat")).unwrap_or_default(),
    ))
}

/// `true` only when the origin is from this machine's current boot and PID
/// namespace and its process no longer exists (or the pid now belongs to a
/// later process, or to a zombie). Anything it cannot judge is not gone.
pub fn gone(origin: &model::Origin) -> bool {
    judge(origin, &current(), Path::new("/proc"))
}

fn judge(origin: &str, ours: &str, proc_root: &Path) -> bool {
    let (Some(theirs), Some(ours)) = (Fields::parse(origin), Fields::parse(ours)) else {
        return false;
    };
    if theirs.boot.is_empty()
        || theirs.pidns.is_empty()
        || theirs.boot != ours.boot
        || theirs.pidns != ours.pidns
        || theirs.host != ours.host
    {
        return false;
    }
    let stat = proc_root.join(theirs.pid.to_string()).join("stat");
    match std::fs::read_to_string(&stat) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(_) => false,
        Ok(text) => match parse_stat(&text) {
            Some((state, start)) => state == 'Z' || start != theirs.start,
            None => false,
        },
    }
}

struct Fields<'a> {
    host: &'a str,
    boot: &'a str,
    pidns: &'a str,
    pid: u32,
    start: u64,
}

impl<'a> Fields<'a> {
    fn parse(s: &'a str) -> Option<Self> {
        let mut f = Fields {
            host: "",
            boot: "",
            pidns: "",
            pid: 0,
            start: 0,
        };
        for part in s.split(' ') {
            let (k, v) = part.split_once('=')?;
            match k {
                "host" => f.host = v,
                "boot" => f.boot = v,
                "pidns" => f.pidns = v,
                "pid" => f.pid = v.parse().ok()?,
                "start" => f.start = v.parse().ok()?,
                _ => {}
            }
        }
        (f.pid != 0 && f.start != 0).then_some(f)
    }
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().replace([' ', '='], "_"))
        .unwrap_or_else(|_| "localhost".into())
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && !s.contains([' ', '=']))
}

fn pid_namespace(link: &Path) -> Option<String> {
    let target = std::fs::read_link(link).ok()?;
    let s = target.to_str()?;
    (!s.contains([' ', '='])).then(|| s.to_string())
}

fn start_time(stat: &Path) -> Option<u64> {
    parse_stat(&std::fs::read_to_string(stat).ok()?).map(|(_, start)| start)
}

/// The state and start time (clock ticks after boot) from `/proc/PID/stat`.
/// The command name in parentheses may hold spaces and parentheses, so the
/// fields are counted after the last `)`.
fn parse_stat(text: &str) -> Option<(char, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // After the state come fields 4..; the start time is field 22.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(state: char, start: u64) -> String {
        format!(
            "42 (a (weird) name) {state} 1 42 42 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 {start} 1000 100"
        )
    }

    fn proc_with(pid: u32, body: Option<String>) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        if let Some(b) = body {
            std::fs::create_dir(d.path().join(pid.to_string())).unwrap();
            std::fs::write(d.path().join(pid.to_string()).join("stat"), b).unwrap();
        }
        d
    }

    const OURS: &str = "host=vm boot=b1 pidns=pid:[1] pid=7 start=5";

    #[test]
    fn the_start_time_is_read_after_the_last_parenthesis() {
        assert_eq!(parse_stat(&stat('S', 123456)), Some(('S', 123456)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_not_gone() {
        let me = current();
        assert!(me.contains(&format!("pid={}", std::process::id())), "{me}");
        assert!(!gone(&me), "{me}");
    }

    #[test]
    fn a_missing_pid_a_zombie_and_a_reused_pid_are_gone() {
        let theirs = "host=vm boot=b1 pidns=pid:[1] pid=42 start=900";
        assert!(judge(theirs, OURS, proc_with(42, None).path()));
        assert!(judge(
            theirs,
            OURS,
            proc_with(42, Some(stat('Z', 900))).path()
        ));
        assert!(judge(
            theirs,
            OURS,
            proc_with(42, Some(stat('S', 901))).path()
        ));
        assert!(!judge(
            theirs,
            OURS,
            proc_with(42, Some(stat('S', 900))).path()
        ));
    }

    #[test]
    fn another_machine_boot_or_namespace_is_never_judged() {
        let none = proc_with(42, None);
        for theirs in [
            "host=other boot=b1 pidns=pid:[1] pid=42 start=900",
            "host=vm boot=b0 pidns=pid:[1] pid=42 start=900",
            "host=vm boot=b1 pidns=pid:[2] pid=42 start=900",
            "host=vm boot= pidns= pid=42 start=900",
            "vm:42",
            "",
        ] {
            assert!(!judge(theirs, OURS, none.path()), "{theirs}");
        }
    }
}
