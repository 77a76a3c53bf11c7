//! Listening sockets: where a pool's connections come from.
//!
//! This module owns the `listen` step of the data path:
//!
//! - [`parse_listen`] reads php-fpm's `listen` syntax into a [`ListenAddr`], whose
//!   `Display` form is the key of that socket in `FPM_SOCKETS` across a re-exec;
//! - [`Listener::bind`] creates a socket the way php-fpm does (`SO_REUSEADDR`, backlog; for
//!   Unix sockets: refuse a path a live server accepts on, replace a stale file, set mode and
//!   owner) and [`Listener::from_fd`] adopts one inherited from a previous image;
//! - [`Listener::accept`] hands out a connected [`Stream`] and the [`Peer`] it came from;
//! - [`AllowedClients`] is `listen.allowed_clients`, which the caller checks after accept.
//!
//! Everything here blocks: a worker serves one connection at a time (DESIGN.md). Every
//! descriptor this module creates is close-on-exec, so a program started from PHP never
//! inherits a socket; keeping a listener across the master's own re-exec is asked for
//! explicitly ([`Listener::set_inheritable`]).

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::fmt;
use std::fs::{self, Permissions};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a pool listens: the value of a `listen` directive.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ListenAddr {
    /// One TCP address: `127.0.0.1:9000`, `[::1]:9000`, or `host:port` resolved once at start.
    Tcp(SocketAddr),
    /// A bare port: every address of the host, IPv6 and IPv4 on one socket (`[::]` accepting
    /// IPv4-mapped peers), or `0.0.0.0` when the host has no IPv6.
    AllAddresses(u16),
    /// A Unix socket path. A relative path is relative to the pool's prefix; making it
    /// absolute is the config loader's job.
    Unix(PathBuf),
}

/// Parses a `listen` value with php-fpm's syntax: `ip:port`, `[ipv6]:port`, `host:port`, a
/// bare port, or a Unix socket path. Errors are short reasons; the caller adds the file,
/// line and directive.
///
/// Host names are resolved here, once, and the first address is used: the socket is bound
/// at start and never re-resolved, as in php-fpm.
pub fn parse_listen(spec: &str) -> Result<ListenAddr, String> {
    if spec.is_empty() {
        return Err("empty address".into());
    }
    if spec.bytes().all(|b| b.is_ascii_digit()) {
        return parse_port(spec).map(ListenAddr::AllAddresses);
    }
    // No host name or IP address contains '/', so a '/' means a path even with a ':' in it
    // (php-fpm would take `/run/php:a.sock` for host:port and fail).
    if spec.contains('/') {
        return Ok(ListenAddr::Unix(PathBuf::from(spec)));
    }
    if let Some(rest) = spec.strip_prefix('[') {
        let (host, port) = rest.split_once("]:").ok_or("expected [ipv6]:port")?;
        let ip: Ipv6Addr = host.parse().map_err(|_| format!("invalid IPv6 address '{host}'"))?;
        return Ok(ListenAddr::Tcp(SocketAddr::new(ip.into(), parse_port(port)?)));
    }
    let Some((host, port)) = spec.rsplit_once(':') else {
        // Neither a port nor host:port: php-fpm takes it for a path relative to the prefix.
        return Ok(ListenAddr::Unix(PathBuf::from(spec)));
    };
    let port = parse_port(port)?;
    if host.is_empty() {
        return Err("missing host before ':'".into());
    }
    // Splitting at the last ':' also reads an unbracketed `::1:9000` as [::1]:9000, as
    // php-fpm does, so such configs keep working.
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ListenAddr::Tcp(SocketAddr::new(ip, port)));
    }
    let mut addrs =
        (host, port).to_socket_addrs().map_err(|e| format!("cannot resolve host '{host}': {e}"))?;
    addrs.next().map(ListenAddr::Tcp).ok_or_else(|| format!("host '{host}' has no address"))
}

/// A TCP port as php-fpm accepts it: decimal, 1 to 65535.
fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        // `u16::from_str` also takes a leading '+'.
        Ok(port) if port != 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(format!("invalid port '{s}'")),
    }
}

