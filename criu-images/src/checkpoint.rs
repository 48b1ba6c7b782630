//! A checkpoint as it arrives: an images directory, a kubelet / CRI-O /
//! Podman archive (tar, tar.gz, tar.zst), or a single image file. The CRIU
//! images may sit under `checkpoint/` (container archives) or at the top;
//! pre-dump chains are followed through their `parent` links.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::archive::{normalize_member_name, Archive, OpenOptions, RootDir, TarView};
use crate::chain::{find_images_dir, follow_parents, ChainCache, DumpChain, ImageDir, ImageStore};

use crate::error::{Error, Result};
use crate::image::{raw_image_kind, Image, ImageKind};
use crate::memory::{FileOrigin, FileSource, ProcessMemory};
use crate::model::Process;
use crate::progress::Progress;
use crate::proto::Message;

/// The member of container checkpoints holding the files the container
/// changed or added (Podman, CRI-O).
const ROOTFS_DIFF: &str = "rootfs-diff.tar";

/// An opened checkpoint.
///
/// ```no_run
/// use criu_images::Checkpoint;
///
/// let checkpoint = Checkpoint::open("checkpoint-web_default-nginx-2026-11-28T20:11:13Z.tar")?;
/// for pid in checkpoint.pids()? {
///     let memory = checkpoint.memory(pid)?;
///     println!("{pid}: {} memory areas", memory.vmas().len());
/// }
/// # Ok::<(), criu_images::Error>(())
/// ```
pub struct Checkpoint {
    /// Memory indexes [`Checkpoint::memory`] built, by pid. They borrow
    /// bytes of the archives below (see the `SAFETY` note in `memory`);
    /// declared first, so dropped first.
    memories: Mutex<HashMap<u32, Arc<ProcessMemory<'static>>>>,
    path: PathBuf,
    images: ImageDir,
    parents: Vec<ImageDir>,
    /// `rootfs-diff.tar` as a file source, indexed on first use.
    diff_files: OnceLock<Option<DiffFiles>>,
    /// What every chain of this checkpoint decodes once (file objects, SysV keys).
    chain_cache: ChainCache,
}

impl Checkpoint {
    /// Opens a checkpoint with the default limits.
    pub fn open(path: impl AsRef<Path>) -> Result<Checkpoint> {
        Checkpoint::open_with(path, &OpenOptions::default())
    }

    /// Opens a checkpoint; `options` bound the decompressed size of
    /// compressed archives.
    pub fn open_with(path: impl AsRef<Path>, options: &OpenOptions) -> Result<Checkpoint> {
        let path = path.as_ref();
        let archive = Arc::new(Archive::open(path, options)?);
        let dir = find_images_dir(&archive)?;
        let images = ImageDir { archive, dir };
        let parents = follow_parents(&images, options)?;
        Ok(Checkpoint {
            memories: Mutex::new(HashMap::new()),
            path: path.to_path_buf(),
            images,
            parents,
            diff_files: OnceLock::new(),
            chain_cache: ChainCache::default(),
        })
    }

    /// The path given to [`Checkpoint::open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The archive (or directory) the checkpoint was read from.
    pub fn archive(&self) -> &Archive {
        self.images.archive()
    }

    /// The directory of CRIU images (`checkpoint`, or `""` for the top).
    pub fn images(&self) -> &ImageDir {
        &self.images
    }

    /// The pre-dump directories this dump builds on, nearest first.
    pub fn parents(&self) -> &[ImageDir] {
        &self.parents
    }

    /// Names of the files in the images directory.
    pub fn image_names(&self) -> Vec<String> {
        self.images.file_names()
    }

    /// Names of the files of the images directory that are CRIU images with
    /// protobuf entries (what crit decodes), in name order: raw images
    /// (`pages-*.img`, tarballs), logs and other files without a CRIU magic
    /// are left out: the images of [`Checkpoint::decode_all`].
    pub fn protobuf_image_names(&self) -> Result<Vec<String>> {
        Ok(self.decode_all()?.images().iter().map(|i| i.name.clone()).collect())
    }

