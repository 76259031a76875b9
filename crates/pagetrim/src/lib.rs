//! Gives back the resident pages of this program's own code that start-up touched and an idle
//! loop does not use.
//!
//! Why: the tray is one process that idles for days. Starting it runs code from all over the
//! `lakepass` binary (config, vault, engine, D-Bus, the tray item), and the kernel maps each
//! page fault's 64 KiB neighbourhood too (fault-around), so 12 MB of the binary's code stay
//! mapped while the idle loop needs a fraction of it (docs/benchmarks.md, figure 4). Those
//! pages are clean and file-backed: the kernel can always read them again from the binary.
//! [`trim_own_code`] drops this process's mappings of them (`madvise(MADV_DONTNEED)` on the
//! executable's read-only, executable mapping); the next call into dropped code faults it back
//! from the page cache, as after any reclaim. Nothing in data is touched: relocated data
//! (RELRO, `.data`) is private and dirty, and dropping it would lose it, so only the mapping
//! that is `r-xp` and backed by this program's own file is advised.
//!
//! Why our own: no maintained crate does this one call; `rustix::mm::madvise` is the call, and
//! it is `unsafe` because in general it can discard memory. The workspace forbids unsafe code,
//! so the one block lives here, as the Windows calls live in `lakepass-winsec`.
//!
//! Other platforms: [`trim_own_code`] does nothing and says so (`Ok(0)`).

#[cfg(target_os = "linux")]
mod linux;

/// Drops this process's resident mappings of its own executable's code; returns how many bytes
/// of mappings were advised (not how many were resident). `Ok(0)` where there is nothing to do
/// (another platform, or no such mapping found).
pub fn trim_own_code() -> std::io::Result<usize> {
    #[cfg(target_os = "linux")]
    {
        linux::trim_own_code()
    }
    #[cfg(not(target_os = "linux"))]
    {
        Ok(0)
    }
}

/// The resident size, in bytes, of this process's mappings of its own executable's code, as
/// `/proc/self/smaps` counts it; `None` where that is not known (another platform).
pub fn own_code_resident() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        linux::own_code_resident().ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}