impl fmt::Display for ListenAddr {
    /// The address as written in a config, with host names resolved: `127.0.0.1:9000`,
    /// `[::1]:9000`, `9000`, `/run/x.sock`. [`parse_listen`] reads it back to the same value,
    /// which makes it the `FPM_SOCKETS` key: the old and the new image derive it from the
    /// same config. (php-fpm writes the bound address, `:::9000` for a bare port, without
    /// brackets; only sfpm reads sfpm's keys.)
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => write!(f, "{addr}"),
            ListenAddr::AllAddresses(port) => write!(f, "{port}"),
            ListenAddr::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// `listen.backlog` default: -1 makes the kernel use its maximum, `net.core.somaxconn`
/// (php-fpm's default on Linux, observed on 8.2; its `www.conf` saying 511 is stale).
pub const DEFAULT_BACKLOG: i32 = -1;

/// `listen.mode` default: owner and group may connect, others may not.
pub const DEFAULT_MODE: u32 = 0o660;

/// How to create a listening socket: the `listen.*` directives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenOptions {
    /// `listen.backlog`: the length of the queue of connections not yet accepted;
    /// negative means the kernel maximum.
    pub backlog: i32,
    /// `listen.owner` as a uid: the owner of a Unix socket file; `None` keeps the creator.
    pub owner: Option<u32>,
    /// `listen.group` as a gid: the group of a Unix socket file; `None` keeps the creator's.
    pub group: Option<u32>,
    /// `listen.mode`: the permission bits of a Unix socket file, exactly (the process umask
    /// does not apply). Only the low nine bits are used, as with php-fpm's `umask`.
    pub mode: u32,
}

impl Default for ListenOptions {
    /// php-fpm's defaults: kernel backlog, creator's ownership, mode 0660.
    fn default() -> Self {
        ListenOptions { backlog: DEFAULT_BACKLOG, owner: None, group: None, mode: DEFAULT_MODE }
    }
}

/// A listening socket.
///
/// Lifecycle: the master creates it before forking, so every worker accepts on the same
/// socket. It is close-on-exec; before the master re-executes itself it marks it
/// inheritable ([`Listener::set_inheritable`]) and names it in `FPM_SOCKETS`, and the new
/// image adopts it with [`Listener::from_fd`]. A Unix socket file stays when the socket is
/// dropped (a reload keeps it); the master removes it on final exit with
/// [`Listener::remove_socket_file`].
#[derive(Debug)]
pub struct Listener {
    socket: Socket,
}

impl Listener {
    /// Creates a socket listening on `addr`. Errors name the failed call and the address.
    ///
    /// - TCP: `SO_REUSEADDR`, so a restart is not refused while old connections linger in
    ///   `TIME_WAIT`. A bare port binds `[::]` with `IPV6_V6ONLY` off, or `0.0.0.0` when the
    ///   host has no IPv6; an explicit IPv6 address keeps the kernel's `IPV6_V6ONLY`
    ///   default, as in php-fpm.
    /// - Unix: fails with `AddrInUse` when a server accepts on the path, and with
    ///   `AlreadyExists` when the path is not a socket; a stale socket file is replaced.
    ///   The file gets `opts.mode` exactly, and `opts.owner`/`opts.group` when given.
    pub fn bind(addr: &ListenAddr, opts: &ListenOptions) -> io::Result<Listener> {
        let socket = match addr {
            ListenAddr::Tcp(addr) => {
                let socket = tcp_socket(Domain::for_address(*addr), addr)?;
                listen_tcp(socket, *addr, opts.backlog)?
            }
            ListenAddr::AllAddresses(port) => listen_all_addresses(*port, opts.backlog)?,
            ListenAddr::Unix(path) => listen_unix(path, opts)?,
        };
        Ok(Listener { socket })
    }

