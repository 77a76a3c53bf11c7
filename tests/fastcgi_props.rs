//! Property tests of the FastCGI core: what the client encodes, the server side decodes
//! to exactly the same request however the bytes are split; arbitrary bytes never panic
//! and never make a connection hold more than its limits.

use proptest::collection::vec;
use proptest::prelude::*;
use sfpm::client::{FcgiRequest, Pair, ResponseDecoder, ResponseEvent};
use sfpm::fastcgi::{self, Connection, Event, Limits, ManagementValues, Role, params};
use sfpm::fuzzing::{self, OwnedEvent, drive};

fn name() -> impl Strategy<Value = Vec<u8>> {
    // Names are non-empty and NUL-free; lengths cross the 127-byte one-byte boundary.
    vec(1u8..=255, 1..200)
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..40), vec(any::<u8>(), 100..400)]
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Responder), Just(Role::Authorizer), Just(Role::Filter)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn a_request_survives_any_split(
        id in 1u16..,
        role in role(),
        keep_conn in any::<bool>(),
        pairs in vec((name(), value()), 0..40),
        stdin in vec(any::<u8>(), 0..3000),
        data in vec(any::<u8>(), 0..3000),
        chunk in 1usize..300,
    ) {
        let borrowed: Vec<Pair<'_>> = pairs.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        let request = FcgiRequest { id, role, keep_conn, params: &borrowed, stdin: &stdin, data: &data };
        let mut wire = Vec::new();
        request.encode(&mut wire);

        let mut expected = vec![OwnedEvent::Request { id, role, keep_conn, params: borrowed.iter().copied().collect() }];
        if !stdin.is_empty() {
            expected.push(OwnedEvent::Stdin(stdin.clone()));
        }
        expected.push(OwnedEvent::StdinEnd);
        if role == Role::Filter {
            if !data.is_empty() {
                expected.push(OwnedEvent::Data(data.clone()));
            }
            expected.push(OwnedEvent::DataEnd);
        }
        let whole = drive(&wire, wire.len(), Limits::default());
        prop_assert_eq!(&whole.events, &expected);
        prop_assert_eq!(whole.error, None);
        prop_assert_eq!(whole.closed, !keep_conn);
        prop_assert_eq!(drive(&wire, chunk, Limits::default()), whole);
    }

    #[test]
    fn params_round_trip(pairs in vec((name(), value()), 0..60)) {
        let mut stream = Vec::new();
        for (n, v) in &pairs {
            params::encode_pair(&mut stream, n, v);
        }
        let decoded = params::decode_params(stream, &Limits::default()).unwrap();
        let got: Vec<(Vec<u8>, Vec<u8>)> = decoded.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        prop_assert_eq!(got, pairs);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..4096)) {
        fuzzing::fastcgi_connection(&data);
        fuzzing::fastcgi_params(&data);
    }

    #[test]
    fn mutated_requests_never_panic(pairs in vec((name(), value()), 0..10), flips in vec((any::<usize>(), any::<u8>()), 1..8)) {
        // Valid structure with a few bytes changed reaches deeper states than noise.
        let borrowed: Vec<Pair<'_>> = pairs.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        let mut wire = Vec::new();
        FcgiRequest { id: 1, role: Role::Filter, keep_conn: true, params: &borrowed, stdin: b"abc", data: b"xyz" }.encode(&mut wire);
        for (at, byte) in flips {
            let i = at % wire.len();
            wire[i] = byte;
        }
        fuzzing::fastcgi_connection(&wire);
    }

    #[test]
    fn response_output_decodes_to_what_was_written(
        stdout in vec(any::<u8>(), 0..200_000),
        stderr in vec(any::<u8>(), 0..100),
        app_status in any::<u32>(),
        chunk in 1usize..70_000,
    ) {
        let mut conn = Connection::new(Limits::default(), ManagementValues::default());
        let mut wire = Vec::new();
        FcgiRequest::responder(&[], b"").encode(&mut wire);
        let mut out = Vec::new();
        let p = conn.advance(&wire, &mut out).unwrap();
        prop_assert!(matches!(p.event, Some(Event::Request(_))));
        conn.write_stdout(&stdout, &mut out).unwrap();
        conn.write_stderr(&stderr, &mut out).unwrap();
        conn.end_request(app_status, &mut out).unwrap();

        let mut decoder = ResponseDecoder::new();
        let (mut got_out, mut got_err, mut end) = (Vec::new(), Vec::new(), None);
        for piece in out.chunks(chunk) {
            let mut pos = 0;
            while pos < piece.len() {
                let (n, event) = decoder.advance(&piece[pos..]).unwrap();
                pos += n;
                match event {
                    Some(ResponseEvent::Stdout { bytes, .. }) => got_out.extend_from_slice(bytes),
                    Some(ResponseEvent::Stderr { bytes, .. }) => got_err.extend_from_slice(bytes),
                    Some(ResponseEvent::End { app_status, protocol_status, .. }) => end = Some((app_status, protocol_status)),
                    Some(other) => prop_assert!(false, "unexpected {:?}", other),
                    None => {}
                }
            }
        }
        prop_assert_eq!(got_out, stdout);
        prop_assert_eq!(got_err, stderr);
        prop_assert_eq!(end, Some((app_status, fastcgi::ProtocolStatus::RequestComplete as u8)));
    }
}
