//! Seccomp filters: the classic BPF programs of `seccomp.img`, each with
//! its instruction count, a SHA-256 to compare filters across checkpoints,
//! and a disassembly; and the chain of filters a thread runs under
//! (`thread_core_entry.seccomp_filter`, then each filter's `prev`).

use sha2::{Digest, Sha256};

use crate::chain::ImageStore;
use crate::error::{Error, Location, Result};
use crate::image::{Endian, Image};
use crate::proto::Message;

/// Size of one classic BPF instruction (`struct sock_filter`).
const INSN_SIZE: usize = 8;

/// One filter of `seccomp.img`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SeccompFilter {
    /// Position in `seccomp.img`, the number threads and `prev` refer to.
    pub index: u32,
    /// The filter installed before this one (`None`: the first).
    pub prev: Option<u32>,
    /// `SECCOMP_FILTER_FLAG_*` bits CRIU restores the filter with.
    pub flags: u32,
    /// Number of BPF instructions.
    pub instructions: usize,
    /// SHA-256 of the program bytes as the image holds them (lower-case hex):
    /// equal programs have equal hashes.
    pub sha256: String,
    /// The program, one instruction a line.
    pub disassembly: Vec<String>,
    /// The distinct actions its `ret` instructions return, e.g. `ALLOW`,
    /// `ERRNO(1)`, `KILL_PROCESS`, in order of first appearance.
    pub actions: Vec<String>,
}

impl SeccompFilter {
    /// Names of the [`flags`](Self::flags) bits.
    pub fn flag_names(&self) -> Vec<String> {
        const FLAGS: &[(u32, &str)] =
            &[(1, "TSYNC"), (2, "LOG"), (4, "SPEC_ALLOW"), (8, "NEW_LISTENER"), (16, "TSYNC_ESRCH"), (32, "WAIT_KILLABLE_RECV")];
        let mut names: Vec<String> = FLAGS.iter().filter(|(bit, _)| self.flags & bit != 0).map(|(_, n)| n.to_string()).collect();
        let rest = self.flags & !FLAGS.iter().fold(0, |acc, (bit, _)| acc | bit);
        if rest != 0 {
            names.push(format!("{rest:#x}"));
        }
        names
    }
}

/// Every filter of `seccomp.img`, in image order (empty if there is none).
///
/// A program whose length is not a whole number of instructions, and a
/// `prev` that names no filter, are [`Error::Malformed`].
pub fn seccomp_filters(store: &dyn ImageStore) -> Result<Vec<SeccompFilter>> {
    let Some(bytes) = store.file("seccomp.img")? else { return Ok(Vec::new()) };
    let label = format!("{}/seccomp.img", store.label());
    let image = Image::parse(&label, bytes)?;
    let endian = image.endian();
    let mut out = Vec::new();
    for entry in image.entries() {
        let entry = entry?;
        let at = Location::new(label.clone(), entry.offset() as u64).in_entry(entry.index());
        let Message::SeccompEntry(seccomp) = entry.decode()? else { continue };
        for filter in seccomp.seccomp_filters {
            let index = out.len() as u32;
            if filter.filter.len() % INSN_SIZE != 0 {
                return Err(Error::Malformed {
                    at,
                    detail: format!(
                        "seccomp filter {index} has {} bytes; expected a multiple of {INSN_SIZE} (BPF instructions)",
                        filter.filter.len()
                    ),
                });
            }
            let program = Program { bytes: &filter.filter, endian };
            out.push(SeccompFilter {
                index,
                prev: filter.prev,
                flags: filter.flags.unwrap_or(0),
                instructions: program.len(),
                sha256: hex(&Sha256::digest(&filter.filter)),
                disassembly: program.disassemble(),
                actions: program.actions(),
            });
        }
    }
    let count = out.len();
    for filter in &out {
        if let Some(prev) = filter.prev.filter(|&p| p as usize >= count) {
            return Err(Error::Malformed {
                at: Location::new(label.clone(), 0),
                detail: format!("seccomp filter {} names filter {prev} as its predecessor; the image has {count}", filter.index),
            });
        }
    }
    Ok(out)
}

