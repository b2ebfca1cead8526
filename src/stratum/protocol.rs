//! Stratum v1 messages: one JSON object per line, `{"id", "method", "params"}` requests and
//! notifications, `{"id", "result", "error"}` responses. Parsing is total: any line gives a
//! [`Message`] or a [`ParseError`] naming what is wrong, never a panic, whatever the bytes.

use std::io::{self, BufRead};

use serde_json::{json, Value};

/// The longest line either side accepts, newline excluded. A real `mining.notify` with a long
/// merkle branch is a few KiB.
pub const MAX_LINE: usize = 64 * 1024;

/// A parsed line.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A request (`id` not null) or notification (`id` null or absent).
    Request {
        id: Value,
        method: String,
        params: Vec<Value>,
    },
    /// A response to one of our requests.
    Response {
        id: Value,
        result: Value,
        error: Value,
    },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("not UTF-8")]
    Utf8,
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("not a JSON object")]
    NotObject,
    #[error("neither a request (method) nor a response (result/error)")]
    Shape,
    #[error("method is not a string")]
    MethodType,
    #[error("params is not an array")]
    ParamsType,
}

/// Parses one line (without its newline; surrounding whitespace is ignored).
pub fn parse(line: &[u8]) -> Result<Message, ParseError> {
    let text = std::str::from_utf8(line).map_err(|_| ParseError::Utf8)?;
    let value: Value =
        serde_json::from_str(text.trim()).map_err(|e| ParseError::Json(e.to_string()))?;
    let Value::Object(mut obj) = value else {
        return Err(ParseError::NotObject);
    };
    let id = obj.remove("id").unwrap_or(Value::Null);
    if let Some(method) = obj.remove("method") {
        let Value::String(method) = method else {
            return Err(ParseError::MethodType);
        };
        let params = match obj.remove("params") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(ParseError::ParamsType),
        };
        return Ok(Message::Request { id, method, params });
    }
    if obj.contains_key("result") || obj.contains_key("error") {
        return Ok(Message::Response {
            id,
            result: obj.remove("result").unwrap_or(Value::Null),
            error: obj.remove("error").unwrap_or(Value::Null),
        });
    }
    Err(ParseError::Shape)
}

/// Why the pool refused a request: the usual stratum error codes (20–25), with the reason as
/// the pool counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reject {
    /// 21: the job id is unknown (never sent, or long expired).
    JobNotFound,
    /// 21: the job was replaced by a `clean_jobs` switch before this share came.
    Stale,
    /// 22: the same header was submitted before.
    Duplicate,
    /// 23: the hash does not meet the share target the job was sent with.
    LowDifficulty,
    /// 24: submit for a worker name that was not authorised on this connection.
    Unauthorized,
    /// 25: submit (or authorise) before `mining.subscribe`.
    NotSubscribed,
    /// 20: a malformed submit (wrong field count, bad hex, wrong extranonce2 size, ntime out of
    /// range, version bits outside the negotiated mask).
    Malformed,
    /// 20: a method the pool does not know.
    UnknownMethod,
}

impl Reject {
    pub const ALL: [Reject; 8] = [
        Reject::JobNotFound,
        Reject::Stale,
        Reject::Duplicate,
        Reject::LowDifficulty,
        Reject::Unauthorized,
        Reject::NotSubscribed,
        Reject::Malformed,
        Reject::UnknownMethod,
    ];

    /// The stratum error code.
    pub fn code(self) -> i64 {
        match self {
            Reject::JobNotFound | Reject::Stale => 21,
            Reject::Duplicate => 22,
            Reject::LowDifficulty => 23,
            Reject::Unauthorized => 24,
            Reject::NotSubscribed => 25,
            Reject::Malformed | Reject::UnknownMethod => 20,
        }
    }

