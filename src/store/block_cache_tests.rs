//! The block cache answers every read as the file does, reads each block
//! once while its slot holds it, and keeps nothing it did not read whole.

use std::io::Write;

use super::*;

/// A file of `len` bytes, byte `i` being `i % 251` (no block repeats
/// another's bytes at the same place).
fn file_of(len: u64) -> (tempfile::NamedTempFile, Vec<u8>) {
    let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&bytes).expect("write");
    (file, bytes)
}

fn read(cache: &BlockCache, file: &File, len: u64, offset: u64, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; n];
    cache.read_exact_at(file, len, &mut buf, offset)?;
    Ok(buf)
}

/// `reads` (offset, length) and 5,000 random ones of at most `widest`
/// bytes each, given by `read` from a cache over a file of `len` bytes:
/// each must be the bytes the file holds there.
fn check_reads(
    len: u64,
    widest: u64,
    mut reads: Vec<(u64, usize)>,
    read: impl Fn(&BlockCache, &File, u64, u64, usize) -> io::Result<Vec<u8>>,
) {
    let (file, bytes) = file_of(len);
    let cache = BlockCache::default();
    let mut rng = fastrand::Rng::with_seed(9);
    for _ in 0..5_000 {
        let offset = rng.u64(..len);
        let n = rng.u64(0..=(len - offset).min(widest));
        reads.push((offset, n as usize));
    }
    for (offset, n) in reads {
        let got = read(&cache, file.as_file(), len, offset, n).expect("read");
        let at = offset as usize;
        assert_eq!(got, &bytes[at..at + n], "{n} bytes at {offset}");
    }
}

#[test]
fn every_read_gives_the_bytes_the_file_holds_there() {
    let len = BLOCK * (SLOTS + 3) + 123;
    // Reads inside a block, across a boundary, at the file's end, wider
    // than two blocks, and far apart so that slots are shared.
    let reads = vec![
        (BLOCK - 10, 20),
        (len - 5, 5),
        (len - BLOCK - 7, BLOCK as usize + 7),
        (3, (3 * BLOCK) as usize),
        (0, 1),
    ];
    check_reads(len, 3 * BLOCK, reads, read);
}

#[test]
fn a_read_past_the_end_fails_as_the_file_does_and_keeps_nothing() {
    let len = BLOCK + 100;
    let (file, bytes) = file_of(len);
    let cache = BlockCache::default();
    let past = read(&cache, file.as_file(), len, len - 10, 20).expect_err("past the end");
    assert_eq!(past.kind(), io::ErrorKind::UnexpectedEof);
    // A caller that says the file is longer than it is gets the file's
    // error, and the slot is not left holding a short block.
    let told_longer = read(&cache, file.as_file(), len + BLOCK, BLOCK, 200).expect_err("short");
    assert_eq!(told_longer.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(
        read(&cache, file.as_file(), len, BLOCK, 100).expect("read"),
        &bytes[BLOCK as usize..]
    );
}

/// A block is read from the file once while its slot holds it, whether
/// `read` copies (`read_exact_at`) or reads in place.
fn check_slot_reuse(read: impl Fn(&BlockCache, &File, u64, u64, usize) -> io::Result<Vec<u8>>) {
    let len = BLOCK * (SLOTS + 2);
    let (file, bytes) = file_of(len);
    let cache = BlockCache::default();
    assert_eq!(
        read(&cache, file.as_file(), len, 100, 10).expect("read"),
        &bytes[100..110]
    );
    // The file changes under the cache (which its callers never let
    // happen): a read of the same block still gives what was read first,
    // which shows it came from the slot.
    file.as_file()
        .write_all_at(&[0xff; 10], 200)
        .expect("write");
    assert_eq!(
        read(&cache, file.as_file(), len, 200, 10).expect("read"),
        &bytes[200..210]
    );
    // A block sharing the slot replaces it: the same offset now reads the
    // file again.
    let other = SLOTS * BLOCK + 5;
    let at = other as usize;
    assert_eq!(
        read(&cache, file.as_file(), len, other, 10).expect("read"),
        &bytes[at..at + 10]
    );
    assert_eq!(
        read(&cache, file.as_file(), len, 200, 10).expect("read"),
        vec![0xff; 10]
    );
}

#[test]
fn a_block_is_read_from_the_file_once_while_its_slot_holds_it() {
    check_slot_reuse(read);
    check_slot_reuse(in_place);
}

/// What `read_in_place` hands its reader, copied out.
fn in_place(
    cache: &BlockCache,
    file: &File,
    len: u64,
    offset: u64,
    n: usize,
) -> io::Result<Vec<u8>> {
    cache.read_in_place(file, len, (offset, n), <[u8]>::to_vec)
}

#[test]
fn a_read_in_place_gives_the_bytes_the_file_holds_there() {
    let len = BLOCK * (SLOTS + 3) + 123;
    // Inside one block, across a boundary (gathered), the file's last
    // bytes, nothing, and far apart so that slots are shared.
    let reads = vec![
        (BLOCK - 10, 10),
        (BLOCK - 10, 20),
        (len - 5, 5),
        (7, 0),
        (0, 1),
    ];
    check_reads(len, BLOCK + 100, reads, in_place);
    let (file, _) = file_of(len);
    let past = in_place(&BlockCache::default(), file.as_file(), len, len - 10, 20);
    assert_eq!(
        past.expect_err("past the end").kind(),
        io::ErrorKind::UnexpectedEof
    );
}
