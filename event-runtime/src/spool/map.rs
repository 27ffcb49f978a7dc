//! A segment file mapped into memory, so that appending a record is a copy into the page cache
//! and never a system call on the caller's thread: a process killed after the copy still leaves
//! the record to the kernel, which writes it out.
//!
//! The only `unsafe` code of the crate is here. A mapping is sound as long as nothing truncates
//! the file while it is mapped: segment files are created by this process, preallocated to their
//! full length before they are mapped, never resized, and their directory is held by a lock
//! file. Writes go through the one [`MapWriter`] of a mapping (`&mut self`), so two writes never
//! overlap; [`MapFlusher`] only asks the kernel to write pages out.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};

/// Maps `len` bytes of `file` (which must already be that long) for writing.
pub(super) fn map(file: &Arc<File>, len: usize) -> io::Result<(MapWriter, MapFlusher)> {
    let raw = Arc::new(MmapOptions::new().len(len).map_raw(&**file)?);
    let file = file.clone();
    Ok((MapWriter { raw: raw.clone() }, MapFlusher { raw, file }))
}

/// The write side of a mapping. There is one per mapping.
pub(super) struct MapWriter {
    raw: Arc<MmapRaw>,
}

impl MapWriter {
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// The bytes at `offset..offset + len`, to write into. Panics if out of bounds, like slicing.
    pub fn slice_mut(&mut self, offset: usize, len: usize) -> &mut [u8] {
        let end = offset.checked_add(len).expect("range overflows");
        assert!(end <= self.raw.len(), "write past the end of a mapping");
        // SAFETY: the range is inside the mapping, which lives as long as `self.raw`; the file is
        // never truncated while mapped (module docs); `&mut self` on the only writer means no
        // other reference into the mapping exists from this side, and `MapFlusher` never reads
        // or writes the memory itself.
        unsafe { std::slice::from_raw_parts_mut(self.raw.as_mut_ptr().add(offset), len) }
    }
}

/// Flushes a mapping to disk. Clones share it.
#[derive(Clone)]
pub(super) struct MapFlusher {
    raw: Arc<MmapRaw>,
    /// The file mapped (which a segment's own `file` may no longer be once the segment was
    /// written back to a recreated directory).
    file: Arc<File>,
}

impl MapFlusher {
    /// Writes the mapping's dirty pages out and waits for the disk (`msync(MS_SYNC)`).
    pub fn flush(&self) -> io::Result<()> {
        self.raw.flush()
    }

    /// The file mapped: on Linux, `msync(MS_SYNC)` is its `fdatasync` over the mapped range
    /// (the same write-back, the same errors reported to the same open file), which needs no
    /// mapping kept.
    pub fn file(&self) -> &Arc<File> {
        &self.file
    }
}