    /// The raw bytes of file `name` of the images directory.
    pub fn image_bytes(&self, name: &str) -> Result<&[u8]> {
        self.images.file(name)?.ok_or_else(|| Error::NotFound {
            container: self.images.label(),
            name: name.to_string(),
            hint: String::new(),
        })
    }

    /// Image `name` of the images directory (e.g. `pstree.img`), framed.
    pub fn image<'c>(&'c self, name: &'c str) -> Result<Image<'c>> {
        let bytes = self.image_bytes(name)?;
        Image::parse(name, bytes)
    }

    /// Any member of the archive by its path from the top (e.g.
    /// `config.dump`, `checkpoint/pstree.img`).
    pub fn member(&self, name: &str) -> Result<&[u8]> {
        let archive = self.archive();
        archive.read(&archive.member_name(name))
    }

    /// Process ids as `pstree.img` lists them (ids inside the container).
    pub fn pids(&self) -> Result<Vec<u32>> {
        let image = self.image("pstree.img")?;
        let mut pids = Vec::new();
        for entry in image.entries() {
            if let Message::PstreeEntry(task) = entry?.decode()? {
                pids.push(task.pid);
            }
        }
        Ok(pids)
    }

    /// Processes that have an address space, in `pstree.img` order: dead and
    /// zombie tasks have no `mm-<pid>.img` and are left out.
    pub fn memory_pids(&self) -> Result<Vec<u32>> {
        let mut pids = self.pids()?;
        pids.retain(|pid| self.archive().get(&self.images.member_name(&format!("mm-{pid}.img"))).is_some());
        Ok(pids)
    }

    /// Fails with [`Error::NotFound`] (listing the processes there are)
    /// unless `pstree.img` has process `pid`.
    pub fn require_pid(&self, pid: u32) -> Result<()> {
        let all = self.pids()?;
        if all.contains(&pid) {
            return Ok(());
        }
        Err(Error::NotFound {
            container: self.path.display().to_string(),
            name: format!("process {pid}"),
            hint: format!(" (processes: {all:?})"),
        })
    }

