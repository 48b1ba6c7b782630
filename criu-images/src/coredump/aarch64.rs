//! arm64 register notes: `struct user_pt_regs` (x0-x30, sp, pc, pstate)
//! for `NT_PRSTATUS`, `struct user_fpsimd_state` for `NT_PRFPREG`, and
//! `tpidr_el0` for `NT_ARM_TLS` (`arch/arm64/include/uapi/asm/ptrace.h`).

use super::elf::{Bytes, NT_ARM_TLS, NT_PRFPREG};
use super::{malformed, ThreadRegs};
use crate::error::{Location, Result};
use crate::image::Endian;
use crate::proto::ThreadInfoAarch64;

/// `EM_AARCH64`.
pub(super) const MACHINE: u16 = 183;

/// The registers of one thread.
pub(super) fn thread_regs(ti: &ThreadInfoAarch64, endian: Endian, at: &Location) -> Result<ThreadRegs> {
    let r = &ti.gpregs;
    if r.regs.len() != 31 {
        return Err(malformed(at, &format!("arm64 gpregs.regs has {} registers; expected 31 (x0-x30)", r.regs.len())));
    }
    let mut gregs = Bytes::with_capacity(endian, 34 * 8);
    r.regs.iter().chain([&r.sp, &r.pc, &r.pstate]).for_each(|&v| gregs.u64(v));

    let fp = &ti.fpsimd;
    if fp.vregs.len() != 64 {
        return Err(malformed(at, &format!("arm64 fpsimd.vregs has {} words; expected 64 (v0-v31, 128 bits each)", fp.vregs.len())));
    }
    let mut fpsimd = Bytes::with_capacity(endian, 528);
    // Each __uint128_t as two 64-bit halves, the low one first (little-endian).
    fp.vregs.iter().for_each(|&v| fpsimd.u64(v));
    fpsimd.u32(fp.fpsr);
    fpsimd.u32(fp.fpcr);
    fpsimd.zeros(8); // __reserved[2]

    let mut tls = Bytes::with_capacity(endian, 8);
    tls.u64(ti.tls);
    Ok(ThreadRegs { gregs: gregs.buf, fpvalid: true, notes: vec![("CORE", NT_PRFPREG, fpsimd.buf), ("LINUX", NT_ARM_TLS, tls.buf)] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{UserAarch64FpsimdContextEntry, UserAarch64RegsEntry};

    #[test]
    fn kernel_layouts() {
        let at = Location::new("core-1.img", 0);
        let ti = ThreadInfoAarch64 {
            tls: 0xdead,
            gpregs: UserAarch64RegsEntry { regs: (0..31).collect(), sp: 0x7ff0, pc: 0x4000, pstate: 0x6000_0000 },
            fpsimd: UserAarch64FpsimdContextEntry { vregs: (100..164).collect(), fpsr: 0x10, fpcr: 0x20 },
            ..Default::default()
        };
        let regs = thread_regs(&ti, Endian::Little, &at).unwrap();
        assert_eq!(regs.gregs.len(), 272);
        assert_eq!(&regs.gregs[30 * 8..31 * 8], &30u64.to_le_bytes());
        assert_eq!(&regs.gregs[32 * 8..33 * 8], &0x4000u64.to_le_bytes());
        assert_eq!(regs.notes[0].2.len(), 528);
        assert_eq!(&regs.notes[0].2[512..520], &[0x10, 0, 0, 0, 0x20, 0, 0, 0]);
        assert_eq!(regs.notes[1].2, 0xdeadu64.to_le_bytes());
        let mut bad = ti.clone();
        bad.gpregs.regs = vec![0; 5000];
        let err = thread_regs(&bad, Endian::Little, &at).unwrap_err().to_string();
        assert!(err.contains("5000 registers; expected 31"), "{err}");
    }
}
