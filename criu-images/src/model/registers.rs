//! General-purpose registers of a thread (`core_entry.thread_info` and its
//! `ti_*` siblings): x86-64 and arm64 by their usual names, the other
//! architectures CRIU supports (arm, ppc64, s390x, mips, loongarch64,
//! riscv64) by the field names of their `proto/core-*.proto` messages,
//! repeated fields as `name[i]`.

use prost::Message as _;

use crate::error::{Error, Location, Result};
use crate::proto::wire::{unzigzag, Fields, WireValue};
use crate::proto::{message_ids, CoreEntry, FieldType, MessageId};

/// The registers of one thread's core image, in order; empty for a core
/// without register state (dead and zombie tasks).
pub(crate) fn registers(core: &CoreEntry, at: &Location) -> Result<Vec<(String, u64)>> {
    if let Some(x86) = core.thread_info.as_ref() {
        let r = &x86.gpregs;
        return Ok([
            ("r15", r.r15),
            ("r14", r.r14),
            ("r13", r.r13),
            ("r12", r.r12),
            ("rbp", r.bp),
            ("rbx", r.bx),
            ("r11", r.r11),
            ("r10", r.r10),
            ("r9", r.r9),
            ("r8", r.r8),
            ("rax", r.ax),
            ("rcx", r.cx),
            ("rdx", r.dx),
            ("rsi", r.si),
            ("rdi", r.di),
            ("orig_rax", r.orig_ax),
            ("rip", r.ip),
            ("cs", r.cs),
            ("eflags", r.flags),
            ("rsp", r.sp),
            ("ss", r.ss),
            ("fs_base", r.fs_base),
            ("gs_base", r.gs_base),
            ("ds", r.ds),
            ("es", r.es),
            ("fs", r.fs),
            ("gs", r.gs),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect());
    }
    if let Some(arm64) = core.ti_aarch64.as_ref() {
        let r = &arm64.gpregs;
        let mut out: Vec<(String, u64)> = r.regs.iter().enumerate().map(|(i, v)| (format!("x{i}"), *v)).collect();
        out.push(("sp".into(), r.sp));
        out.push(("pc".into(), r.pc));
        out.push(("pstate".into(), r.pstate));
        return Ok(out);
    }
    // The typed message is re-encoded (a few hundred bytes) so that one walk
    // over the schema tables names the fields of every other architecture.
    let (id, bytes) = if let Some(ti) = &core.ti_arm {
        (message_ids::USER_ARM_REGS_ENTRY, ti.gpregs.encode_to_vec())
    } else if let Some(ti) = &core.ti_ppc64 {
        (message_ids::USER_PPC64_REGS_ENTRY, ti.gpregs.encode_to_vec())
    } else if let Some(ti) = &core.ti_s390 {
        (message_ids::USER_S390_REGS_ENTRY, ti.gpregs.encode_to_vec())
    } else if let Some(ti) = &core.ti_mips {
        (message_ids::USER_MIPS_REGS_ENTRY, ti.gpregs.encode_to_vec())
    } else if let Some(ti) = &core.ti_loongarch64 {
        (message_ids::USER_LOONGARCH64_GPREGS_ENTRY, ti.gpregs.encode_to_vec())
    } else if let Some(ti) = &core.ti_riscv64 {
        (message_ids::USER_RISCV64_REGS_ENTRY, ti.gpregs.encode_to_vec())
    } else {
        return Ok(Vec::new());
    };
    by_field_names(id, &bytes).map_err(|what| Error::Malformed { at: at.clone(), detail: format!("{} registers: {what}", id.name()) })
}

/// `(field name, value)` of every integer field of a message, repeated
/// fields (packed or not) as `name[i]`, in the order they are encoded.
fn by_field_names(id: MessageId, bytes: &[u8]) -> std::result::Result<Vec<(String, u64)>, String> {
    let schema = id.schema();
    let mut out = Vec::new();
    let mut counts = vec![0usize; schema.fields.len()];
    for field in Fields::new(bytes) {
        let (number, value) = field.map_err(|e| e.to_string())?;
        let Some(position) = schema.fields.iter().position(|f| f.number == number) else { continue };
        let f = &schema.fields[position];
        let signed = matches!(f.ty, FieldType::Sint32 | FieldType::Sint64);
        let mut push = |v: u64| {
            let v = if signed { unzigzag(v) as u64 } else { v };
            let name = if f.repeated {
                counts[position] += 1;
                format!("{}[{}]", f.name, counts[position] - 1)
            } else {
                f.name.to_string()
            };
            out.push((name, v));
        };
        match value {
            WireValue::Varint(v) | WireValue::Fixed64(v) => push(v),
            WireValue::Fixed32(v) => push(u64::from(v)),
            WireValue::Bytes(packed) if f.repeated && f.ty.is_integer() => {
                let mut pos = 0;
                while pos < packed.len() {
                    match f.ty {
                        FieldType::Fixed64 | FieldType::Sfixed64 => {
                            let chunk = packed.get(pos..pos + 8).ok_or("truncated packed fixed64")?;
                            push(u64::from_le_bytes(chunk.try_into().map_err(|_| "truncated packed fixed64")?));
                            pos += 8;
                        }
                        FieldType::Fixed32 | FieldType::Sfixed32 => {
                            let chunk = packed.get(pos..pos + 4).ok_or("truncated packed fixed32")?;
                            push(u64::from(u32::from_le_bytes(chunk.try_into().map_err(|_| "truncated packed fixed32")?)));
                            pos += 4;
                        }
                        _ => push(crate::proto::wire::read_varint(packed, &mut pos).map_err(|e| e.to_string())?),
                    }
                }
            }
            WireValue::Bytes(_) => {} // no register is a string or a message
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{
        ThreadInfoRiscv64, ThreadInfoS390, UserRiscv64DExtEntry, UserRiscv64RegsEntry, UserS390FpregsEntry, UserS390RegsEntry,
    };

    #[test]
    fn other_architectures_by_field_name() {
        let at = Location::new("core-1.img", 0);
        let mut core = CoreEntry { mtype: 8, ..Default::default() };
        core.ti_riscv64 = Some(ThreadInfoRiscv64 {
            gpregs: UserRiscv64RegsEntry { pc: 0x1000, sp: 0x7fff, a0: 3, ..Default::default() },
            fpsimd: UserRiscv64DExtEntry::default(),
            ..Default::default()
        });
        let regs = registers(&core, &at).unwrap();
        assert_eq!(regs.len(), 32);
        assert_eq!(regs[0], ("pc".to_string(), 0x1000));
        assert!(regs.contains(&("a0".to_string(), 3)));

        let mut core = CoreEntry { mtype: 5, ..Default::default() };
        core.ti_s390 = Some(ThreadInfoS390 {
            gpregs: UserS390RegsEntry { psw_addr: 0x80, gprs: (0..16).collect(), acrs: vec![7; 16], ..Default::default() },
            fpregs: UserS390FpregsEntry::default(),
            ..Default::default()
        });
        let regs = registers(&core, &at).unwrap();
        assert!(regs.contains(&("psw_addr".to_string(), 0x80)));
        assert!(regs.contains(&("gprs[15]".to_string(), 15)));
        assert!(regs.contains(&("acrs[0]".to_string(), 7)));
        assert!(registers(&CoreEntry::default(), &at).unwrap().is_empty());
    }
}
