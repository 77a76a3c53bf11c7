//! The libc edge: every raw system call sfpm makes outside `ffi/`, each wrapped once so
//! that -1 becomes an `io::Error` and every `unsafe` block states why it is sound.
//!
//! What each resource does across `fork()`: the signal handler and the pending-signal
//! bits are process-global and inherited; a forked worker calls [`enter_worker_mode`]
//! so the handler stops waking the master's loop (the wake pipe is the master's) and
//! `SIGTERM`/`SIGINT` kill the worker at once, as php-fpm's workers do.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

/// Turns a libc return value of -1 into the thread's `errno` as an `io::Error`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// A process id.
pub type Pid = libc::pid_t;

/// What `fork` returned to this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forked {
    /// We are the parent; the child has this pid.
    Parent(Pid),
    /// We are the child.
    Child,
}

/// Forks the process. The caller must be single-threaded: only the forking thread
/// exists in the child, so locks held by other threads would stay locked forever.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: fork has no memory-safety preconditions; the single-thread requirement
    // above is about deadlocks in the child, which the master upholds by design.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// How a child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// `exit(code)`.
    Code(i32),
    /// Killed by this signal; `core` when it dumped core.
    Signal { signal: i32, core: bool },
}

/// Reaps one exited child without blocking; `None` when no child has exited.
pub fn reap_child() -> io::Result<Option<(Pid, ExitStatus)>> {
    let mut status: libc::c_int = 0;
    // SAFETY: `status` is a valid, writable c_int for the duration of the call.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    match pid {
        -1 => {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ECHILD) { Ok(None) } else { Err(e) }
        }
        0 => Ok(None),
        pid if libc::WIFEXITED(status) => Ok(Some((pid, ExitStatus::Code(libc::WEXITSTATUS(status))))),
        pid if libc::WIFSIGNALED(status) => Ok(Some((
            pid,
            ExitStatus::Signal { signal: libc::WTERMSIG(status), core: libc::WCOREDUMP(status) },
        ))),
        // Stopped or continued: not an exit (WUNTRACED/WCONTINUED are not asked for).
        _ => Ok(None),
    }
}

/// Sends `signal` to process `pid`. A process that is already gone is not an error.
pub fn kill(pid: Pid, signal: i32) -> io::Result<()> {
    // SAFETY: kill takes plain integers.
    match check(unsafe { libc::kill(pid, signal) }) {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other.map(drop),
    }
}

/// This process's pid.
pub fn getpid() -> Pid {
    // SAFETY: getpid cannot fail and has no preconditions.
    unsafe { libc::getpid() }
}

/// The parent's pid (a worker's master).
pub fn getppid() -> Pid {
    // SAFETY: getppid cannot fail and has no preconditions.
    unsafe { libc::getppid() }
}

/// Name of a signal for log lines ("SIGSEGV"), or its number.
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}

// ---------------------------------------------------------------------------------------
// Signals: one handler for the whole life of the process. It records the signal in a
// bit set and, in the master, writes one byte to a non-blocking pipe so the master's
// poll wakes up (the self-pipe trick). Nothing else is async-signal-safe enough.

