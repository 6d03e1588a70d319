//! How far Automerge bytes from another replica expand when loaded, measured before Automerge
//! loads them.
//!
//! Automerge's storage format may DEFLATE-compress a whole change (a compressed change chunk)
//! or single columns of a document or bundle chunk, and Automerge inflates them without any
//! limit: a few kilobytes can claim gigabytes. [`inflated_size`] walks the chunks, inflates
//! each compressed part through a counter that stops at the limit, and refuses bytes that would
//! expand past it, so a replica never hands Automerge a decompression bomb.

use flate2::read::DeflateDecoder;
use std::io::Read;

/// The most one record's bytes (a document, or the changes pushed for it) may expand to when
/// loaded. Far above any real record; far below what would exhaust a server's memory.
pub const MAX_RECORD_BYTES: u64 = 32 * 1024 * 1024;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const CHUNK_DOCUMENT: u8 = 0;
const CHUNK_CHANGE: u8 = 1;
const CHUNK_COMPRESSED: u8 = 2;
const CHUNK_BUNDLE: u8 = 3;
const HASH_LEN: usize = 32;
/// The bit of a column specification that marks the column DEFLATE-compressed.
const COLUMN_DEFLATE: u64 = 0b1000;

/// The size `bytes` (one or more concatenated Automerge chunks: a saved document, a change, a
/// bundle) reach once every compressed part is inflated, or why they are refused: they expand
/// past `limit`, or they are not Automerge chunks at all.
pub fn inflated_size(bytes: &[u8], limit: u64) -> Result<u64, String> {
    let mut total: u64 = 0;
    let mut rest = Reader(bytes);
    while !rest.0.is_empty() {
        let before = rest.0.len();
        let magic = rest.take(4)?;
        if magic != MAGIC {
            return Err("not an Automerge document or change (no chunk header)".into());
        }
        rest.take(4)?; // checksum
        let kind = rest.take(1)?[0];
        let len = rest.uleb()?;
        let header = (before - rest.0.len()) as u64;
        let data = rest.take(usize::try_from(len).map_err(|_| too_long())?)?;
        total = total.saturating_add(header);
        let budget = limit.saturating_sub(total);
        let size = match kind {
            CHUNK_CHANGE => data.len() as u64,
            CHUNK_COMPRESSED => inflate(data, budget)?,
            CHUNK_DOCUMENT => columns_chunk(data, budget, false)?,
            CHUNK_BUNDLE => columns_chunk(data, budget, true)?,
            other => return Err(format!("unknown Automerge chunk type {other}")),
        };
        total = total.saturating_add(size);
        if total > limit {
            return Err(bomb(limit));
        }
    }
    Ok(total)
}

/// Checks a list of changes (or documents) pushed for one record together: their expanded
/// sizes add up to at most `limit`.
pub fn check_all(list: &[impl AsRef<[u8]>], limit: u64) -> Result<u64, String> {
    let mut total: u64 = 0;
    for (i, bytes) in list.iter().enumerate() {
        let size = inflated_size(bytes.as_ref(), limit.saturating_sub(total))
            .map_err(|e| format!("change {i}: {e}"))?;
        total = total.saturating_add(size);
    }
    Ok(total)
}

fn bomb(limit: u64) -> String {
    format!("the bytes expand to more than {limit} bytes when decompressed")
}

fn too_long() -> String {
    "an Automerge chunk is cut short".into()
}

/// Inflates raw DEFLATE data through a counter, stopping past `budget`.
fn inflate(data: &[u8], budget: u64) -> Result<u64, String> {
    let mut sink = std::io::sink();
    let copied = std::io::copy(
        &mut DeflateDecoder::new(data).take(budget.saturating_add(1)),
        &mut sink,
    )
    .map_err(|e| format!("a compressed part does not inflate: {e}"))?;
    if copied > budget {
        return Err(bomb(budget));
    }
    Ok(copied)
}

