//! Bounds what an Arrow IPC file or stream can make the IPC library allocate. Its
//! messages carry lengths the library trusts: a stream message's metadata and body
//! length (it reserves up to 64 MiB of a claimed body before reading it), and, in a
//! compressed record batch, each buffer's uncompressed length (it reserves all of it
//! before inflating a byte, so a 1 KB file could ask for terabytes). [`check_stream`]
//! and [`check_file`] walk the messages (their metadata only: bodies are skipped, but
//! for the 8-byte length in front of each compressed buffer) and refuse, naming the
//! file, the message, its offset and the value, one whose lengths run past the file or
//! its body, or that claims more than [`MAX_BUFFER_BYTES`] for one buffer.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::InputError;

/// The most one buffer of a compressed record batch may claim uncompressed: 1 GiB
/// (a column of 128 M 64-bit values; batches are usually far smaller).
pub const MAX_BUFFER_BYTES: i64 = 1 << 30;

/// The most one message's metadata (its flatbuffer header, not its body) may take:
/// 64 MiB. Real metadata is a few hundred bytes per column.
pub const MAX_METADATA_BYTES: u64 = 64 << 20;

/// The continuation marker in front of a message's metadata length.
const CONTINUATION: [u8; 4] = [0xff; 4];

/// Checks every message of an Arrow IPC stream, from its start to its end marker or
/// the end of the file.
pub fn check_stream(path: &Path) -> Result<(), InputError> {
    let mut w = Walker::open(path)?;
    let len = w.len;
    let mut at = 0u64;
    let mut index = 0u64;
    // Every message takes at least 4 bytes, so this ends.
    while len - at >= 4 {
        let mut word = [0u8; 4];
        w.read_at(at, &mut word).map_err(|e| w.io(e))?;
        let mut prefix = 4;
        if word == CONTINUATION {
            if len - at < 8 {
                break;
            }
            w.read_at(at + 4, &mut word).map_err(|e| w.io(e))?;
            prefix = 8;
        }
        let meta_len = i32::from_le_bytes(word);
        if meta_len == 0 {
            // The end-of-stream marker.
            break;
        }
        let bad = |why: String| w.corrupt(index, at, why);
        let left = len - at - prefix;
        let meta_len = u64::try_from(meta_len)
            .map_err(|_| bad(format!("it claims {meta_len} bytes of metadata")))?;
        if meta_len > left {
            return Err(bad(format!(
                "it claims {meta_len} bytes of metadata, but {left} bytes of the file follow"
            )));
        }
        let meta_start = at + prefix;
        let body_start = meta_start + meta_len;
        let body_len = w.message(index, at, meta_start, meta_len, body_start, None)?;
        at = body_start + body_len;
        index += 1;
    }
    Ok(())
}

/// Checks every message the footer of an Arrow IPC file lists (its dictionaries and
/// record batches), as the file reader reads them: metadata then body, at the offsets
/// and lengths of the footer's blocks. The footer itself must be sound (the file
/// reader's opening checks it first).
pub fn check_file(path: &Path) -> Result<(), InputError> {
    let mut w = Walker::open(path)?;
    let len = w.len;
    let mut tail = [0u8; 10];
    if len < 10 {
        return Ok(());
    }
    w.read_at(len - 10, &mut tail).map_err(|e| w.io(e))?;
    let footer_len =
        u64::try_from(i32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]])).unwrap_or(0);
    if &tail[4..] != b"ARROW1" || footer_len > len - 10 || footer_len > MAX_METADATA_BYTES {
        // Not a sound footer: the file reader's own checks refuse it.
        return Ok(());
    }
    let mut footer = vec![0u8; footer_len as usize];
    w.read_at(len - 10 - footer_len, &mut footer)
        .map_err(|e| w.io(e))?;
    let Ok(footer) = arrow_ipc::root_as_footer(&footer) else {
        return Ok(());
    };
    let blocks = footer
        .dictionaries()
        .into_iter()
        .flatten()
        .chain(footer.recordBatches().into_iter().flatten());
    for (index, b) in blocks.enumerate() {
        let index = index as u64;
        let (Ok(at), Ok(meta), Ok(body)) = (
            u64::try_from(b.offset()),
            u64::try_from(b.metaDataLength()),
            u64::try_from(b.bodyLength()),
        ) else {
            return Err(w.corrupt(index, 0, "its block has a negative offset or length".into()));
        };
        let bad = |why: String| w.corrupt(index, at, why);
        at.checked_add(meta)
            .and_then(|e| e.checked_add(body))
            .filter(|&e| e <= len)
            .ok_or_else(|| {
                bad(format!(
                    "its block claims {meta} + {body} bytes, past the end of the {len}-byte file"
                ))
            })?;
        // The block's metadata: a length (after a continuation marker), then the message.
        let mut word = [0u8; 4];
        if meta < 8 {
            return Err(bad(format!("its block claims {meta} bytes of metadata")));
        }
        w.read_at(at, &mut word).map_err(|e| w.io(e))?;
        let prefix = if word == CONTINUATION { 8 } else { 4 };
        w.message(index, at, at + prefix, meta - prefix, at + meta, Some(body))?;
    }
    Ok(())
}