/// Bit `n` set: signal `n` arrived and was not yet taken.
static PENDING: AtomicU64 = AtomicU64::new(0);
/// Write end of the master's wake pipe, or -1 (in workers, or before it exists).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// Set in forked workers: SIGTERM and SIGINT then kill at once.
static WORKER_MODE: AtomicBool = AtomicBool::new(false);
/// In a worker: its copy of the listening socket, and a spare descriptor (/dev/null)
/// that SIGQUIT puts in its place, so a worker blocked in (or about to enter) accept()
/// fails at once instead of waiting for one more client. php-fpm does the same.
static QUIT_LISTEN_FD: AtomicI32 = AtomicI32::new(-1);
static QUIT_SPARE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    // SAFETY: errno is thread-local; saving and restoring it keeps the interrupted code's
    // errno intact (write() below may change it).
    let errno = unsafe { *libc::__errno_location() };
    if WORKER_MODE.load(Ordering::Relaxed) && (signal == libc::SIGTERM || signal == libc::SIGINT) {
        // SAFETY: signal() and raise() are async-signal-safe; restoring the default
        // action and re-raising makes the worker die "by signal", as php-fpm's do.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }
    if (0..64).contains(&signal) {
        PENDING.fetch_or(1 << signal, Ordering::SeqCst);
    }
    if signal == libc::SIGQUIT && WORKER_MODE.load(Ordering::Relaxed) {
        let (listen, spare) =
            (QUIT_LISTEN_FD.swap(-1, Ordering::SeqCst), QUIT_SPARE_FD.load(Ordering::SeqCst));
        if listen >= 0 && spare >= 0 {
            // SAFETY: dup2 is async-signal-safe; it replaces only this process's
            // descriptor, the master and the other workers keep listening.
            unsafe { libc::dup2(spare, listen) };
        }
    }
    let fd = WAKE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: write() is async-signal-safe; `byte` is valid for one byte. A full
        // pipe (EAGAIN) is fine: the loop is already due to wake up.
        unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Installs the process-wide handler for `signals`, without `SA_RESTART` so blocking
/// calls (accept, read, poll) return `EINTR` and the loops can look at what arrived.
pub fn install_signal_handlers(signals: &[i32]) -> io::Result<()> {
    for &signal in signals {
        // SAFETY: a zeroed sigaction is a valid initial value; we then set the handler
        // and an empty mask; `action` outlives the call.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = 0;
            libc::sigemptyset(&mut action.sa_mask);
            check(libc::sigaction(signal, &action, std::ptr::null_mut()))?;
        }
    }
    Ok(())
}

