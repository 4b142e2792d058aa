//! `analyze --json`'s failures written from a scratch database in blocks,
//! the odd blocks rendered by a second connection on a thread of its own
//! while the calling thread renders the even ones and writes both in
//! order. The report runs after the diagnosis, on one thread and with the
//! other core idle: rendering a failure (its row read by id, its details
//! read back, its JSON written) took 0.2 s of a Keycloak gigabyte's
//! analysis (benches/README.md).
//!
//! Invariant: the bytes written are those of rendering every failure in
//! order on one connection (`threads` 1 does exactly that); at most three
//! blocks are rendered and not yet written at any time.

use std::io::Write;
use std::sync::mpsc;

use crate::store::{self, Store};

/// Failures a block holds (about 100 KB of output).
pub const BLOCK: usize = 64;

/// The second connection's page cache: each failure's row is read once, by
/// id, so little more than the upper pages of its B-trees is read twice;
/// the 4 MB of a diagnosis reader raised the peak memory of a 3 GB Rails
/// log's analysis to 63–64 MB (benches/README.md).
const HELPER_CACHE_KIB: i64 = 256;

/// Writes the failures `ids` of the scratch database `store`, in that
/// order, one JSON line each, using up to two threads.
pub fn write_blocks<E>(
    out: &mut dyn Write,
    store: &Store,
    ids: &[String],
    threads: usize,
) -> Result<(), E>
where
    E: From<store::Error> + From<std::io::Error> + From<serde_json::Error> + Send,
{
    let path = store.scratch_path();
    match path {
        Some(path) if threads > 1 && ids.len() > BLOCK => on_two_threads(out, store, &path, ids),
        _ => {
            for block in ids.chunks(BLOCK) {
                out.write_all(&render::<E>(store, block)?)?;
            }
            Ok(())
        }
    }
}

/// The JSON lines of `block`'s failures.
fn render<E>(store: &Store, block: &[String]) -> Result<Vec<u8>, E>
where
    E: From<store::Error> + From<serde_json::Error>,
{
    let mut bytes = Vec::with_capacity(block.len() * 2048);
    store.each_stored_failure_of(block, &mut |failure| {
        failure.write_json(&mut bytes)?;
        bytes.push(b'\n');
        Ok::<(), E>(())
    })?;
    Ok(bytes)
}

fn on_two_threads<E>(
    out: &mut dyn Write,
    store: &Store,
    path: &std::path::Path,
    ids: &[String],
) -> Result<(), E>
where
    E: From<store::Error> + From<std::io::Error> + From<serde_json::Error> + Send,
{
    let helper =
        Store::open_scratch_reader_with_cache(path, store.evidence_spill(), HELPER_CACHE_KIB)?;
    // Pairs of blocks: the first of each rendered here, the second (when
    // there is one) by the helper.
    let pairs: Vec<&[String]> = ids.chunks(2 * BLOCK).collect();
    std::thread::scope(|scope| {
        let (jobs, todo) = mpsc::channel::<&[String]>();
        let (done, rendered) = mpsc::channel::<Result<Vec<u8>, E>>();
        scope.spawn(move || {
            for block in todo {
                if done.send(render::<E>(&helper, block)).is_err() {
                    return;
                }
            }
        });
        // The helper is handed the next pair's second block before this
        // thread renders the first of the current pair: it always has one
        // queued while this thread renders and writes.
        let seconds: Vec<Option<&[String]>> = pairs
            .iter()
            .map(|pair| pair.get(BLOCK..).filter(|b| !b.is_empty()))
            .collect();
        if let Some(Some(second)) = seconds.first() {
            jobs.send(second).map_err(|_| stopped::<E>())?;
        }
        for (k, pair) in pairs.iter().enumerate() {
            if let Some(Some(next)) = seconds.get(k + 1) {
                jobs.send(next).map_err(|_| stopped::<E>())?;
            }
            out.write_all(&render::<E>(store, &pair[..pair.len().min(BLOCK)])?)?;
            if seconds[k].is_some() {
                out.write_all(&rendered.recv().map_err(|_| stopped::<E>())??)?;
            }
        }
        Ok(())
    })
}

/// The helper thread ended without its block (it panicked).
fn stopped<E: From<std::io::Error>>() -> E {
    std::io::Error::other("the report's second thread stopped").into()
}
