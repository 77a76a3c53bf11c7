//! A pre-forked FastCGI + SCGI echo server on sfpm's Rust API: answers every request
//! with its role, protocol, parameters, body and (FILTER) data; a parameter
//! `ECHO_SLEEP_MS=n` makes it wait n ms first. examples/c/echo.c and
//! examples/python/echo.py answer byte for byte the same.
//!
//! `cargo run --example echo -- [LISTEN] [WORKERS] [KEY=VALUE ...]`, e.g.
//! `echo 127.0.0.1:9000 2 listen.allowed_clients=127.0.0.1` (any php-fpm pool directive).

use sfpm::config::PoolConfig;
use sfpm::request::{Protocol, Request};
use sfpm::worker::Handler;
use std::io::Write;

struct Echo;

impl Handler for Echo {
    fn handle(&mut self, request: &mut Request<'_>) -> u32 {
        if let Some(ms) =
            request.param(b"ECHO_SLEEP_MS").and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
        {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        let mut body = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = request.read_stdin(&mut buf) {
            if n == 0 {
                break;
            }
            body.extend_from_slice(&buf[..n]);
        }
        let mut out = Vec::new();
        let _ = write!(
            out,
            "Status: 200 OK\r\nContent-Type: text/plain\r\nX-Worker-Pid: {}\r\n\r\n",
            std::process::id()
        );
        let protocol = if request.protocol() == Protocol::FastCgi { "fastcgi" } else { "scgi" };
        let _ = writeln!(
            out,
            "role={}\nprotocol={protocol}\npool={}\npeer={}",
            request.role().name(),
            request.pool(),
            request.peer()
        );
        for (name, value) in request.params().iter() {
            out.extend_from_slice(name);
            out.push(b'=');
            out.extend_from_slice(value);
            out.push(b'\n');
        }
        let _ = write!(out, "stdin={}:", body.len());
        out.extend_from_slice(&body);
        out.push(b'\n');
        if request.role() == sfpm::fastcgi::Role::Filter {
            let mut data = Vec::new();
            while let Ok(n @ 1..) = request.read_data(&mut buf) {
                data.extend_from_slice(&buf[..n]);
            }
            let _ = write!(out, "data={}:", data.len());
            out.extend_from_slice(&data);
            out.push(b'\n');
        }
        let _ = request.write_stdout(&out);
        0
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut config = PoolConfig::default();
    let listen = args.get(1).map_or("127.0.0.1:9000", String::as_str);
    let workers = args.get(2).map_or("2", String::as_str);
    config.set("listen", listen).expect("listen address");
    config.set("pm.max_children", workers).expect("worker count");
    for setting in args.iter().skip(3) {
        let Some((key, value)) = setting.split_once('=') else { continue };
        if let Err(e) = config.set(key, value) {
            eprintln!("echo: {key}: {e}");
            std::process::exit(2);
        }
    }
    if let Err(e) = sfpm::master::run(config, &mut Echo) {
        eprintln!("echo: {e}");
        std::process::exit(1);
    }
}
