/* A hostile program for the sandbox's tests: each argument names one
 * thing a hostile image would try; it prints one line per attempt,
 * `NAME ok` or `NAME errno=N`, and exits 0. Compiled statically by the
 * tests (gcc -static), so it runs in an empty root. Written for
 * safeimage's tests. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void said(const char *what, long r) {
    if (r < 0)
        printf("%s errno=%d\n", what, errno);
    else
        printf("%s ok\n", what);
    fflush(stdout);
}

static int child_fn(void *arg) { (void)arg; return 0; }

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "id")) {
            printf("id uid=%d gid=%d\n", getuid(), getgid());
        } else if (!strcmp(a, "status")) {
            FILE *f = fopen("/proc/self/status", "r");
            char l[256];
            while (f && fgets(l, sizeof l, f))
                if (!strncmp(l, "NoNewPrivs", 10) || !strncmp(l, "Seccomp:", 8) ||
                    !strncmp(l, "CapEff", 6))
                    printf("status %s", l);
            if (f) fclose(f);
        } else if (!strcmp(a, "env")) {
            for (char **e = environ; *e; e++) printf("env %s\n", *e);
        } else if (!strcmp(a, "cwd")) {
            char b[4096];
            printf("cwd %s\n", getcwd(b, sizeof b) ? b : "?");
        } else if (!strncmp(a, "write:", 6)) {
            int fd = open(a + 6, O_CREAT | O_WRONLY | O_TRUNC, 0644);
            said(a, fd);
            if (fd >= 0) { (void)!write(fd, "pwned\n", 6); close(fd); }
        } else if (!strncmp(a, "connect:", 8)) {
            int s = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in sa = {0};
            sa.sin_family = AF_INET;
            sa.sin_port = htons(atoi(a + 8));
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            said(a, connect(s, (struct sockaddr *)&sa, sizeof sa));
            close(s);
        } else if (!strncmp(a, "serve:", 6)) {
            /* answers one line to every connection, forever */
            int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            struct sockaddr_in sa = {0};
            sa.sin_family = AF_INET;
            sa.sin_port = htons(atoi(a + 6));
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s, 8) < 0) {
                said(a, -1);
                return 1;
            }
            for (;;) {
                int c = accept(s, 0, 0);
                if (c >= 0) { (void)!write(c, "hello from inside\n", 18); close(c); }
            }
        } else if (!strcmp(a, "mount")) {
            said(a, mount("none", "/tmp", "tmpfs", 0, 0));
        } else if (!strcmp(a, "unshare-user")) {
            said(a, unshare(CLONE_NEWUSER));
        } else if (!strcmp(a, "unshare-net")) {
            said(a, unshare(CLONE_NEWNET));
        } else if (!strcmp(a, "clone-newuser")) {
            static char stack[65536];
            int pid = clone(child_fn, stack + sizeof stack, CLONE_NEWUSER | SIGCHLD, 0);
            if (pid > 0) waitpid(pid, 0, 0);
            said(a, pid);
        } else if (!strcmp(a, "ptrace")) {
            said(a, ptrace(PTRACE_TRACEME, 0, 0, 0));
        } else if (!strcmp(a, "keyctl")) {
            said(a, syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
        } else if (!strcmp(a, "bpf")) {
            union bpf_attr attr;
            memset(&attr, 0, sizeof attr);
            said(a, syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
        } else if (!strcmp(a, "chroot")) {
            said(a, chroot("/tmp"));
        } else if (!strcmp(a, "setuid0")) {
            said(a, setuid(0));
        } else if (!strcmp(a, "tiocsti")) {
            char c = 'x';
            said(a, ioctl(0, TIOCSTI, &c));
        } else if (!strcmp(a, "rlimits")) {
            struct rlimit r;
            getrlimit(RLIMIT_NOFILE, &r);
            printf("rlimit nofile %llu\n", (unsigned long long)r.rlim_max);
            getrlimit(RLIMIT_NPROC, &r);
            printf("rlimit nproc %llu\n", (unsigned long long)r.rlim_max);
            getrlimit(RLIMIT_CORE, &r);
            printf("rlimit core %llu\n", (unsigned long long)r.rlim_max);
        } else if (!strcmp(a, "daemon")) {
            /* a grandchild that outlives its parent, in a new session */
            if (fork() == 0) {
                setsid();
                if (fork() == 0) { for (;;) pause(); }
                _exit(0);
            }
            wait(0);
            printf("daemon ok\n");
        } else if (!strcmp(a, "sleep")) {
            for (;;) pause();
        } else if (!strcmp(a, "thread")) {
            /* glibc's pthread_create uses clone3 and falls back to clone */
            static char stack[65536];
            int pid = clone(child_fn, stack + sizeof stack,
                            CLONE_VM | CLONE_FS | CLONE_FILES | SIGCHLD, 0);
            if (pid > 0) waitpid(pid, 0, 0);
            said(a, pid);
        } else {
            printf("%s unknown\n", a);
        }
        fflush(stdout);
    }
    return 0;
}
