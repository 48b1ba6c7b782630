//! Signals: the handlers of a task (`task_core_entry.sigactions`), the
//! blocked masks of its threads (`blk_sigset`) and the signals queued for
//! the task (`signals_s`) and for each thread (`signals_p`), from `core-*`
//! images.

use crate::error::{Error, Location, Result};
use crate::image::Endian;
use crate::proto::{SaEntry, SignalQueueEntry};

use super::names::{signal_mask_names, signal_name};

/// A signal whose handler is not the default.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SigAction {
    /// `SIGTERM`, ...
    pub signal: String,
    /// Signal number (kernel numbering: realtime signals start at 32).
    pub number: u32,
    /// `ignore` or the handler address in hex.
    pub handler: String,
    /// `sa_flags`.
    pub flags: u64,
    /// Signals blocked while the handler runs (`sa_mask`).
    pub mask: Vec<String>,
}

impl SigAction {
    /// True if the signal is ignored (`SIG_IGN`), false if a handler catches it.
    pub fn ignored(&self) -> bool {
        self.handler == "ignore"
    }

    /// Names of the `SA_*` bits of [`flags`](Self::flags); unknown bits as hex.
    pub fn flag_names(&self) -> Vec<String> {
        sa_flag_names(self.flags)
    }
}

/// A signal queued for a task or a thread, not yet delivered.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PendingSignal {
    /// `SIGUSR1`, ...
    pub signal: String,
    /// Signal number.
    pub number: u32,
    /// `si_code`: who sent it (`SI_USER` for kill(2), `SI_QUEUE`, `SI_TKILL`, `SI_KERNEL`, ...).
    pub code: i32,
    /// The name of [`code`](Self::code), or the number.
    pub code_name: String,
    /// The sender's pid (in its pid namespace) and real uid, for signals
    /// sent by a process (kill, sigqueue, tgkill) and for `SIGCHLD`.
    pub sender_pid: Option<i32>,
    #[allow(missing_docs)]
    pub sender_uid: Option<u32>,
}

/// `sa_flags` bits (`asm-generic/signal.h`; the same on x86-64, arm64,
/// ppc64, s390x and riscv64).
const SA_FLAGS: &[(u64, &str)] = &[
    (0x0000_0001, "SA_NOCLDSTOP"),
    (0x0000_0002, "SA_NOCLDWAIT"),
    (0x0000_0004, "SA_SIGINFO"),
    (0x0000_0400, "SA_UNSUPPORTED"),
    (0x0000_0800, "SA_EXPOSE_TAGBITS"),
    (0x0400_0000, "SA_RESTORER"),
    (0x0800_0000, "SA_ONSTACK"),
    (0x1000_0000, "SA_RESTART"),
    (0x4000_0000, "SA_NODEFER"),
    (0x8000_0000, "SA_RESETHAND"),
];

/// Names of the `SA_*` bits of `flags`; bits without a name as one hex number.
pub fn sa_flag_names(flags: u64) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = flags;
    for &(bit, name) in SA_FLAGS {
        if flags & bit != 0 {
            names.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    names
}

/// Names of the signals of a signal set: `mask` holds signals 1-64,
/// `extended` signals 65-128 (MIPS has 128 signals).
pub fn signal_set_names(mask: u64, extended: Option<u64>) -> Vec<String> {
    let mut names = signal_mask_names(mask);
    if let Some(high) = extended {
        names.extend((0..64).filter(|b| high & (1 << b) != 0).map(|b| signal_name(b + 65)));
    }
    names
}

/// The signal numbers of `tc.sigactions`, in order: CRIU writes one entry
/// per signal from 1 to 64 except `SIGKILL` (9) and `SIGSTOP` (19), whose
/// handlers cannot change.
fn sigaction_numbers() -> impl Iterator<Item = u32> {
    (1..=64).filter(|&n| n != 9 && n != 19)
}

/// The non-default handlers among CRIU's `sigactions` entries.
///
/// More entries than signals is malformed (`at` names the core image).
pub(crate) fn sigactions(entries: &[SaEntry], at: &Location) -> Result<Vec<SigAction>> {
    let numbers: Vec<u32> = sigaction_numbers().collect();
    if entries.len() > numbers.len() {
        return Err(Error::Malformed {
            at: at.clone(),
            detail: format!("{} sigactions; expected at most {} (signals 1-64 but SIGKILL and SIGSTOP)", entries.len(), numbers.len()),
        });
    }
    Ok(entries
        .iter()
        .zip(numbers)
        .filter(|(sa, _)| sa.sigaction != 0)
        .map(|(sa, number)| SigAction {
            signal: signal_name(number),
            number,
            handler: if sa.sigaction == 1 { "ignore".into() } else { format!("{:#x}", sa.sigaction) },
            flags: sa.flags,
            mask: signal_set_names(sa.mask, sa.mask_extended),
        })
        .collect())
}

/// Where the `_sifields` union starts in a kernel `siginfo_t`: after three
/// ints, padded to 8 bytes on 64-bit architectures.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct SiginfoLayout {
    pub endian: Endian,
    pub union_offset: usize,
}

