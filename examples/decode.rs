//! Decodes the requests a front end sends — a FastCGI request as nginx frames it and an
//! SCGI request — with sfpm's sans-IO parsers, and prints what each byte stream means.
//! `make run` runs this until the server loop exists.

use sfpm::client::{FcgiRequest, Pair, ResponseDecoder, ResponseEvent};
use sfpm::fastcgi::{Connection, Event, Limits, ManagementValues};

const PARAMS: &[Pair<'static>] = &[
    (b"REQUEST_METHOD", b"POST"),
    (b"REQUEST_URI", b"/guestbook.php"),
    (b"SCRIPT_FILENAME", b"/srv/www/app/guestbook.php"),
    (b"CONTENT_TYPE", b"application/x-www-form-urlencoded"),
    (b"CONTENT_LENGTH", b"22"),
    (b"HTTP_HOST", b"localhost"),
];
const BODY: &[u8] = b"name=Ada&note=hello%21";

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).escape_debug().to_string()
}

fn main() {
    let mut wire = Vec::new();
    FcgiRequest::responder(PARAMS, BODY).encode(&mut wire);
    println!("FastCGI: {} bytes from the web server", wire.len());
    let mut conn = Connection::new(Limits::default(), ManagementValues::default());
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < wire.len() {
        let progress = conn.advance(&wire[pos..], &mut out).expect("a well-formed request");
        pos += progress.consumed;
        match progress.event {
            Some(Event::Request(head)) => {
                println!("  request id={} role={} keep_conn={}", head.id, head.role.name(), head.keep_conn);
                for (name, value) in head.params.iter() {
                    println!("    {} = {}", show(name), show(value));
                }
            }
            Some(Event::Stdin(bytes)) => println!("  body: {}", show(bytes)),
            Some(other) => println!("  {other:?}"),
            None => {}
        }
    }
    conn.write_stdout(b"Status: 201 Created\r\nContent-Type: text/plain\r\n\r\nsaved", &mut out).unwrap();
    conn.end_request(0, &mut out).unwrap();
    println!("  response: {} bytes in records the web server decodes as:", out.len());
    let mut decoder = ResponseDecoder::new();
    let mut pos = 0;
    while pos < out.len() {
        let (n, event) = decoder.advance(&out[pos..]).expect("our own response decodes");
        pos += n;
        match event {
            Some(ResponseEvent::Stdout { bytes, .. }) => println!("    STDOUT {}", show(bytes)),
            Some(event) => println!("    {event:?}"),
            None => {}
        }
    }
    println!("  close after response: {}", conn.should_close());
    scgi_part();
}

fn scgi_part() {
    let mut wire = Vec::new();
    let pairs: Vec<Pair<'_>> = PARAMS.iter().filter(|(n, _)| *n != b"CONTENT_LENGTH").copied().collect();
    sfpm::scgi::encode_request(&mut wire, &pairs, BODY);
    println!("\nSCGI: {}", show(&wire));
    let head = sfpm::scgi::parse_head(&wire, &sfpm::scgi::Limits::default())
        .expect("a well-formed request")
        .expect("the whole head is here");
    println!("  head: {} bytes, body: {} bytes", head.header_len, head.content_length);
    for (name, value) in head.params.iter() {
        println!("    {} = {}", show(name), show(value));
    }
    println!("  body: {}", show(head.body().take(&wire[head.header_len..])));
    let mut bad = wire.clone();
    bad[0] = b'0';
    match sfpm::scgi::parse_head(&bad, &sfpm::scgi::Limits::default()) {
        Err(e) => println!("  the same bytes with a leading zero in the length: error: {e}"),
        Ok(_) => unreachable!("a leading zero is refused"),
    }
}
