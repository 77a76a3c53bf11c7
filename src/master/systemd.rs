//! systemd's readiness protocol (`sd_notify`), as Debian's php-fpm speaks it to its
//! `Type=notify` unit: `READY=1` once the workers run, a `STATUS=` line every
//! `systemd_interval`, `STOPPING=1` on the way out. Datagrams to `$NOTIFY_SOCKET`; a
//! no-op when systemd did not set it.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// The connection to systemd's notification socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    address: std::os::unix::net::SocketAddr,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace); `None`
    /// when unset or unusable (logged).
    pub fn from_env() -> Option<Notifier> {
        let target = std::env::var_os("NOTIFY_SOCKET")?;
        let target = target.to_string_lossy().into_owned();
        let address = match target.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            }
            None => std::os::unix::net::SocketAddr::from_pathname(&target),
        };
        let opened = address.and_then(|address| Ok(Notifier { socket: UnixDatagram::unbound()?, address }));
        opened.inspect_err(|e| crate::log!(Warning, "NOTIFY_SOCKET '{target}' is unusable: {e}")).ok()
    }

    /// Sends one notification (`KEY=value` lines).
    pub fn send(&self, message: &str) {
        if let Err(e) = self.socket.send_to_addr(message.as_bytes(), &self.address) {
            crate::log!(Warning, "failed to notify systemd: {e}");
        }
    }
}

/// php-fpm's periodic `STATUS=` text.
pub fn status_line(active: usize, idle: usize, requests: u64, per_second: f64) -> String {
    format!(
        "STATUS=Processes active: {active}, idle: {idle}, Requests: {requests}, slow: 0, Traffic: {per_second:.3}req/sec"
    )
}

/// Requests per second between two samples of the accepted-requests counter.
pub fn rate(before: u64, after: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { after.saturating_sub(before) as f64 / secs } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_text_as_php_fpm() {
        assert_eq!(
            status_line(1, 2, 30, rate(10, 30, Duration::from_secs(10))),
            "STATUS=Processes active: 1, idle: 2, Requests: 30, slow: 0, Traffic: 2.000req/sec"
        );
        assert_eq!(rate(5, 5, Duration::ZERO), 0.0);
    }
}