    /// The address space of process `pid`, read through the pre-dump chain.
    /// The unmodified pages of file mappings (shared file mappings, private
    /// file pages never written) are filled from the checkpoint's
    /// `rootfs-diff.tar` where it has the file ([`FileOrigin::Checkpoint`]);
    /// [`Checkpoint::memory_with`] chooses otherwise.
    ///
    /// Built once per process and kept: later calls (the model's command
    /// line and environment, searches, Python's `Process.memory`) share it.
    /// A failed build is not kept, and is tried again on the next call.
    pub fn memory(&self, pid: u32) -> Result<Arc<ProcessMemory<'_>>> {
        self.memory_reporting(pid, None)
    }

    /// [`Checkpoint::memory`], counting the pagemap bytes a build reads into
    /// `progress` and stopping with [`Error::Cancelled`] once it is
    /// cancelled (an index already built is returned at once).
    pub fn memory_reporting(&self, pid: u32, progress: Option<&Progress>) -> Result<Arc<ProcessMemory<'_>>> {
        if let Some(memory) = lock(&self.memories).get(&pid) {
            return Ok(memory.clone());
        }
        let diff = self.diff_files()?.map(|d| d as &dyn FileSource);
        let built = self.memory_with_progress(pid, diff, progress)?;
        // SAFETY: the slices a ProcessMemory borrows are bytes of this
        // checkpoint's archives (images directory, parent dumps, and
        // rootfs-diff.tar, which is a member of the images archive): every
        // one is held through an `Arc<Archive>` owned by `self`, whose
        // mappings and buffers neither move nor are freed while the Archive
        // lives (moving `self` moves only the Arc pointers). The index
        // holds nothing else borrowed (its areas' paths are owned). The
        // 'static never leaves `self`: callers get `Arc<ProcessMemory<'c>>`
        // for `&'c self` (Arc is covariant), and the map is dropped before
        // the archives (field order).
        let built = unsafe { std::mem::transmute::<ProcessMemory<'_>, ProcessMemory<'static>>(built) };
        Ok(lock(&self.memories).entry(pid).or_insert_with(|| Arc::new(built)).clone())
    }

    /// Every process, as [`Process::load_all`] reads them, with the memory
    /// indexes of [`Checkpoint::memory`] (built once, kept for later reads).
    /// A broken `rootfs-diff.tar` does not stop them: command lines and
    /// environments never come from file pages.
    pub fn processes(&self) -> Result<Vec<Process>> {
        let use_diff = self.diff_files().is_ok();
        Process::load_all_with(&self.chain(), &|pid| match use_diff {
            true => self.memory(pid),
            false => self.memory_with(pid, None).map(Arc::new),
        })
    }

    /// Every socket of every process, with the other end linked where it is
    /// in the checkpoint too (see [`crate::model::connections`]).
    pub fn connections(&self) -> Result<Vec<crate::model::Connection>> {
        crate::model::connections(&self.chain(), &self.processes()?)
    }

    /// Like [`Checkpoint::memory`], filling unmodified file-backed pages from
    /// `rootfs` (a [`Rootfs`], [`Checkpoint::diff_files`], a
    /// [`crate::archive::RootDir`]), or from nothing with `None`.
    pub fn memory_with<'c>(&'c self, pid: u32, rootfs: Option<&'c dyn FileSource>) -> Result<ProcessMemory<'c>> {
        ProcessMemory::build_with_files(pid, &self.chain(), rootfs)
    }

    /// [`Checkpoint::memory_with`], counting the pagemap bytes read into
    /// `progress` and stopping with [`Error::Cancelled`] once it is
    /// cancelled (see [`ProcessMemory::build_with_progress`]).
    pub fn memory_with_progress<'c>(
        &'c self,
        pid: u32,
        rootfs: Option<&'c dyn FileSource>,
        progress: Option<&Progress>,
    ) -> Result<ProcessMemory<'c>> {
        ProcessMemory::build_with_progress(pid, &self.chain(), rootfs, progress)
    }

    /// This dump and its pre-dump parents, nearest first.
    pub fn chain(&self) -> DumpChain<'_> {
        DumpChain::new(&self.images, self.parents.iter().map(|p| p as &dyn ImageStore)).with_cache(&self.chain_cache)
    }

    /// What the container engine recorded about the container (Podman,
    /// CRI-O, containerd); `None` for plain CRIU image directories.
    /// A member that is present but cannot be read (not a regular file, a
    /// broken link) is an error, not taken for absent.
    pub fn container(&self) -> Result<Option<crate::model::container::ContainerInfo>> {
        let member = |name: &str| self.top_member(name);
        match self.archive().image() {
            Some(image) => crate::model::container::from_image(member, image),
            None => crate::model::container::ContainerInfo::try_from_members(member),
        }
    }

    /// Member `name` of the archive's top: `None` if there is none, an error
    /// if it is there but cannot be read.
    fn top_member(&self, name: &str) -> Result<Option<&[u8]>> {
        let archive = self.archive();
        match archive.get(name) {
            None => Ok(None),
            Some(_) => archive.read(name).map(Some),
        }
    }

    /// Member `name` at the archive's top, else file `name` among the images.
    fn top_or_image_file(&self, name: &str) -> Result<Option<&[u8]>> {
        match self.top_member(name)? {
            Some(bytes) => Ok(Some(bytes)),
            None => self.images.file(name),
        }
    }

    /// CRIU's dump statistics (`stats-dump`, at the archive's top or among
    /// the images), if present.
    pub fn dump_stats(&self) -> Result<Option<crate::model::container::DumpStats>> {
        match self.top_or_image_file(crate::model::container::members::STATS_DUMP)? {
            Some(bytes) => crate::model::container::DumpStats::parse(bytes),
            None => Ok(None),
        }
    }

    /// A summary of CRIU's `dump.log` (at the archive's top, as CRI-O puts
    /// it, or among the images, as `criu dump -o` leaves it), if present.
    pub fn dump_log(&self) -> Result<Option<crate::model::container::DumpLog>> {
        let bytes = self.top_or_image_file(crate::model::container::members::DUMP_LOG)?;
        Ok(bytes.map(crate::model::container::dump_log_summary))
    }

    /// The files deleted from the container image's root file system
    /// (`deleted.files`, Podman and CRI-O), if the archive has the list.
    pub fn deleted_files(&self) -> Result<Option<Vec<String>>> {
        let bytes = self.top_member(crate::model::container::members::DELETED_FILES)?;
        bytes.map(crate::model::container::deleted_files).transpose()
    }

    /// The files the container changed or added (`rootfs-diff.tar`, written
    /// by Podman and CRI-O), indexed without extracting; `None` if absent.
    pub fn rootfs_diff(&self) -> Result<Option<TarView<'_>>> {
        let archive = self.archive();
        if archive.get(ROOTFS_DIFF).is_none() {
            return Ok(None);
        }
        let label = format!("{}:{ROOTFS_DIFF}", archive.display_name());
        TarView::parse(&label, archive.read(ROOTFS_DIFF)?).map(Some)
    }

    /// `rootfs-diff.tar` as a [`FileSource`] whose files are
    /// [`FileOrigin::Checkpoint`], indexed once and kept; `None` if the
    /// checkpoint has none. Fails if the tar is malformed.
    pub fn diff_files(&self) -> Result<Option<&DiffFiles>> {
        if let Some(loaded) = self.diff_files.get() {
            return Ok(loaded.as_ref());
        }
        let loaded = match self.rootfs_diff().map_err(without_diff_hint)? {
            None => None,
            Some(view) => Some(DiffFiles::new(self.images.archive.clone(), &view)?),
        };
        Ok(self.diff_files.get_or_init(|| loaded).as_ref())
    }
}

