//! Image entries as Arrow tables (issue #19): one row per entry, one
//! column per field of the entry's message, derived from the message
//! schema the build generates (never from the data, so the same kind has
//! the same schema on every checkpoint and tables concatenate).
//!
//! The column rules (docs/python.md, "Entry tables", has them with the differences
//! from crit's JSON):
//! - field names as crit names them; every column nullable: a field
//!   absent from the entry (crit leaves its key out) is null, and so is a
//!   repeated field with no values;
//! - nested messages are struct columns, repeated fields list columns;
//!   a message that would contain itself (cgroup directories) is kept at
//!   its second appearance as its crit JSON text (Utf8);
//! - integers keep their protobuf width and sign (`uint64` addresses are
//!   UInt64); values are crit's plain (not `--pretty`) ones: hex, flags,
//!   devices and IP addresses stay numbers, as `crit decode` prints them;
//! - enums are dictionary-encoded Utf8 with crit's names (a number the
//!   enum does not declare becomes its decimal text);
//! - `string` is Utf8 (bytes that are not UTF-8 are read lossily),
//!   `bytes` is Binary (crit writes base64 text);
//! - the raw payload after an entry (pipe and FIFO data, socket queues,
//!   ghost file data, BPF map data, SysV shm) is a Binary column `extra`;
//!   TCP queues a struct `extra {inq, outq}`; semaphores a list of
//!   UInt16; SysV messages a list of `{mtype, msize, data}`;
//! - images with two entry messages (pagemap: a `pagemap_head` then
//!   runs; ghost files) have the columns of both, null where a row's
//!   message has no such field.
//!
//! The decoder fills Arrow buffers straight from the wire bytes in one
//! pass ([`columns`]); malformed entries fail with the file, entry and
//! offset like the JSON decoder.
//!
//! ```
//! use criu_images::{entry_table, Checkpoint, ImageKind};
//!
//! let checkpoint = Checkpoint::open("../tests/fixtures/counter-host/images")?;
//! let (schema, batches) = entry_table::image_table(&checkpoint, ImageKind::Pagemap)?;
//! assert_eq!(schema.field(0).name(), "checkpoint");
//! assert!(schema.field_with_name("vaddr").is_ok() && schema.field_with_name("pid").is_ok());
//! assert!(batches.iter().map(|b| b.num_rows()).sum::<usize>() > 0);
//! # Ok::<(), criu_images::Error>(())
//! ```

mod columns;

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchOptions, StringArray, UInt64Array};
use arrow_buffer::BooleanBufferBuilder;
use arrow_schema::{Schema, SchemaRef};

use crate::checkpoint::Checkpoint;
use crate::error::{Error, Location, Result};
use crate::image::{match_file_pattern, Entry, Extra, ExtraKind, Image, ImageKind, Layout};
use crate::proto::{message_ids as m, FieldType, MessageId};

use columns::{decode_fields, Col, Leaf, Mapped, Mapping, Values, Zeros};

/// The builders of one image's table: the entry columns, then `extra`.
struct Builders {
    columns: Vec<Col>,
    /// Field maps of each entry message of the kind into `columns`.
    mappings: Vec<(MessageId, Arc<Mapping>)>,
    extra: Option<Col>,
}

/// The leaf column of a field of type `ty`; `path` holds the messages
/// around it (a message already on it is cut to JSON text).
fn leaf_for(ty: FieldType, path: &mut Vec<MessageId>) -> Leaf {
    let values = match ty {
        FieldType::Bool => Values::Bool(BooleanBufferBuilder::new(0)),
        FieldType::Int32 | FieldType::Sint32 | FieldType::Sfixed32 => Values::I32(Vec::new()),
        FieldType::Int64 | FieldType::Sint64 | FieldType::Sfixed64 => Values::I64(Vec::new()),
        FieldType::Uint32 | FieldType::Fixed32 => Values::U32(Vec::new()),
        FieldType::Uint64 | FieldType::Fixed64 => Values::U64(Vec::new()),
        FieldType::Float => Values::F32(Vec::new()),
        FieldType::Double => Values::F64(Vec::new()),
        FieldType::String => Values::Bytes { utf8: true, json: None, offsets: Vec::new(), data: Vec::new() },
        FieldType::Bytes => Values::Bytes { utf8: false, json: None, offsets: Vec::new(), data: Vec::new() },
        FieldType::Enum(id) => Values::enumeration(id),
        FieldType::Message(id) if path.contains(&id) => Values::Bytes { utf8: true, json: Some(id), offsets: Vec::new(), data: Vec::new() },
        FieldType::Message(id) => {
            path.push(id);
            let (mapping, children) = message_columns(id, path, Vec::new());
            path.pop();
            Values::structure(Mapping::new(mapping), children)
        }
    };
    Leaf::new(values)
}