    /// Adopts an inherited listening socket (`FPM_SOCKETS`, systemd's `LISTEN_FDS`) and makes
    /// it close-on-exec again. Fails, closing `fd`, unless it is a listening stream socket:
    /// the number came from the environment, and workers must not block on anything else.
    ///
    /// Turning the inherited number into an [`OwnedFd`] is the caller's one `unsafe` step
    /// (in `sys`), where it can be shown that nothing else owns that descriptor.
    pub fn from_fd(fd: OwnedFd) -> io::Result<Listener> {
        let raw = fd.as_raw_fd();
        let socket = Socket::from(fd);
        let is_stream_listener =
            matches!(socket.is_listener(), Ok(true)) && matches!(socket.r#type(), Ok(Type::STREAM));
        if !is_stream_listener {
            let msg = format!("inherited fd {raw} is not a listening stream socket");
            return Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        }
        socket.set_cloexec(true)?;
        Ok(Listener { socket })
    }

    /// Waits for a connection. TCP connections get `TCP_NODELAY`: sfpm writes each response
    /// in as few writes as it can, so Nagle's algorithm would only delay the last segment.
    ///
    /// Connections the peer abandoned before they were accepted are skipped. Other errors are
    /// returned as they are, `Interrupted` included, so a worker can check its shutdown flag
    /// when a signal arrives.
    pub fn accept(&self) -> io::Result<(Stream, Peer)> {
        loop {
            let (socket, addr) = match self.socket.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) => return Err(e),
            };
            let peer = match addr.as_socket() {
                Some(addr) => {
                    socket.set_tcp_nodelay(true)?;
                    Peer::Tcp(addr)
                }
                None => Peer::Unix,
            };
            return Ok((Stream { socket }, peer));
        }
    }

    /// The address the socket is bound to, with the real port when bound to port 0.
    pub fn local_addr(&self) -> io::Result<ListenAddr> {
        let addr = self.socket.local_addr()?;
        if let Some(addr) = addr.as_socket() {
            return Ok(ListenAddr::Tcp(addr));
        }
        match addr.as_pathname() {
            Some(path) => Ok(ListenAddr::Unix(path.to_path_buf())),
            None => Err(io::Error::new(io::ErrorKind::Unsupported, "socket has no TCP address or path")),
        }
    }

    /// Removes the socket's file, for the master's final exit; does nothing for TCP or when
    /// the file is already gone.
    pub fn remove_socket_file(&self) -> io::Result<()> {
        let addr = self.socket.local_addr()?;
        let Some(path) = addr.as_pathname() else { return Ok(()) };
        match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(context("unlink()", path.display())(e)),
            _ => Ok(()),
        }
    }

    /// Lets the socket survive `exec` (true) or not (false, the state it is created in).
    /// The master sets it just before re-executing itself with `FPM_SOCKETS`.
    pub fn set_inheritable(&self, inheritable: bool) -> io::Result<()> {
        self.socket.set_cloexec(!inheritable)
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

impl IntoRawFd for Listener {
    fn into_raw_fd(self) -> RawFd {
        self.socket.into_raw_fd()
    }
}

impl From<Listener> for OwnedFd {
    fn from(listener: Listener) -> OwnedFd {
        listener.socket.into()
    }
}

/// A TCP socket of `domain`, for the address named in errors.
fn tcp_socket(domain: Domain, addr: &SocketAddr) -> io::Result<Socket> {
    Socket::new(domain, Type::STREAM, Some(Protocol::TCP)).map_err(context("socket()", addr))
}

/// Binds `socket` to `addr` and listens.
fn listen_tcp(socket: Socket, addr: SocketAddr, backlog: i32) -> io::Result<Socket> {
    socket.set_reuse_address(true).map_err(context("setsockopt(SO_REUSEADDR)", addr))?;
    socket.bind(&addr.into()).map_err(context("bind()", addr))?;
    socket.listen(backlog).map_err(context("listen()", addr))?;
    Ok(socket)
}

/// A bare port: `[::]` serving IPv4 too, else `0.0.0.0`.
///
/// php-fpm falls back to `0.0.0.0` after any failure on `::`; here only a kernel without
/// IPv6 (`EAFNOSUPPORT`) does, so that a real error such as "address in use" is reported
/// as itself instead of being retried on IPv4.
fn listen_all_addresses(port: u16, backlog: i32) -> io::Result<Socket> {
    let any6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
    match Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP)) {
        Ok(socket) => {
            // Explicitly, not the kernel default (`net.ipv6.bindv6only`), which may be 1.
            socket.set_only_v6(false).map_err(context("setsockopt(IPV6_V6ONLY)", any6))?;
            listen_tcp(socket, any6, backlog)
        }
        Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
            let any4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
            listen_tcp(tcp_socket(Domain::IPV4, &any4)?, any4, backlog)
        }
        Err(e) => Err(context("socket()", any6)(e)),
    }
}

/// A Unix socket at `path` with the mode and owner of `opts`.
///
/// The mode is set with chmod after bind, before listen, rather than with php-fpm's `umask`
/// around bind: the umask belongs to the whole process, so changing it races with every
/// other thread creating files (a host program embedding libsfpm, parallel tests). chmod is
/// race-free here because a Unix socket accepts nothing before listen() and connect()
/// checks the file's permissions when it is called: the file's mode between bind and chmod
/// lets nobody in. It also gives the mode exactly, whatever the process umask.
fn listen_unix(path: &Path, opts: &ListenOptions) -> io::Result<Socket> {
    let shown = path.display();
    let addr = SockAddr::unix(path).map_err(context("bind()", &shown))?;
    remove_stale_socket(path, &addr)?;
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(context("socket()", &shown))?;
    socket.bind(&addr).map_err(context("bind()", &shown))?;
    let finish = || -> io::Result<()> {
        if opts.owner.is_some() || opts.group.is_some() {
            std::os::unix::fs::chown(path, opts.owner, opts.group).map_err(context("chown()", &shown))?;
        }
        let mode = Permissions::from_mode(opts.mode & 0o777);
        fs::set_permissions(path, mode).map_err(context("chmod()", &shown))?;
        socket.listen(opts.backlog).map_err(context("listen()", &shown))
    };
    if let Err(e) = finish() {
        // The file is ours since bind: leave no half-made socket behind.
        let _ = fs::remove_file(path);
        return Err(e);
    }
    Ok(socket)
}