/// Sets `signal`'s action to ignore (`SIGPIPE`: a peer that hung up is an I/O error on
/// the write, not a reason to die).
pub fn ignore_signal(signal: i32) -> io::Result<()> {
    // SAFETY: SIG_IGN is a valid disposition for any catchable signal.
    if unsafe { libc::signal(signal, libc::SIG_IGN) } == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Restores the default action of `signal`.
pub fn default_signal(signal: i32) -> io::Result<()> {
    // SAFETY: SIG_DFL is a valid disposition for any signal.
    if unsafe { libc::signal(signal, libc::SIG_DFL) } == libc::SIG_ERR {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Takes the set of signals that arrived since the last call (bit n = signal n).
pub fn take_pending_signals() -> u64 {
    PENDING.swap(0, Ordering::SeqCst)
}

/// True if `signal` arrived and was not taken yet; does not take it.
pub fn signal_pending(signal: i32) -> bool {
    PENDING.load(Ordering::SeqCst) & (1 << signal) != 0
}

/// The master's wake pipe: the signal handler writes to it, the event loop polls it.
#[derive(Debug)]
pub struct WakePipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl WakePipe {
    /// Creates the pipe (non-blocking, close-on-exec) and points the handler at it.
    pub fn install() -> io::Result<WakePipe> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) })?;
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        WAKE_FD.store(write.as_raw_fd(), Ordering::SeqCst);
        Ok(WakePipe { read, write })
    }

    /// Waits until a signal arrives, `also` (when given) becomes readable, or `timeout`
    /// passes; drains the pipe. Returns whether `also` is readable.
    pub fn wait(&self, timeout: Duration, also: Option<RawFd>) -> io::Result<bool> {
        let mut pfds = [
            libc::pollfd { fd: self.read.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: also.unwrap_or(-1), events: libc::POLLIN, revents: 0 },
        ];
        let count = if also.is_some() { 2 } else { 1 };
        let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
        // SAFETY: `pfds` holds `count` valid pollfd entries (a negative fd is ignored).
        match check(unsafe { libc::poll(pfds.as_mut_ptr(), count, ms) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let mut buf = [0u8; 64];
        // SAFETY: `buf` is writable for its length; the fd is non-blocking.
        while unsafe { libc::read(self.read.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
        Ok(also.is_some() && pfds[1].revents & libc::POLLIN != 0)
    }
}

impl Drop for WakePipe {
    fn drop(&mut self) {
        WAKE_FD.compare_exchange(self.write.as_raw_fd(), -1, Ordering::SeqCst, Ordering::SeqCst).ok();
    }
}

/// Called first thing in a forked worker: the wake pipe belongs to the master, and
/// `SIGTERM`/`SIGINT` now end the worker at once, while `SIGQUIT` takes `listen_fd`
/// away from this process (see `QUIT_LISTEN_FD`). Pending bits inherited from the
/// master are cleared so the worker acts only on signals sent to it.
pub fn enter_worker_mode(listen_fd: RawFd) {
    WAKE_FD.store(-1, Ordering::SeqCst);
    PENDING.store(0, Ordering::SeqCst);
    // SAFETY: open() with a constant NUL-terminated path; the result is checked.
    let spare = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    QUIT_SPARE_FD.store(spare, Ordering::SeqCst);
    QUIT_LISTEN_FD.store(listen_fd, Ordering::SeqCst);
    WORKER_MODE.store(true, Ordering::SeqCst);
    // The Rust runtime's stack-overflow handler would turn a crash in PHP into an abort
    // (or, for a SIGSEGV sent by kill, swallow it once): a worker dies by the signal that
    // hit it, as php-fpm's do, so the master logs and counts it as a crash
    // (`emergency_restart_threshold`) and a core dump shows the real fault.
    for signal in [libc::SIGSEGV, libc::SIGBUS] {
        let _ = default_signal(signal);
    }
}

// ---------------------------------------------------------------------------------------
// Shared memory for the scoreboard.

/// Types that may live in memory shared between processes and start out zeroed.
///
/// # Safety
/// An all-zero bit pattern must be a valid value, and the type must hold no pointers or
/// anything else whose meaning differs between processes.
pub unsafe trait SharedPlain: Sync {}

// SAFETY: a scoreboard slot is atomics of integers and bytes: all-zero is a valid value,
// and nothing in it is a pointer.
unsafe impl SharedPlain for crate::master::scoreboard::Slot {}
// SAFETY: as above: atomic integers only.
unsafe impl SharedPlain for crate::master::scoreboard::PoolCounters {}

/// An anonymous shared mapping of `len` zeroed `T`s, inherited by forked children.
#[derive(Debug)]
pub struct SharedSlice<T: SharedPlain> {
    ptr: std::ptr::NonNull<T>,
    len: usize,
}

// SAFETY: T is Sync (SharedPlain requires it) and the mapping is only handed out as &[T].
unsafe impl<T: SharedPlain> Send for SharedSlice<T> {}
// SAFETY: as above.
unsafe impl<T: SharedPlain> Sync for SharedSlice<T> {}

impl<T: SharedPlain> SharedSlice<T> {
    /// Maps `len` zeroed elements shared with every process forked afterwards.
    pub fn new(len: usize) -> io::Result<SharedSlice<T>> {
        let bytes = std::mem::size_of::<T>().checked_mul(len.max(1)).ok_or(io::ErrorKind::InvalidInput)?;
        // SAFETY: an anonymous mapping with no address hint; the result is checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = std::ptr::NonNull::new(ptr.cast::<T>()).ok_or(io::ErrorKind::Other)?;
        Ok(SharedSlice { ptr, len })
    }

    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        // SAFETY: the mapping holds `len` T's, page-aligned (so aligned for T), zeroed by
        // the kernel (valid by SharedPlain), and lives until drop; only shared refs exist.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: SharedPlain> Drop for SharedSlice<T> {
    fn drop(&mut self) {
        let bytes = std::mem::size_of::<T>() * self.len.max(1);
        // SAFETY: unmapping exactly the mapping created in new(); no references outlive
        // self because as_slice borrows self.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), bytes) };
    }
}

// ---------------------------------------------------------------------------------------
// Sockets.

/// Waits up to `timeout` for `fd` to become readable; false on timeout.
pub fn wait_readable(fd: RawFd, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `pfd` is one valid pollfd.
    let n = check(unsafe { libc::poll(&mut pfd, 1, ms) })?;
    Ok(n > 0)
}

/// Shuts down the write side of a socket so the peer sees end-of-stream while any bytes
/// it still sends can be drained (closing with unread input would send a RST that may
/// destroy the response in flight).
pub fn shutdown_write(fd: RawFd) -> io::Result<()> {
    // SAFETY: shutdown takes plain integers.
    check(unsafe { libc::shutdown(fd, libc::SHUT_WR) }).map(drop)
}

/// A moment in local time, as `localtime_r` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// The year, e.g. 2026.
    pub year: i32,
    /// 1-12.
    pub month: u32,
    /// 1-31.
    pub day: u32,
    /// 0-23.
    pub hour: u32,
    /// 0-59.
    pub minute: u32,
    /// 0-60.
    pub second: u32,
}

/// `unix_seconds` in the local time zone (log lines, the status page's dates).
pub fn local_time(unix_seconds: i64) -> LocalTime {
    let t: libc::time_t = unix_seconds;
    // SAFETY: a zeroed tm is valid; localtime_r writes into it and reads `t`; both live
    // across the call. On failure the zeroed fields are still a printable value.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    };
    LocalTime {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1) as u32,
        day: tm.tm_mday as u32,
        hour: tm.tm_hour as u32,
        minute: tm.tm_min as u32,
        second: tm.tm_sec as u32,
    }
}

// ---------------------------------------------------------------------------------------
// Daemonizing.

/// Write end of the pipe a daemonized master reports readiness on, or -1.
static READY_FD: AtomicI32 = AtomicI32::new(-1);

/// Goes to the background as php-fpm does: fork; the parent waits until the child
/// reports readiness ([`notify_ready`]) and exits 0, or exits `failure_code` if the child
/// dies first. The child starts a new session and points standard input and output to
/// /dev/null. Returns in the child only.
pub fn daemonize(failure_code: i32) -> io::Result<()> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    match fork()? {
        Forked::Parent(_) => {
            // SAFETY: closing our copy of the write end, then a blocking read of one byte
            // into a local; EOF (the child died) reads 0.
            unsafe {
                libc::close(fds[1]);
                let mut byte = 0u8;
                let n = loop {
                    let n = libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
                    if n >= 0 || *libc::__errno_location() != libc::EINTR {
                        break n;
                    }
                };
                libc::_exit(if n == 1 && byte == b'1' { 0 } else { failure_code });
            }
        }
        Forked::Child => {
            // SAFETY: closing the read end we do not use; setsid detaches from the
            // terminal; the /dev/null descriptor is checked and duplicated onto 0 and 1.
            unsafe {
                libc::close(fds[0]);
                check(libc::setsid())?;
                let null = check(libc::open(c"/dev/null".as_ptr(), libc::O_RDWR))?;
                libc::dup2(null, 0);
                libc::dup2(null, 1);
                if null > 2 {
                    libc::close(null);
                }
            }
            READY_FD.store(fds[1], Ordering::SeqCst);
            Ok(())
        }
    }
}