/// Adds the fields of message `id` to `children` (a field whose name is
/// already there shares its column when the types agree) and returns the
/// field map and the columns.
fn message_columns(id: MessageId, path: &mut Vec<MessageId>, mut children: Vec<Col>) -> (Vec<Mapped>, Vec<Col>) {
    let mut mapping = Vec::new();
    for field in id.schema().fields {
        let leaf = leaf_for(field.ty, path);
        let col = Col::new(field.name, field.repeated, leaf);
        let column = match children.iter().position(|c| c.name == field.name) {
            Some(i) if children[i].field().data_type() == col.field().data_type() => i,
            // Never the case in CRIU's messages (the test below checks);
            // the column would be ambiguous, so it keeps the message's name.
            Some(_) => {
                children.push(Col::new(id.name(), field.repeated, leaf_for(field.ty, path)));
                children.len() - 1
            }
            None => {
                children.push(col);
                children.len() - 1
            }
        };
        mapping.push(Mapped { number: field.number, ty: field.ty, repeated: field.repeated, column });
    }
    (mapping, children)
}

/// The entry messages of an image kind, in the order they appear.
fn entry_messages(kind: ImageKind) -> Vec<MessageId> {
    match kind.layout() {
        Layout::Entries(id) => vec![id],
        Layout::Pagemap => vec![m::PAGEMAP_HEAD, m::PAGEMAP_ENTRY],
        Layout::GhostFile => vec![m::GHOST_FILE_ENTRY, m::GHOST_CHUNK_ENTRY],
    }
}

fn binary_leaf() -> Leaf {
    Leaf::new(Values::Bytes { utf8: false, json: None, offsets: Vec::new(), data: Vec::new() })
}

impl Builders {
    fn new(kind: ImageKind) -> Builders {
        let mut columns = Vec::new();
        let mut mappings = Vec::new();
        for id in entry_messages(kind) {
            let mut path = vec![id];
            let (mapping, filled) = message_columns(id, &mut path, std::mem::take(&mut columns));
            columns = filled;
            mappings.push((id, Arc::new(Mapping::new(mapping))));
        }
        let extra = match (kind.layout(), kind.extra()) {
            (Layout::GhostFile, _) => Some(Col::new("extra", false, binary_leaf())),
            (_, ExtraKind::None) => None,
            (_, ExtraKind::PipeData | ExtraKind::SkQueue | ExtraKind::BpfmapData | ExtraKind::IpcShm) => {
                Some(Col::new("extra", false, binary_leaf()))
            }
            (_, ExtraKind::TcpStream) => Some(Col::new(
                "extra",
                false,
                Leaf::new(Values::structure(
                    Mapping::new(Vec::new()),
                    vec![Col::new("inq", false, binary_leaf()), Col::new("outq", false, binary_leaf())],
                )),
            )),
            (_, ExtraKind::IpcSem) => Some(Col::new("extra", true, Leaf::new(Values::U16(Vec::new())))),
            (_, ExtraKind::IpcMsg) => {
                let mut path = vec![m::IPC_MSG];
                let (mapping, mut children) = message_columns(m::IPC_MSG, &mut path, Vec::new());
                children.push(Col::new("data", false, binary_leaf()));
                Some(Col::new("extra", true, Leaf::new(Values::structure(Mapping::new(mapping), children))))
            }
        };
        Builders { columns, mappings, extra }
    }

    fn fields(&self) -> Vec<arrow_schema::FieldRef> {
        self.columns.iter().chain(&self.extra).map(|c| c.field().clone()).collect()
    }

    /// Empty builders of the same shape: what one image fills.
    fn fresh(&self) -> Builders {
        Builders {
            columns: self.columns.iter().map(Col::fresh).collect(),
            mappings: self.mappings.clone(),
            extra: self.extra.as_ref().map(Col::fresh),
        }
    }

