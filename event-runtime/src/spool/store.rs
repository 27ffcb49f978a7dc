//! Files on disk: names, creating and preallocating a segment, reading one back, its
//! acknowledgements and its index, keeping damaged bytes aside. Everything here does file I/O
//! and runs on the spool's own threads.
//!
//! The spool holds every audited request's payload, so only its owner may read it: the
//! directory is `0700` and every file `0600`, whatever the process's umask. Files are created
//! by name with `O_EXCL` and opened with `O_NOFOLLOW`, so a link planted in the directory is
//! never followed.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::codec;
use super::map::{self, MapFlusher, MapWriter};

/// The mode of the spool's directories.
pub(super) const DIR_MODE: u32 = 0o700;
/// The mode of the spool's files.
pub(super) const FILE_MODE: u32 = 0o600;

pub(super) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

pub(super) fn acks_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.acks"))
}

pub(super) fn index_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.idx"))
}

/// Creates `dir` (and its parents) if needed, and makes it the owner's alone.
pub(super) fn secure_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    let metadata = fs::symlink_metadata(dir)?;
    if !metadata.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a directory (a symbolic link is not followed)",
        ));
    }
    if metadata.permissions().mode() & 0o777 != DIR_MODE {
        fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

/// Opens a file of the spool for reading, never through a symbolic link.
pub(super) fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// Creates a new file of the spool, `0600`, failing if anything (a link included) is there.
pub(super) fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

/// Writes `bytes` to `path` through a new temporary file renamed over it, so a reader never sees
/// half of it. A temporary file a crash left behind is removed first.
pub(super) fn replace(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let partial = partial_path(path);
    remove_if_there(&partial)?;
    let mut file = create_new(&partial)?;
    file.write_all(bytes)?;
    if sync {
        file.sync_all()?;
    }
    fs::rename(&partial, path)
}

/// Where a file is written before it is renamed to `path`.
fn partial_path(path: &Path) -> PathBuf {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    PathBuf::from(partial)
}

/// Tightens the mode of a file an earlier version (or a looser umask) left readable by others.
pub(super) fn secure_file(path: &Path) -> io::Result<()> {
    let metadata = fs::symlink_metadata(path)?;
    if metadata.is_file() && metadata.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(path, Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

/// The ids of the segments in `dir`, in order: of each segment file, and of each index whose
/// segment file was removed (what the index says it held is then lost; see
/// [`unreadable`](super::unreadable)).
pub(super) fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        if let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".seg").or_else(|| n.strip_suffix(".idx")))
            .and_then(|n| n.parse::<u64>().ok())
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// A new segment, allocated whole and mapped, ready to take records.
pub(super) struct Prepared {
    pub id: u64,
    pub file: Arc<File>,
    pub writer: MapWriter,
    pub flusher: MapFlusher,
}

/// Creates segment `id` with room for `capacity` bytes. The space is allocated now, so a full
/// disk fails here and never under a mapped page. Its directory entry is not synced here: the
/// spool's next `fsync` does it, before it counts any record in it as synced (one directory
/// sync for every segment made meanwhile, and none while a burst needs segments fast).
pub(super) fn prepare(dir: &Path, id: u64, capacity: usize) -> io::Result<Prepared> {
    // Acknowledgements and an index an earlier segment with this id left are not this one's.
    remove_if_there(&acks_path(dir, id))?;
    remove_if_there(&index_path(dir, id))?;
    let path = segment_path(dir, id);
    let file = Arc::new(create_new(&path)?);
    let made = allocate(&file, capacity as u64)
        .and_then(|()| file.write_all_at(&codec::file_header(), 0))
        .and_then(|()| map::map(&file, capacity));
    match made {
        Ok((writer, flusher)) => Ok(Prepared {
            id,
            file,
            writer,
            flusher,
        }),
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

/// The first `len` bytes of segment `id` (all of it when `len` is `None`), read from a file
/// opened for the purpose: the spool keeps few segment files open.
pub(super) fn read_segment(dir: &Path, id: u64, len: Option<usize>) -> io::Result<Vec<u8>> {
    read(&open_read(&segment_path(dir, id))?, len)
}

/// How much of a segment [`never_written`] reads: more than a filesystem block, so that what
/// follows starts a block of its own.
const PROBE: usize = 64 << 10;

/// Whether segment `id` never took a record, told without reading it through (a segment made
/// ahead and left when a process exited): its file header is whole, the bytes after it up to
/// [`PROBE`] are zeros, and the filesystem says nothing was written past them (`SEEK_DATA`
/// finds no data there: ext4 and xfs report space allocated and never written as a hole, and
/// count pages in memory, written or only read, as data). `false` when it can't tell, and the
/// segment is read through. A filesystem that reported a hole where bytes were written would
/// cost no record: past a first record's length that is zero nothing is replayed either way,
/// and those bytes would only not be set aside as damaged.
pub(super) fn never_written(dir: &Path, id: u64) -> io::Result<bool> {
    let file = open_read(&segment_path(dir, id))?;
    // Asked first: reading the head may read ahead past it, and pages read count as data.
    let longer = file.metadata()?.len() > PROBE as u64;
    if longer && !no_data_from(&file, PROBE as u64) {
        return Ok(false);
    }
    let head = read(&file, Some(PROBE))?;
    Ok(codec::has_file_header(&head) && head[codec::FILE_HEADER..].iter().all(|b| *b == 0))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn no_data_from(file: &File, offset: u64) -> bool {
    use rustix::fs::{SeekFrom, seek};
    seek(file, SeekFrom::Data(offset)) == Err(rustix::io::Errno::NXIO)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn no_data_from(_: &File, _: u64) -> bool {
    false
}

/// Bytes `from..to` of segment `id` (fewer when the file is shorter; to its end when `to` is
/// `None`), read into `buffer` in place of what it held. A buffer used again is not zeroed or
/// allocated again: replay reads one segment after another into the same one.
pub(super) fn read_segment_into(
    dir: &Path,
    id: u64,
    from: usize,
    to: Option<usize>,
    buffer: &mut Vec<u8>,
) -> io::Result<()> {
    read_into(&open_read(&segment_path(dir, id))?, from, to, buffer)
}

/// The first `len` bytes of an open file (all of it when `len` is `None`, or less when the file
/// was cut short).
pub(super) fn read(file: &File, len: Option<usize>) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    read_into(file, 0, len, &mut bytes)?;
    Ok(bytes)
}

fn read_into(file: &File, from: usize, to: Option<usize>, buffer: &mut Vec<u8>) -> io::Result<()> {
    let on_disk = file.metadata()?.len() as usize;
    let to = to.map_or(on_disk, |to| to.min(on_disk));
    let len = to.saturating_sub(from);
    if buffer.len() < len {
        buffer.resize(len, 0);
    } else {
        buffer.truncate(len);
    }
    file.read_exact_at(buffer, from as u64)
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
    let mut file = create_new(&path)?;
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

/// Writes a copy of an open (possibly deleted) segment back to `path`, through a new file
/// renamed over it: a reader never sees half of it.
pub(super) fn restore(path: &Path, from: &File) -> io::Result<File> {
    let bytes = read(from, None)?;
    let partial = partial_path(path);
    remove_if_there(&partial)?;
    let file = create_new(&partial)?;
    let written = file
        .write_all_at(&bytes, 0)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&partial, path));
    if written.is_err() {
        let _ = fs::remove_file(&partial);
    }
    written.map(|()| file)
}

/// Whether a segment file (a regular file with a segment's header) is at `path`.
pub(super) fn holds_a_segment(path: &Path) -> bool {
    let regular = fs::symlink_metadata(path).is_ok_and(|m| m.is_file());
    regular
        && open_read(path)
            .and_then(|file| read(&file, Some(codec::FILE_HEADER)))
            .is_ok_and(|head| codec::has_file_header(&head))
}

/// Whether the file at `path` holds the same bytes as `file`, all of them (a copy of it).
pub(super) fn same_bytes(path: &Path, file: &File) -> bool {
    let theirs = open_read(path).and_then(|at| read(&at, None));
    matches!((theirs, read(file, None)), (Ok(a), Ok(b)) if a == b)
}

/// Removes what writes cut short by a crash left (files named `*.partial`, see [`replace`] and
/// [`restore`]); for the spool's owner only, with the directory locked. One that can't be
/// removed is logged and left.
pub(super) fn remove_partials(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let partial = path.extension().is_some_and(|x| x == "partial");
        if partial
            && entry.file_type().is_ok_and(|t| t.is_file())
            && let Err(error) = remove_if_there(&path)
        {
            tracing::warn!(%error, path = %path.display(), "spool: could not remove a file a crash left half written");
        }
    }
    Ok(())
}

/// Whether anything (a link included) is at `path`.
pub(super) fn is_there(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// The acknowledged records of a segment, as the bit set [`write_acks`] left.
pub(super) fn read_acks(dir: &Path, id: u64) -> Vec<u64> {
    match open_read(&acks_path(dir, id)).and_then(|file| read(&file, None)) {
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
    replace(&acks_path(dir, id), &bytes, false)
}

/// What a sealed segment's index says: how many records it holds and where they end, so that
/// the next start need not read it to know. Its records' checksums are still checked when they
/// are read for replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Index {
    pub records: u32,
    pub end: usize,
}

const INDEX_MAGIC: &[u8; 8] = b"KEVSIDX1";

/// Writes the index of a sealed segment whose bytes are on disk.
pub(super) fn write_index(dir: &Path, id: u64, index: Index, sync: bool) -> io::Result<()> {
    let mut bytes = Vec::with_capacity(24);
    bytes.extend_from_slice(INDEX_MAGIC);
    bytes.extend_from_slice(&index.records.to_le_bytes());
    bytes.extend_from_slice(&(index.end as u64).to_le_bytes());
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    replace(&index_path(dir, id), &bytes, sync)
}

/// The index of segment `id`, if it has a whole one.
pub(super) fn read_index(dir: &Path, id: u64) -> Option<Index> {
    let bytes = open_read(&index_path(dir, id))
        .and_then(|file| read(&file, None))
        .ok()?;
    let (body, crc) = bytes.split_at_checked(20)?;
    if body[..8] != *INDEX_MAGIC || crc32fast::hash(body).to_le_bytes() != *crc {
        return None;
    }
    Some(Index {
        records: u32::from_le_bytes(body[8..12].try_into().ok()?),
        end: u64::from_le_bytes(body[12..20].try_into().ok()?) as usize,
    })
}

/// Deletes a segment's index, then the segment, then its acknowledgements: a segment that can't
/// be deleted keeps its acknowledgements, so its records are not sent again after a restart, and
/// a deletion cut short never leaves an index without its segment (which would be taken for a
/// segment removed with records in it; see [`list_segments`]). Acknowledgements left without
/// their segment are removed before a segment with that id is made again (see [`prepare`]).
pub(super) fn remove(dir: &Path, id: u64) -> io::Result<()> {
    remove_if_there(&index_path(dir, id))?;
    remove_if_there(&segment_path(dir, id))?;
    remove_if_there(&acks_path(dir, id))
}

/// Deletes a file, if there is one.
pub(super) fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