/// Tells the waiting parent of [`daemonize`] that the server is up (once; a no-op when
/// not daemonized).
pub fn notify_ready() {
    let fd = READY_FD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: writing one byte from a constant, then closing our descriptor.
        unsafe {
            libc::write(fd, b"1".as_ptr().cast(), 1);
            libc::close(fd);
        }
    }
}

/// Sends standard error to `path` (opened for appending, created with mode 0600 as
/// php-fpm's error log), so every later log line, from the master and from workers,
/// lands there.
pub fn redirect_stderr(path: &std::path::Path) -> io::Result<()> {
    reopen_append(path, 2)
}

/// Opens `path` for appending (created with mode 0600, as php-fpm's logs).
pub fn open_append(path: &std::path::Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

/// Opens `path` again onto descriptor `fd` (logrotate moved the file): processes forked
/// afterwards write to the new file through the same descriptor number.
pub fn reopen_append(path: &std::path::Path, fd: RawFd) -> io::Result<()> {
    let file = open_append(path)?;
    // SAFETY: both descriptors are open; dup2 replaces `fd` atomically.
    check(unsafe { libc::dup2(file.as_raw_fd(), fd) }).map(drop)
}

/// Which limit [`set_rlimit`] sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `RLIMIT_NOFILE`: open descriptors.
    Files,
    /// `RLIMIT_CORE`: core dump size, bytes.
    Core,
}

