//! The pprof protobuf (profile.proto) of one session, built from the same symbolised stacks as
//! the folded text: one `Location` per sampled address (the PC itself for the sampled frame,
//! the call instruction for callers) with one `Line` per inline frame, innermost first, so
//! `go tool pprof -lines` and `-list FUNC` see lines and inlined helpers; one `Mapping` per
//! executable file those addresses are in, marked as symbolised so pprof does not redo it.
//!
//! Owns: the encoding. Must not: sample or name frames.

use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

use pprof::protos::{self, Message};

use super::sampler::{StackKey, Weight};
use super::symbols::{Frame, Symbolizer};
use super::Meta;

pub(super) struct Builder {
    strings: Vec<String>,
    string_ids: HashMap<String, i64>,
    functions: Vec<protos::Function>,
    function_ids: HashMap<(String, String), u64>,
    locations: Vec<protos::Location>,
    location_ids: HashMap<(usize, bool), u64>,
    synthetic: HashMap<&'static str, u64>,
    samples: Vec<protos::Sample>,
    mappings: BTreeSet<usize>,
    requested_hz: u32,
    time_nanos: i64,
    duration_ns: i64,
}

impl Builder {
    pub fn new(meta: &Meta) -> Builder {
        let mut b = Builder {
            strings: Vec::new(),
            string_ids: HashMap::new(),
            functions: Vec::new(),
            function_ids: HashMap::new(),
            locations: Vec::new(),
            location_ids: HashMap::new(),
            synthetic: HashMap::new(),
            samples: Vec::new(),
            mappings: BTreeSet::new(),
            requested_hz: meta.requested_hz,
            time_nanos: meta.time_nanos,
            duration_ns: meta.duration_ns,
        };
        b.string(""); // profile.proto: string_table[0] must be ""
        b
    }

    fn string(&mut self, s: &str) -> i64 {
        if let Some(&id) = self.string_ids.get(s) {
            return id;
        }
        let id = self.strings.len() as i64;
        self.strings.push(s.to_string());
        self.string_ids.insert(s.to_string(), id);
        id
    }

    fn function(&mut self, name: &str, file: &str) -> u64 {
        let key = (name.to_string(), file.to_string());
        if let Some(&id) = self.function_ids.get(&key) {
            return id;
        }
        let id = self.functions.len() as u64 + 1;
        let name_id = self.string(name);
        let file_id = self.string(file);
        self.functions.push(protos::Function {
            id,
            name: name_id,
            system_name: name_id,
            filename: file_id,
            start_line: 0,
        });
        self.function_ids.insert(key, id);
        id
    }

    fn location(&mut self, sym: &Symbolizer, ip: usize, leaf: bool, frames: &[Frame]) -> u64 {
        if let Some(&id) = self.location_ids.get(&(ip, leaf)) {
            return id;
        }
        let address = Symbolizer::lookup_address(ip, leaf);
        let mapping_id = match sym.mapping_index(address) {
            Some(i) => {
                self.mappings.insert(i);
                i as u64 + 1
            }
            None => 0,
        };
        let line = frames
            .iter()
            .map(|f| protos::Line {
                function_id: self.function(&f.name, f.file.as_deref().unwrap_or("")),
                line: i64::from(f.line.unwrap_or(0)),
            })
            .collect();
        let id = self.locations.len() as u64 + 1;
        self.locations.push(protos::Location {
            id,
            mapping_id,
            address: address as u64,
            line,
            is_folded: false,
        });
        self.location_ids.insert((ip, leaf), id);
        id
    }

    /// A location with no address for `[unknown]` / `[truncated]`.
    fn synthetic(&mut self, name: &'static str) -> u64 {
        if let Some(&id) = self.synthetic.get(name) {
            return id;
        }
        let function_id = self.function(name, "");
        let id = self.locations.len() as u64 + 1;
        self.locations.push(protos::Location {
            id,
            mapping_id: 0,
            address: 0,
            line: vec![protos::Line {
                function_id,
                line: 0,
            }],
            is_folded: false,
        });
        self.synthetic.insert(name, id);
        id
    }

    pub fn add_sample(
        &mut self,
        sym: &mut Symbolizer,
        per_addr: &[(usize, bool, Rc<[Frame]>)],
        key: &StackKey,
        thread: &str,
        weight: Weight,
    ) {
        let mut location_id: Vec<u64> = per_addr
            .iter()
            .map(|(ip, leaf, frames)| self.location(sym, *ip, *leaf, frames))
            .collect();
        if !key.unwound {
            // The PC is known, its callers are not.
            let unknown = self.synthetic("[unknown]");
            location_id.push(unknown);
        }
        if key.truncated {
            let truncated = self.synthetic("[truncated]");
            location_id.push(truncated);
        }
        let thread_key = self.string("thread");
        let thread_name = self.string(thread);
        let tid_key = self.string("tid");
        self.samples.push(protos::Sample {
            location_id,
            value: vec![
                i64::try_from(weight.samples).unwrap_or(i64::MAX),
                i64::try_from(weight.cpu_ns).unwrap_or(i64::MAX),
            ],
            label: vec![
                protos::Label {
                    key: thread_key,
                    str: thread_name,
                    num: 0,
                    num_unit: 0,
                },
                protos::Label {
                    key: tid_key,
                    str: 0,
                    num: i64::from(key.tid),
                    num_unit: 0,
                },
            ],
        });
    }

    pub fn finish(mut self, sym: &Symbolizer) -> Vec<u8> {
        let samples = self.string("samples");
        let count = self.string("count");
        let cpu = self.string("cpu");
        let nanoseconds = self.string("nanoseconds");
        let mapping: Vec<protos::Mapping> = self
            .mappings
            .clone()
            .into_iter()
            .map(|i| {
                let m = &sym.maps[i];
                protos::Mapping {
                    id: i as u64 + 1,
                    memory_start: m.start as u64,
                    memory_limit: m.end as u64,
                    file_offset: m.offset,
                    filename: self.string(&m.path),
                    build_id: 0,
                    has_functions: true,
                    has_filenames: true,
                    has_line_numbers: true,
                    has_inline_frames: true,
                }
            })
            .collect();
        let profile = protos::Profile {
            sample_type: vec![
                protos::ValueType {
                    ty: samples,
                    unit: count,
                },
                protos::ValueType {
                    ty: cpu,
                    unit: nanoseconds,
                },
            ],
            sample: self.samples,
            mapping,
            location: self.locations,
            function: self.functions,
            string_table: self.strings,
            drop_frames: 0,
            keep_frames: 0,
            time_nanos: self.time_nanos,
            duration_nanos: self.duration_ns,
            period_type: Some(protos::ValueType {
                ty: cpu,
                unit: nanoseconds,
            }),
            period: 1_000_000_000 / i64::from(self.requested_hz.max(1)),
            comment: Vec::new(),
            default_sample_type: cpu,
        };
        profile.encode_to_vec()
    }
}
