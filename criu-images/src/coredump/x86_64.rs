//! x86-64 register notes: `user_regs_struct` for `NT_PRSTATUS`,
//! `user_i387_struct` (the FXSAVE image) for `NT_PRFPREG`, and the XSAVE
//! area in its standard (non-compacted) format for `NT_X86_XSTATE`
//! (`arch/x86/include/asm/user_64.h`, `asm/user.h`, the SDM's XSAVE layout).

use super::elf::{Bytes, NT_PRFPREG, NT_X86_XSTATE};
use super::{malformed, ThreadRegs};
use crate::error::{Location, Result};
use crate::image::Endian;
use crate::proto::{ThreadInfoX86, UserX86FpregsEntry, UserX86XsaveEntry};

/// `EM_X86_64`.
pub(super) const MACHINE: u16 = 62;

/// Size of the FXSAVE image (`struct user_i387_struct`).
const FXSAVE_SIZE: usize = 512;
/// Bytes 464..472 of the FXSAVE image in `NT_X86_XSTATE`: the XCR0 the
/// kernel exports there for debuggers (`asm/user.h`).
const XCR0_OFFSET: usize = 464;
/// XSAVE header: `XSTATE_BV` then `XCOMP_BV` (0: standard format).
const XSAVE_HEADER: usize = 512;

/// XSAVE components the checkpoint stores, with their standard-format
/// offset and size, and the CRIU field holding them.
struct Component {
    bit: u32,
    offset: usize,
    size: usize,
    name: &'static str,
}

const YMM: Component = Component { bit: 2, offset: 576, size: 256, name: "ymmh_space" };
const BNDREGS: Component = Component { bit: 3, offset: 960, size: 64, name: "bndreg_state" };
const BNDCSR: Component = Component { bit: 4, offset: 1024, size: 64, name: "bndcsr_state" };
const OPMASK: Component = Component { bit: 5, offset: 1088, size: 64, name: "opmask_reg" };
const ZMM_HI256: Component = Component { bit: 6, offset: 1152, size: 512, name: "zmm_upper" };
const HI16_ZMM: Component = Component { bit: 7, offset: 1664, size: 1024, name: "hi16_zmm" };
const PKRU: Component = Component { bit: 9, offset: 2688, size: 8, name: "pkru" };

/// The registers of one thread.
pub(super) fn thread_regs(ti: &ThreadInfoX86, endian: Endian, at: &Location) -> Result<ThreadRegs> {
    let r = &ti.gpregs;
    if r.mode == Some(2) {
        return Err(malformed(at, "a 32-bit (compat) x86 task: its core needs the i386 layouts, which are not written"));
    }
    let mut gregs = Bytes::with_capacity(endian, 27 * 8);
    for v in [
        r.r15, r.r14, r.r13, r.r12, r.bp, r.bx, r.r11, r.r10, r.r9, r.r8, r.ax, r.cx, r.dx, r.si, r.di, r.orig_ax, r.ip, r.cs, r.flags,
        r.sp, r.ss, r.fs_base, r.gs_base, r.ds, r.es, r.fs, r.gs,
    ] {
        gregs.u64(v);
    }
    let fxsave = fxsave(&ti.fpregs, endian, at)?;
    let mut notes = vec![("CORE", NT_PRFPREG, fxsave.clone())];
    if let Some(xsave) = &ti.fpregs.xsave {
        notes.push(("LINUX", NT_X86_XSTATE, xstate(fxsave, xsave, endian, at)?));
    }
    Ok(ThreadRegs { gregs: gregs.buf, fpvalid: true, notes })
}

fn fxsave(fp: &UserX86FpregsEntry, endian: Endian, at: &Location) -> Result<Vec<u8>> {
    let mut out = Bytes::with_capacity(endian, FXSAVE_SIZE);
    // The 16-bit fields of FXSAVE; CRIU keeps them in 32-bit fields.
    out.u16(fp.cwd as u16);
    out.u16(fp.swd as u16);
    out.u16(fp.twd as u16);
    out.u16(fp.fop as u16);
    out.u64(fp.rip);
    out.u64(fp.rdp);
    out.u32(fp.mxcsr);
    out.u32(fp.mxcsr_mask);
    words(&mut out, &fp.st_space, 32, "st_space", at)?;
    words(&mut out, &fp.xmm_space, 64, "xmm_space", at)?;
    out.zeros(FXSAVE_SIZE - out.len());
    Ok(out.buf)
}

/// Exactly `count` u32 words (the register file sizes are fixed).
fn words(out: &mut Bytes, values: &[u32], count: usize, name: &str, at: &Location) -> Result<()> {
    if values.len() != count {
        return Err(malformed(at, &format!("x86 fpregs.{name} has {} words; expected {count}", values.len())));
    }
    values.iter().for_each(|&v| out.u32(v));
    Ok(())
}