/// Decodes the siginfo records of a signal queue (`signals_s` or `signals_p`).
pub(crate) fn pending(queue: Option<&SignalQueueEntry>, layout: SiginfoLayout, at: &Location) -> Result<Vec<PendingSignal>> {
    let Some(queue) = queue else { return Ok(Vec::new()) };
    queue
        .signals
        .iter()
        .enumerate()
        .map(|(i, s)| {
            decode_siginfo(&s.siginfo, layout)
                .map_err(|what| Error::Malformed { at: at.clone(), detail: format!("queued signal {i}: {what}") })
        })
        .collect()
}

fn decode_siginfo(bytes: &[u8], layout: SiginfoLayout) -> std::result::Result<PendingSignal, String> {
    let need = layout.union_offset + 8;
    if bytes.len() < need {
        return Err(format!("siginfo of {} bytes; expected at least {need} (a kernel siginfo_t is 128)", bytes.len()));
    }
    let word = |offset: usize| layout.endian.u32([bytes[offset], bytes[offset + 1], bytes[offset + 2], bytes[offset + 3]]);
    let number = word(0);
    let code = word(8) as i32;
    // SI_USER, SI_QUEUE, SI_TKILL, SI_MESGQ carry the sender in _kill/_rt; so do SIGCHLD's CLD_* codes.
    let has_sender = matches!(code, 0 | -1 | -3 | -6) || (number == 17 && code > 0);
    let (sender_pid, sender_uid) =
        if has_sender { (Some(word(layout.union_offset) as i32), Some(word(layout.union_offset + 4))) } else { (None, None) };
    Ok(PendingSignal { signal: signal_name(number), number, code, code_name: si_code_name(number, code), sender_pid, sender_uid })
}

/// The name of a `si_code` (`asm-generic/siginfo.h`).
fn si_code_name(signal: u32, code: i32) -> String {
    let name = match code {
        0 => "SI_USER",
        0x80 => "SI_KERNEL",
        -1 => "SI_QUEUE",
        -2 => "SI_TIMER",
        -3 => "SI_MESGQ",
        -4 => "SI_ASYNCIO",
        -5 => "SI_SIGIO",
        -6 => "SI_TKILL",
        -7 => "SI_DETHREAD",
        -60 => "SI_ASYNCNL",
        _ if signal == 17 => match code {
            1 => "CLD_EXITED",
            2 => "CLD_KILLED",
            3 => "CLD_DUMPED",
            4 => "CLD_TRAPPED",
            5 => "CLD_STOPPED",
            6 => "CLD_CONTINUED",
            _ => return code.to_string(),
        },
        _ => return code.to_string(),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(handler: u64) -> SaEntry {
        SaEntry { sigaction: handler, flags: 0x0400_0004, restorer: 0, mask: 1 << 1, compat_sigaction: None, mask_extended: None }
    }

    #[test]
    fn sigactions_skip_sigkill_and_sigstop() {
        let at = Location::new("core-1.img", 4);
        let mut entries = vec![sa(0); 62];
        entries[1] = sa(0x401000); // SIGINT
        entries[11] = sa(1); // the 12th entry is SIGPIPE (13), not SIGSEGV
        entries[17] = sa(1); // SIGTSTP (20)
        let got = sigactions(&entries, &at).unwrap();
        let names: Vec<(&str, u32, bool)> = got.iter().map(|s| (s.signal.as_str(), s.number, s.ignored())).collect();
        assert_eq!(names, [("SIGINT", 2, false), ("SIGPIPE", 13, true), ("SIGTSTP", 20, true)]);
        assert_eq!(got[0].flag_names(), ["SA_SIGINFO", "SA_RESTORER"]);
        assert_eq!(got[0].mask, ["SIGINT"]);
        let err = sigactions(&vec![sa(0); 63], &at).unwrap_err().to_string();
        assert!(err.contains("core-1.img: offset 4") && err.contains("63 sigactions"), "{err}");
    }

    #[test]
    fn siginfo_names_the_sender() {
        let layout = SiginfoLayout { endian: Endian::Little, union_offset: 16 };
        let mut info = vec![0u8; 128];
        info[0] = 10; // SIGUSR1
        info[8..12].copy_from_slice(&(-6i32).to_le_bytes()); // SI_TKILL
        info[16..20].copy_from_slice(&42u32.to_le_bytes());
        info[20..24].copy_from_slice(&1000u32.to_le_bytes());
        let got = decode_siginfo(&info, layout).unwrap();
        assert_eq!(
            (got.signal.as_str(), got.code_name.as_str(), got.sender_pid, got.sender_uid),
            ("SIGUSR1", "SI_TKILL", Some(42), Some(1000))
        );
        info[8..12].copy_from_slice(&0x80i32.to_le_bytes());
        assert_eq!(decode_siginfo(&info, layout).unwrap().sender_pid, None);
        assert!(decode_siginfo(&info[..20], layout).unwrap_err().contains("20 bytes"));
        assert_eq!(sa_flag_names(0x1000_0000 | 0x2_0000), ["SA_RESTART", "0x20000"]);
        assert_eq!(signal_set_names(1, Some(1)), ["SIGHUP", "SIG65"]);
    }
}