/// Clears the way for binding `path`, as php-fpm does at start: refuse when a server accepts
/// on it ("Another FPM instance seems to already listen on …"), else remove the leftover
/// socket of a previous run.
///
/// Unlike php-fpm, which unlinks whatever is there, anything but a socket is left alone and
/// reported: a mistyped `listen` must not delete a file, and the master usually runs as root.
fn remove_stale_socket(path: &Path, addr: &SockAddr) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(context("stat()", path.display())(e)),
    };
    if !meta.file_type().is_socket() {
        let msg = format!("'{}' exists and is not a socket", path.display());
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, msg));
    }
    if is_accepting(addr).map_err(context("socket()", path.display()))? {
        let msg = format!("another server already listens on '{}'", path.display());
        return Err(io::Error::new(io::ErrorKind::AddrInUse, msg));
    }
    fs::remove_file(path).map_err(context("unlink()", path.display()))
}

/// Whether a server listens on the Unix socket `addr`: whether connect() succeeds.
///
/// The probe does not block, because a blocking connect() waits while the server's backlog
/// is full; a full backlog (`EAGAIN`) means someone listens. Any other failure, refused
/// included, means nobody does, as in php-fpm.
fn is_accepting(addr: &SockAddr) -> io::Result<bool> {
    let probe = Socket::new(Domain::UNIX, Type::STREAM, None)?;
    probe.set_nonblocking(true)?;
    Ok(match probe.connect(addr) {
        Ok(()) => true,
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    })
}

/// Names the failed call and its object in an error, as php-fpm's log lines do
/// (`bind() for '127.0.0.1:9000' failed: Address already in use`); the kind is kept.
fn context(call: &'static str, object: impl fmt::Display) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{call} for '{object}' failed: {e}"))
}

/// Who connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// A TCP peer, as the kernel reports it: on a socket listening on every address, IPv4
    /// peers appear IPv4-mapped (`::ffff:1.2.3.4`).
    Tcp(SocketAddr),
    /// A peer on a Unix socket; the file's permissions already decided who may connect.
    Unix,
}

/// The peer as php-fpm's log lines and `REMOTE_ADDR`-like fields show it: the IP
/// address (IPv4-mapped addresses shown as IPv4), or `unix`.
impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(addr) => match addr.ip() {
                std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                    Some(v4) => v4.fmt(f),
                    None => v6.fmt(f),
                },
                ip => ip.fmt(f),
            },
            Peer::Unix => f.write_str("unix"),
        }
    }
}

/// One accepted connection: a blocking socket, close-on-exec.
#[derive(Debug)]
pub struct Stream {
    socket: Socket,
}

impl Stream {
    /// Makes a read fail with `WouldBlock` after `timeout` without data; `None` waits forever.
    /// A zero timeout is refused (`InvalidInput`): the kernel would take it for "forever".
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_read_timeout(kernel_timeout(timeout)?)
    }

    /// Makes a write fail with `WouldBlock` after `timeout` without progress; `None` waits
    /// forever. A zero timeout is refused (`InvalidInput`), as for reads.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_write_timeout(kernel_timeout(timeout)?)
    }

    /// Shuts down one or both directions, e.g. the write side after the last response while
    /// the peer's remaining input is drained (php-fpm's `fcgi_close`).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.socket.shutdown(how)
    }
}

/// A socket timeout the kernel reads as the caller meant: the kernel takes zero for "no
/// timeout" and counts in microseconds, so zero is refused (as std's sockets do) and a
/// sub-microsecond timeout is rounded up to one microsecond instead of down to zero.
fn kernel_timeout(timeout: Option<Duration>) -> io::Result<Option<Duration>> {
    match timeout {
        Some(t) if t.is_zero() => {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "a zero socket timeout is not allowed"))
        }
        Some(t) => Ok(Some(t.max(Duration::from_micros(1)))),
        None => Ok(None),
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.socket.read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.socket.read_vectored(bufs)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.socket.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.socket.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.socket.flush()
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.as_raw_fd()
    }
}

impl From<Stream> for OwnedFd {
    /// For handing a kept connection to the master (fd passing).
    fn from(stream: Stream) -> OwnedFd {
        stream.socket.into()
    }
}

impl From<OwnedFd> for Stream {
    /// For a connection handed over by the master (fd passing); receive it with
    /// `MSG_CMSG_CLOEXEC` so that it stays close-on-exec.
    fn from(fd: OwnedFd) -> Stream {
        Stream { socket: fd.into() }
    }
}

