//! The seccomp filters every sandboxed process runs under, as the BPF bytes
//! bubblewrap loads (`--add-seccomp-fd`, applied after its own setup, just
//! before the program is executed).
//!
//! A smoke check starts a service and asks it one question; it never needs
//! to mount, trace, load kernel code, use keyrings, make namespaces or
//! change the clock. Those calls fail with `EPERM` (a deny list, compiled
//! by `seccompiler`), as do `clone` with a namespace flag and the terminal
//! input injection `ioctl`s. A second, hand-written program answers
//! `ENOSYS` for `clone3` (so the C library falls back to `clone`, whose
//! flags the first program can read) and, on x86-64, for the x32 system
//! call numbers (bit 30), which the deny list's numbers would not match.
//! Another architecture's calls (i386 through `int 0x80`) kill the process.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// System calls denied outright.
fn denied() -> Vec<(&'static str, i64)> {
    let mut v = vec![
        ("mount", libc::SYS_mount),
        ("umount2", libc::SYS_umount2),
        ("pivot_root", libc::SYS_pivot_root),
        ("chroot", libc::SYS_chroot),
        ("move_mount", libc::SYS_move_mount),
        ("open_tree", libc::SYS_open_tree),
        ("fsopen", libc::SYS_fsopen),
        ("fsconfig", libc::SYS_fsconfig),
        ("fsmount", libc::SYS_fsmount),
        ("fspick", libc::SYS_fspick),
        ("mount_setattr", libc::SYS_mount_setattr),
        ("unshare", libc::SYS_unshare),
        ("setns", libc::SYS_setns),
        ("ptrace", libc::SYS_ptrace),
        ("process_vm_readv", libc::SYS_process_vm_readv),
        ("process_vm_writev", libc::SYS_process_vm_writev),
        ("kcmp", libc::SYS_kcmp),
        ("kexec_load", libc::SYS_kexec_load),
        ("kexec_file_load", libc::SYS_kexec_file_load),
        ("init_module", libc::SYS_init_module),
        ("finit_module", libc::SYS_finit_module),
        ("delete_module", libc::SYS_delete_module),
        ("bpf", libc::SYS_bpf),
        ("perf_event_open", libc::SYS_perf_event_open),
        ("userfaultfd", libc::SYS_userfaultfd),
        ("keyctl", libc::SYS_keyctl),
        ("add_key", libc::SYS_add_key),
        ("request_key", libc::SYS_request_key),
        ("open_by_handle_at", libc::SYS_open_by_handle_at),
        ("name_to_handle_at", libc::SYS_name_to_handle_at),
        ("reboot", libc::SYS_reboot),
        ("swapon", libc::SYS_swapon),
        ("swapoff", libc::SYS_swapoff),
        ("syslog", libc::SYS_syslog),
        ("acct", libc::SYS_acct),
        ("quotactl", libc::SYS_quotactl),
        ("settimeofday", libc::SYS_settimeofday),
        ("clock_settime", libc::SYS_clock_settime),
        ("clock_adjtime", libc::SYS_clock_adjtime),
        ("adjtimex", libc::SYS_adjtimex),
        ("sethostname", libc::SYS_sethostname),
        ("setdomainname", libc::SYS_setdomainname),
        ("vhangup", libc::SYS_vhangup),
        ("fanotify_init", libc::SYS_fanotify_init),
        ("io_uring_setup", libc::SYS_io_uring_setup),
        ("io_uring_enter", libc::SYS_io_uring_enter),
        ("io_uring_register", libc::SYS_io_uring_register),
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([
        ("iopl", libc::SYS_iopl),
        ("ioperm", libc::SYS_ioperm),
        ("modify_ldt", libc::SYS_modify_ldt),
        ("uselib", libc::SYS_uselib),
        ("lookup_dcookie", libc::SYS_lookup_dcookie),
    ]);
    v
}

/// The names of the denied calls, for documentation and tests.
pub fn denied_names() -> Vec<&'static str> {
    let mut n: Vec<&str> = denied().into_iter().map(|(n, _)| n).collect();
    n.extend(["clone (with a namespace flag)", "ioctl TIOCSTI/TIOCLINUX"]);
    n
}

const NAMESPACE_FLAGS: [u64; 8] = [
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWCGROUP as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    0x80, // CLONE_NEWTIME
];

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;

