//! Linux: the executable's `r-xp` mappings from `/proc/self/maps`, each advised
//! `MADV_DONTNEED`.

use std::io;
use std::os::unix::fs::MetadataExt as _;

/// One mapping of the executable's code: its address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CodeMapping {
    pub start: usize,
    pub end: usize,
}

/// The `r-xp` mappings in `maps` (the text of `/proc/self/maps`) backed by the file with
/// inode `inode` at `path`: the executable's code, and nothing else.
pub(crate) fn code_mappings(maps: &str, inode: u64, path: &str) -> Vec<CodeMapping> {
    maps.lines()
        .filter_map(|line| {
            // start-end perms offset dev inode path
            let mut fields = line.split_ascii_whitespace();
            let range = fields.next()?;
            let perms = fields.next()?;
            let _offset = fields.next()?;
            let _dev = fields.next()?;
            let ino: u64 = fields.next()?.parse().ok()?;
            let rest: Vec<&str> = fields.collect();
            let file = rest.join(" ");
            let file = file.strip_suffix(" (deleted)").unwrap_or(&file);
            if perms != "r-xp" || ino != inode || file != path {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            let start = usize::from_str_radix(start, 16).ok()?;
            let end = usize::from_str_radix(end, 16).ok()?;
            (end > start).then_some(CodeMapping { start, end })
        })
        .collect()
}

/// The executable's inode and the path `/proc/self/maps` names it by.
fn own_executable() -> io::Result<(u64, String)> {
    let inode = std::fs::metadata("/proc/self/exe")?.ino();
    let link = std::fs::read_link("/proc/self/exe")?;
    let path = link.to_string_lossy();
    let path = path.strip_suffix(" (deleted)").unwrap_or(&path).to_string();
    Ok((inode, path))
}

fn own_code_mappings() -> io::Result<Vec<CodeMapping>> {
    let (inode, path) = own_executable()?;
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    Ok(code_mappings(&maps, inode, &path))
}

pub(crate) fn trim_own_code() -> io::Result<usize> {
    let mut advised = 0;
    for m in own_code_mappings()? {
        let len = m.end - m.start;
        // SAFETY: [start, end) is a whole mapping the kernel listed as this process's private,
        // read-only, executable mapping of its own executable file. Such pages are never
        // written (no text relocations: the binary is position-independent, and `r-x` forbids
        // writes), so each is identical to the file's page; MADV_DONTNEED only unmaps them, and
        // the next access maps the file's page again. No Rust object lives in this range, so no
        // reference is invalidated. The range may be unmapped meanwhile only by this process
        // unloading its own executable, which never happens; madvise then fails with ENOMEM,
        // which is returned.
        unsafe {
            rustix::mm::madvise(m.start as *mut core::ffi::c_void, len, rustix::mm::Advice::LinuxDontNeed)?;
        }
        advised += len;
    }
    Ok(advised)
}

pub(crate) fn own_code_resident() -> io::Result<u64> {
    let mappings = own_code_mappings()?;
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut total = 0;
    let mut counting = false;
    for line in smaps.lines() {
        let first = line.split_ascii_whitespace().next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16))
        {
            counting = mappings.contains(&CodeMapping { start, end });
        } else if counting && let Some(kb) = line.strip_prefix("Rss:") {
            total += kb.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap_or(0) * 1024;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_executables_own_code_mapping_is_chosen() {
        let maps = "\
5583a0000000-5583a0200000 r--p 00000000 fd:01 4242 /usr/bin/lakepass
5583a0200000-5583a1000000 r-xp 00200000 fd:01 4242 /usr/bin/lakepass
5583a1000000-5583a1100000 r--p 01000000 fd:01 4242 /usr/bin/lakepass
5583a1100000-5583a1110000 rw-p 01100000 fd:01 4242 /usr/bin/lakepass
7f0000000000-7f0000100000 r-xp 00000000 fd:01 777 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000200000-7f0000300000 r-xp 00000000 fd:01 4242 /other/lakepass
7f0000400000-7f0000500000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00001000 r-xp 00000000 00:00 0 [vdso]
";
        assert_eq!(
            code_mappings(maps, 4242, "/usr/bin/lakepass"),
            vec![CodeMapping { start: 0x5583a0200000, end: 0x5583a1000000 }],
            "the code of this binary only: not its data, not a library, not another file with the same inode"
        );
        // A binary replaced on disk (a package upgrade) is still this process's code.
        let upgraded = "5583a0200000-5583a1000000 r-xp 00200000 fd:01 4242 /usr/bin/lake pass (deleted)\n";
        assert_eq!(
            code_mappings(upgraded, 4242, "/usr/bin/lake pass").len(),
            1,
            "a path with a space, deleted"
        );
    }

    #[test]
    fn trimming_drops_resident_code_and_the_program_runs_on() {
        // Touch code, so some is resident.
        let before_sum: u64 = (0..10_000u64).map(|i| i.wrapping_mul(31)).sum();
        let before = own_code_resident().expect("smaps");
        assert!(before > 0, "a running test binary has resident code");
        let advised = trim_own_code().expect("madvise");
        assert!(advised as u64 >= before, "every resident code page was in an advised mapping");
        let after = own_code_resident().expect("smaps");
        assert!(after < before, "resident code {before} → {after} bytes");
        // The code runs on, faulted back from the file.
        let after_sum: u64 = (0..10_000u64).map(|i| i.wrapping_mul(31)).sum();
        assert_eq!(before_sum, after_sum);
        let text = format!("{:?}", std::fs::read_to_string("/proc/self/status").map(|s| !s.is_empty()));
        assert_eq!(text, "Ok(true)", "formatting and file reading, code not run since the trim, work");
    }
}