/// A document chunk (actors, heads, change columns, op columns, head indices) or a bundle
/// chunk (dependencies, actors, change columns and data, op columns and data): its size with
/// every compressed column inflated.
fn columns_chunk(data: &[u8], budget: u64, bundle: bool) -> Result<u64, String> {
    let mut r = Reader(data);
    let hashes = |r: &mut Reader| -> Result<(), String> {
        let n = r.uleb()?;
        let n = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(HASH_LEN))
            .ok_or_else(too_long)?;
        r.take(n).map(|_| ())
    };
    let actors = |r: &mut Reader| -> Result<(), String> {
        let n = r.uleb()?;
        for _ in 0..n {
            let len = r.uleb()?;
            r.take(usize::try_from(len).map_err(|_| too_long())?)?;
        }
        Ok(())
    };
    let mut size = data.len() as u64;
    let mut spent: u64 = 0;
    let mut columns = |r: &mut Reader, meta: Vec<(u64, u64)>| -> Result<(), String> {
        for (spec, len) in meta {
            let part = r.take(usize::try_from(len).map_err(|_| too_long())?)?;
            if spec & COLUMN_DEFLATE != 0 {
                let inflated = inflate(part, budget.saturating_sub(spent))?;
                spent = spent.saturating_add(inflated);
                size = size.saturating_sub(len).saturating_add(inflated);
            }
        }
        Ok(())
    };
    if bundle {
        hashes(&mut r)?;
        actors(&mut r)?;
        let change_meta = r.column_meta()?;
        columns(&mut r, change_meta)?;
        let ops_meta = r.column_meta()?;
        columns(&mut r, ops_meta)?;
    } else {
        actors(&mut r)?;
        hashes(&mut r)?;
        let change_meta = r.column_meta()?;
        let ops_meta = r.column_meta()?;
        columns(&mut r, change_meta)?;
        columns(&mut r, ops_meta)?;
    }
    if size > budget {
        return Err(bomb(budget));
    }
    Ok(size)
}

/// A cursor over bytes that refuses to read past their end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.0.len() {
            return Err(too_long());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    /// An unsigned LEB128 number (at most 64 bits).
    fn uleb(&mut self) -> Result<u64, String> {
        let mut value: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = self.take(1)?[0];
            if shift >= 64 || (shift == 63 && byte > 1) {
                return Err("an Automerge number is too large".into());
            }
            value |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
    }

    /// Column metadata: a count, then (specification, length) pairs.
    fn column_meta(&mut self) -> Result<Vec<(u64, u64)>, String> {
        let n = self.uleb()?;
        let mut out = Vec::new();
        for _ in 0..n {
            let spec = self.uleb()?;
            if spec > u64::from(u32::MAX) {
                return Err("an Automerge column specification is too large".into());
            }
            let len = self.uleb()?;
            out.push((spec, len));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{AutoCommit, ROOT, transaction::Transactable};

    fn doc_with_text(text: &str) -> AutoCommit {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "body", text).unwrap();
        doc.commit();
        doc
    }

    #[test]
    fn real_documents_and_changes_measure_their_size() {
        let mut doc = doc_with_text(&"heritage walk ".repeat(20_000));
        // A saved document compresses its columns; its inflated size is what Automerge holds.
        let saved = doc.save();
        let size = inflated_size(&saved, MAX_RECORD_BYTES).unwrap();
        assert!(size > 250_000 && (saved.len() as u64) < size, "{size}");
        assert!(AutoCommit::load(&saved).is_ok());
        let plain = doc.save_nocompress();
        assert_eq!(
            inflated_size(&plain, MAX_RECORD_BYTES).unwrap(),
            plain.len() as u64
        );
        // Changes, compressed (a big one) or not.
        let changes: Vec<Vec<u8>> = doc
            .get_changes(&[])
            .iter()
            .map(|c| c.clone().bytes().to_vec())
            .collect();
        assert!(check_all(&changes, MAX_RECORD_BYTES).unwrap() > 250_000);
        assert!(inflated_size(&[], 10).unwrap() == 0);
    }

    #[test]
    fn a_bomb_is_refused_before_it_expands() {
        let mut doc = doc_with_text(&"a".repeat(2_000_000));
        let saved = doc.save();
        assert!(saved.len() < 100_000, "{}", saved.len());
        let err = inflated_size(&saved, 1_000_000).unwrap_err();
        assert!(err.contains("more than"), "{err}");
        let changes: Vec<Vec<u8>> = doc
            .get_changes(&[])
            .iter()
            .map(|c| c.clone().bytes().to_vec())
            .collect();
        let err = check_all(&changes, 1_000_000).unwrap_err();
        assert!(err.contains("more than"), "{err}");
    }

    #[test]
    fn junk_is_not_automerge() {
        assert!(inflated_size(b"not a document", MAX_RECORD_BYTES).is_err());
        let mut cut = doc_with_text("x").save();
        cut.truncate(cut.len() - 3);
        assert!(inflated_size(&cut, MAX_RECORD_BYTES).is_err());
    }
}