    /// Appends one entry as row `row` (the rows before it are in).
    fn push(&mut self, image: &Image<'_>, entry: &Entry<'_>, row: usize) -> Result<()> {
        let id = entry.message_id();
        let origin = entry.offset() + 4;
        self.push_message(image, id, entry.index(), origin, entry.payload(), row)?;
        let at = |offset: usize, what: &str| Error::Protobuf {
            at: Location::new(image.name(), offset as u64).in_entry(entry.index()),
            message: id.name(),
            detail: what.to_string(),
        };
        let Some(extra) = &mut self.extra else { return Ok(()) };
        let too_large = |what: &str| at(origin, what);
        match (entry.extra(), &mut extra.leaf.values) {
            (Extra::None, _) => extra.push_null(),
            (Extra::Bytes(bytes), _) => extra.leaf.push_bytes(bytes).map_err(too_large)?,
            (Extra::TcpQueues { inq, outq }, Values::Struct { .. }) => {
                extra.leaf.begin_row();
                let Values::Struct { children, .. } = &mut extra.leaf.values else { return Ok(()) };
                children[0].leaf.push_bytes(inq).map_err(too_large)?;
                children[1].leaf.push_bytes(outq).map_err(too_large)?;
                extra.leaf.push_struct_row();
            }
            (semaphores @ Extra::Semaphores { .. }, _) => {
                for value in semaphores.semaphores().unwrap_or_default() {
                    extra.leaf.push_scalar(FieldType::Uint32, value.into());
                }
                extra.close_list().map_err(too_large)?;
            }
            (Extra::Messages(messages), _) => {
                for message in messages {
                    extra.leaf.begin_row();
                    let row = extra.leaf.len();
                    let Values::Struct { shape, children } = &mut extra.leaf.values else { break };
                    let Some((data, header)) = children.split_last_mut() else { break };
                    let origin = origin + (message.header.as_ptr() as usize).wrapping_sub(entry.payload().as_ptr() as usize);
                    decode_fields(&shape.mapping, header, message.header, origin, row).map_err(|e| at(e.offset, e.what))?;
                    data.leaf.push_bytes(message.data).map_err(too_large)?;
                    extra.leaf.push_struct_row();
                }
                extra.close_list().map_err(too_large)?;
            }
            // A payload of another shape than the kind's: not in the framing's output.
            _ => extra.push_null(),
        }
        Ok(())
    }

    /// Decodes message `id` (entry `index`, its payload at file offset
    /// `origin`) as the entry columns of row `row`.
    fn push_message(&mut self, image: &Image<'_>, id: MessageId, index: usize, origin: usize, payload: &[u8], row: usize) -> Result<()> {
        let at = |offset: usize, what: &str| Error::Protobuf {
            at: Location::new(image.name(), offset as u64).in_entry(index),
            message: id.name(),
            detail: what.to_string(),
        };
        let Some((_, mapping)) = self.mappings.iter().find(|(m, _)| *m == id) else {
            return Err(at(origin, "a message this image kind does not hold"));
        };
        decode_fields(mapping, &mut self.columns, payload, origin, row).map_err(|e| at(e.offset, e.what))
    }

    fn finish(self, schema: SchemaRef, rows: usize, zeros: &mut Zeros) -> Result<RecordBatch> {
        let arrays = self
            .columns
            .into_iter()
            .chain(self.extra)
            .map(|c| c.finish(zeros))
            .collect::<Result<Vec<ArrayRef>, _>>()
            .map_err(inconsistent)?;
        batch(schema, arrays, rows)
    }
}

fn batch(schema: SchemaRef, arrays: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch> {
    RecordBatch::try_new_with_options(schema, arrays, &RecordBatchOptions::new().with_row_count(Some(rows))).map_err(inconsistent)
}

/// Columns that do not fit together: a bug of this module, reported as an error rather than a panic.
fn inconsistent(err: arrow_schema::ArrowError) -> Error {
    Error::Malformed { at: Location::new("<entry table>", 0), detail: format!("inconsistent columns (please report it): {err}") }
}

/// What the tables of one image kind are made from, built once per kind
/// and process ([`plan`]): a core image's message alone has hundreds of
/// nested columns, too many to derive again for every image.
struct Plan {
    /// Empty builders, copied ([`Builders::fresh`]) for every image.
    builders: Builders,
    /// [`entry_schema`].
    entry: SchemaRef,
    /// [`image_table_schema`] and its id columns.
    table: SchemaRef,
    ids: Vec<(String, Vec<&'static str>)>,
}

/// The plan of `kind`, from a cache shared by every thread.
fn plan(kind: ImageKind) -> Arc<Plan> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static PLANS: OnceLock<Mutex<HashMap<ImageKind, Arc<Plan>>>> = OnceLock::new();
    let plans = PLANS.get_or_init(Default::default);
    // A panic elsewhere while holding the lock leaves the map as it was: use it.
    let cached = plans.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&kind).cloned();
    if let Some(plan) = cached {
        return plan;
    }
    let builders = Builders::new(kind);
    let fields = builders.fields();
    let entry = Arc::new(Schema::new(fields.clone()));
    let table = Arc::new(table_schema(kind, &fields));
    let ids = id_columns(kind, &fields);
    let plan = Arc::new(Plan { builders, entry, table, ids });
    // Two threads may both make it: either copy is the same.
    plans.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).entry(kind).or_insert(plan).clone()
}

