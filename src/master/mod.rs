//! The master process: binds the pool's socket, runs the handler's `master_init` once,
//! forks the workers and supervises them until told to stop. See `LIFECYCLE.md`.
//!
//! The master is single-threaded and sleeps in one `poll()` on its wake pipe; signal
//! handlers only record the signal and write a byte to that pipe. Everything else —
//! reaping, respawning, stopping — happens in `Master::tick`, in the loop.

pub mod children;
pub mod pm;
pub mod scoreboard;
pub mod systemd;

use crate::config::PoolConfig;
use crate::fastcgi::ManagementValues;
use crate::listen::{self, AllowedClients, ListenOptions, Listener};
use crate::log::Level;
use crate::sys::{self, ExitStatus, Forked, WakePipe};
use crate::worker::{Handler, PoolRuntime, Worker, WorkerSetup};
use children::Children;
use scoreboard::{Scoreboard, Stage};
use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// The longest the loop sleeps with nothing due: php-fpm's maintenance heartbeat.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// After `SIGTERM` to the workers, how long before `SIGKILL` at the least.
const KILL_GRACE: Duration = Duration::from_secs(1);

/// Why the server could not run.
#[derive(Debug)]
pub enum RunError {
    /// The configuration is incomplete or invalid.
    Config(String),
    /// A system call failed; `what` names the call and its object.
    Io { what: String, error: io::Error },
    /// The handler's `master_init` failed.
    Init(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Config(m) | RunError::Init(m) => f.write_str(m),
            RunError::Io { what, error } => write!(f, "{what}: {error}"),
        }
    }
}

impl std::error::Error for RunError {}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> RunError {
    let what = what.into();
    move |error| RunError::Io { what, error }
}

/// Where the master is in its life. States only move forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Serving: dead workers are replaced.
    Running,
    /// `SIGQUIT`: workers finish their request and exit; escalate at `term_at`.
    Finishing { term_at: Option<Instant>, kill_at: Option<Instant> },
    /// `SIGTERM`/`SIGINT`: workers were sent `SIGTERM`; survivors get `SIGKILL` at `kill_at`.
    Terminating { kill_at: Option<Instant> },
}

/// Binds the pool's socket and prepares what its workers share.
pub fn prepare_pool(config: PoolConfig) -> Result<PoolRuntime, RunError> {
    config.validate().map_err(RunError::Config)?;
    let spec = config.listen.as_deref().unwrap_or_default();
    let addr = listen::parse_listen(spec).map_err(|e| {
        RunError::Config(format!("[pool {}] invalid listen address '{spec}': {e}", config.name))
    })?;
    let owner =
        config.listen_owner.as_deref().map(sys::uid_by_name).transpose().map_err(io_error("listen.owner"))?;
    let group =
        config.listen_group.as_deref().map(sys::gid_by_name).transpose().map_err(io_error("listen.group"))?;
    let options = ListenOptions { backlog: config.listen_backlog, owner, group, mode: config.listen_mode };
    let allowed = AllowedClients::parse(config.listen_allowed_clients.as_deref().unwrap_or(""))
        .map_err(|e| RunError::Config(format!("[pool {}] listen.allowed_clients: {e}", config.name)))?;
    let listener = match inherited_socket(&addr.to_string()) {
        Some(fd) => {
            let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);
            let listener = Listener::from_fd(fd)
                .map_err(io_error(format!("[pool {}] inherited socket", config.name)))?;
            crate::log!(Notice, "using inherited socket fd={raw}, \"{addr}\"");
            listener
        }
        None => Listener::bind(&addr, &options)
            .map_err(io_error(format!("[pool {}] cannot listen on '{spec}'", config.name)))?,
    };
    let children = config.max_children.unwrap_or(1);
    // Truthful for the whole pool: it serves max_children requests at once, one each.
    let values = ManagementValues { max_conns: children, max_reqs: children, mpxs_conns: false };
    let setup = worker_setup(&config)?;
    let access_log = crate::worker::AccessLog::open(&config).map_err(RunError::Config)?;
    Ok(PoolRuntime { config, listener, allowed, values, setup, access_log })
}