/// Locks a mutex; a poisoned one still holds whole entries (an index is
/// inserted complete or not at all).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A broken `rootfs-diff.tar` stops memory reads that use it by default:
/// say how to read memory without it.
fn without_diff_hint(err: Error) -> Error {
    match err {
        Error::Archive { at, detail } => {
            Error::Archive { at, detail: format!("{detail} (process memory can be read without this file: --rootfs none)") }
        }
        other => other,
    }
}

/// The checkpoint's `rootfs-diff.tar` as a source of files for memory:
/// every byte it gives is [`FileOrigin::Checkpoint`]. Made by
/// [`Checkpoint::diff_files`].
pub struct DiffFiles {
    archive: Arc<Archive>,
    /// Normalised member name -> its bytes' range in `rootfs-diff.tar`.
    files: HashMap<String, Range<usize>>,
}

impl DiffFiles {
    fn new(archive: Arc<Archive>, view: &TarView<'_>) -> Result<DiffFiles> {
        let tar = archive.read(ROOTFS_DIFF)?;
        let base = tar.as_ptr() as usize;
        let mut files = HashMap::new();
        for (name, _, _) in view.members() {
            // `get` slices the same tar bytes; keep only the range.
            if let Some(bytes) = view.get(name) {
                let start = (bytes.as_ptr() as usize).wrapping_sub(base);
                if start.checked_add(bytes.len()).is_some_and(|end| end <= tar.len()) {
                    files.insert(name.to_string(), start..start + bytes.len());
                }
            }
        }
        Ok(DiffFiles { archive, files })
    }