    /// The reason's name in reports and live lines (snake case).
    pub fn name(self) -> &'static str {
        match self {
            Reject::JobNotFound => "job_not_found",
            Reject::Stale => "stale",
            Reject::Duplicate => "duplicate",
            Reject::LowDifficulty => "low_difficulty",
            Reject::Unauthorized => "unauthorized",
            Reject::NotSubscribed => "not_subscribed",
            Reject::Malformed => "malformed",
            Reject::UnknownMethod => "unknown_method",
        }
    }

    /// The error message sent to the miner.
    pub fn message(self) -> &'static str {
        match self {
            Reject::JobNotFound => "Job not found",
            Reject::Stale => "Stale share (job replaced by a clean job)",
            Reject::Duplicate => "Duplicate share",
            Reject::LowDifficulty => "Low difficulty share",
            Reject::Unauthorized => "Unauthorized worker",
            Reject::NotSubscribed => "Not subscribed",
            Reject::Malformed => "Malformed request",
            Reject::UnknownMethod => "Unknown method",
        }
    }

    /// The `error` member of a response: `[code, message, null]`.
    pub fn to_error(self, detail: Option<&str>) -> Value {
        let msg = match detail {
            Some(d) => format!("{}: {d}", self.message()),
            None => self.message().to_string(),
        };
        json!([self.code(), msg, null])
    }
}

/// A response line (with its newline).
pub fn response(id: &Value, result: Value, error: Value) -> String {
    let mut s = json!({"id": id, "result": result, "error": error}).to_string();
    s.push('\n');
    s
}

/// A request or notification line (with its newline).
pub fn request(id: Value, method: &str, params: Value) -> String {
    let mut s = json!({"id": id, "method": method, "params": params}).to_string();
    s.push('\n');
    s
}

/// Reads newline-terminated lines of at most [`MAX_LINE`] bytes, keeping a partial line across
/// read timeouts (so a socket with a read timeout can be polled), never buffering more than one
/// line's worth: memory per connection stays bounded whatever the peer sends.
#[derive(Debug, Default)]
pub struct LineReader {
    partial: Vec<u8>,
}

/// What [`LineReader::next_line`] saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line, newline (and a trailing `\r`) removed.
    Full(Vec<u8>),
    /// The peer closed the connection (a partial line without newline is dropped).
    Eof,
    /// The line grew past [`MAX_LINE`] without a newline.
    TooLong,
    /// The read timed out (or would block) before a full line came.
    Pending,
}

impl LineReader {
    pub fn new() -> LineReader {
        LineReader::default()
    }

    /// Bytes of an unfinished line held.
    pub fn pending_len(&self) -> usize {
        self.partial.len()
    }

    pub fn next_line<R: BufRead>(&mut self, r: &mut R) -> io::Result<Line> {
        loop {
            let buf = match r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(Line::Pending)
                }
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                self.partial.clear();
                return Ok(Line::Eof);
            }
            let room = MAX_LINE + 1 - self.partial.len();
            match buf.iter().take(room).position(|&b| b == b'\n') {
                Some(i) => {
                    self.partial.extend_from_slice(&buf[..i]);
                    r.consume(i + 1);
                    let mut line = std::mem::take(&mut self.partial);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if line.len() > MAX_LINE {
                        return Ok(Line::TooLong);
                    }
                    return Ok(Line::Full(line));
                }
                None => {
                    let n = buf.len().min(room);
                    self.partial.extend_from_slice(&buf[..n]);
                    r.consume(n);
                    if self.partial.len() > MAX_LINE {
                        self.partial.clear();
                        return Ok(Line::TooLong);
                    }
                }
            }
        }
    }
}

/// `hex` as bytes; None on odd length or a non-hex digit.
pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    let bytes = hex.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    bytes
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// A big-endian u32 from exactly 8 hex digits (how stratum writes version, nbits, ntime, nonce).
pub fn u32_from_hex(hex: &str) -> Option<u32> {
    if hex.len() != 8 {
        return None;
    }
    let b = from_hex(hex)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}