/// Sets both the soft and hard limit to `value` (`None`: unlimited), as php-fpm's
/// `rlimit_files`/`rlimit_core` do.
pub fn set_rlimit(limit: Limit, value: Option<u64>) -> io::Result<()> {
    let resource = match limit {
        Limit::Files => libc::RLIMIT_NOFILE,
        Limit::Core => libc::RLIMIT_CORE,
    };
    let value = value.unwrap_or(libc::RLIM_INFINITY);
    let limits = libc::rlimit { rlim_cur: value, rlim_max: value };
    // SAFETY: `limits` is a valid rlimit that lives across the call.
    check(unsafe { libc::setrlimit(resource, &limits) }).map(drop)
}

/// Makes `dir` this process's root directory and enters it (`chroot`).
pub fn chroot(dir: &std::path::Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in the path"))?;
    // SAFETY: `path` is a valid NUL-terminated string that lives across the call.
    check(unsafe { libc::chroot(path.as_ptr()) })?;
    std::env::set_current_dir("/")
}

/// Lets this process dump core and be traced by its user even after a user switch
/// (`process.dumpable`, `PR_SET_DUMPABLE`).
pub fn set_dumpable() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_DUMPABLE, 1) takes plain integers.
    check(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) }).map(drop)
}

/// Sets this process's nice value (`process.priority`).
pub fn set_priority(nice: i32) -> io::Result<()> {
    // SAFETY: setpriority takes plain integers; 0 is this process.
    check(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) }).map(drop)
}

/// CPU time this process has used so far, user and system, µs (`getrusage`).
pub fn process_cpu_split_us() -> (u64, u64) {
    // SAFETY: a zeroed rusage is a valid out-parameter for getrusage.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return (0, 0);
        }
        usage
    };
    let us = |t: libc::timeval| (t.tv_sec as u64).saturating_mul(1_000_000).saturating_add(t.tv_usec as u64);
    (us(usage.ru_utime), us(usage.ru_stime))
}

/// `unix_seconds` in local time through strftime(3) with `format` (the access log's
/// `%{format}t`); empty when the result would exceed 256 bytes.
pub fn strftime_local(format: &str, unix_seconds: i64) -> String {
    let Ok(format) = std::ffi::CString::new(format) else { return String::new() };
    let t: libc::time_t = unix_seconds;
    let mut out = [0u8; 256];
    // SAFETY: a zeroed tm is valid; localtime_r fills it from `t`; strftime writes at
    // most `out.len()` bytes into `out` and reads the NUL-terminated `format`.
    let n = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        libc::strftime(out.as_mut_ptr().cast(), out.len(), format.as_ptr(), &tm)
    };
    String::from_utf8_lossy(&out[..n]).into_owned()
}

