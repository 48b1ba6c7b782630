//! The decode pipeline of a whole image: frame every entry first, then
//! render them (serially, or in blocks on several threads for large images)
//! into an [`Output`] that hands the text on in bounded pieces.

use std::io::Write;

use super::render::write_entry;
use crate::error::{Error, Result};
use crate::image::{Entries, Image};
use crate::json::sink::Sink;
use crate::json::writer::JsonWriter;
use crate::json::DecodeOptions;

/// Where the text of an image goes: a buffer the entries are rendered
/// into, handed on as it fills ([`Streamed`]), or kept whole (`Vec<u8>`).
pub(crate) trait Output {
    /// The buffer to render into; what is in it comes after everything
    /// handed on so far.
    fn buf(&mut self) -> &mut Vec<u8>;
    /// Called between entries: may hand the buffer's contents on.
    fn entry_done(&mut self) -> Result<()>;
    /// Appends text rendered elsewhere, after the buffer's contents.
    fn append(&mut self, piece: &[u8]) -> Result<()>;
    /// Hands on what is left in the buffer.
    fn finish(&mut self) -> Result<()>;
}

impl Output for Vec<u8> {
    fn buf(&mut self) -> &mut Vec<u8> {
        self
    }
    fn entry_done(&mut self) -> Result<()> {
        Ok(())
    }
    fn append(&mut self, piece: &[u8]) -> Result<()> {
        self.extend_from_slice(piece);
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Text written to `out` in pieces of about [`FLUSH_BYTES`], so the memory
/// used stays small whatever the size of the image. `name` names `out` in
/// errors.
pub(crate) struct Streamed<'o, W: ?Sized> {
    pub(crate) buf: Vec<u8>,
    pub(crate) out: &'o mut W,
    pub(crate) name: &'o str,
}

impl<W: Write + ?Sized> Streamed<'_, W> {
    fn hand_on(&mut self) -> Result<()> {
        self.out.write_all(&self.buf).map_err(|e| Error::io(self.name, e))?;
        self.buf.clear();
        Ok(())
    }
}

impl<W: Write + ?Sized> Output for Streamed<'_, W> {
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
    fn entry_done(&mut self) -> Result<()> {
        if self.buf.len() >= FLUSH_BYTES {
            self.hand_on()?;
        }
        Ok(())
    }
    fn append(&mut self, piece: &[u8]) -> Result<()> {
        if !self.buf.is_empty() {
            self.hand_on()?;
        }
        self.out.write_all(piece).map_err(|e| Error::io(self.name, e))
    }
    fn finish(&mut self) -> Result<()> {
        self.hand_on()
    }
}

/// Writes `{"magic": ..., "entries": [...]}` for the whole image to `out`.
/// On an error, what was already handed on stays written.
pub(crate) fn write_image(image: &Image<'_>, options: &DecodeOptions, out: &mut impl Output) -> Result<()> {
    let indent = options.pretty.then_some(4);
    let mut w = JsonWriter::new(out.buf(), indent);
    w.begin_object();
    w.key("magic");
    w.name(image.kind().name());
    w.key("entries");
    w.begin_array();
    // Framing first (it is cheap and sequential): a mis-framed image writes
    // nothing, and its framing error comes before any rendering error.
    let blocks = frame_blocks(image)?;
    let count: usize = blocks.iter().map(|b| b.len).sum();
    let threads = crate::parallel::threads();
    if image.data().len() >= PARALLEL_BYTES && count >= PARALLEL_ENTRIES && threads >= 2 {
        write_blocks_parallel(image, options, &blocks, threads, out)?;
    } else {
        write_entries_serial(image, options, out)?;
    }
    let mut w = JsonWriter::inside_array(out.buf(), indent, 2, count == 0);
    w.end_array();
    w.end_object();
    out.finish()
}

/// Rendered text is handed to the output in pieces of about this size.
const FLUSH_BYTES: usize = 256 << 10;

/// Images of at least this many bytes and entries are rendered on several
/// threads.
const PARALLEL_BYTES: usize = 256 << 10;
const PARALLEL_ENTRIES: usize = 20_000;

/// A block of entries rendered as one piece on one thread ends after this
/// many entries or this many bytes of image, whichever comes first.
const BLOCK_ENTRIES: usize = 2048;
const BLOCK_BYTES: usize = 128 << 10;

/// Renders every entry (already framed) on this thread into `out`.
fn write_entries_serial(image: &Image<'_>, options: &DecodeOptions, out: &mut impl Output) -> Result<()> {
    let indent = options.pretty.then_some(4);
    for (i, entry) in image.entries().enumerate() {
        let mut w = JsonWriter::inside_array(out.buf(), indent, 2, i == 0);
        write_entry(&mut w, image, &entry?, options)?;
        out.entry_done()?;
    }
    Ok(())
}

/// A run of consecutive entries: an iterator standing at its first entry,
/// and how many entries the run has.
struct Block<'a> {
    entries: Entries<'a>,
    len: usize,
}