/// The XSAVE area: the FXSAVE image (with XCR0 at [`XCR0_OFFSET`]), the
/// header, then each component the checkpoint holds at its standard offset;
/// the area ends after the last of them. XCR0 is not in the checkpoint: it
/// is taken as the components present (x87 and SSE always).
fn xstate(mut area: Vec<u8>, x: &UserX86XsaveEntry, endian: Endian, at: &Location) -> Result<Vec<u8>> {
    let u32s = |v: &[u32]| -> Vec<u8> { v.iter().flat_map(|&w| endian.u32_bytes(w)).collect() };
    let u64s = |v: &[u64]| -> Vec<u8> {
        let mut b = Bytes::with_capacity(endian, v.len() * 8);
        v.iter().for_each(|&w| b.u64(w));
        b.buf
    };
    let components = [
        (&YMM, x.ymmh_space.len() * 4, u32s(&x.ymmh_space)),
        (&BNDREGS, x.bndreg_state.len() * 8, u64s(&x.bndreg_state)),
        (&BNDCSR, x.bndcsr_state.len() * 8, u64s(&x.bndcsr_state)),
        (&OPMASK, x.opmask_reg.len() * 8, u64s(&x.opmask_reg)),
        (&ZMM_HI256, x.zmm_upper.len() * 8, u64s(&x.zmm_upper)),
        (&HI16_ZMM, x.hi16_zmm.len() * 8, u64s(&x.hi16_zmm)),
        (&PKRU, x.pkru.len() * 4, u32s(&x.pkru)),
    ];
    let mut xcr0: u64 = 0b11 | (x.xstate_bv & 0b11);
    let mut size = XSAVE_HEADER + 64;
    for (c, len, _) in &components {
        if *len == 0 {
            continue;
        }
        // PKRU is 4 bytes of state and 4 of padding: CRIU keeps one or two words.
        let fits = if c.bit == PKRU.bit { *len == 4 || *len == 8 } else { *len == c.size };
        if !fits {
            return Err(malformed(at, &format!("x86 xsave.{} holds {len} bytes; expected {}", c.name, c.size)));
        }
        xcr0 |= 1 << c.bit;
        size = size.max(c.offset + c.size);
    }
    // Components the header marks in use must be ones XCR0 enables.
    let xstate_bv = x.xstate_bv & xcr0;
    area.resize(size, 0);
    area[XCR0_OFFSET..XCR0_OFFSET + 8].copy_from_slice(&u64s(&[xcr0]));
    area[XSAVE_HEADER..XSAVE_HEADER + 8].copy_from_slice(&u64s(&[xstate_bv]));
    for (c, len, bytes) in &components {
        area[c.offset..c.offset + len].copy_from_slice(bytes);
    }
    Ok(area)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::UserX86RegsEntry;

    fn thread() -> ThreadInfoX86 {
        ThreadInfoX86 {
            gpregs: UserX86RegsEntry { r15: 15, ip: 0x401000, sp: 0x7ffc0000, gs: 27, ..Default::default() },
            fpregs: UserX86FpregsEntry {
                cwd: 0x37f,
                mxcsr: 0x1f80,
                st_space: vec![1; 32],
                xmm_space: (0..64).collect(),
                xsave: Some(UserX86XsaveEntry {
                    xstate_bv: 0x2e7,
                    ymmh_space: vec![7; 64],
                    opmask_reg: vec![5; 8],
                    zmm_upper: vec![6; 64],
                    hi16_zmm: vec![9; 128],
                    pkru: vec![0x55555554, 0],
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn registers_in_kernel_order_and_the_whole_xsave_area() {
        let at = Location::new("core-1.img", 0);
        let regs = thread_regs(&thread(), Endian::Little, &at).unwrap();
        assert_eq!(regs.gregs.len(), 216);
        assert_eq!(&regs.gregs[..8], &15u64.to_le_bytes());
        assert_eq!(&regs.gregs[16 * 8..17 * 8], &0x401000u64.to_le_bytes());
        assert_eq!(&regs.gregs[26 * 8..], &27u64.to_le_bytes());
        let fx = &regs.notes[0].2;
        assert_eq!(fx.len(), 512);
        assert_eq!(&fx[160..164], &0u32.to_le_bytes());
        assert_eq!(&fx[164..168], &1u32.to_le_bytes());
        let xs = &regs.notes[1].2;
        assert_eq!(xs.len(), 2696);
        let xcr0 = u64::from_le_bytes(xs[464..472].try_into().unwrap());
        assert_eq!(xcr0, 0x2e7);
        assert_eq!(u64::from_le_bytes(xs[512..520].try_into().unwrap()), 0x2e7);
        assert_eq!(xs[576], 7);
        assert_eq!(xs[1088], 5);
        assert_eq!(xs[1152], 6);
        assert_eq!(xs[1664], 9);
        assert_eq!(&xs[2688..2692], &0x55555554u32.to_le_bytes());
    }

    #[test]
    fn absurd_register_counts_are_errors() {
        let at = Location::new("core-1.img", 0);
        let mut t = thread();
        t.fpregs.xmm_space = vec![0; 1_000_000];
        let err = thread_regs(&t, Endian::Little, &at).unwrap_err().to_string();
        assert!(err.contains("core-1.img") && err.contains("xmm_space has 1000000 words; expected 64"), "{err}");
        let mut t = thread();
        t.fpregs.xsave.as_mut().unwrap().hi16_zmm = vec![0; 129];
        let err = thread_regs(&t, Endian::Little, &at).unwrap_err().to_string();
        assert!(err.contains("hi16_zmm holds 1032 bytes; expected 1024"), "{err}");
        let mut t = thread();
        t.gpregs.mode = Some(2);
        assert!(thread_regs(&t, Endian::Little, &at).unwrap_err().to_string().contains("compat"));
    }
}
