//! Byte spans to lines and key paths, for `file:line: key:` errors.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::validate::DOCUMENT;

/// Error messages from the toml crate may span lines; ours are one line after `file:line: key:`.
pub(super) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `x` from serde's "unknown field `x`, expected …".
pub(super) fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(name, _)| name)
}

/// The dotted key at byte `offset` of a document that parses: the deepest key whose own span or
/// value span holds the offset. Array elements add no index (the line number tells them apart).
pub(super) fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let doc = DeTable::parse(text).ok()?;
    let mut path = Vec::new();
    locate_in_table(doc.get_ref(), offset, &mut path);
    (!path.is_empty()).then(|| path.join("."))
}

pub(super) fn holds(span: Range<usize>, offset: usize) -> bool {
    // An empty span still "holds" its start, so errors at zero-width spans find their key.
    span.start <= offset && offset < span.end.max(span.start + 1)
}

pub(super) fn locate_in_table(table: &DeTable<'_>, offset: usize, path: &mut Vec<String>) {
    for (key, value) in table.iter() {
        if holds(key.span(), offset) {
            path.push(key.get_ref().to_string());
            return;
        }
        if holds(value.span(), offset) {
            path.push(key.get_ref().to_string());
            locate_in_value(value, offset, path);
            return;
        }
    }
}

pub(super) fn locate_in_value(value: &Spanned<DeValue<'_>>, offset: usize, path: &mut Vec<String>) {
    match value.get_ref() {
        DeValue::Table(table) => locate_in_table(table, offset, path),
        DeValue::Array(items) => {
            if let Some(item) = items.iter().find(|item| holds(item.span(), offset)) {
                locate_in_value(item, offset, path);
            }
        }
        _ => {}
    }
}

/// Best-effort key for a syntax error on 1-based `line`: the last `[table]` header at or above
/// it, plus the bare key before `=` on the line itself.
pub(super) fn key_from_lines(text: &str, line: usize) -> String {
    let mut table = String::new();
    let mut key = String::new();
    for (i, l) in text.lines().take(line).enumerate() {
        let l = l.trim();
        if let Some(rest) = l.strip_prefix('[') {
            // `[a.b]`, `[[a]]`, or an unclosed `[a` (itself a syntax error worth naming).
            let inner = rest.trim_start_matches('[');
            let end = inner.find([']', '#']).unwrap_or(inner.len());
            table = inner[..end].trim().to_string();
        }
        if i + 1 == line {
            if let Some((k, _)) = l.split_once('=') {
                let k = k.trim();
                let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
                if !k.is_empty() && k.chars().all(bare) {
                    key = k.to_string();
                }
            }
        }
    }
    match (table.is_empty(), key.is_empty()) {
        (true, true) => DOCUMENT.to_string(),
        (true, false) => key,
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    }
}