    /// Number of regular files (and hard links to them).
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True if the diff holds no regular file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl FileSource for DiffFiles {
    fn file_bytes(&self, path: &str) -> Option<&[u8]> {
        let name = normalize_member_name(path.trim_start_matches('/')).ok()?;
        let range = self.files.get(&name)?.clone();
        self.archive.read(ROOTFS_DIFF).ok()?.get(range)
    }

    fn find_file(&self, path: &str) -> Option<(&[u8], FileOrigin)> {
        self.file_bytes(path).map(|bytes| (bytes, FileOrigin::Checkpoint))
    }
}

/// Where the unmodified pages of file mappings are filled from, as the
/// command line's `--rootfs` and Python's `rootfs=` name it:
///
/// * `auto` (the default, also `None`): the checkpoint's `rootfs-diff.tar`
///   when it has one, nothing otherwise;
/// * `none`: nothing, such pages stay missing;
/// * `diff`: the checkpoint's `rootfs-diff.tar`, an error if it has none;
/// * any other text: a directory holding the container's root filesystem,
///   added after `rootfs-diff.tar` (files the container changed come from
///   the diff, the others from the directory). `./none` names a directory
///   called `none`.
pub struct Rootfs<'c> {
    diff: Option<&'c DiffFiles>,
    dir: Option<RootDir>,
}

impl<'c> Rootfs<'c> {
    /// The root filesystem named by `choice` (see [`Rootfs`]).
    pub fn load(checkpoint: &'c Checkpoint, choice: Option<&str>) -> Result<Rootfs<'c>> {
        match choice.unwrap_or("auto") {
            "auto" => Ok(Rootfs { diff: checkpoint.diff_files()?, dir: None }),
            "none" => Ok(Rootfs { diff: None, dir: None }),
            "diff" => match checkpoint.diff_files()? {
                Some(diff) => Ok(Rootfs { diff: Some(diff), dir: None }),
                None => Err(Error::NotFound {
                    container: checkpoint.path().display().to_string(),
                    name: ROOTFS_DIFF.into(),
                    hint: " (only container checkpoints from Podman or CRI-O have one)".into(),
                }),
            },
            dir => {
                let root = RootDir::new(dir).map_err(|e| Error::io(dir, e))?;
                Ok(Rootfs { diff: checkpoint.diff_files()?, dir: Some(root) })
            }
        }
    }

    /// The files, for [`Checkpoint::memory_with`]; `None` when there are none.
    pub fn source(&self) -> Option<&dyn FileSource> {
        (self.diff.is_some() || self.dir.is_some()).then_some(self as &dyn FileSource)
    }

    /// True when files come from the checkpoint's `rootfs-diff.tar`.
    pub fn has_diff(&self) -> bool {
        self.diff.is_some()
    }

    /// The directory the caller added, if any.
    pub fn dir(&self) -> Option<&RootDir> {
        self.dir.as_ref()
    }
}

impl FileSource for Rootfs<'_> {
    fn file_bytes(&self, path: &str) -> Option<&[u8]> {
        self.find_file(path).map(|(bytes, _)| bytes)
    }

    fn find_file(&self, path: &str) -> Option<(&[u8], FileOrigin)> {
        if let Some(found) = self.diff.and_then(|diff| diff.find_file(path)) {
            return Some(found);
        }
        self.dir.as_ref().and_then(|dir| dir.file_bytes(path)).map(|bytes| (bytes, FileOrigin::Supplied))
    }
}

/// Whether a file of an images directory is a protobuf image, a raw one, or
/// something else; used by listings.
pub fn describe_file(name: &str, bytes: &[u8]) -> String {
    if let Some(raw) = raw_image_kind(name) {
        return format!("raw: {raw}");
    }
    match Image::parse(name, bytes) {
        Ok(image) => image.kind().name().to_string(),
        Err(_) if ImageKind::from_file_name(name).is_some() => "invalid image".to_string(),
        Err(_) => "-".to_string(),
    }
}