/// The Arrow schema of the entries of `kind` (what [`image_batch`] returns).
pub fn entry_schema(kind: ImageKind) -> SchemaRef {
    plan(kind).entry.clone()
}

/// Every entry of `image` as one row of a record batch of
/// [`entry_schema`]`(image.kind())`.
pub fn image_batch(image: &Image<'_>) -> Result<RecordBatch> {
    image_batch_with(image, &mut Zeros::new())
}

/// [`image_batch`], its all-null arrays shared with the other images of the call through `zeros`.
fn image_batch_with(image: &Image<'_>, zeros: &mut Zeros) -> Result<RecordBatch> {
    let plan = plan(image.kind());
    let mut builders = plan.builders.fresh();
    let kind = image.kind();
    if kind.extra() != ExtraKind::None || matches!(kind.layout(), Layout::GhostFile) {
        let mut rows = 0;
        for entry in image.entries() {
            builders.push(image, &entry?, rows)?;
            rows += 1;
        }
        return builders.finish(plan.entry.clone(), rows, zeros);
    }
    // Entries without payloads after them, framed without building an
    // `Entry`; counted first, so that each column is made the size it will be.
    let mut entries = image.entries();
    let expect = entries.count_plain();
    for column in &mut builders.columns {
        column.expect_rows(expect);
    }
    let mut rows = 0;
    while let Some(frame) = entries.next_frame() {
        let frame = frame?;
        builders.push_message(image, kind.entry_message(frame.index), frame.index, frame.offset + 4, frame.payload, rows)?;
        rows += 1;
    }
    builders.finish(plan.entry.clone(), rows, zeros)
}

/// Columns that say which image a row comes from, by file-name pattern:
/// the number in the name, under the name of what it is.
fn id_column(pattern: &str) -> Option<&'static str> {
    Some(match pattern {
        "pagemap-%lu.img"
        | "core-%u.img"
        | "ids-%u.img"
        | "vmas-%u.img"
        | "sigacts-%u.img"
        | "itimers-%u.img"
        | "posix-timers-%u.img"
        | "creds-%u.img"
        | "fs-%u.img"
        | "mm-%u.img"
        | "rlimit-%u.img"
        | "signal-p-%u.img" => "pid",
        "signal-s-%u.img" => "tid",
        "pagemap-shmem-%lu.img" | "pages-shmem-%ld.img" => "shmid",
        "fdinfo-%u.img" => "files_id",
        "ghost-file-%x.img" => "remap_id",
        "tcp-stream-%x.img" => "ino",
        "autofs-%u.img" => "mnt_id",
        p if p.contains('%') => "ns_id",
        _ => return None,
    })
}

/// The id columns of `kind`'s table (the distinct [`id_column`]s of its
/// patterns), named `image_<name>` when a field has the name already.
fn id_columns(kind: ImageKind, entry_fields: &[arrow_schema::FieldRef]) -> Vec<(String, Vec<&'static str>)> {
    let mut out: Vec<(String, Vec<&'static str>)> = Vec::new();
    for pattern in kind.file_patterns() {
        let Some(name) = id_column(pattern) else { continue };
        let name = if entry_fields.iter().any(|f| f.name() == name) { format!("image_{name}") } else { name.to_string() };
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, patterns)) => patterns.push(pattern),
            None => out.push((name, vec![pattern])),
        }
    }
    out
}

/// The schema of [`image_table`] for `kind`: `checkpoint`, `image`, the id
/// columns (e.g. `pid` for `pagemap-PID.img`), then [`entry_schema`].
pub fn image_table_schema(kind: ImageKind) -> SchemaRef {
    plan(kind).table.clone()
}

fn table_schema(kind: ImageKind, entry: &[arrow_schema::FieldRef]) -> Schema {
    use arrow_schema::{DataType, Field, FieldRef};
    let mut fields: Vec<FieldRef> =
        vec![Arc::new(Field::new("checkpoint", DataType::Utf8, false)), Arc::new(Field::new("image", DataType::Utf8, false))];
    for (name, _) in id_columns(kind, entry) {
        fields.push(Arc::new(Field::new(name, DataType::UInt64, true)));
    }
    fields.extend(entry.iter().cloned());
    Schema::new(fields)
}

/// Every image of `kind` in `checkpoint` (in name order), one record batch
/// per image of [`image_table_schema`]`(kind)`. The `checkpoint` column holds
/// the path the checkpoint was opened with.
pub fn image_table(checkpoint: &Checkpoint, kind: ImageKind) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let label = checkpoint.path().display().to_string();
    image_table_labelled(checkpoint, kind, &label)
}