struct Walker<'a> {
    path: &'a Path,
    r: BufReader<File>,
    len: u64,
    meta: Vec<u8>,
}

impl<'a> Walker<'a> {
    fn open(path: &'a Path) -> Result<Self, InputError> {
        let io = |e: std::io::Error| InputError::file(path, format!("cannot read: {e}"));
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        Ok(Walker {
            path,
            r: BufReader::with_capacity(4 << 10, file),
            len,
            meta: Vec::new(),
        })
    }

    fn io(&self, e: std::io::Error) -> InputError {
        InputError::file(self.path, format!("cannot read: {e}"))
    }

    fn corrupt(&self, index: u64, at: u64, why: String) -> InputError {
        InputError::file(
            self.path,
            format!(
                "the Arrow IPC data is corrupt: message {index} at offset {at}: {why} (the file is truncated or damaged; write it again)"
            ),
        )
    }

    fn read_at(&mut self, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.r.seek(SeekFrom::Start(at))?;
        self.r.read_exact(buf)
    }

    /// Checks one message: its metadata at `meta_start` (`meta_len` bytes, inside the
    /// file), its body at `body_start` (`block_body` bytes when a file's block says so,
    /// else the length the message claims), and the buffers of a record batch or
    /// dictionary batch. Returns the body's length.
    fn message(
        &mut self,
        index: u64,
        at: u64,
        meta_start: u64,
        meta_len: u64,
        body_start: u64,
        block_body: Option<u64>,
    ) -> Result<u64, InputError> {
        let bad = |w: &Self, why: String| w.corrupt(index, at, why);
        if meta_len > MAX_METADATA_BYTES {
            return Err(bad(
                self,
                format!(
                    "it claims {meta_len} bytes of metadata, more than the {MAX_METADATA_BYTES} bytes (64 MiB) rehearse reads"
                ),
            ));
        }
        let mut meta = std::mem::take(&mut self.meta);
        meta.clear();
        meta.resize(meta_len as usize, 0);
        self.read_at(meta_start, &mut meta)
            .map_err(|e| self.io(e))?;
        let result = self.message_meta(index, at, &meta, body_start, block_body);
        self.meta = meta;
        result
    }

    fn message_meta(
        &mut self,
        index: u64,
        at: u64,
        meta: &[u8],
        body_start: u64,
        block_body: Option<u64>,
    ) -> Result<u64, InputError> {
        let bad = |w: &Self, why: String| w.corrupt(index, at, why);
        let message = arrow_ipc::root_as_message(meta)
            .map_err(|e| bad(self, format!("its metadata is not a message ({e})")))?;
        let claimed = message.bodyLength();
        let left = self.len.saturating_sub(body_start);
        let body = match block_body {
            Some(b) => b,
            None => u64::try_from(claimed)
                .ok()
                .filter(|&b| b <= left)
                .ok_or_else(|| {
                    bad(
                        self,
                        format!(
                            "it claims a body of {claimed} bytes, but {left} bytes of the file follow"
                        ),
                    )
                })?,
        };
        let batch = message
            .header_as_record_batch()
            .or_else(|| message.header_as_dictionary_batch().and_then(|d| d.data()));
        let Some(batch) = batch else {
            return Ok(body);
        };
        let compressed = batch.compression().is_some();
        for (i, b) in batch.buffers().into_iter().flatten().enumerate() {
            let (offset, length) = (b.offset(), b.length());
            let end = u64::try_from(offset)
                .ok()
                .zip(u64::try_from(length).ok())
                .and_then(|(o, n)| o.checked_add(n));
            if end.is_none_or(|e| e > body) {
                return Err(bad(
                    self,
                    format!(
                        "buffer {i} claims {length} bytes at offset {offset} of a {body}-byte body"
                    ),
                ));
            }
            if compressed && length >= 8 {
                let mut word = [0u8; 8];
                self.read_at(body_start + offset as u64, &mut word)
                    .map_err(|e| self.io(e))?;
                let size = i64::from_le_bytes(word);
                // -1: the buffer is stored uncompressed.
                if size < -1 {
                    return Err(bad(
                        self,
                        format!("compressed buffer {i} claims {size} bytes uncompressed"),
                    ));
                }
                if size > MAX_BUFFER_BYTES {
                    return Err(bad(
                        self,
                        format!(
                            "compressed buffer {i} claims {size} bytes uncompressed, more than the {MAX_BUFFER_BYTES} bytes (1 GiB) rehearse reads in one buffer"
                        ),
                    ));
                }
            }
        }
        Ok(body)
    }
}