/// The chain of filters starting at `first` (a thread's newest filter),
/// newest first, following `prev`. `None` if `first` names no filter or
/// the chain loops (CRIU would refuse to restore either).
pub fn filter_chain(filters: &[SeccompFilter], first: u32) -> Option<Vec<u32>> {
    let mut chain = Vec::new();
    let mut next = Some(first);
    while let Some(index) = next {
        let filter = filters.get(index as usize)?;
        if chain.len() >= filters.len() {
            return None; // longer than the list: a loop
        }
        chain.push(index);
        next = filter.prev;
    }
    Some(chain)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A classic BPF program over borrowed bytes, in the image's byte order.
struct Program<'a> {
    bytes: &'a [u8],
    endian: Endian,
}

/// One `struct sock_filter`.
#[derive(Clone, Copy)]
struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

impl Program<'_> {
    fn len(&self) -> usize {
        self.bytes.len() / INSN_SIZE
    }

    fn insns(&self) -> impl Iterator<Item = Insn> + '_ {
        self.bytes.chunks_exact(INSN_SIZE).map(|c| {
            let code = match self.endian {
                Endian::Little => u16::from_le_bytes([c[0], c[1]]),
                Endian::Big => u16::from_be_bytes([c[0], c[1]]),
            };
            Insn { code, jt: c[2], jf: c[3], k: self.endian.u32([c[4], c[5], c[6], c[7]]) }
        })
    }

    fn disassemble(&self) -> Vec<String> {
        let count = self.len();
        self.insns().enumerate().map(|(pc, insn)| format!("{pc:04}: {}", insn.text(pc, count))).collect()
    }

    fn actions(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for insn in self.insns() {
            if insn.code & 0x07 == 0x06 && insn.code & 0x18 == 0x00 {
                let action = seccomp_action(insn.k);
                if !seen.contains(&action) {
                    seen.push(action);
                }
            }
        }
        seen
    }
}

impl Insn {
    /// The instruction in bpf_asm's syntax, with `seccomp_data` fields named
    /// and jump targets as absolute instruction numbers.
    fn text(self, pc: usize, count: usize) -> String {
        let Insn { code, jt, jf, k } = self;
        let class = code & 0x07;
        let size = match code & 0x18 {
            0x00 => "",
            0x08 => "h",
            0x10 => "b",
            _ => "?",
        };
        let src = if code & 0x08 != 0 { "x".to_string() } else { format!("#{k:#x}") };
        let target = |offset: u32| {
            let to = pc as u64 + 1 + u64::from(offset);
            if to < count as u64 {
                to.to_string()
            } else {
                format!("{to} (outside the program)")
            }
        };
        match class {
            // ld, ldx
            0x00 | 0x01 => {
                let op = if class == 0 { "ld" } else { "ldx" };
                match code & 0xe0 {
                    0x00 => format!("{op}{size} #{k:#x}"),
                    0x20 => format!("{op}{size} [{}]", seccomp_field(k)),
                    0x40 => format!("{op}{size} [x + {k}]"),
                    0x60 => format!("{op} M[{k}]"),
                    0x80 => format!("{op} len"),
                    0xa0 => format!("{op}b 4*([{k}]&0xf)"),
                    _ => format!("unknown {code:#06x} {jt} {jf} {k:#x}"),
                }
            }
            0x02 => format!("st M[{k}]"),
            0x03 => format!("stx M[{k}]"),
            0x04 => {
                let op = match code & 0xf0 {
                    0x00 => "add",
                    0x10 => "sub",
                    0x20 => "mul",
                    0x30 => "div",
                    0x40 => "or",
                    0x50 => "and",
                    0x60 => "lsh",
                    0x70 => "rsh",
                    0x80 => return "neg".into(),
                    0x90 => "mod",
                    0xa0 => "xor",
                    _ => return format!("unknown {code:#06x} {jt} {jf} {k:#x}"),
                };
                format!("{op} {src}")
            }
            0x05 => {
                let op = match code & 0xf0 {
                    0x00 => return format!("ja {}", target(k)),
                    0x10 => "jeq",
                    0x20 => "jgt",
                    0x30 => "jge",
                    0x40 => "jset",
                    _ => return format!("unknown {code:#06x} {jt} {jf} {k:#x}"),
                };
                format!("{op} {src}, {}, {}", target(u32::from(jt)), target(u32::from(jf)))
            }
            0x06 => match code & 0x18 {
                0x00 => format!("ret {}", seccomp_action(k)),
                0x08 => "ret x".into(),
                0x10 => "ret a".into(),
                _ => format!("unknown {code:#06x} {jt} {jf} {k:#x}"),
            },
            _ => match code & 0xf8 {
                0x00 => "tax".into(),
                0x80 => "txa".into(),
                _ => format!("unknown {code:#06x} {jt} {jf} {k:#x}"),
            },
        }
    }
}

