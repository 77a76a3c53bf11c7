//! Micro-benchmarks of the protocol parsers on what real front ends send: a typical
//! nginx FastCGI request (BEGIN_REQUEST, ~30 params in one padded record, empty STDIN)
//! and the same variables as an SCGI header. `make bench` runs them; README records
//! the figures.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use sfpm::client::{FcgiRequest, Pair};
use sfpm::fastcgi::{Connection, Event, Limits, ManagementValues};

/// The variables nginx 1.22's stock `fastcgi_params` plus `SCRIPT_FILENAME` produce for
/// `GET /index.php?page=2` with typical browser headers.
const NGINX_PARAMS: &[Pair<'static>] = &[
    (b"QUERY_STRING", b"page=2"),
    (b"REQUEST_METHOD", b"GET"),
    (b"CONTENT_TYPE", b""),
    (b"CONTENT_LENGTH", b""),
    (b"SCRIPT_NAME", b"/index.php"),
    (b"REQUEST_URI", b"/index.php?page=2"),
    (b"DOCUMENT_URI", b"/index.php"),
    (b"DOCUMENT_ROOT", b"/srv/www/app/public"),
    (b"SERVER_PROTOCOL", b"HTTP/1.1"),
    (b"REQUEST_SCHEME", b"http"),
    (b"GATEWAY_INTERFACE", b"CGI/1.1"),
    (b"SERVER_SOFTWARE", b"nginx/1.22.1"),
    (b"REMOTE_ADDR", b"127.0.0.1"),
    (b"REMOTE_PORT", b"51234"),
    (b"REMOTE_USER", b""),
    (b"SERVER_ADDR", b"127.0.0.1"),
    (b"SERVER_PORT", b"8080"),
    (b"SERVER_NAME", b"localhost"),
    (b"REDIRECT_STATUS", b"200"),
    (b"SCRIPT_FILENAME", b"/srv/www/app/public/index.php"),
    (b"PATH_INFO", b""),
    (b"HTTP_HOST", b"localhost:8080"),
    (b"HTTP_USER_AGENT", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    (b"HTTP_ACCEPT", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    (b"HTTP_ACCEPT_LANGUAGE", b"en-US,en;q=0.5"),
    (b"HTTP_ACCEPT_ENCODING", b"gzip, deflate, br"),
    (b"HTTP_CONNECTION", b"keep-alive"),
    (b"HTTP_COOKIE", b"PHPSESSID=9f2c4e1b7a6d8e3f0a1b2c3d4e5f6a7b; theme=dark"),
    (b"HTTP_UPGRADE_INSECURE_REQUESTS", b"1"),
    (b"HTTP_SEC_FETCH_DEST", b"document"),
];

fn fastcgi_nginx_request(c: &mut Criterion) {
    let mut wire = Vec::new();
    FcgiRequest::responder(NGINX_PARAMS, b"").encode(&mut wire);
    let mut group = c.benchmark_group("fastcgi");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("nginx_request_30_params", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            let mut conn = Connection::new(Limits::default(), ManagementValues::default());
            let mut pos = 0;
            let mut params = 0;
            while pos < wire.len() {
                let p = conn.advance(black_box(&wire[pos..]), &mut out).unwrap();
                pos += p.consumed;
                if let Some(Event::Request(head)) = p.event {
                    params = head.params.len();
                }
            }
            assert_eq!(params, NGINX_PARAMS.len());
        })
    });
    group.finish();
}

fn scgi_nginx_request(c: &mut Criterion) {
    let mut wire = Vec::new();
    let params: Vec<Pair<'_>> =
        NGINX_PARAMS.iter().filter(|(n, _)| *n != b"CONTENT_LENGTH").copied().collect();
    sfpm::scgi::encode_request(&mut wire, &params, b"");
    let mut group = c.benchmark_group("scgi");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("nginx_request_30_headers", |b| {
        let limits = sfpm::scgi::Limits::default();
        b.iter(|| {
            let head = sfpm::scgi::parse_head(black_box(&wire), &limits).unwrap().unwrap();
            assert_eq!(head.params.len(), params.len() + 2);
        })
    });
    group.finish();
}

criterion_group!(benches, fastcgi_nginx_request, scgi_nginx_request);
criterion_main!(benches);