/// Frames every entry and cuts the entries into blocks of at most
/// [`BLOCK_ENTRIES`] entries and about [`BLOCK_BYTES`] bytes.
fn frame_blocks<'a>(image: &Image<'a>) -> Result<Vec<Block<'a>>> {
    let mut blocks: Vec<Block<'a>> = Vec::new();
    let mut entries = image.entries();
    let mut block_start = 0; // byte offset where the last block starts
    loop {
        let at = entries.offset();
        let full = blocks.last().is_none_or(|b| b.len == BLOCK_ENTRIES || at - block_start >= BLOCK_BYTES);
        let start = full.then(|| entries.clone());
        let Some(entry) = entries.skip_entry() else { break };
        entry?;
        if let Some(entries) = start {
            blocks.push(Block { entries, len: 0 });
            block_start = at;
        }
        blocks.last_mut().expect("a block is open").len += 1;
    }
    Ok(blocks)
}

/// Renders the blocks on `threads` threads, this one included: block `i`
/// on thread `i % threads` (so block 0, the one without a separator, here), the others working at most a few blocks ahead
/// into recycled buffers, while this thread hands every block to `out` in
/// order. The text is the text of the serial order, and so is the first
/// error.
fn write_blocks_parallel(
    image: &Image<'_>,
    options: &DecodeOptions,
    blocks: &[Block<'_>],
    threads: usize,
    out: &mut impl Output,
) -> Result<()> {
    let indent = options.pretty.then_some(4);
    let render = |block: &Block<'_>, first: bool, piece: &mut Vec<u8>| -> Result<()> {
        piece.clear();
        let mut w = JsonWriter::inside_array(piece, indent, 2, first);
        block.entries.clone().take(block.len).try_for_each(|entry| write_entry(&mut w, image, &entry?, options))
    };
    let threads = threads.clamp(1, blocks.len().max(1));
    std::thread::scope(|scope| -> Result<()> {
        // Per helper thread: rendered pieces coming back, buffers going out.
        let mut helpers = Vec::with_capacity(threads - 1);
        for helper in 1..threads {
            let (done, rendered) = std::sync::mpsc::sync_channel::<Result<Vec<u8>>>(2);
            let (recycle, free) = std::sync::mpsc::channel::<Vec<u8>>();
            helpers.push((rendered, recycle));
            scope.spawn(move || {
                for block in blocks.iter().skip(helper).step_by(threads) {
                    let mut piece = free.try_recv().unwrap_or_default();
                    let result = render(block, false, &mut piece).map(|()| piece);
                    let failed = result.is_err();
                    // A closed channel means this thread's caller stopped.
                    if done.send(result).is_err() || failed {
                        return;
                    }
                }
            });
        }
        let mut mine = Vec::new();
        for (i, block) in blocks.iter().enumerate() {
            match i % threads {
                0 => {
                    render(block, i == 0, &mut mine)?;
                    out.append(&mine)?;
                }
                n => {
                    let (rendered, recycle) = &helpers[n - 1];
                    let piece = rendered.recv().expect("a helper sends every block of its share until an error")?;
                    out.append(&piece)?;
                    // The helper may be done: then the buffer is dropped.
                    let _ = recycle.send(piece);
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::super::image_of;
    use super::*;
    use crate::proto::wire;

    #[test]
    fn parallel_rendering_equals_serial_rendering() {
        let mut json = String::from(r#"{"magic": "PAGEMAP", "entries": [{"pages_id": 1}"#);
        for i in 0..(PARALLEL_ENTRIES as u64 + 1234) {
            json.push_str(&format!(r#", {{"vaddr": {}, "compat_nr_pages": 0, "flags": 4, "nr_pages": {}}}"#, i << 16, i % 7 + 1));
        }
        json.push_str("]}");
        let bytes = crate::json::from_json(json.as_bytes(), "big.json").unwrap();
        let image = Image::parse("big", &bytes).unwrap();
        for options in [DecodeOptions::PLAIN, DecodeOptions::PRETTY] {
            let parallel = crate::json::to_json(&image, &options).unwrap();
            let mut serial = Vec::new();
            let mut w = JsonWriter::new(&mut serial, options.pretty.then_some(4));
            w.begin_object();
            w.key("magic");
            w.string(b"PAGEMAP");
            w.key("entries");
            w.begin_array();
            for entry in image.entries() {
                write_entry(&mut w, &image, &entry.unwrap(), &options).unwrap();
            }
            w.end_array();
            w.end_object();
            assert!(parallel.as_bytes() == serial.as_slice(), "pretty: {}", options.pretty);
        }
        // The joined text encodes back to the same image.
        let text = crate::json::to_json(&image, &DecodeOptions::PLAIN).unwrap();
        assert_eq!(crate::json::from_json(text.as_bytes(), "big.json").unwrap(), bytes);
    }

    /// A sink that records the size of every write.
    struct Recorder {
        text: Vec<u8>,
        writes: Vec<usize>,
    }

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.writes.push(buf.len());
            self.text.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A pagemap of `runs` entries; entry `bad`, if any, ends in a
    /// truncated varint.
    fn big_pagemap(runs: usize, bad: Option<usize>) -> Vec<u8> {
        let mut bytes = image_of(crate::image::ImageKind::Pagemap, &[0x08, 0x01]);
        for i in 0..runs {
            let mut entry = vec![0x08];
            wire::put_varint(&mut entry, (i as u64) << 16);
            entry.extend([0x18, 0x04, 0x28, (i % 100 + 1) as u8]);
            if bad == Some(i + 1) {
                entry.extend([0x28, 0x80]);
            }
            bytes.extend((entry.len() as u32).to_le_bytes());
            bytes.extend(entry);
        }
        bytes
    }

    #[test]
    fn streamed_output_is_the_same_text_in_bounded_pieces() {
        // Large enough for the parallel path (and over a few flushes).
        let bytes = big_pagemap(PARALLEL_ENTRIES * 3, None);
        assert!(bytes.len() >= PARALLEL_BYTES);
        let image = Image::parse("pagemap-1.img", &bytes).unwrap();
        for options in [DecodeOptions::PLAIN, DecodeOptions::PRETTY] {
            let whole = crate::json::to_json(&image, &options).unwrap();
            let mut sink = Recorder { text: Vec::new(), writes: Vec::new() };
            crate::json::write_json_to(&image, &options, &mut sink, "out.json").unwrap();
            assert!(sink.text == whole.as_bytes(), "pretty: {}", options.pretty);
            assert!(sink.writes.len() > 10, "{:?}", sink.writes);
            // No piece is larger than a flush or a block's text.
            let largest = *sink.writes.iter().max().unwrap();
            assert!(largest < FLUSH_BYTES + BLOCK_BYTES * 16, "{largest}");
        }
        // The serial path (a smaller image) streams too.
        let bytes = big_pagemap(PARALLEL_ENTRIES / 2, None);
        let image = Image::parse("pagemap-1.img", &bytes).unwrap();
        let mut sink = Recorder { text: Vec::new(), writes: Vec::new() };
        crate::json::write_json_to(&image, &DecodeOptions::PRETTY, &mut sink, "out.json").unwrap();
        assert!(sink.text == crate::json::to_json(&image, &DecodeOptions::PRETTY).unwrap().as_bytes());
        assert!(sink.writes.len() > 1 && sink.writes.iter().all(|&n| n < 2 * FLUSH_BYTES), "{:?}", sink.writes);
    }

    #[test]
    fn streamed_output_stops_at_the_first_bad_entry() {
        // A malformed message deep into a large image, in both paths: the
        // error names it, and nothing after it is written.
        // Blocks are 2,048 entries here: entry 45,000 renders on a helper thread, 41,000 on the writing one.
        for (runs, bad) in [(PARALLEL_ENTRIES * 3, 45_000), (PARALLEL_ENTRIES * 3, 41_000), (5_000, 4_321)] {
            let bytes = big_pagemap(runs, Some(bad));
            let image = Image::parse("pagemap-1.img", &bytes).unwrap();
            let mut sink = Recorder { text: Vec::new(), writes: Vec::new() };
            let err = crate::json::write_json_to(&image, &DecodeOptions::PLAIN, &mut sink, "out.json").unwrap_err();
            assert!(err.to_string().contains(&format!("(entry {bad})")), "{err}");
            let text = String::from_utf8(sink.text).unwrap();
            let last_vaddr = format!("\"vaddr\": {}", ((bad - 1) as u64) << 16);
            assert!(!text.contains(&last_vaddr), "entry {bad} or later was written");
        }
        // A sink that fails: its name and the OS error.
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from_raw_os_error(28))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let bytes = big_pagemap(PARALLEL_ENTRIES * 3, None);
        let image = Image::parse("pagemap-1.img", &bytes).unwrap();
        let err = crate::json::write_json_to(&image, &DecodeOptions::PLAIN, &mut Full, "out.json").unwrap_err();
        assert!(matches!(&err, Error::Io { path, .. } if path == "out.json"), "{err}");
    }

    #[test]
    fn framing_errors_come_before_rendering_errors() {
        // pstree entry 0 ends in a truncated varint (a rendering error), then
        // entry 1 claims 100 bytes that are not there (a framing error).
        let mut bytes = image_of(crate::image::ImageKind::Pstree, &[0x08, 0x80]);
        bytes.extend(100u32.to_le_bytes());
        let image = Image::parse("pstree.img", &bytes).unwrap();
        let err = crate::json::to_json(&image, &DecodeOptions::PLAIN).unwrap_err().to_string();
        assert!(err.contains("entry 1") && err.contains("100 bytes"), "{err}");
    }
}