/// The `struct seccomp_data` field at byte offset `k`.
fn seccomp_field(k: u32) -> String {
    match k {
        0 => "nr".into(),
        4 => "arch".into(),
        8 => "instruction_pointer".into(),
        12 => "instruction_pointer.hi".into(),
        16..=63 if k.is_multiple_of(4) => {
            let arg = (k - 16) / 8;
            if (k - 16).is_multiple_of(8) {
                format!("args[{arg}]")
            } else {
                format!("args[{arg}].hi")
            }
        }
        _ => k.to_string(),
    }
}

/// A `SECCOMP_RET_*` value by name, with its data where it has one.
fn seccomp_action(k: u32) -> String {
    let data = k & 0xffff;
    match k & 0xffff_0000 {
        0x8000_0000 => "KILL_PROCESS".into(),
        0x0000_0000 => "KILL_THREAD".into(),
        0x0003_0000 => format!("TRAP({data})"),
        0x0005_0000 => format!("ERRNO({data})"),
        0x7fc0_0000 => "USER_NOTIF".into(),
        0x7ff0_0000 => format!("TRACE({data})"),
        0x7ffc_0000 => "LOG".into(),
        0x7fff_0000 => "ALLOW".into(),
        _ => format!("{k:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Vec<u8> {
        let mut b = code.to_le_bytes().to_vec();
        b.extend([jt, jf]);
        b.extend(k.to_le_bytes());
        b
    }

    #[test]
    fn disassembles_a_typical_filter() {
        let bytes: Vec<u8> = [
            insn(0x20, 0, 0, 4),           // ld [arch]
            insn(0x15, 0, 3, 0xc000_003e), // jeq #AUDIT_ARCH_X86_64
            insn(0x20, 0, 0, 0),           // ld [nr]
            insn(0x15, 0, 1, 59),          // jeq #execve
            insn(0x06, 0, 0, 0x0005_0001), // ret ERRNO(1)
            insn(0x06, 0, 0, 0x7fff_0000), // ret ALLOW
            insn(0x20, 0, 0, 0x18),        // ld [args[1]]
            insn(0x15, 9, 0, 0),           // jump past the end
        ]
        .concat();
        let program = Program { bytes: &bytes, endian: Endian::Little };
        let lines = program.disassemble();
        assert_eq!(lines[0], "0000: ld [arch]");
        assert_eq!(lines[1], "0001: jeq #0xc000003e, 2, 5");
        assert_eq!(lines[4], "0004: ret ERRNO(1)");
        assert_eq!(lines[6], "0006: ld [args[1]]");
        assert_eq!(lines[7], "0007: jeq #0x0, 17 (outside the program), 8 (outside the program)");
        assert_eq!(program.actions(), ["ERRNO(1)", "ALLOW"]);
    }

    #[test]
    fn chains_follow_prev_and_stop_on_loops() {
        let f = |index, prev| SeccompFilter {
            index,
            prev,
            flags: 0,
            instructions: 0,
            sha256: String::new(),
            disassembly: Vec::new(),
            actions: Vec::new(),
        };
        let filters = vec![f(0, None), f(1, Some(0)), f(2, Some(1))];
        assert_eq!(filter_chain(&filters, 2), Some(vec![2, 1, 0]));
        assert_eq!(filter_chain(&filters, 3), None);
        let looped = vec![f(0, Some(1)), f(1, Some(0))];
        assert_eq!(filter_chain(&looped, 0), None);
    }
}