fn masked(arg: u8, bits: u64, value: u64) -> SeccompRule {
    let cond = SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(bits),
        value,
    )
    .expect("argument index and length are valid");
    SeccompRule::new(vec![cond]).expect("one condition")
}

/// The deny list, compiled.
fn deny_list() -> BpfProgram {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = denied()
        .into_iter()
        .map(|(_, nr)| (nr, Vec::new()))
        .collect();
    rules.insert(
        libc::SYS_clone,
        NAMESPACE_FLAGS.iter().map(|f| masked(0, *f, *f)).collect(),
    );
    // TIOCSTI pushes input into a terminal, TIOCLINUX can too
    rules.insert(
        libc::SYS_ioctl,
        [0x5412u64, 0x541c]
            .iter()
            .map(|r| masked(1, 0xffff_ffff, *r))
            .collect(),
    );
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        ARCH,
    )
    .expect("the allow and deny actions differ");
    BpfProgram::try_from(filter).expect("the deny list compiles")
}

/// One BPF instruction, as the kernel's `struct sock_filter`.
#[derive(Clone, Copy)]
struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

/// BPF_LD | BPF_W | BPF_ABS (the first two are 0).
const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x05 | 0x10;
const JGE_K: u16 = 0x05 | 0x30;
const RET_K: u16 = 0x06;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_ERRNO: u32 = 0x0005_0000;

/// `clone3` and (x86-64) x32 numbers answer `ENOSYS`.
fn enosys_list() -> Vec<Insn> {
    let enosys = RET_ERRNO | libc::ENOSYS as u32;
    let mut p = vec![
        // seccomp_data.arch: anything else is the deny list's to kill
        Insn {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 4,
        },
        Insn {
            code: JEQ_K,
            jt: 1,
            jf: 0,
            k: AUDIT_ARCH,
        },
        Insn {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: RET_ALLOW,
        },
        // seccomp_data.nr
        Insn {
            code: LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        Insn {
            code: JEQ_K,
            jt: 0,
            jf: 1,
            k: libc::SYS_clone3 as u32,
        },
        Insn {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: enosys,
        },
    ];
    if cfg!(target_arch = "x86_64") {
        p.extend([
            Insn {
                code: JGE_K,
                jt: 0,
                jf: 1,
                k: 0x4000_0000,
            },
            Insn {
                code: RET_K,
                jt: 0,
                jf: 0,
                k: enosys,
            },
        ]);
    }
    p.push(Insn {
        code: RET_K,
        jt: 0,
        jf: 0,
        k: RET_ALLOW,
    });
    p
}

fn bytes(insns: impl Iterator<Item = Insn>) -> Vec<u8> {
    let mut out = Vec::new();
    for i in insns {
        out.extend_from_slice(&i.code.to_ne_bytes());
        out.push(i.jt);
        out.push(i.jf);
        out.extend_from_slice(&i.k.to_ne_bytes());
    }
    out
}

/// The filters as bubblewrap reads them: each a whole number of 8-byte
/// `struct sock_filter`s.
pub fn programs() -> [Vec<u8>; 2] {
    let deny = deny_list().into_iter().map(|f| Insn {
        code: f.code,
        jt: f.jt,
        jf: f.jf,
        k: f.k,
    });
    [bytes(deny), bytes(enosys_list().into_iter())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_programs_are_whole_instructions_within_the_kernel_limit() {
        for p in programs() {
            assert!(!p.is_empty());
            assert_eq!(p.len() % 8, 0);
            assert!(p.len() / 8 <= 4096, "{} instructions", p.len() / 8);
        }
    }

    #[test]
    fn the_enosys_program_ends_in_allow_and_names_clone3() {
        let p = enosys_list();
        assert_eq!(p.last().unwrap().k, RET_ALLOW);
        assert!(p.iter().any(|i| i.k == libc::SYS_clone3 as u32));
    }

    #[test]
    fn the_deny_list_holds_what_a_check_never_needs() {
        let names = denied_names();
        for n in [
            "mount",
            "ptrace",
            "kexec_load",
            "bpf",
            "keyctl",
            "unshare",
            "setns",
        ] {
            assert!(names.contains(&n), "{n}");
        }
    }
}
