//! Reading files a user names: scenarios, reports, collapsed stacks. One bounded reader, so no
//! command can be made to read until memory runs out (`plan /dev/zero`, a FIFO, a runaway file).
//!
//! Owns: the size caps and the checks every user-supplied input file passes before it is
//! parsed. Must not: parse anything.

use std::io::Read;
use std::path::Path;

/// The largest scenario file read (a real one is a few hundred bytes).
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;
/// The largest report.json read (a 100-case profiled run is about 2 MiB).
pub const MAX_REPORT_BYTES: u64 = 256 << 20;
/// The largest collapsed-stacks file read.
pub const MAX_FOLDED_BYTES: u64 = 256 << 20;

/// Why an input file was not read. The caller adds the path (and the flag, where there is one).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read: {0}")]
    Io(std::io::Error),
    #[error("not a regular file (a {kind}); give a file")]
    NotRegular { kind: &'static str },
    #[error("larger than the {max} bytes a {what} may have")]
    TooLarge { max: u64, what: &'static str },
    #[error("line {line}: not valid UTF-8 (byte {offset})")]
    NotUtf8 { line: usize, offset: usize },
}

impl ReadError {
    /// The 1-based line of an encoding error.
    pub fn line(&self) -> Option<usize> {
        match self {
            ReadError::NotUtf8 { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// Reads `path` as UTF-8 text: it must be a regular file (after following links) of at most
/// `max` bytes; `what` names the kind of file in the size error ("report", "scenario").
///
/// The size is checked twice: from the metadata before opening, and while reading (a file that
/// grows after the check is still cut off at `max + 1` bytes and refused).
pub fn read_text(path: &Path, max: u64, what: &'static str) -> Result<String, ReadError> {
    let meta = std::fs::metadata(path).map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular {
            kind: file_kind(&meta),
        });
    }
    if meta.len() > max {
        return Err(ReadError::TooLarge { max, what });
    }
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge { max, what });
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        ReadError::NotUtf8 { line, offset }
    })
}

fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "directory"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_fifo() {
        "named pipe"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_directories_and_oversized_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_text(Path::new("/dev/zero"), 10, "report"),
            Err(ReadError::NotRegular {
                kind: "character device"
            })
        ));
        assert!(matches!(
            read_text(dir.path(), 10, "report"),
            Err(ReadError::NotRegular { kind: "directory" })
        ));
        let big = dir.path().join("big");
        std::fs::write(&big, [b'x'; 11]).unwrap();
        assert!(matches!(
            read_text(&big, 10, "report"),
            Err(ReadError::TooLarge { max: 10, .. })
        ));
        assert_eq!(read_text(&big, 11, "report").unwrap().len(), 11);
        assert!(matches!(
            read_text(&dir.path().join("missing"), 10, "report"),
            Err(ReadError::Io(_))
        ));
    }

    #[test]
    fn utf8_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s.toml");
        std::fs::write(&f, b"name = \"a\"\n\n# caf\xe9\n").unwrap();
        let e = read_text(&f, 100, "scenario").unwrap_err();
        assert_eq!(e.line(), Some(3));
        // "name = \"a\"\n" is bytes 0..=10, "\n" 11, "# caf" 12..=16: the bad byte is 17.
        assert_eq!(e.to_string(), "line 3: not valid UTF-8 (byte 17)");
    }
}