/// Resolves what each worker becomes: php-fpm's `user`, `group`, `chdir`, `clear_env`
/// and `env[]`. User and group take effect only when the master runs as root, as in
/// php-fpm (which logs that they are ignored otherwise).
fn worker_setup(config: &PoolConfig) -> Result<WorkerSetup, RunError> {
    let name = &config.name;
    let identity = if sys::geteuid() != 0 {
        if config.user.is_some() || config.group.is_some() {
            crate::log!(Notice, "[pool {name}] 'user' directive is ignored when FPM is not running as root");
        }
        None
    } else {
        let user = match &config.user {
            Some(user) => Some((
                user.clone(),
                sys::user_ids(user).map_err(|e| RunError::Config(format!("[pool {name}] {e}")))?,
            )),
            None => None,
        };
        let gid = match (&config.group, &user) {
            (Some(group), _) => {
                Some(sys::gid_by_name(group).map_err(|e| RunError::Config(format!("[pool {name}] {e}")))?)
            }
            (None, Some((_, (_, primary)))) => Some(*primary),
            (None, None) => None,
        };
        gid.map(|gid| (user.map(|(n, (uid, _))| (n, uid)), gid))
    };
    let environment = config.worker_env(&|var| std::env::var(var).ok());
    let limits = crate::worker::ProcessLimits::new(
        format!("[pool {name}] "),
        config.process_priority,
        config.rlimit_files,
        config.rlimit_core,
    );
    Ok(WorkerSetup {
        identity,
        chroot: config.chroot.clone(),
        chdir: config.chdir.clone(),
        environment,
        clear_env: config.clear_env,
        limits,
        dumpable: config.process_dumpable,
    })
}

/// How the server stopped.
#[derive(Debug)]
pub enum Stopped {
    /// For good (`SIGTERM`, `SIGINT`, `SIGQUIT`): the Unix socket file is removed.
    Exit,
    /// For a reload (`SIGUSR2`, when allowed): every worker is gone and the listening
    /// socket is handed back open, with its `FPM_SOCKETS` key, for the next image.
    Reload { listener: std::os::fd::OwnedFd, key: String },
}

/// The listening socket a reloading master left for `key` in `FPM_SOCKETS`
/// (`key=fd,key=fd`), taken out of the environment so workers do not see it.
fn inherited_socket(key: &str) -> Option<std::os::fd::OwnedFd> {
    let value = std::env::var("FPM_SOCKETS").ok()?;
    sys::remove_env("FPM_SOCKETS");
    let fd = value.split(',').find_map(|entry| {
        let (k, fd) = entry.rsplit_once('=')?;
        (k == key).then(|| fd.parse::<i32>().ok()).flatten()
    })?;
    sys::adopt_fd(fd)
}

/// Runs one pool until `SIGTERM`, `SIGINT` or `SIGQUIT`: the whole server. `SIGUSR2` is
/// logged and ignored (a reload needs the caller's help: see [`run_reloadable`]).
///
/// Must be called from a single-threaded process (it forks). Returns once every worker
/// has exited and the Unix socket (if any) is removed.
pub fn run<H: Handler>(config: PoolConfig, handler: &mut H) -> Result<(), RunError> {
    run_reloadable(config, handler, false).map(drop)
}

/// [`run`], and with `reload` a `SIGUSR2` stops the workers gracefully (as `SIGQUIT`) and
/// returns [`Stopped::Reload`] so the caller can re-execute itself with the socket
/// (php-fpm's reload: `FPM_SOCKETS`, see [`prepare_pool`]).
pub fn run_reloadable<H: Handler>(
    config: PoolConfig,
    handler: &mut H,
    reload: bool,
) -> Result<Stopped, RunError> {
    let pool = prepare_pool(config)?;
    sys::ignore_signal(libc::SIGPIPE).map_err(io_error("signal(SIGPIPE)"))?;
    let wake = WakePipe::install().map_err(io_error("pipe()"))?;
    sys::install_signal_handlers(&[
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGQUIT,
        libc::SIGCHLD,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ])
    .map_err(io_error("sigaction()"))?;
    let reloading = serve_pool(&pool, &wake, handler, reload)?;
    if reloading {
        let key = listen::parse_listen(pool.config.listen.as_deref().unwrap_or_default())
            .map(|a| a.to_string())
            .unwrap_or_default();
        return Ok(Stopped::Reload { listener: pool.listener.into(), key });
    }
    if let Err(e) = pool.listener.remove_socket_file() {
        crate::log!(Warning, "[pool {}] {e}", pool.config.name);
    }
    Ok(Stopped::Exit)
}

