/* SPDX-License-Identifier: Apache-2.0 */
/* The steady-state system call filter (seccomp, through libseccomp): what signetd may still do once
 * serving. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "daemon/sandbox.h"
#include "lib/log.h"

/*
 * Once the token is open, the socket bound and the threads started,
 * signetd only reads and writes descriptors, files in its state dir and
 * memory, and starts short-lived threads (the hashing thread of an
 * encryption). New sockets are refused (EACCES, below). Anything else —
 * exec, ptrace, mount, changes of identity, module loading, ... — ends the
 * process (the call traps, the handler logs its number and exits): a
 * daemon that does something it never does is not one to keep running.
 */
static const char *const allowed[] = {
    /* descriptors and files */
    "read",
    "write",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "close",
    "fstat",
    "newfstatat",
    "stat",
    "lstat",
    "statx",
    "fstatfs",
    "statfs",
    "lseek",
    "openat",
    "open",
    "unlink",
    "unlinkat",
    "link",
    "linkat",
    "rename",
    "renameat",
    "renameat2",
    "fsync",
    "fdatasync",
    "sync_file_range",
    "ftruncate",
    "fallocate",
    "fcntl",
    "dup",
    "dup2",
    "dup3",
    "getdents64",
    "readlink",
    "readlinkat",
    "access",
    "faccessat",
    "faccessat2",
    "copy_file_range",
    "sendfile",
    "flock",
    "mkdir",
    "mkdirat",
    "fchmod",
    "umask",
    "getcwd",
    "ioctl",
    "memfd_create",
    /* memory */
    "mmap",
    "munmap",
    "mremap",
    "mprotect",
    "madvise",
    "brk",
    "mlock",
    "mlock2",
    "munlock",
    "msync",
    "mincore",
    "membarrier",
    /* threads, time, signals */
    "futex",
    "futex_waitv",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "clone",
    "clone3",
    "exit",
    "exit_group",
    "gettid",
    "getpid",
    "getppid",
    "tgkill",
    "sched_yield",
    "sched_getaffinity",
    "clock_gettime",
    "clock_getres",
    "clock_nanosleep",
    "nanosleep",
    "gettimeofday",
    "time",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sigaltstack",
    "restart_syscall",
    "getrandom",
    "prctl",
    "uname",
    "sysinfo",
    "getrusage",
    "prlimit64",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getresuid",
    "getresgid",
    "getgroups",
    /* the event loop and the socket */
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "epoll_pwait2",
    "poll",
    "ppoll",
    "select",
    "pselect6",
    "eventfd2",
    "pipe2",
    "accept4",
    "accept",
    "recvmsg",
    "sendmsg",
    "recvfrom",
    "sendto",
    "getsockopt",
    "setsockopt",
    "getsockname",
    "getpeername",
    "shutdown",
    "timerfd_create",
    "timerfd_settime",
    "timerfd_gettime",
};

/*
 * A forbidden call traps here: say which one (async-signal-safe) and end
 * the whole process, so that the log names what to look at.
 */
static void
on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char msg[96] = "<2>seccomp: forbidden system call ";
	size_t n = strlen(msg);
	char digits[16];
	int k = 0;
	unsigned v = si != NULL && si->si_syscall >= 0 ? (unsigned)si->si_syscall : 0;

	(void)sig;
	(void)ctx;
	do {
		digits[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && k < (int)sizeof(digits));
	while (k > 0 && n < sizeof(msg) - 16) {
		msg[n++] = digits[--k];
	}
	memcpy(msg + n, "; signetd stops\n", 16);
	n += 16;
	(void)!write(STDERR_FILENO, msg, n);
	_exit(70);
}

int
sandbox_enter(void)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	int r;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* The sanitizers' runtimes make calls of their own (reports, stack walks). */
	log_warning("seccomp: not in a sanitizer build");
	return 0;
#endif
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0) {
		log_err("seccomp: cannot catch SIGSYS");
		return -1;
	}
	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL) {
		log_err("seccomp: cannot make a filter");
		return -1;
	}
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);
		if (nr == __NR_SCMP_ERROR) {
			continue; /* not on this architecture */
		}
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0)) != 0) {
			log_err("seccomp: cannot allow %s: %d", allowed[i], r);
			seccomp_release(ctx);
			return -1;
		}
	}
	/*
	 * New sockets are refused, not fatal: a token module started again
	 * after a device error may look its user up, and glibc's NSS then
	 * tries to reach a local service (nscd, systemd-userdb), falling back
	 * to the files when it cannot.
	 */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 0)) != 0) {
		log_err("seccomp: cannot refuse socket: %d", r);
		seccomp_release(ctx);
		return -1;
	}
	/*
	 * And the connect that follows a socket made just before the filter:
	 * glibc's syslog (SoftHSM logs through it) makes its socket, then
	 * connects; a token thread logging while the filter went on was
	 * killed at its connect (t19, once in a few hundred starts).
	 */
	if ((r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(connect), 0)) != 0) {
		log_err("seccomp: cannot refuse connect: %d", r);
		seccomp_release(ctx);
		return -1;
	}
	/* Every thread, those already running included. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) != 0 ||
	    (r = seccomp_load(ctx)) != 0) {
		log_err("seccomp: cannot load the filter: %d", r);
		seccomp_release(ctx);
		return -1;
	}
	seccomp_release(ctx);
	log_info("seccomp: the system call filter is on (%zu calls allowed)",
		 sizeof(allowed) / sizeof(allowed[0]));
	return 0;
}