/// CPU time this process has used, µs (`clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`).
pub fn process_cpu_us() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return 0;
    }
    (ts.tv_sec as u64).saturating_mul(1_000_000).saturating_add(ts.tv_nsec as u64 / 1000)
}

/// A listening TCP socket's accept queue as the kernel reports it (`TCP_INFO`, as
/// php-fpm reads it): connections waiting, and the queue's size. `None` for other
/// sockets (Unix sockets report nothing, in php-fpm too).
pub fn listen_queue(fd: RawFd) -> Option<(u32, u32)> {
    // SAFETY: a zeroed tcp_info is a valid out-parameter; `len` holds its size.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        (rc == 0).then_some((info.tcpi_unacked, info.tcpi_sacked))
    }
}

/// Takes ownership of descriptor `fd` inherited across `exec` (`FPM_SOCKETS`); `None`
/// when it is not open.
pub fn adopt_fd(fd: RawFd) -> Option<OwnedFd> {
    // SAFETY: fcntl(F_GETFD) only queries the descriptor.
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1 {
        return None;
    }
    // SAFETY: the descriptor is open and was handed to this image to own (the previous
    // image kept it open for exactly this); nothing else in the process refers to it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Removes `name` from the environment (the master is single-threaded here).
pub fn remove_env(name: &str) {
    // SAFETY: called by the single-threaded master before any fork or thread.
    unsafe { std::env::remove_var(name) };
}

/// Replaces the process image by `program` with `args` (argv[0] included) and the
/// environment plus `FPM_SOCKETS=key=fd` for the kept listening socket, whose
/// close-on-exec flag is cleared. Returns only on failure.
pub fn exec_with_socket(
    program: &std::path::Path,
    args: &[std::ffi::OsString],
    key: &str,
    fd: RawFd,
) -> io::Error {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: F_SETFD on an open descriptor; the flag change is the point.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == -1 {
        return io::Error::last_os_error();
    }
    // SAFETY: single-threaded master about to exec.
    unsafe { std::env::set_var("FPM_SOCKETS", format!("{key}={fd}")) };
    let Ok(path) = std::ffi::CString::new(program.as_os_str().as_bytes()) else {
        return io::ErrorKind::InvalidInput.into();
    };
    let Ok(cargs) = args.iter().map(|a| std::ffi::CString::new(a.as_bytes())).collect::<Result<Vec<_>, _>>()
    else {
        return io::ErrorKind::InvalidInput.into();
    };
    let mut argv: Vec<*const libc::c_char> = cargs.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    // SAFETY: `path` and every argv string are NUL-terminated and live across the call;
    // argv ends with NULL; execv uses the current environment.
    unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
    io::Error::last_os_error()
}

/// True when standard error is a terminal.
pub fn stderr_is_tty() -> bool {
    // SAFETY: isatty takes a plain descriptor number.
    unsafe { libc::isatty(2) == 1 }
}

// ---------------------------------------------------------------------------------------
// Users and groups.

/// The uid of user `name` (or `name` itself when numeric).
pub fn uid_by_name(name: &str) -> io::Result<u32> {
    if let Ok(uid) = name.parse() {
        return Ok(uid);
    }
    let cname = std::ffi::CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: a zeroed passwd is a valid out-parameter; `buf` outlives the call and its
    // length is passed; `result` is checked before use.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(cname.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        if result.is_null() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("cannot get uid for user '{name}'")));
        }
        Ok(pwd.pw_uid)
    }
}

/// The uid and primary gid of user `name` (or a numeric uid, whose primary group is
/// looked up when the user exists, else the same number).
pub fn user_ids(name: &str) -> io::Result<(u32, u32)> {
    let by_uid = name.parse::<u32>().ok();
    let cname = std::ffi::CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: as in uid_by_name; getpwuid_r is the same contract keyed by uid.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = match by_uid {
            Some(uid) => libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result),
            None => libc::getpwnam_r(cname.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result),
        };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        match (result.is_null(), by_uid) {
            (false, _) => Ok((pwd.pw_uid, pwd.pw_gid)),
            (true, Some(uid)) => Ok((uid, uid)),
            (true, None) => {
                Err(io::Error::new(io::ErrorKind::NotFound, format!("cannot get uid for user '{name}'")))
            }
        }
    }
}