/// Returns whether the stop is a reload.
fn serve_pool<H: Handler>(
    pool: &PoolRuntime,
    wake: &WakePipe,
    handler: &mut H,
    reload: bool,
) -> Result<bool, RunError> {
    handler.master_init().map_err(RunError::Init)?;
    let slots = pool.config.max_children.unwrap_or(1) as usize;
    let scoreboard = Scoreboard::new(slots).map_err(io_error("mmap() for the scoreboard"))?;
    let manager = Manager::of(&pool.config);
    let mut master = Master {
        pool,
        scoreboard,
        children: Children::new(slots, Instant::now()),
        state: State::Running,
        manager,
        reload,
        reloading: false,
        faults: std::collections::VecDeque::new(),
        systemd: systemd::Notifier::from_env(),
        systemd_next: Instant::now() + pool.config.systemd_interval,
        systemd_last: (0, Instant::now()),
        process_max_warned: false,
    };
    crate::log!(Notice, "fpm is running, pid {}", sys::getpid());
    let initial = match master.manager {
        Manager::Static => slots,
        Manager::Dynamic { start, .. } => start,
        Manager::OnDemand { .. } => 0,
    };
    master.spawn(handler, initial);
    crate::log!(Notice, "ready to handle connections");
    sys::notify_ready();
    if let Some(notifier) = &master.systemd {
        notifier.send("READY=1\nSTATUS=Ready to handle connections");
    }
    while !master.is_done() {
        let watch = master.watch_listener();
        let pending = wake.wait(master.next_wakeup(), watch).map_err(io_error("poll()"))?;
        master.tick(handler, pending);
    }
    handler.master_exit();
    if let Some(notifier) = &master.systemd {
        notifier.send(if master.reloading { "RELOADING=1" } else { "STOPPING=1" });
    }
    if master.reloading {
        crate::log!(Notice, "reloading: the workers are gone, re-executing");
    } else {
        crate::log!(Notice, "exiting, bye-bye!");
    }
    Ok(master.reloading)
}

struct Master<'p> {
    pool: &'p PoolRuntime,
    scoreboard: Scoreboard,
    children: Children,
    state: State,
    manager: Manager,
    /// `SIGUSR2` may reload (the caller re-executes).
    reload: bool,
    /// A reload is under way: the stop ends in [`Stopped::Reload`].
    reloading: bool,
    /// When the last workers killed by SIGSEGV or SIGBUS died, newest last, at most
    /// `emergency_restart_threshold` of them.
    faults: std::collections::VecDeque<Instant>,
    /// systemd's notification socket, when started by a `Type=notify` unit.
    systemd: Option<systemd::Notifier>,
    /// When the next `STATUS=` is due, and the accepted count and time of the last one.
    systemd_next: Instant,
    systemd_last: (u64, Instant),
    /// `process.max` stopped a fork once already (php-fpm warns once).
    process_max_warned: bool,
}

/// The pool's process manager and what it carries between ticks.
#[derive(Debug, Clone, Copy)]
enum Manager {
    /// `pm = static`: every slot always filled.
    Static,
    /// `pm = dynamic`: a maintenance tick every second keeps the idle count between
    /// the spare limits.
    Dynamic { limits: pm::Dynamic, state: pm::DynamicState, start: usize, next_tick: Instant },
    /// `pm = ondemand`: no worker until a connection waits and none is idle; a worker
    /// idle longer than `pm.process_idle_timeout` is stopped (one per second).
    OnDemand { max_children: usize, idle_timeout: Duration, warned: bool, next_tick: Instant },
}