/// `listen.allowed_clients`: the IP addresses a TCP listener serves. Empty (the directive
/// unset or blank) allows everyone.
///
/// Addresses are compared whole. php-fpm's `fcgi_is_allowed` (php-src `main/fastcgi.c`)
/// compares only the first 12 of the 16 bytes of an IPv6 address, so there `::1` admits
/// every `::x`, and any `::ffff:a.b.c.d` entry admits every IPv4 client of a dual-stack
/// socket; an allow-list must not admit addresses nobody listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedClients {
    /// Canonical addresses (see [`canonical`]); empty allows everyone.
    addrs: Vec<IpAddr>,
}

impl AllowedClients {
    /// Parses a comma-separated list of exact IPv4 and IPv6 addresses (no CIDR, no host
    /// names), spaces around entries allowed. A blank list allows everyone. An entry that is
    /// not an address, an empty one included, is an error naming it (php-fpm logs and skips
    /// it, which silently narrows or empties the list).
    pub fn parse(list: &str) -> Result<AllowedClients, String> {
        if list.trim().is_empty() {
            return Ok(AllowedClients::default());
        }
        let addrs = list
            .split(',')
            .map(|entry| {
                let entry = entry.trim();
                entry.parse().map(canonical).map_err(|_| format!("invalid IP address '{entry}'"))
            })
            .collect::<Result<_, _>>()?;
        Ok(AllowedClients { addrs })
    }

    /// Whether `peer` may be served. Unix peers always may (the socket file's permissions
    /// decide, as in php-fpm); an IPv4 entry also matches the IPv4-mapped form of its address
    /// (a dual-stack socket's IPv4 peers), and an IPv4-mapped entry its IPv4 address.
    pub fn allows(&self, peer: &Peer) -> bool {
        match peer {
            Peer::Unix => true,
            Peer::Tcp(addr) => self.addrs.is_empty() || self.addrs.contains(&canonical(addr.ip())),
        }
    }
}

