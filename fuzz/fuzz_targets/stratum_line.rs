//! Stratum line handling, whatever the peer sends: the bytes go through `LineReader` (one
//! `Cursor`, and `BufReader`s of small capacities, which must all cut the same lines), every
//! full line through `protocol::parse`, a `mining.notify` through `Job::from_notify`, the notify
//! round trip and `Job::header`. Nothing may panic.
//!
//! An input starting with 0xFF (never in UTF-8 text) is the "long line" mode: bytes 1..3 pick a
//! run of spaces of MAX_LINE - 64 ..= MAX_LINE + 63 bytes put before the rest (byte 4 onwards),
//! so the reader's MAX_LINE boundary (and a `\r` or `\n` right at it) is reached without huge
//! inputs; byte 3 picks the `BufReader` capacities (KiBs rather than bytes there, else one
//! execution takes ~10 ms).

#![no_main]

use std::io::{BufRead, BufReader, Cursor};

use libfuzzer_sys::fuzz_target;
use minebench::pow::header::to_hex;
use minebench::stratum::job::{Job, ShareParts};
use minebench::stratum::protocol::{
    from_hex, parse, u32_from_hex, Line, LineReader, Message, MAX_LINE,
};
use serde_json::Value;

const LONG_LINE_MODE: u8 = 0xff;

fuzz_target!(|data: &[u8]| {
    let padded;
    let (stream, caps): (&[u8], [usize; 2]) = match data {
        [LONG_LINE_MODE, a, b, c, rest @ ..] => {
            let pad = MAX_LINE - 64 + usize::from(u16::from_le_bytes([*a, *b]) % 128);
            let mut s = vec![b' '; pad];
            s.extend_from_slice(rest);
            padded = s;
            let c = usize::from(*c);
            (&padded, [4096 + c, 16384 + 3 * c])
        }
        _ => (data, [1, 2 + data.len() % 61]),
    };

    let lines = read_all(&mut Cursor::new(stream), stream.len());
    for cap in caps {
        let chunked = read_all(
            &mut BufReader::with_capacity(cap, Cursor::new(stream)),
            stream.len(),
        );
        assert_eq!(
            lines, chunked,
            "BufReader of capacity {cap} cut other lines than one Cursor"
        );
    }

    for line in &lines {
        if let Line::Full(line) = line {
            check_line(line);
        }
    }
});

/// Every `Line` until `Eof`, checking what always holds for an in-memory reader.
fn read_all<R: BufRead>(r: &mut R, len: usize) -> Vec<Line> {
    let mut reader = LineReader::new();
    let mut out = Vec::new();
    loop {
        let line = reader
            .next_line(r)
            .expect("an in-memory reader does not fail");
        assert!(
            reader.pending_len() <= MAX_LINE,
            "LineReader holds {} bytes of a partial line",
            reader.pending_len()
        );
        match &line {
            Line::Full(l) => {
                assert!(
                    l.len() <= MAX_LINE,
                    "Full line of {} bytes, longer than MAX_LINE",
                    l.len()
                );
                assert!(!l.contains(&b'\n'), "Full line contains a newline");
            }
            Line::Pending => panic!("Pending from an in-memory reader"),
            Line::TooLong => {}
            Line::Eof => {
                assert_eq!(reader.pending_len(), 0, "partial line kept after Eof");
                out.push(line);
                return out;
            }
        }
        out.push(line);
        // Each line but Eof consumes at least one byte.
        assert!(out.len() <= len, "more lines than bytes: LineReader loops");
    }
}

fn check_line(line: &[u8]) {
    if let Ok(text) = std::str::from_utf8(line) {
        check_hex(text);
        check_hex(text.trim());
    }
    let Ok(Message::Request { method, params, .. }) = parse(line) else {
        return;
    };
    for p in &params {
        if let Value::String(s) = p {
            check_hex(s);
        }
    }
    if method != "mining.notify" {
        return;
    }
    let Ok(job) = Job::from_notify(&params) else {
        return;
    };

    let again = job.notify_params();
    let again = again.as_array().expect("notify params are an array");
    assert_eq!(
        Job::from_notify(again).as_ref(),
        Ok(&job),
        "mining.notify round trip changed the job"
    );

    let (extranonce1, extranonce2) = ([0xde, 0xad, 0xbe, 0xef], [0, 0, 0, 1]);
    let share = ShareParts {
        extranonce1: &extranonce1,
        extranonce2: &extranonce2,
        ntime: job.ntime,
        nonce: 0x1234_5678,
        version: job.version,
    };
    let header = job.header(&share);
    let b = header.as_bytes();
    assert_eq!(b[0..4], job.version.to_le_bytes());
    assert_eq!(b[4..36], job.prevhash);
    assert_eq!(b[36..68], job.merkle_root(&extranonce1, &extranonce2));
    assert_eq!(header.time(), job.ntime);
    assert_eq!(header.bits(), job.nbits);
    assert_eq!(header.nonce(), 0x1234_5678);
}

/// `from_hex` and `u32_from_hex` against a plain definition of what they accept.
fn check_hex(s: &str) {
    let valid = s.len().is_multiple_of(2) && s.bytes().all(|c| c.is_ascii_hexdigit());
    let bytes = from_hex(s);
    assert_eq!(bytes.is_some(), valid, "from_hex({s:?})");
    if let Some(bytes) = bytes {
        assert_eq!(to_hex(&bytes), s.to_ascii_lowercase(), "from_hex({s:?})");
    }
    let word = u32_from_hex(s);
    assert_eq!(word.is_some(), valid && s.len() == 8, "u32_from_hex({s:?})");
    if let Some(word) = word {
        assert_eq!(
            Some(word),
            u32::from_str_radix(s, 16).ok(),
            "u32_from_hex({s:?})"
        );
    }
}