impl Manager {
    fn of(config: &PoolConfig) -> Manager {
        let n = |v: i32| usize::try_from(v).unwrap_or(0);
        match config.pm {
            crate::config::ProcessManager::Dynamic => Manager::Dynamic {
                limits: pm::Dynamic {
                    max_children: config.max_children.unwrap_or(1) as usize,
                    min_spare: n(config.min_spare_servers),
                    max_spare: n(config.max_spare_servers),
                    max_spawn_rate: n(config.max_spawn_rate).max(1),
                },
                state: pm::DynamicState::default(),
                start: n(config.start_servers),
                next_tick: Instant::now() + HEARTBEAT,
            },
            crate::config::ProcessManager::OnDemand => Manager::OnDemand {
                max_children: config.max_children.unwrap_or(1) as usize,
                idle_timeout: config.process_idle_timeout,
                warned: false,
                next_tick: Instant::now() + HEARTBEAT,
            },
            crate::config::ProcessManager::Static => Manager::Static,
        }
    }
}

impl Master<'_> {
    fn is_done(&self) -> bool {
        self.state != State::Running && self.children.is_empty()
    }

    /// How long the loop may sleep: until the next respawn or escalation, at most a heartbeat.
    fn next_wakeup(&self) -> Duration {
        let now = Instant::now();
        let due = match (self.state, self.manager) {
            // At `process.max`, an empty slot is not a spawn due (no busy loop on it).
            (State::Running, Manager::Static) if self.at_process_max() => None,
            (State::Running, Manager::Static) => pm::next_spawn(&self.children.states()),
            (State::Running, Manager::Dynamic { next_tick, .. } | Manager::OnDemand { next_tick, .. }) => {
                Some(next_tick)
            }
            (State::Finishing { term_at, kill_at }, _) => term_at.or(kill_at),
            (State::Terminating { kill_at }, _) => kill_at,
        };
        let due = match (&self.systemd, self.pool.config.systemd_interval.is_zero()) {
            (Some(_), false) => Some(due.map_or(self.systemd_next, |d| d.min(self.systemd_next))),
            _ => due,
        };
        let timeout = self.pool.config.request_terminate_timeout;
        let longest = if timeout.is_zero() { HEARTBEAT } else { pm::timeout_tick(timeout) };
        due.map_or(longest, |t| t.saturating_duration_since(now).min(longest))
    }

    /// `request_terminate_timeout`: `SIGTERM` to every worker whose request has run too
    /// long (php-fpm's message and signal; the web server sees the connection close).
    fn terminate_timed_out(&mut self) {
        let config = &self.pool.config;
        let timeout = config.request_terminate_timeout;
        if timeout.is_zero() {
            return;
        }
        let now_us = scoreboard::now_us();
        let slots: Vec<usize> = self.children.running().filter(|r| !r.3).map(|r| r.0).collect();
        for slot in slots {
            let Some(view) = self.scoreboard.view(slot) else { continue };
            let Some(stage) = view.stage else { continue };
            if !pm::timed_out(
                stage,
                view.request_started_us,
                now_us,
                timeout,
                config.request_terminate_timeout_track_finished,
            ) {
                continue;
            }
            let Some(pid) = self.children.begin_stop(slot) else { continue };
            let seconds = now_us.saturating_sub(view.request_started_us.unwrap_or(now_us)) as f64 / 1e6;
            let (script, request) = match self.scoreboard.process(slot) {
                Some(p) => {
                    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                    let query =
                        if p.query.is_empty() { String::new() } else { format!("?{}", text(&p.query)) };
                    (text(&p.script), format!("{} {}{query}", text(&p.method), text(&p.uri)))
                }
                None => (String::new(), String::new()),
            };
            crate::log!(
                Warning,
                "[pool {}] child {pid}, script '{script}' (request: \"{request}\") execution timed out ({seconds:.6} sec), terminating",
                config.name
            );
            if let Err(e) = sys::kill(pid, libc::SIGTERM) {
                crate::log!(Error, "kill({pid}, SIGTERM) failed: {e}");
            }
        }
    }

    /// Records the most workers seen busy at once, for status pages.
    /// Whether `process.max` forbids another fork now.
    fn at_process_max(&self) -> bool {
        let max = self.pool.config.process_max as usize;
        max > 0 && self.children.running().count() >= max
    }

    /// Updates the pool's peaks; returns (active, running) workers.
    fn count_active(&self) -> (usize, usize) {
        let running = self.children.running().count();
        let active = self
            .children
            .running()
            .filter(|&(slot, ..)| {
                self.scoreboard.view(slot).is_some_and(|v| {
                    matches!(v.stage, Some(Stage::Reading | Stage::Running | Stage::Finishing))
                })
            })
            .count();
        let counters = self.scoreboard.counters();
        counters.max_active.fetch_max(active as u64, std::sync::atomic::Ordering::Relaxed);
        // Sampled on every tick (at least once a second), as php-fpm's maintenance does.
        if let Some((waiting, _)) = sys::listen_queue(self.pool.listener.as_raw_fd()) {
            counters.max_listen_queue.fetch_max(u64::from(waiting), std::sync::atomic::Ordering::Relaxed);
        }
        (active, running)
    }

    /// Every `systemd_interval`, php-fpm's `STATUS=` line to systemd.
    fn report_to_systemd(&mut self, active: usize, running: usize) {
        let Some(notifier) = &self.systemd else { return };
        let interval = self.pool.config.systemd_interval;
        let now = Instant::now();
        if interval.is_zero() || now < self.systemd_next {
            return;
        }
        let accepted = self.scoreboard.counters().accepted.load(std::sync::atomic::Ordering::Relaxed);
        let (before, then) = self.systemd_last;
        let per_second = systemd::rate(before, accepted, now.duration_since(then));
        notifier.send(&systemd::status_line(active, running.saturating_sub(active), accepted, per_second));
        self.systemd_last = (accepted, now);
        self.systemd_next = now + interval;
    }

    /// Counts an episode of the process manager hitting `pm.max_children`.
    fn reached_max_children(&self) {
        self.scoreboard.counters().max_children_reached.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Workers that can take a connection now: idle, or just forked (not yet in
    /// `accept()`, but about to be).
    fn available_workers(&self) -> usize {
        self.children
            .running()
            .filter(|&(slot, _, _, stopping)| {
                !stopping
                    && self
                        .scoreboard
                        .view(slot)
                        .is_some_and(|v| matches!(v.stage, Some(Stage::Idle | Stage::Empty)))
            })
            .count()
    }

    /// The listening socket, for `pm = ondemand` to watch when a connection would find
    /// no worker: none available and room to fork one (or a warning still to give).
    fn watch_listener(&self) -> Option<std::os::fd::RawFd> {
        let Manager::OnDemand { max_children, warned, .. } = self.manager else { return None };
        let room = self.children.pids().len() < max_children;
        (self.state == State::Running && self.available_workers() == 0 && (room || !warned))
            .then(|| self.pool.listener.as_raw_fd())
    }

    /// One turn of the loop: act on signals, reap, respawn, escalate. `pending`: a
    /// connection waits on the listening socket (watched under `pm = ondemand`).
    fn tick<H: Handler>(&mut self, handler: &mut H, pending: bool) {
        let signals = sys::take_pending_signals();
        let has = |s: i32| signals & (1 << s) != 0;
        if has(libc::SIGTERM) || has(libc::SIGINT) {
            self.terminate();
        } else if has(libc::SIGQUIT) {
            self.finish();
        }
        if has(libc::SIGUSR1) && self.state == State::Running {
            self.reopen_logs();
        }
        if has(libc::SIGUSR2) && self.state == State::Running {
            if self.reload {
                self.start_reload();
            } else {
                crate::log!(Notice, "SIGUSR2: reloading is not available to this program; ignored");
            }
        }
        self.reap();
        let (active, running) = self.count_active();
        self.report_to_systemd(active, running);
        self.terminate_timed_out();
        let now = Instant::now();
        match self.state {
            State::Running => self.manage(handler, now, pending),
            State::Finishing { term_at: Some(t), .. } if t <= now => {
                self.signal_all(libc::SIGTERM);
                self.state = State::Finishing { term_at: None, kill_at: Some(now + KILL_GRACE) };
            }
            State::Finishing { kill_at: Some(t), .. } | State::Terminating { kill_at: Some(t) }
                if t <= now =>
            {
                self.signal_all(libc::SIGKILL);
                self.state = State::Terminating { kill_at: None };
            }
            _ => {}
        }
    }

    /// `SIGUSR1`: reopen the error log and the access log (logrotate), then replace the
    /// workers gracefully so they write to the new files too (they inherited the old
    /// descriptors).
    fn reopen_logs(&mut self) {
        let mut reopened = false;
        match crate::log::reopen() {
            Ok(true) => {
                crate::log!(Notice, "error log file re-opened");
                reopened = true;
            }
            Ok(false) => {
                crate::log!(Notice, "SIGUSR1: no error log file to re-open (logging to standard error)")
            }
            Err(e) => crate::log!(Error, "failed to re-open the error log: {e}"),
        }
        if let Some(log) = &self.pool.access_log {
            match log.reopen() {
                Ok(()) => {
                    crate::log!(Notice, "access log file re-opened");
                    reopened = true;
                }
                Err(e) => crate::log!(Error, "failed to re-open the access log {}: {e}", log.path.display()),
            }
        }
        if reopened {
            self.replace_workers();
        }
    }

    /// php-fpm's `emergency_restart_threshold`: when that many workers crashed (SIGSEGV,
    /// SIGBUS) within `emergency_restart_interval`, something is broken beyond one request
    /// (a bad extension, a corrupt opcache): restart everything. A reload when the
    /// program can re-execute itself, else every worker replaced gracefully.
    fn count_fault(&mut self, now: Instant) {
        let (threshold, interval) =
            (self.pool.config.emergency_restart_threshold, self.pool.config.emergency_restart_interval);
        if threshold == 0 || interval.is_zero() || self.state != State::Running {
            return;
        }
        self.faults.push_back(now);
        while self.faults.len() > threshold as usize {
            self.faults.pop_front();
        }
        let within = self.faults.front().is_some_and(|first| now.duration_since(*first) <= interval);
        if self.faults.len() < threshold as usize || !within {
            return;
        }
        self.faults.clear();
        crate::log!(
            Warning,
            "failed processes threshold ({threshold} in {} sec) is reached, initiating reload",
            interval.as_secs()
        );
        if self.reload {
            self.start_reload();
        } else {
            self.replace_workers();
        }
    }

    /// php-fpm's reload: the workers stop gracefully, then the stop ends in
    /// [`Stopped::Reload`] and the caller re-executes the program.
    fn start_reload(&mut self) {
        crate::log!(Notice, "Reloading in progress ...");
        self.reloading = true;
        self.finish();
    }

    /// Stops every worker gracefully (`SIGQUIT`); the process manager starts fresh ones,
    /// which inherit what the master holds now (re-opened logs).
    fn replace_workers(&mut self) {
        for (slot, pid, _, stopping) in self.children.running().collect::<Vec<_>>() {
            if !stopping && self.children.begin_stop(slot).is_some() {
                let _ = sys::kill(pid, libc::SIGQUIT);
            }
        }
    }

    fn terminate(&mut self) {
        if matches!(self.state, State::Terminating { .. }) {
            return;
        }
        crate::log!(Notice, "Terminating ...");
        self.signal_all(libc::SIGTERM);
        let grace = self.pool.config.process_control_timeout.max(KILL_GRACE);
        self.state = State::Terminating { kill_at: Some(Instant::now() + grace) };
    }

    /// Graceful stop. php-fpm escalates at once when `process_control_timeout` is 0 (and
    /// loses the requests in flight); sfpm then waits for them without a limit, and
    /// escalates only after a timeout that was set.
    fn finish(&mut self) {
        if self.state != State::Running {
            return;
        }
        if !self.reloading {
            crate::log!(Notice, "Finishing ...");
        }
        self.signal_all(libc::SIGQUIT);
        let timeout = self.pool.config.process_control_timeout;
        let term_at = (!timeout.is_zero()).then(|| Instant::now() + timeout);
        self.state = State::Finishing { term_at, kill_at: None };
    }

    fn signal_all(&self, signal: i32) {
        for pid in self.children.pids() {
            if let Err(e) = sys::kill(pid, signal) {
                crate::log!(Error, "kill({pid}, {}) failed: {e}", sys::signal_name(signal));
            }
        }
    }

    fn reap(&mut self) {
        loop {
            let (pid, status) = match sys::reap_child() {
                Ok(Some(reaped)) => reaped,
                Ok(None) => return,
                Err(e) => {
                    crate::log!(Error, "waitpid() failed: {e}");
                    return;
                }
            };
            let Some(exited) = self.children.exited(pid, status, Instant::now()) else {
                crate::log!(Alert, "oops, unknown child ({pid}) exited");
                continue;
            };
            if let Some(slot) = self.scoreboard.slot(exited.slot) {
                slot.clear();
            }
            let name = &self.pool.config.name;
            let secs = exited.lifetime.as_secs_f64();
            // php-fpm: NOTICE for a clean exit, WARNING otherwise — unless the master
            // is stopping, when every exit is expected.
            let stopping = self.state != State::Running;
            let level = match status {
                ExitStatus::Code(0) => Level::Notice,
                ExitStatus::Signal { signal: libc::SIGQUIT, .. } => Level::Notice,
                _ if stopping => Level::Notice,
                _ => Level::Warning,
            };
            match status {
                ExitStatus::Code(code) => crate::log::write(
                    level,
                    format_args!(
                        "[pool {name}] child {pid} exited with code {code} after {secs:.6} seconds from start"
                    ),
                ),
                ExitStatus::Signal { signal, core } => crate::log::write(
                    level,
                    format_args!(
                        "[pool {name}] child {pid} exited on signal {signal} ({}{}) after {secs:.6} seconds from start",
                        sys::signal_name(signal),
                        if core { " - core dumped" } else { "" }
                    ),
                ),
            }
            if let ExitStatus::Signal { signal: libc::SIGSEGV | libc::SIGBUS, .. } = status {
                self.count_fault(Instant::now());
            }
            if self.state == State::Running && !exited.respawn_delay.is_zero() {
                crate::log!(
                    Warning,
                    "[pool {name}] child failed {:.3} seconds after start; respawning in {} ms",
                    secs,
                    exited.respawn_delay.as_millis()
                );
            }
        }
    }

    /// Runs the process manager: static refills every vacant slot at once; dynamic
    /// decides once a second.
    fn manage<H: Handler>(&mut self, handler: &mut H, now: Instant, pending: bool) {
        let (limits, mut state, start, next_tick) = match self.manager {
            Manager::Static => return self.spawn(handler, usize::MAX),
            Manager::OnDemand { .. } => return self.on_demand(handler, now, pending),
            Manager::Dynamic { limits, state, start, next_tick } => (limits, state, start, next_tick),
        };
        if now < next_tick {
            return;
        }
        let name = &self.pool.config.name;
        let running = self.children.pids().len();
        // Idle children, oldest first; ones already asked to stop are not counted.
        let mut idle: Vec<(Instant, usize)> = self
            .children
            .running()
            .filter(|&(slot, _, _, stopping)| {
                !stopping && self.scoreboard.view(slot).is_some_and(|v| v.stage == Some(Stage::Idle))
            })
            .map(|(slot, _, started, _)| (started, slot))
            .collect();
        idle.sort();
        let idle: Vec<usize> = idle.into_iter().map(|(_, slot)| slot).collect();
        match pm::dynamic_tick(&limits, &mut state, &idle, running) {
            pm::Decision::Nothing => {}
            pm::Decision::Spawn(n) => {
                if state.spawn_rate > 8 {
                    crate::log!(
                        Warning,
                        "[pool {name}] seems busy (you may need to increase pm.start_servers, or pm.min/max_spare_servers), spawning {n} children, there are {} idle, and {running} total children",
                        idle.len()
                    );
                }
                self.spawn(handler, n);
            }
            pm::Decision::StopIdle(slot) => {
                if let Some(pid) = self.children.begin_stop(slot) {
                    crate::log!(Debug, "[pool {name}] stopping idle child {pid}");
                    if let Err(e) = sys::kill(pid, libc::SIGQUIT) {
                        crate::log!(Error, "kill({pid}, SIGQUIT) failed: {e}");
                    }
                }
            }
            pm::Decision::AtMaxChildren => {
                crate::log!(
                    Warning,
                    "[pool {name}] server reached pm.max_children setting ({}), consider raising it",
                    limits.max_children
                );
                self.reached_max_children();
            }
        }
        self.manager = Manager::Dynamic { limits, state, start, next_tick: now + HEARTBEAT };
    }

    /// `pm = ondemand`: fork a worker for a waiting connection when none can take it;
    /// once a second, stop the longest-idle worker past `pm.process_idle_timeout`.
    fn on_demand<H: Handler>(&mut self, handler: &mut H, now: Instant, pending: bool) {
        let Manager::OnDemand { max_children, idle_timeout, mut warned, next_tick } = self.manager else {
            return;
        };
        let name = &self.pool.config.name;
        if self.available_workers() > 0 {
            warned = false;
        } else if pending {
            if self.children.pids().len() < max_children {
                self.spawn(handler, 1);
            } else if !warned {
                crate::log!(
                    Warning,
                    "[pool {name}] server reached max_children setting ({max_children}), consider raising it"
                );
                self.reached_max_children();
                warned = true;
            }
        }
        let mut next = next_tick;
        if now >= next_tick {
            next = now + HEARTBEAT;
            let now_us = scoreboard::now_us();
            let timeout_us = u64::try_from(idle_timeout.as_micros()).unwrap_or(u64::MAX);
            let oldest_idle = self
                .children
                .running()
                .filter(|&(_, _, _, stopping)| !stopping)
                .filter_map(|(slot, _, _, _)| {
                    let view = self.scoreboard.view(slot)?;
                    (view.stage == Some(Stage::Idle)).then_some((view.idle_since_us, slot))
                })
                .min();
            if let Some((since, slot)) = oldest_idle {
                if now_us.saturating_sub(since) >= timeout_us {
                    if let Some(pid) = self.children.begin_stop(slot) {
                        crate::log!(
                            Debug,
                            "[pool {name}] stopping child {pid}, idle longer than pm.process_idle_timeout"
                        );
                        if let Err(e) = sys::kill(pid, libc::SIGQUIT) {
                            crate::log!(Error, "kill({pid}, SIGQUIT) failed: {e}");
                        }
                    }
                }
            }
        }
        self.manager = Manager::OnDemand { max_children, idle_timeout, warned, next_tick: next };
    }

    /// Forks up to `n` workers into vacant slots whose crash backoff has passed.
    fn spawn<H: Handler>(&mut self, handler: &mut H, n: usize) {
        let slots = pm::static_spawns(&self.children.states(), Instant::now());
        let wanted = slots.len().min(n);
        let allowed = match self.pool.config.process_max as usize {
            0 => wanted,
            max => wanted.min(max.saturating_sub(self.children.running().count())),
        };
        for slot in slots.into_iter().take(allowed) {
            match sys::fork() {
                Ok(Forked::Parent(pid)) => {
                    self.children.started(slot, pid, Instant::now());
                    crate::log!(Notice, "[pool {}] child {pid} started", self.pool.config.name);
                }
                Ok(Forked::Child) => {
                    std::process::exit(worker_process(self.pool, &self.scoreboard, slot, handler))
                }
                Err(e) => {
                    crate::log!(Error, "[pool {}] fork() failed: {e}", self.pool.config.name);
                    return;
                }
            }
        }
        // After the forks, once, as php-fpm.
        if allowed < wanted && !self.process_max_warned {
            self.process_max_warned = true;
            crate::log!(
                Warning,
                "The maximum number of processes has been reached. Please review your configuration and consider raising 'process.max'"
            );
        }
    }
}

/// The life of a worker process, after the fork; returns its exit code. A panic in the
/// handler or in sfpm ends the worker (code 70), never unwinds into the master's code.
fn worker_process<H: Handler>(
    pool: &PoolRuntime,
    scoreboard: &Scoreboard,
    slot: usize,
    handler: &mut H,
) -> i32 {
    sys::enter_worker_mode(pool.listener.as_raw_fd());
    let Some(slot) = scoreboard.slot(slot) else { return 1 };
    slot.begin(sys::getpid());
    if let Err(e) = pool.setup.apply() {
        crate::log!(Error, "[pool {}] {e}", pool.config.name);
        return 1;
    }
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut worker = Worker::new(pool, scoreboard, slot);
        handler.worker_init(&mut worker)?;
        handler.serve(&mut worker);
        handler.worker_exit();
        Ok::<(), String>(())
    }));
    match outcome {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            crate::log!(Error, "[pool {}] worker initialisation failed: {e}", pool.config.name);
            1
        }
        Err(_) => {
            crate::log!(Error, "[pool {}] worker panicked; exiting", pool.config.name);
            70
        }
    }
}
