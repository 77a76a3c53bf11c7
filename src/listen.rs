//! TEMPORARY stub: replaced by the real module.
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr { Tcp(SocketAddr), AllAddresses(u16), Unix(PathBuf) }
pub fn parse_listen(spec: &str) -> Result<ListenAddr, String> {
    if spec.contains('/') { return Ok(ListenAddr::Unix(spec.into())); }
    spec.parse().map(ListenAddr::Tcp).map_err(|_| "bad".to_string())
}
#[derive(Debug, Clone)]
pub struct ListenOptions { pub backlog: i32, pub owner: Option<u32>, pub group: Option<u32>, pub mode: u32 }
impl Default for ListenOptions { fn default() -> Self { ListenOptions { backlog: -1, owner: None, group: None, mode: 0o660 } } }
#[derive(Debug)]
pub enum Listener { Tcp(std::net::TcpListener), Unix(std::os::unix::net::UnixListener, PathBuf) }
#[derive(Debug, Clone)]
pub enum Peer { Tcp(SocketAddr), Unix }
#[derive(Debug)]
pub enum Stream { Tcp(std::net::TcpStream), Unix(std::os::unix::net::UnixStream) }
impl Listener {
    pub fn bind(addr: &ListenAddr, _o: &ListenOptions) -> io::Result<Listener> {
        match addr {
            ListenAddr::Tcp(a) => Ok(Listener::Tcp(std::net::TcpListener::bind(a)?)),
            ListenAddr::AllAddresses(p) => Ok(Listener::Tcp(std::net::TcpListener::bind(("0.0.0.0", *p))?)),
            ListenAddr::Unix(p) => { let _ = std::fs::remove_file(p); Ok(Listener::Unix(std::os::unix::net::UnixListener::bind(p)?, p.clone())) }
        }
    }
    pub fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            Listener::Tcp(l) => { let (s, a) = l.accept()?; s.set_nodelay(true)?; Ok((Stream::Tcp(s), Peer::Tcp(a))) }
            Listener::Unix(l, _) => { let (s, _) = l.accept()?; Ok((Stream::Unix(s), Peer::Unix)) }
        }
    }
    pub fn remove_socket_file(&self) { if let Listener::Unix(_, p) = self { let _ = std::fs::remove_file(p); } }
}
impl Stream {
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> { match self { Stream::Tcp(s) => s.set_read_timeout(d), Stream::Unix(s) => s.set_read_timeout(d) } }
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> { match self { Stream::Tcp(s) => s.set_write_timeout(d), Stream::Unix(s) => s.set_write_timeout(d) } }
}
impl Read for Stream { fn read(&mut self, b: &mut [u8]) -> io::Result<usize> { match self { Stream::Tcp(s) => s.read(b), Stream::Unix(s) => s.read(b) } } }
impl Write for Stream {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> { match self { Stream::Tcp(s) => s.write(b), Stream::Unix(s) => s.write(b) } }
    fn write_vectored(&mut self, b: &[io::IoSlice<'_>]) -> io::Result<usize> { match self { Stream::Tcp(s) => s.write_vectored(b), Stream::Unix(s) => s.write_vectored(b) } }
    fn flush(&mut self) -> io::Result<()> { Ok(()) }
}
impl AsRawFd for Stream { fn as_raw_fd(&self) -> RawFd { match self { Stream::Tcp(s) => s.as_raw_fd(), Stream::Unix(s) => s.as_raw_fd() } } }
#[derive(Debug, Default)]
pub struct AllowedClients;
impl AllowedClients {
    pub fn parse(_s: &str) -> Result<AllowedClients, String> { Ok(AllowedClients) }
    pub fn allows(&self, _p: &Peer) -> bool { true }
}

impl AsRawFd for Listener { fn as_raw_fd(&self) -> RawFd { match self { Listener::Tcp(l) => l.as_raw_fd(), Listener::Unix(l, _) => l.as_raw_fd() } } }
impl std::fmt::Display for Peer { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { match self { Peer::Tcp(a) => write!(f, "{}", a.ip()), Peer::Unix => f.write_str("unix") } } }
