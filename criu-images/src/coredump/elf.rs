//! ELF64 core file framing: the file header, program headers and notes,
//! in the byte order of the checkpointed machine (`linux/elf.h`,
//! `include/uapi/linux/elf.h`, the System V gABI).

use crate::image::Endian;

/// `ET_CORE`.
const ET_CORE: u16 = 4;
/// `PT_LOAD`: a memory area.
pub(super) const PT_LOAD: u32 = 1;
/// `PT_NOTE`: the notes.
pub(super) const PT_NOTE: u32 = 4;
/// `PF_X`, `PF_W`, `PF_R`.
pub(super) const PF_X: u32 = 1;
pub(super) const PF_W: u32 = 2;
pub(super) const PF_R: u32 = 4;
/// `e_phnum` value meaning "the count is in section header 0's `sh_info`".
pub(super) const PN_XNUM: u64 = 0xffff;

/// Size of `Elf64_Ehdr`, `Elf64_Phdr`, `Elf64_Shdr`.
pub(super) const EHDR_SIZE: u64 = 64;
pub(super) const PHDR_SIZE: u64 = 56;
pub(super) const SHDR_SIZE: u64 = 64;

/// Note types (`include/uapi/linux/elf.h`).
pub(super) const NT_PRSTATUS: u32 = 1;
pub(super) const NT_PRFPREG: u32 = 2;
pub(super) const NT_PRPSINFO: u32 = 3;
pub(super) const NT_AUXV: u32 = 6;
pub(super) const NT_X86_XSTATE: u32 = 0x202;
pub(super) const NT_ARM_TLS: u32 = 0x401;
pub(super) const NT_SIGINFO: u32 = 0x5349_4749;
pub(super) const NT_FILE: u32 = 0x4649_4c45;

/// Bytes in the target's byte order.
pub(super) struct Bytes {
    pub endian: Endian,
    pub buf: Vec<u8>,
}

impl Bytes {
    pub fn new(endian: Endian) -> Bytes {
        Bytes { endian, buf: Vec::new() }
    }

    pub fn with_capacity(endian: Endian, capacity: usize) -> Bytes {
        Bytes { endian, buf: Vec::with_capacity(capacity) }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        });
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&self.endian.u32_bytes(v));
    }

    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&match self.endian {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        });
    }

    pub fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// Pads with zeros to a multiple of `align` bytes.
    pub fn align(&mut self, align: usize) {
        let rem = self.buf.len() % align;
        if rem != 0 {
            self.zeros(align - rem);
        }
    }

    /// A fixed-size C `char[size]`: `text` cut to leave room for the NUL, then zeros.
    pub fn c_chars(&mut self, text: &[u8], size: usize) {
        let len = text.len().min(size - 1);
        self.buf.extend_from_slice(&text[..len]);
        self.zeros(size - len);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }
}

/// One note: `Elf64_Nhdr` (namesz, descsz, type), the name with its NUL and
/// the descriptor, each padded to 4 bytes as Linux writes core notes.
pub(super) fn note(endian: Endian, name: &str, kind: u32, desc: &[u8]) -> Vec<u8> {
    let mut out = Bytes::with_capacity(endian, 12 + name.len() + 4 + desc.len() + 3);
    out.u32(name.len() as u32 + 1);
    out.u32(desc.len() as u32);
    out.u32(kind);
    out.buf.extend_from_slice(name.as_bytes());
    out.u8(0);
    out.align(4);
    out.buf.extend_from_slice(desc);
    out.align(4);
    out.buf
}

/// One program header.
#[derive(Clone, Copy, Debug)]
pub(super) struct Phdr {
    pub kind: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

/// `Elf64_Ehdr` of a core file with `phnum` program headers right after it,
/// and (with [`PN_XNUM`] or more of them) one section header at `shoff`
/// holding the real count.
pub(super) fn file_header(endian: Endian, machine: u16, phnum: u64, shoff: u64) -> Vec<u8> {
    let mut out = Bytes::with_capacity(endian, EHDR_SIZE as usize);
    out.buf.extend_from_slice(b"\x7fELF");
    out.u8(2); // ELFCLASS64
    out.u8(match endian {
        Endian::Little => 1, // ELFDATA2LSB
        Endian::Big => 2,    // ELFDATA2MSB
    });
    out.u8(1); // EV_CURRENT
    out.u8(0); // ELFOSABI_NONE, as the kernel writes
    out.zeros(8);
    out.u16(ET_CORE);
    out.u16(machine);
    out.u32(1); // e_version
    out.u64(0); // e_entry
    out.u64(EHDR_SIZE); // e_phoff
    let extended = phnum >= PN_XNUM;
    out.u64(if extended { shoff } else { 0 });
    out.u32(0); // e_flags
    out.u16(EHDR_SIZE as u16);
    out.u16(PHDR_SIZE as u16);
    out.u16(if extended { PN_XNUM as u16 } else { phnum as u16 });
    out.u16(if extended { SHDR_SIZE as u16 } else { 0 });
    out.u16(u16::from(extended)); // e_shnum
    out.u16(0); // e_shstrndx: SHN_UNDEF
    out.buf
}

/// The section header that carries the program header count when it does
/// not fit `e_phnum` (`fill_extnum_info` in the kernel's ELF writer).
pub(super) fn extnum_section(endian: Endian, phnum: u64) -> Vec<u8> {
    let mut out = Bytes::with_capacity(endian, SHDR_SIZE as usize);
    out.u32(0); // sh_name
    out.u32(0); // SHT_NULL
    out.u64(0); // sh_flags
    out.u64(0); // sh_addr
    out.u64(0); // sh_offset
    out.u64(0); // sh_size
    out.u32(0); // sh_link
                // sh_info is 32 bits: callers refuse more headers than that.
    out.u32(phnum as u32);
    out.u64(0); // sh_addralign
    out.u64(0); // sh_entsize
    out.buf
}

pub(super) fn program_header(out: &mut Bytes, p: &Phdr) {
    out.u32(p.kind);
    out.u32(p.flags);
    out.u64(p.offset);
    out.u64(p.vaddr);
    out.u64(0); // p_paddr
    out.u64(p.filesz);
    out.u64(p.memsz);
    out.u64(p.align);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_padded_to_four_bytes() {
        let n = note(Endian::Little, "CORE", NT_PRPSINFO, &[1, 2, 3, 4, 5]);
        assert_eq!(&n[..12], &[5, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(&n[12..20], b"CORE\0\0\0\0");
        assert_eq!(&n[20..], &[1, 2, 3, 4, 5, 0, 0, 0]);
        let big = note(Endian::Big, "LINUX", NT_X86_XSTATE, &[]);
        assert_eq!(&big[..12], &[0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 2, 2]);
        assert_eq!(big.len(), 20);
    }

    #[test]
    fn many_program_headers_use_the_extended_count() {
        let h = file_header(Endian::Little, 62, 70_000, 4096);
        assert_eq!(h.len(), 64);
        assert_eq!(u16::from_le_bytes([h[56], h[57]]), 0xffff);
        assert_eq!(u64::from_le_bytes(h[40..48].try_into().unwrap()), 4096);
        assert_eq!(u16::from_le_bytes([h[60], h[61]]), 1);
        let s = extnum_section(Endian::Little, 70_000);
        assert_eq!(u32::from_le_bytes(s[44..48].try_into().unwrap()), 70_000);
        let small = file_header(Endian::Little, 62, 3, 0);
        assert_eq!(u16::from_le_bytes([small[56], small[57]]), 3);
        assert_eq!(u16::from_le_bytes([small[60], small[61]]), 0);
    }
}
