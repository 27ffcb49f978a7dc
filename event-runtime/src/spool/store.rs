//! Segment files on disk: names, creating and preallocating one, reading one back, keeping
//! damaged bytes aside. Everything here does file I/O and runs on the spool's own threads.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::codec;
use super::map::{self, MapFlusher, MapWriter};

pub(super) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

pub(super) fn acks_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.acks"))
}

/// The ids of the segment files in `dir`, in order.
pub(super) fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".seg"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// A new segment, allocated whole and mapped, ready to take records.
pub(super) struct Prepared {
    pub id: u64,
    pub file: File,
    pub writer: MapWriter,
    pub flusher: MapFlusher,
}

/// Creates segment `id` with room for `capacity` bytes. The space is allocated now, so a full
/// disk fails here and never under a mapped page.
pub(super) fn prepare(dir: &Path, id: u64, capacity: usize) -> io::Result<Prepared> {
    // Acknowledgements an earlier segment with this id left behind are not this one's.
    remove_acks(dir, id)?;
    let path = segment_path(dir, id);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    let made = allocate(&file, capacity as u64)
        .and_then(|()| file.write_all_at(&codec::file_header(), 0))
        .and_then(|()| map::map(&file, capacity));
    match made {
        Ok((writer, flusher)) => {
            sync_dir(dir)?;
            Ok(Prepared {
                id,
                file,
                writer,
                flusher,
            })
        }
        Err(error) => {
            let _ = fs::remove_file(&path);
            Err(error)
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn allocate(file: &File, len: u64) -> io::Result<()> {
    use rustix::fs::{FallocateFlags, fallocate};
    match fallocate(file, FallocateFlags::empty(), 0, len) {
        Ok(()) => Ok(()),
        Err(errno) if errno == rustix::io::Errno::OPNOTSUPP => write_zeros(file, len),
        Err(errno) => Err(errno.into()),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn allocate(file: &File, len: u64) -> io::Result<()> {
    write_zeros(file, len)
}

/// Allocates by writing, where the filesystem can't allocate without it.
fn write_zeros(file: &File, len: u64) -> io::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

/// Makes a created or removed file's directory entry durable.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The first `len` bytes of a segment (all of it when `len` is `None`).
pub(super) fn read(file: &File, len: Option<usize>) -> io::Result<Vec<u8>> {
    let len = match len {
        Some(len) => len,
        None => file.metadata()?.len() as usize,
    };
    let mut bytes = vec![0u8; len];
    file.read_exact_at(&mut bytes, 0)?;
    Ok(bytes)
}

/// Keeps `bytes` (a damaged part of segment `id` from `offset` on, zeros at the end left out)
/// in a file of its own beside the segments; returns its path. The name carries the time, so a
/// later segment with the same id never overwrites it.
pub(super) fn keep_damaged(
    dir: &Path,
    id: u64,
    offset: usize,
    bytes: &[u8],
) -> io::Result<PathBuf> {
    let used = bytes
        .iter()
        .rposition(|b| *b != 0)
        .map_or(0, |last| last + 1);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let path = dir.join(format!("{id:020}.seg.{offset}.{nanos}.damaged"));
    let mut file = File::create(&path)?;
    file.write_all(&bytes[..used])?;
    file.sync_all()?;
    Ok(path)
}

/// Whether `path` is still the file `file` has open (false when it was deleted or replaced).
pub(super) fn same_file(path: &Path, file: &File) -> bool {
    match (fs::symlink_metadata(path), file.metadata()) {
        (Ok(on_disk), Ok(open)) => on_disk.ino() == open.ino() && on_disk.dev() == open.dev(),
        _ => false,
    }
}

/// Writes a copy of an open (possibly deleted) segment back to `path`.
pub(super) fn restore(path: &Path, from: &File) -> io::Result<File> {
    let bytes = read(from, None)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.write_all_at(&bytes, 0)?;
    file.sync_all()?;
    Ok(file)
}

/// The acknowledged records of a segment, as the bit set [`write_acks`] left.
pub(super) fn read_acks(dir: &Path, id: u64) -> Vec<u64> {
    match fs::read(acks_path(dir, id)) {
        Ok(bytes) => bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Records which records of a segment are done, so the next start does not send them again. A
/// lost update only means those records are sent twice.
pub(super) fn write_acks(dir: &Path, id: u64, bits: &[u64]) -> io::Result<()> {
    let bytes: Vec<u8> = bits.iter().flat_map(|w| w.to_le_bytes()).collect();
    let path = acks_path(dir, id);
    let partial = path.with_extension("acks.partial");
    fs::write(&partial, bytes)?;
    fs::rename(partial, path)
}

/// Deletes a segment and its acknowledgement file, the segment first: a segment that can't be
/// deleted keeps its acknowledgements, so its records are not sent again after a restart.
/// Acknowledgements left without their segment are removed before a segment with that id is
/// made again (see [`prepare`]).
pub(super) fn remove(dir: &Path, id: u64) -> io::Result<()> {
    fs::remove_file(segment_path(dir, id))?;
    remove_acks(dir, id)
}

/// Deletes the acknowledgement file of segment `id`, if there is one.
pub(super) fn remove_acks(dir: &Path, id: u64) -> io::Result<()> {
    match fs::remove_file(acks_path(dir, id)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
