//! Naming sampled addresses: function, file and line of every inline frame at an address, from
//! the binary's DWARF line tables (release builds have `debug = "line-tables-only"`), through
//! the `backtrace` crate's gimli/addr2line symboliser. It also finds separate debug files by
//! build id under `/usr/lib/debug` (Debian's `libc6-dbg` names libc's `memset` variants).
//!
//! Owns: address → frames, and which mapped file an address is in. Must not: sample or decide
//! what a frame means for the report.

use std::collections::HashMap;
use std::rc::Rc;

/// One (possibly inlined) function at an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Frame {
    /// Demangled, without the hash suffix; `[libc.so.6]` (the file in brackets) when the
    /// address has no symbol.
    pub name: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// An executable mapping of this process (`/proc/self/maps`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Mapping {
    pub start: usize,
    pub end: usize,
    pub offset: u64,
    pub path: String,
}

pub(super) struct Symbolizer {
    cache: HashMap<(usize, bool), Rc<[Frame]>>,
    pub maps: Vec<Mapping>,
}

impl Symbolizer {
    pub fn new() -> Symbolizer {
        let maps = std::fs::read_to_string("/proc/self/maps")
            .map(|t| parse_maps(&t))
            .unwrap_or_default();
        Symbolizer {
            cache: HashMap::new(),
            maps,
        }
    }

    /// The address that names the instruction: the PC itself for the sampled (leaf) frame,
    /// one byte before the return address for a caller (the call instruction, so the line is
    /// the call's and not the next statement's).
    pub fn lookup_address(addr: usize, leaf: bool) -> usize {
        if leaf {
            addr
        } else {
            addr.saturating_sub(1)
        }
    }

    /// Frames at `addr`, innermost (most inlined) first; never empty.
    pub fn frames(&mut self, addr: usize, leaf: bool) -> Rc<[Frame]> {
        if let Some(f) = self.cache.get(&(addr, leaf)) {
            return Rc::clone(f);
        }
        let lookup = Self::lookup_address(addr, leaf);
        let mut frames = Vec::new();
        // `backtrace::resolve` subtracts one itself (it expects return addresses): add it back.
        backtrace::resolve(lookup.wrapping_add(1) as *mut std::ffi::c_void, |sym| {
            let name = sym.name().map(|n| format!("{n:#}"));
            frames.push(Frame {
                name: name.unwrap_or_default(),
                file: sym.filename().map(|p| p.display().to_string()),
                line: sym.lineno(),
            });
        });
        let module = self.module_name(lookup);
        frames.retain(|f| !f.name.is_empty() || f.file.is_some());
        for f in &mut frames {
            if f.name.is_empty() {
                f.name = module.clone();
            }
        }
        if frames.is_empty() {
            frames.push(Frame {
                name: module,
                file: None,
                line: None,
            });
        }
        let frames: Rc<[Frame]> = frames.into();
        self.cache.insert((addr, leaf), Rc::clone(&frames));
        frames
    }

    pub fn mapping_index(&self, addr: usize) -> Option<usize> {
        self.maps
            .iter()
            .position(|m| m.start <= addr && addr < m.end)
    }

    /// `[file name]` of the mapping holding `addr`, `[unmapped]` if none.
    fn module_name(&self, addr: usize) -> String {
        match self.mapping_index(addr) {
            Some(i) => {
                let path = &self.maps[i].path;
                let base = path.rsplit('/').next().unwrap_or(path);
                format!("[{}]", if base.is_empty() { "anon" } else { base })
            }
            None => "[unmapped]".to_string(),
        }
    }
}

/// Executable mappings from `/proc/self/maps` text
/// (`start-end perms offset dev inode path`).
pub(super) fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let range = parts.next()?;
            let perms = parts.next()?;
            let offset = parts.next()?;
            let _dev = parts.next()?;
            let _inode = parts.next()?;
            let path = parts.collect::<Vec<_>>().join(" ");
            if !perms.contains('x') {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some(Mapping {
                start: usize::from_str_radix(start, 16).ok()?,
                end: usize::from_str_radix(end, 16).ok()?,
                offset: u64::from_str_radix(offset, 16).ok()?,
                path,
            })
        })
        .collect()
}

/// True for this workspace's own sources: not the standard library (`/rustc/…`, `rustlib`),
/// not a dependency from the cargo registry or git, not C/assembly (libc's `.S` files).
pub(super) fn is_own_source(file: &str) -> bool {
    file.ends_with(".rs")
        && !file.starts_with("/rustc/")
        && !file.contains("/rustlib/")
        && !file.contains("/.cargo/registry/")
        && !file.contains("/.cargo/git/")
}

/// A path as shown in reports: relative to the crate root when inside it.
pub(super) fn display_path(file: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/");
    file.strip_prefix(root).unwrap_or(file).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_keep_executable_mappings() {
        let text = "55d0a000-55d0b000 r--p 00000000 08:01 42 /usr/bin/x\n\
                    55d0b000-55d0f000 r-xp 00001000 08:01 42 /usr/bin/x\n\
                    7f00-7f10 r-xp 00000000 00:00 0 \n";
        let maps = parse_maps(text);
        assert_eq!(maps.len(), 2);
        assert_eq!(maps[0].start, 0x55d0b000);
        assert_eq!(maps[0].offset, 0x1000);
        assert_eq!(maps[0].path, "/usr/bin/x");
        assert_eq!(maps[1].path, "");
    }

    #[test]
    fn own_source_excludes_std_deps_and_c() {
        assert!(is_own_source("/work/x/src/pow/avx512.rs"));
        assert!(is_own_source("src/pow/avx512.rs"));
        assert!(!is_own_source(
            "/rustc/abc/library/core/src/../../stdarch/crates/core_arch/src/x86/avx512f.rs"
        ));
        assert!(!is_own_source(
            "/root/.cargo/registry/src/x/sha2-0.11/src/lib.rs"
        ));
        assert!(!is_own_source(
            "../sysdeps/x86_64/multiarch/memset-vec-unaligned-erms.S"
        ));
    }

    #[inline(never)]
    fn marker_function() -> usize {
        std::hint::black_box(41) + 1
    }

    #[test]
    fn an_address_in_a_known_function_is_named_with_its_line() {
        let addr = marker_function as *const () as usize;
        let mut s = Symbolizer::new();
        let frames = s.frames(addr, true);
        assert!(
            frames.iter().any(|f| f.name.contains("marker_function")),
            "{frames:?}"
        );
        assert!(frames.iter().any(|f| f.line.is_some()), "{frames:?}");
        assert!(s.mapping_index(addr).is_some());
        // Cached: the same Rc comes back.
        assert!(Rc::ptr_eq(&frames, &s.frames(addr, true)));
        // An address nobody maps still gets a frame.
        assert_eq!(s.frames(8, true)[0].name, "[unmapped]");
    }
}