/// [`image_table`] with `label` in the `checkpoint` column.
pub fn image_table_labelled(checkpoint: &Checkpoint, kind: ImageKind, label: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    table_of(checkpoint, kind, label, true)
}

/// [`image_table`] of every checkpoint of `paths` (opened with
/// [`Checkpoint::open`], several at a time), concatenated in `paths` order.
pub fn image_tables<P: AsRef<std::path::Path> + Sync>(paths: &[P], kind: ImageKind) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let tables = crate::parallel::map_tasks(paths.len(), |i| {
        let checkpoint = Checkpoint::open(&paths[i])?;
        let label = checkpoint.path().display().to_string();
        // One checkpoint per thread: its images one after the other.
        table_of(&checkpoint, kind, &label, false).map(|(_, batches)| batches)
    })?;
    Ok((image_table_schema(kind), tables.into_iter().flatten().collect()))
}

/// Every image of `checkpoint` that [`Checkpoint::decode_all`] decodes
/// (every image with protobuf entries), each as its [`image_batch`], in
/// name order; images are decoded on several threads, largest first. When
/// several images are malformed, the error is one of theirs (on one
/// thread, below 256 KiB in all: the first in name order).
pub fn all_image_batches(checkpoint: &Checkpoint) -> Result<Vec<(String, RecordBatch)>> {
    let all = checkpoint.decode_all()?;
    let images = all.images();
    let one = |i: usize, zeros: &mut Zeros| Ok((images[i].name.clone(), image_batch_with(&all.image(i)?, zeros)?));
    if all.total_size() < PARALLEL_BYTES {
        // Starting threads would cost more than the work (tens of µs).
        let mut zeros = Zeros::shared();
        return (0..images.len()).map(|i| one(i, &mut zeros)).collect();
    }
    // Largest first, so that the threads run out of work together rather
    // than one decoding the last big image alone; results in name order.
    let mut order: Vec<usize> = (0..images.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(images[i].size));
    let mut done = crate::parallel::map_tasks(order.len(), |k| one(order[k], &mut Zeros::new()).map(|table| (order[k], table)))?;
    done.sort_unstable_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, table)| table).collect())
}

/// Images below this many bytes in all are decoded on the calling thread.
const PARALLEL_BYTES: u64 = 256 * 1024;

/// The kind named `name`: crit's magic name (`PAGEMAP`, `INETSK`, in any
/// case, `-` for `_`) or an image file's name without its number
/// (`pagemap`, `fdinfo`, `ghost-file`, `inetsk`).
pub fn kind_by_name(name: &str) -> Option<ImageKind> {
    let upper = name.to_ascii_uppercase().replace('-', "_");
    ImageKind::from_name(&upper).or_else(|| {
        let stem = name.strip_suffix(".img").unwrap_or(name);
        ImageKind::all().find(|kind| {
            kind.file_patterns()
                .iter()
                .any(|p| p.strip_suffix(".img").is_some_and(|p| p == stem || p.split('%').next() == Some(&format!("{stem}-"))))
        })
    })
}

