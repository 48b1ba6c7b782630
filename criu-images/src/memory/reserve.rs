//! Room for the large vectors of the index (pagemap runs, pieces), reserved
//! at once and, on Linux, backed by transparent huge pages where the
//! kernel allows them.
//!
//! A process cut into 200,000 runs needs about 28 MB for its index; filled
//! 4 KiB page by 4 KiB page, that is ~7,000 page faults, which took more
//! kernel time than the whole build's user time (`perf stat` of `mem maps`:
//! 6.9k -> 1.3k faults, system time 20 -> 7.5 ms). `MADV_HUGEPAGE` asks for
//! 2 MiB pages in the reserved range; on kernels where transparent huge
//! pages are off it changes nothing, and it never changes the contents.

/// Bytes below which advising is not worth a system call.
#[cfg(target_os = "linux")]
const HUGE_PAGE: usize = 2 << 20;

/// Reserves room for `additional` more elements in `v` (as
/// [`Vec::reserve`]) and asks for huge pages for the reserved room.
pub(super) fn reserve_large<T>(v: &mut Vec<T>, additional: usize) {
    v.reserve(additional);
    #[cfg(target_os = "linux")]
    advise_huge(v);
}

/// `madvise(MADV_HUGEPAGE)` over the 2 MiB-aligned part of `v`'s spare
/// capacity (the part not yet written: nothing is there to move).
#[cfg(target_os = "linux")]
fn advise_huge<T>(v: &mut Vec<T>) {
    let spare = v.spare_capacity_mut();
    let begin = spare.as_mut_ptr() as usize;
    let Some(end) = begin.checked_add(std::mem::size_of_val(spare)) else { return };
    let Some(start) = begin.checked_next_multiple_of(HUGE_PAGE) else { return };
    let end = end & !(HUGE_PAGE - 1);
    if end > start {
        // SAFETY: `[start, end)` lies inside the allocation `v` owns, and
        // MADV_HUGEPAGE is advice: it changes neither the mapping's contents
        // nor its validity (at worst it fails with EINVAL, which is ignored,
        // as on kernels without transparent huge pages).
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}