/// Effective uid of this process.
pub fn geteuid() -> u32 {
    // SAFETY: geteuid cannot fail and has no preconditions.
    unsafe { libc::geteuid() }
}

/// Drops root for a worker: supplementary groups of `user` (or none), then the group,
/// then the user — in that order, since after setuid() the others are no longer allowed.
pub fn switch_user(user: Option<(&str, u32)>, gid: u32) -> io::Result<()> {
    let name = user
        .map(|(name, _)| std::ffi::CString::new(name))
        .transpose()
        .map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: plain integers, and a NUL-terminated name that lives across the call.
    unsafe {
        match &name {
            Some(name) => check(libc::initgroups(name.as_ptr(), gid))?,
            None => check(libc::setgroups(0, std::ptr::null()))?,
        };
        check(libc::setgid(gid))?;
        if let Some((_, uid)) = user {
            check(libc::setuid(uid))?;
        }
    }
    Ok(())
}

/// Replaces the whole process environment by `vars` (php-fpm's `clear_env` + `env[]`).
/// Only for a freshly forked, single-threaded worker: the environment is process-global
/// and not synchronised with other threads.
pub fn replace_environment(vars: &[(String, String)]) {
    let current: Vec<std::ffi::OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    for key in current {
        // SAFETY: the worker is single-threaded here (right after fork), so nothing
        // reads the environment concurrently.
        unsafe { std::env::remove_var(key) };
    }
    for (k, v) in vars {
        if !k.is_empty() && !k.contains(['=', '\0']) && !v.contains('\0') {
            // SAFETY: as above.
            unsafe { std::env::set_var(k, v) };
        }
    }
}

/// The gid of group `name` (or `name` itself when numeric).
pub fn gid_by_name(name: &str) -> io::Result<u32> {
    if let Ok(gid) = name.parse() {
        return Ok(gid);
    }
    let cname = std::ffi::CString::new(name).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: as in uid_by_name, for getgrnam_r.
    unsafe {
        let mut grp: libc::group = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        let mut result: *mut libc::group = std::ptr::null_mut();
        let rc = libc::getgrnam_r(cname.as_ptr(), &mut grp, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        if result.is_null() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("cannot get gid for group '{name}'"),
            ));
        }
        Ok(grp.gr_gid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    struct Counter(AtomicU32);
    // SAFETY: an atomic integer is valid when zeroed and holds no pointer.
    unsafe impl SharedPlain for Counter {}

    #[test]
    fn shared_memory_is_shared_with_a_forked_child() {
        let shared = SharedSlice::<Counter>::new(4).unwrap();
        assert!(shared.as_slice().iter().all(|c| c.0.load(Ordering::SeqCst) == 0));
        match fork().unwrap() {
            Forked::Child => {
                shared.as_slice()[2].0.store(42, Ordering::SeqCst);
                // SAFETY: _exit in the test's forked child, skipping the harness's atexit work.
                unsafe { libc::_exit(0) };
            }
            Forked::Parent(pid) => {
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                loop {
                    if let Some((reaped, status)) = reap_child().unwrap() {
                        assert_eq!((reaped, status), (pid, ExitStatus::Code(0)));
                        break;
                    }
                    assert!(std::time::Instant::now() < deadline, "child never exited");
                    std::thread::sleep(Duration::from_millis(5));
                }
                assert_eq!(shared.as_slice()[2].0.load(Ordering::SeqCst), 42);
            }
        }
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(libc::SIGSEGV), "SIGSEGV");
        assert_eq!(signal_name(99), "signal 99");
    }
}