fn table_of(checkpoint: &Checkpoint, kind: ImageKind, label: &str, parallel: bool) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let plan = plan(kind);
    let (schema, ids) = (&plan.table, &plan.ids);
    // The images decode-all decodes (Checkpoint::decode_all), of those
    // named like `kind`: only those are read (not every image, pages included).
    let names: Vec<String> = checkpoint
        .image_names()
        .into_iter()
        .filter(|name| !name.contains('/') && !name.starts_with('.') && ImageKind::from_file_name(name) == Some(kind))
        .collect();
    let one = |i: usize, zeros: &mut Zeros| {
        let name = names[i].as_str();
        let Ok(image) = Image::parse(name, checkpoint.image_bytes(name)?) else {
            // Not an image with entries (decode-all leaves it out, or warns).
            return Ok(None);
        };
        if image.kind() != kind {
            // Named like one kind, holding another: its own table, not this one.
            return Ok(None);
        }
        let entries = image_batch_with(&image, zeros)?;
        let rows = entries.num_rows();
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(StringArray::from(vec![label; rows])), Arc::new(StringArray::from(vec![name; rows]))];
        for (_, patterns) in ids {
            let id = patterns.iter().find_map(|p| match_file_pattern(p, name)).and_then(|digits| {
                if patterns.iter().any(|p| p.ends_with("%x.img")) {
                    u64::from_str_radix(digits, 16).ok()
                } else {
                    digits.parse().ok()
                }
            });
            arrays.push(Arc::new(UInt64Array::from(vec![id; rows])));
        }
        arrays.extend(entries.columns().iter().cloned());
        batch(schema.clone(), arrays, rows).map(Some)
    };
    let batches = if parallel {
        crate::parallel::map_tasks(names.len(), |i| one(i, &mut Zeros::new()))?
    } else {
        let mut zeros = Zeros::shared();
        (0..names.len()).map(|i| one(i, &mut zeros)).collect::<Result<Vec<_>>>()?
    };
    Ok((schema.clone(), batches.into_iter().flatten().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_schema_without_ambiguous_columns() {
        for kind in ImageKind::all() {
            let mut columns = Vec::new();
            for id in entry_messages(kind) {
                let (_, filled) = message_columns(id, &mut vec![id], std::mem::take(&mut columns));
                columns = filled;
            }
            // A clash (one name, two types) would add a column of its own.
            let mut names: Vec<&str> = entry_messages(kind).iter().flat_map(|id| id.schema().fields.iter().map(|f| f.name)).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(columns.len(), names.len(), "{kind:?}: a name clash in {names:?}");
            assert_eq!(entry_schema(kind), entry_schema(kind));
            let table = image_table_schema(kind);
            assert_eq!(table.field(0).name(), "checkpoint");
            assert_eq!(kind_by_name(kind.name()), Some(kind));
        }
        for (name, kind) in [
            ("pagemap", ImageKind::Pagemap),
            ("inetsk", ImageKind::Inetsk),
            ("ghost-file", ImageKind::GhostFile),
            ("core", ImageKind::Core),
            ("sk-queues", ImageKind::SkQueues),
        ] {
            assert_eq!(kind_by_name(name), Some(kind), "{name}");
        }
        assert_eq!(kind_by_name("nonsense"), None);
        let pagemap = entry_schema(ImageKind::Pagemap);
        assert!(pagemap.field_with_name("pages_id").is_ok() && pagemap.field_with_name("vaddr").is_ok());
        assert_eq!(pagemap.field_with_name("vaddr").unwrap().data_type(), &arrow_schema::DataType::UInt64);
    }

    #[test]
    fn leading_null_rows_and_merged_messages() {
        use arrow_array::{Array, StructArray, UInt32Array};
        // files.img: file_entry { type: 1, id: 7 } (no reg), then
        // file_entry { type: 1, id: 8, reg: { id: 5 }, reg: { flags: 2 } }:
        // row 0's reg is null (kept pending until row 1 has one), and the two
        // occurrences of reg merge into { id: 5, flags: 2 } as protobuf says.
        let mut bytes = Vec::new();
        bytes.extend(crate::image::IMG_COMMON_MAGIC.to_le_bytes());
        bytes.extend(ImageKind::Files.magic().to_le_bytes());
        for payload in [&[0x08, 0x01, 0x10, 0x07][..], &[0x08, 0x01, 0x10, 0x08, 0x1a, 0x02, 0x08, 0x05, 0x1a, 0x02, 0x10, 0x02]] {
            bytes.extend((payload.len() as u32).to_le_bytes());
            bytes.extend(payload);
        }
        let image = Image::parse("files.img", &bytes).unwrap();
        let batch = image_batch(&image).unwrap();
        assert_eq!(batch.schema(), entry_schema(ImageKind::Files));
        let reg = batch.column_by_name("reg").unwrap().as_any().downcast_ref::<StructArray>().unwrap();
        assert_eq!((reg.len(), reg.is_null(0), reg.is_valid(1)), (2, true, true));
        let field = |name: &str| reg.column_by_name(name).unwrap().as_any().downcast_ref::<UInt32Array>().unwrap().clone();
        assert_eq!((field("id").value(1), field("flags").value(1)), (5, 2));
        assert!(field("id").is_null(0) && field("flags").is_null(0));
        // A column no row has: nulls of the schema's type, with every child.
        let isk = batch.column_by_name("isk").unwrap();
        assert_eq!((isk.len(), isk.null_count()), (2, 2));
        batch.column_by_name("isk").unwrap().to_data().validate_full().unwrap();
        reg.to_data().validate_full().unwrap();
    }

    #[test]
    fn the_last_value_of_a_singular_field_wins() {
        use arrow_array::{Array, BooleanArray, Int32Array, StringArray, StructArray, UInt32Array};
        // files.img: file_entry { type: 1, id: 7, id: 9, reg: { name: "a",
        // name: "bc", mnt_id: -1, mnt_id: 3, ext: true, ext: false } }, then
        // file_entry { type: 1, id: 8, reg: { name: "d" } }: each field
        // given twice keeps its last value (values are written in place).
        let mut bytes = Vec::new();
        bytes.extend(crate::image::IMG_COMMON_MAGIC.to_le_bytes());
        bytes.extend(ImageKind::Files.magic().to_le_bytes());
        let reg = [0x32, 0x01, b'a', 0x32, 0x02, b'b', b'c', 0x38, 0x01, 0x38, 0x06, 0x48, 0x01, 0x48, 0x00];
        let mut first = vec![0x08, 0x01, 0x10, 0x07, 0x10, 0x09, 0x1a, reg.len() as u8];
        first.extend(reg);
        for payload in [&first[..], &[0x08, 0x01, 0x10, 0x08, 0x1a, 0x03, 0x32, 0x01, b'd']] {
            bytes.extend((payload.len() as u32).to_le_bytes());
            bytes.extend(payload);
        }
        let image = Image::parse("files.img", &bytes).unwrap();
        let batch = image_batch(&image).unwrap();
        batch.column_by_name("reg").unwrap().to_data().validate_full().unwrap();
        let id = batch.column_by_name("id").unwrap().as_any().downcast_ref::<UInt32Array>().unwrap();
        assert_eq!(id.values().to_vec(), vec![9, 8]);
        let reg = batch.column_by_name("reg").unwrap().as_any().downcast_ref::<StructArray>().unwrap();
        let name = reg.column_by_name("name").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!((name.value(0), name.value(1)), ("bc", "d"));
        let mnt_id = reg.column_by_name("mnt_id").unwrap().as_any().downcast_ref::<Int32Array>().unwrap();
        assert_eq!((mnt_id.value(0), mnt_id.is_null(1)), (3, true));
        let ext = reg.column_by_name("ext").unwrap().as_any().downcast_ref::<BooleanArray>().unwrap();
        assert_eq!((ext.value(0), ext.is_null(1)), (false, true));
    }

    #[test]
    fn a_cut_entry_fails_as_the_framing_says() {
        // files.img: one whole entry, then a size of 10 with 3 bytes after it
        // (the entry table frames plain entries itself: same error).
        let mut bytes = Vec::new();
        bytes.extend(crate::image::IMG_COMMON_MAGIC.to_le_bytes());
        bytes.extend(ImageKind::Files.magic().to_le_bytes());
        bytes.extend(4u32.to_le_bytes());
        bytes.extend([0x08, 0x01, 0x10, 0x07]);
        bytes.extend(10u32.to_le_bytes());
        bytes.extend([0x08, 0x01, 0x10]);
        let image = Image::parse("files.img", &bytes).unwrap();
        let err = image_batch(&image).unwrap_err().to_string();
        let framing = image.entries().find_map(|e| e.err()).unwrap().to_string();
        assert_eq!(err, framing);
        assert!(err.starts_with("files.img: offset 20 (entry 1): truncated"), "{err}");
        // A size cut short too.
        let image = Image::parse("files.img", &bytes[..18]).unwrap();
        let err = image_batch(&image).unwrap_err().to_string();
        assert!(err.starts_with("files.img: offset 16 (entry 1)"), "{err}");
    }

    /// Random fields: numbers 1-24, every wire type CRIU uses, nested
    /// length-delimited runs of fields (or of raw bytes), sometimes cut.
    fn random_message(seed: &mut u64, depth: u32, out: &mut Vec<u8>) {
        fn next(seed: &mut u64) -> u64 {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        }
        for _ in 0..next(seed) % 8 {
            let number = next(seed) % 24 + 1;
            match next(seed) % 5 {
                0 | 1 => {
                    crate::proto::wire::put_varint(out, number << 3);
                    crate::proto::wire::put_varint(out, next(seed) >> (next(seed) % 64));
                }
                2 => {
                    crate::proto::wire::put_varint(out, (number << 3) | 5);
                    out.extend((next(seed) as u32).to_le_bytes());
                }
                3 => {
                    crate::proto::wire::put_varint(out, (number << 3) | 1);
                    out.extend(next(seed).to_le_bytes());
                }
                _ => {
                    let mut inner = Vec::new();
                    if depth < 3 && next(seed).is_multiple_of(2) {
                        random_message(seed, depth + 1, &mut inner);
                    } else {
                        inner.extend((0..next(seed) % 6).map(|i| (i as u8).wrapping_mul(0x45)));
                    }
                    crate::proto::wire::put_varint(out, (number << 3) | 2);
                    crate::proto::wire::put_varint(out, inner.len() as u64);
                    out.extend(inner);
                }
            }
        }
        if next(seed).is_multiple_of(4) {
            out.truncate(out.len().saturating_sub(1)); // cut
        }
    }

    #[test]
    fn columns_no_entry_has_are_made_once_for_the_process() {
        // A core image: one row, most of its hundreds of columns (every
        // other architecture's registers) null. Decoded twice, those
        // columns are the same arrays; the rest are made again.
        let checkpoint = Checkpoint::open("../tests/fixtures/counter-host/images").unwrap();
        let image = checkpoint.image("core-24152.img").unwrap();
        let (first, second) = (image_batch(&image).unwrap(), image_batch(&image).unwrap());
        assert_eq!(first, second);
        let (mut shared, mut made_again) = (0, 0);
        for (a, b) in first.columns().iter().zip(second.columns()) {
            match a.null_count() == a.len() {
                true => {
                    assert!(Arc::ptr_eq(a, b), "{:?}", a.data_type());
                    shared += 1;
                }
                false => {
                    assert!(!Arc::ptr_eq(a, b));
                    made_again += 1;
                }
            }
        }
        assert!(shared >= 5 && made_again >= 3, "{shared} shared, {made_again} made again");
    }

    #[test]
    fn the_flat_decoder_gives_what_the_general_one_gives() {
        // decode_flat (messages of varint scalars only) against the general
        // loop of decode_fields, on random fields of every wire type: the
        // same table, or the same error.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let (mut tables, mut errors) = (0, 0);
        for kind in ImageKind::all() {
            for _ in 0..60 {
                let (bytes, _) = random_image(kind, &mut seed, 5, false);
                let Ok(image) = Image::parse("x.img", &bytes) else { continue };
                let fast = image_batch(&image);
                let general = columns::tests::without_flat_decoder(|| image_batch(&image));
                match (fast, general) {
                    (Ok(fast), Ok(general)) => {
                        assert_eq!(fast, general, "{kind:?}");
                        tables += 1;
                    }
                    (Err(fast), Err(general)) => {
                        assert_eq!(fast.to_string(), general.to_string(), "{kind:?}");
                        errors += 1;
                    }
                    (fast, general) => panic!("{kind:?}: {fast:?} but {general:?}"),
                }
            }
        }
        assert!(tables > 1000 && errors > 200, "{tables} tables, {errors} errors");
    }

    /// An image of `kind` with fewer than `most` entries of random fields
    /// (one in eight cut by a byte when `cut`), and its number of entries.
    fn random_image(kind: ImageKind, seed: &mut u64, most: u64, cut: bool) -> (Vec<u8>, usize) {
        let mut bytes = Vec::new();
        bytes.extend(crate::image::IMG_COMMON_MAGIC.to_le_bytes());
        bytes.extend(kind.magic().to_le_bytes());
        *seed = seed.wrapping_mul(0x5851_f42d_4c95_7f2d).wrapping_add(0x1405_7b7e_f767_814f);
        let entries = ((*seed >> 40) % most) as usize;
        for _ in 0..entries {
            let mut payload = Vec::new();
            random_message(seed, 0, &mut payload);
            if cut && seed.is_multiple_of(8) {
                payload.pop(); // a field cut short: an error
            }
            bytes.extend((payload.len() as u32).to_le_bytes());
            bytes.extend(payload);
        }
        (bytes, entries)
    }

    #[test]
    fn random_entries_of_every_kind_give_valid_tables_or_errors() {
        // Hostile input: never a panic; a table is valid (validate_full)
        // and has one row per entry, or the image fails with an error.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let (mut tables, mut errors) = (0, 0);
        for kind in ImageKind::all() {
            for _ in 0..40 {
                let (bytes, entries) = random_image(kind, &mut seed, 4, true);
                let Ok(image) = Image::parse("x.img", &bytes) else { continue };
                match image_batch(&image) {
                    Ok(batch) => {
                        tables += 1;
                        for column in batch.columns() {
                            column.to_data().validate_full().unwrap();
                        }
                        if kind.extra() == ExtraKind::None && kind.layout() != Layout::GhostFile {
                            assert_eq!(batch.num_rows(), entries, "{kind:?}");
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
        }
        assert!(tables > 500 && errors > 100, "{tables} tables, {errors} errors");
    }

    #[test]
    fn malformed_entries_fail_with_their_offset() {
        // files.img: file_entry { type: 1, reg (3): { id: <truncated varint> } }:
        // the payload starts at 12, reg's contents at 16, the varint at 17.
        let mut bytes = Vec::new();
        bytes.extend(crate::image::IMG_COMMON_MAGIC.to_le_bytes());
        bytes.extend(ImageKind::Files.magic().to_le_bytes());
        let payload = [0x08, 0x01, 0x1a, 0x02, 0x08, 0x80];
        bytes.extend((payload.len() as u32).to_le_bytes());
        bytes.extend(payload);
        let image = Image::parse("files.img", &bytes).unwrap();
        let err = image_batch(&image).unwrap_err().to_string();
        assert!(err.starts_with("files.img: offset 17 (entry 0)") && err.contains("truncated varint"), "{err}");
    }
}
