//! How the process asks the C allocator to hand memory back.
//!
//! glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), so
//! after the loader frees a zone file's text, the next big tables (a zone's record
//! arenas, its name index) come from the heap, and a reload's old tables stay resident
//! after they are freed. At 1,000,000 records that left 234 MiB resident after a
//! reload where 143 MiB were live. A fixed threshold keeps large tables in their own
//! mappings, returned to the system when they are dropped.

/// Blocks this large or larger get their own mapping (glibc's initial threshold).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 128 * 1024;

/// Fix the allocator's mmap threshold; call once, before loading zones.
pub fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; no pointer is involved.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