/// One spelling per host: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) becomes IPv4.
/// Only the mapped form: the deprecated IPv4-compatible form (`::a.b.c.d`, what
/// `Ipv6Addr::to_ipv4` also converts) would turn `::1` into `0.0.0.1`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn tcp(s: &str) -> ListenAddr {
        ListenAddr::Tcp(s.parse().unwrap())
    }

    fn unix(s: &str) -> ListenAddr {
        ListenAddr::Unix(PathBuf::from(s))
    }

    /// `parse_listen` cases: spec → expected value or error.
    macro_rules! listen_cases {
        ($($spec:expr => $expected:expr,)*) => {
            $(
                let expected: Result<ListenAddr, &str> = $expected;
                assert_eq!(parse_listen($spec), expected.map_err(String::from), "spec {:?}", $spec);
            )*
        };
    }

    #[test]
    fn parse_listen_forms() {
        listen_cases! {
            "127.0.0.1:9000" => Ok(tcp("127.0.0.1:9000")),
            "0.0.0.0:1" => Ok(tcp("0.0.0.0:1")),
            "[::1]:9000" => Ok(tcp("[::1]:9000")),
            "[::]:65535" => Ok(tcp("[::]:65535")),
            "[2001:db8::5]:80" => Ok(tcp("[2001:db8::5]:80")),
            "::1:9000" => Ok(tcp("[::1]:9000")),
            "9000" => Ok(ListenAddr::AllAddresses(9000)),
            "09000" => Ok(ListenAddr::AllAddresses(9000)),
            "/run/php/php-fpm.sock" => Ok(unix("/run/php/php-fpm.sock")),
            "/run/php:odd.sock" => Ok(unix("/run/php:odd.sock")),
            "run/www.sock" => Ok(unix("run/www.sock")),
            "www.sock" => Ok(unix("www.sock")),
        }
    }

    #[test]
    fn parse_listen_errors() {
        listen_cases! {
            "" => Err("empty address"),
            "0" => Err("invalid port '0'"),
            "65536" => Err("invalid port '65536'"),
            "99999999999999999999" => Err("invalid port '99999999999999999999'"),
            "127.0.0.1:" => Err("invalid port ''"),
            "127.0.0.1:0" => Err("invalid port '0'"),
            "127.0.0.1:+80" => Err("invalid port '+80'"),
            "127.0.0.1:80x" => Err("invalid port '80x'"),
            "127.0.0.1:65536" => Err("invalid port '65536'"),
            ":9000" => Err("missing host before ':'"),
            "[::1]" => Err("expected [ipv6]:port"),
            "[::1]9000" => Err("expected [ipv6]:port"),
            "[::1]:" => Err("invalid port ''"),
            "[127.0.0.1]:9000" => Err("invalid IPv6 address '127.0.0.1'"),
            "[fe80::1%eth0]:9000" => Err("invalid IPv6 address 'fe80::1%eth0'"),
        }
    }

    #[test]
    fn parse_listen_resolves_host_names_once() {
        // `localhost` is in /etc/hosts, so this needs no network; which of its addresses
        // comes first depends on the resolver's configuration.
        match parse_listen("localhost:9000") {
            Ok(ListenAddr::Tcp(addr)) => {
                assert!(addr.ip().is_loopback(), "{addr}");
                assert_eq!(addr.port(), 9000);
            }
            other => panic!("localhost:9000 gave {other:?}"),
        }
        // An empty label: the resolver rejects it without asking a name server.
        let err = parse_listen("bad..host:9000").unwrap_err();
        assert!(err.starts_with("cannot resolve host 'bad..host': "), "{err}");
    }

    #[test]
    fn display_is_the_config_form_and_parses_back() {
        for spec in ["127.0.0.1:9000", "[::1]:9000", "[2001:db8::5]:80", "9000", "/run/x.sock", "x.sock"] {
            let addr = parse_listen(spec).unwrap();
            assert_eq!(addr.to_string(), spec);
            assert_eq!(parse_listen(&addr.to_string()), Ok(addr));
        }
        assert_eq!(parse_listen("::1:9000").unwrap().to_string(), "[::1]:9000");
    }

    fn peer(s: &str) -> Peer {
        Peer::Tcp(s.parse().unwrap())
    }

    #[test]
    fn allowed_clients_empty_allows_everyone() {
        for list in ["", "  "] {
            let allowed = AllowedClients::parse(list).unwrap();
            assert!(allowed.allows(&peer("203.0.113.9:1234")));
            assert!(allowed.allows(&peer("[2001:db8::9]:1234")));
            assert!(allowed.allows(&Peer::Unix));
        }
        assert_eq!(AllowedClients::default(), AllowedClients::parse("").unwrap());
    }

    #[test]
    fn allowed_clients_v4() {
        let allowed = AllowedClients::parse("127.0.0.1, 192.0.2.10").unwrap();
        assert!(allowed.allows(&peer("127.0.0.1:5000")));
        assert!(allowed.allows(&peer("192.0.2.10:5000")));
        assert!(!allowed.allows(&peer("192.0.2.11:5000")));
        assert!(!allowed.allows(&peer("[::1]:5000")));
        // IPv4 clients of a socket listening on every address arrive IPv4-mapped.
        assert!(allowed.allows(&peer("[::ffff:192.0.2.10]:5000")));
        assert!(!allowed.allows(&peer("[::ffff:192.0.2.11]:5000")));
        // Only the mapped form: `::192.0.2.10` is another (IPv4-compatible) address.
        assert!(!allowed.allows(&peer("[::c000:20a]:5000")));
        assert!(allowed.allows(&Peer::Unix));
    }

    #[test]
    fn allowed_clients_v6_compares_all_16_bytes() {
        let allowed = AllowedClients::parse("::1,2001:db8::1").unwrap();
        assert!(allowed.allows(&peer("[::1]:5000")));
        assert!(allowed.allows(&peer("[2001:db8::1]:5000")));
        // php-fpm, comparing 12 bytes, would admit these two.
        assert!(!allowed.allows(&peer("[::2]:5000")));
        assert!(!allowed.allows(&peer("[2001:db8::2]:5000")));
        assert!(!allowed.allows(&peer("127.0.0.1:5000")));
        assert!(!allowed.allows(&peer("0.0.0.1:5000")));
    }

    #[test]
    fn allowed_clients_mapped_entry_is_its_ipv4_address() {
        let allowed = AllowedClients::parse("::ffff:192.0.2.10").unwrap();
        assert!(allowed.allows(&peer("[::ffff:192.0.2.10]:5000")));
        assert!(allowed.allows(&peer("192.0.2.10:5000")));
        // php-fpm, comparing 12 bytes, would admit every mapped IPv4 peer.
        assert!(!allowed.allows(&peer("[::ffff:192.0.2.11]:5000")));
    }

    #[test]
    fn allowed_clients_errors_name_the_entry() {
        for (list, reason) in [
            ("127.0.0.1,bogus", "invalid IP address 'bogus'"),
            ("10.0.0.0/8", "invalid IP address '10.0.0.0/8'"),
            ("localhost", "invalid IP address 'localhost'"),
            ("127.0.0.1,", "invalid IP address ''"),
            ("127.0.0.1,,::1", "invalid IP address ''"),
            ("[::1]", "invalid IP address '[::1]'"),
        ] {
            assert_eq!(AllowedClients::parse(list), Err(reason.to_string()), "list {list:?}");
        }
    }

    /// A directory of its own under the temp dir, removed when dropped (also when a test fails).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("sfpm-listen-{}-{n}-{name}", std::process::id()));
            fs::create_dir(&path).unwrap();
            TempDir(path)
        }

        fn join(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Whether `fd` is close-on-exec, from /proc (the flags line is octal).
    fn is_cloexec(fd: &impl AsRawFd) -> bool {
        let info = fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
        let flags = info.lines().find_map(|l| l.strip_prefix("flags:")).unwrap().trim();
        u32::from_str_radix(flags, 8).unwrap() & libc::O_CLOEXEC as u32 != 0
    }

    fn bind_default(addr: &ListenAddr) -> io::Result<Listener> {
        Listener::bind(addr, &ListenOptions::default())
    }

    fn tcp_addr(listener: &Listener) -> SocketAddr {
        match listener.local_addr().unwrap() {
            ListenAddr::Tcp(addr) => addr,
            other => panic!("not TCP: {other:?}"),
        }
    }

    /// Connects to `listener`, accepts, and sends bytes both ways; returns the peer address.
    fn tcp_round_trip(listener: &Listener, connect_to: SocketAddr) -> SocketAddr {
        let mut client = TcpStream::connect(connect_to).unwrap();
        let (mut stream, peer) = listener.accept().unwrap();
        assert!(is_cloexec(&stream));
        assert!(stream.socket.tcp_nodelay().unwrap());
        let Peer::Tcp(peer) = peer else { panic!("{peer:?} is not TCP") };
        let client_addr = client.local_addr().unwrap();
        assert_eq!((canonical(peer.ip()), peer.port()), (client_addr.ip(), client_addr.port()));
        client.write_all(b"ping").unwrap();
        let mut buf = [0; 4];
        stream.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        stream.write_all(b"pong").unwrap();
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
        peer
    }

    #[test]
    fn tcp_ipv4_accepts_and_reports_the_peer() {
        let listener = bind_default(&tcp("127.0.0.1:0")).unwrap();
        assert!(is_cloexec(&listener));
        let addr = tcp_addr(&listener);
        assert_ne!(addr.port(), 0);
        assert!(addr.is_ipv4());
        tcp_round_trip(&listener, addr);
        assert!(listener.remove_socket_file().is_ok());
    }

    #[test]
    fn tcp_ipv6_accepts_and_reports_the_peer() {
        let listener = match bind_default(&tcp("[::1]:0")) {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("skipped: no IPv6 loopback here ({e})");
                return;
            }
        };
        let addr = tcp_addr(&listener);
        assert_eq!(addr.ip(), Ipv6Addr::LOCALHOST);
        tcp_round_trip(&listener, addr);
    }

    #[test]
    fn all_addresses_serve_ipv4_too() {
        let listener = bind_default(&ListenAddr::AllAddresses(0)).unwrap();
        let bound = tcp_addr(&listener);
        assert!(bound.ip().is_unspecified(), "{bound}");
        let v4_peer = tcp_round_trip(&listener, SocketAddr::from(([127, 0, 0, 1], bound.port())));
        assert_eq!(canonical(v4_peer.ip()), IpAddr::from([127, 0, 0, 1]));
        if bound.is_ipv6() {
            // `[::]` with IPV6_V6ONLY off: IPv4 clients arrive IPv4-mapped.
            assert!(v4_peer.is_ipv6(), "{v4_peer}");
        }
    }

    #[test]
    fn tcp_bind_error_names_the_call_and_address() {
        let first = bind_default(&tcp("127.0.0.1:0")).unwrap();
        let addr = tcp_addr(&first);
        let err = bind_default(&ListenAddr::Tcp(addr)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(err.to_string().starts_with(&format!("bind() for '{addr}' failed")), "{err}");
    }

    #[test]
    fn unix_socket_default_mode_is_0660_and_data_flows() {
        let dir = TempDir::new("default");
        let path = dir.join("www.sock");
        let listener = bind_default(&ListenAddr::Unix(path.clone())).unwrap();
        assert!(is_cloexec(&listener));
        assert_eq!(listener.local_addr().unwrap(), ListenAddr::Unix(path.clone()));
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.mode() & 0o7777, 0o660);

        let mut client = UnixStream::connect(&path).unwrap();
        let (mut stream, peer) = listener.accept().unwrap();
        assert_eq!(peer, Peer::Unix);
        assert!(is_cloexec(&stream));
        client.write_all(b"ping").unwrap();
        let mut buf = [0; 4];
        stream.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        stream.write_all(b"pong").unwrap();
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");

        listener.remove_socket_file().unwrap();
        assert!(!path.exists());
        listener.remove_socket_file().unwrap();
    }

    #[test]
    fn unix_socket_mode_is_exact() {
        let dir = TempDir::new("mode");
        for mode in [0o600, 0o666, 0o1660] {
            let path = dir.join(&format!("{mode:o}.sock"));
            let opts = ListenOptions { mode, ..ListenOptions::default() };
            let listener = Listener::bind(&ListenAddr::Unix(path.clone()), &opts).unwrap();
            assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, mode & 0o777);
            listener.remove_socket_file().unwrap();
        }
    }

    #[test]
    fn unix_socket_owner_and_group() {
        let dir = TempDir::new("owner");
        // chown to another user needs root; the test's own files tell whether we are.
        if fs::metadata(&dir.0).unwrap().uid() != 0 {
            eprintln!("skipped: not root");
            return;
        }
        let path = dir.join("owned.sock");
        let opts = ListenOptions { owner: Some(65534), group: Some(65533), ..ListenOptions::default() };
        let _listener = Listener::bind(&ListenAddr::Unix(path.clone()), &opts).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (65534, 65533));
        assert_eq!(meta.mode() & 0o7777, 0o660);
    }

    #[test]
    fn unix_stale_socket_file_is_replaced() {
        let dir = TempDir::new("stale");
        let path = ListenAddr::Unix(dir.join("stale.sock"));
        // Dropping a listener leaves its file behind, as a crashed server would.
        drop(bind_default(&path).unwrap());
        assert!(dir.join("stale.sock").exists());
        let listener = bind_default(&path).unwrap();
        let _client = UnixStream::connect(dir.join("stale.sock")).unwrap();
        assert_eq!(listener.accept().unwrap().1, Peer::Unix);
    }

    #[test]
    fn unix_refuses_a_path_a_server_listens_on() {
        let dir = TempDir::new("busy");
        let path = dir.join("busy.sock");
        let first = bind_default(&ListenAddr::Unix(path.clone())).unwrap();
        let err = bind_default(&ListenAddr::Unix(path.clone())).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(err.to_string(), format!("another server already listens on '{}'", path.display()));
        // The first server keeps its socket; the probe is in its queue.
        assert_eq!(first.accept().unwrap().1, Peer::Unix);
        let _client = UnixStream::connect(&path).unwrap();
        assert_eq!(first.accept().unwrap().1, Peer::Unix);
    }

    #[test]
    fn unix_leaves_a_file_that_is_not_a_socket() {
        let dir = TempDir::new("file");
        let path = dir.join("precious");
        fs::write(&path, "data").unwrap();
        let err = bind_default(&ListenAddr::Unix(path.clone())).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&path).unwrap(), "data");
    }

    #[test]
    fn unix_path_too_long_is_an_error() {
        let path = PathBuf::from(format!("/tmp/{}.sock", "x".repeat(200)));
        let err = bind_default(&ListenAddr::Unix(path)).unwrap_err();
        assert!(err.to_string().starts_with("bind() for '/tmp/xxx"), "{err}");
    }

    #[test]
    fn inherited_socket_is_adopted_and_made_close_on_exec() {
        let listener = bind_default(&tcp("127.0.0.1:0")).unwrap();
        let addr = tcp_addr(&listener);
        listener.set_inheritable(true).unwrap();
        assert!(!is_cloexec(&listener));
        let adopted = Listener::from_fd(OwnedFd::from(listener)).unwrap();
        assert!(is_cloexec(&adopted));
        assert_eq!(tcp_addr(&adopted), addr);
        tcp_round_trip(&adopted, addr);
    }

    #[test]
    fn inherited_fd_must_be_a_listening_socket() {
        let dir = TempDir::new("notsock");
        let file = fs::File::create(dir.join("f")).unwrap();
        let err = Listener::from_fd(file.into()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

        let listener = bind_default(&tcp("127.0.0.1:0")).unwrap();
        let client = TcpStream::connect(tcp_addr(&listener)).unwrap();
        assert!(Listener::from_fd(client.into()).is_err());
    }

    #[test]
    fn stream_timeouts() {
        let listener = bind_default(&tcp("127.0.0.1:0")).unwrap();
        let _client = TcpStream::connect(tcp_addr(&listener)).unwrap();
        let (mut stream, _) = listener.accept().unwrap();
        for set in [Stream::set_read_timeout, Stream::set_write_timeout] {
            assert_eq!(set(&stream, Some(Duration::ZERO)).unwrap_err().kind(), io::ErrorKind::InvalidInput);
            set(&stream, None).unwrap();
        }
        // Rounded up, not down to the kernel's "forever" (the kernel rounds it to a tick).
        stream.set_read_timeout(Some(Duration::from_nanos(1))).unwrap();
        assert!(stream.socket.read_timeout().unwrap().is_some());
        // Nothing was sent: the read times out instead of blocking forever.
        let err = stream.read(&mut [0; 1]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }
}
