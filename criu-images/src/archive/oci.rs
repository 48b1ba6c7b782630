//! Checkpoints delivered as container images: an OCI image layout (a
//! directory, or a tar of one: `oci-archive`), a `docker-archive` tar, and
//! containerd's checkpoint images. Detected from the content (an
//! `oci-layout` file beside `index.json`, or a docker `manifest.json`),
//! never from the file name.
//!
//! The image is opened into the members of an ordinary checkpoint archive:
//!
//! * Podman (`podman container checkpoint --create-image`), buildah (the
//!   Kubernetes blog's recipe) and docker-archive images carry the
//!   checkpoint archive as their layer(s): the layers' files are the
//!   members, later layers replacing earlier ones, whiteouts applied.
//! * containerd's checkpoint image is an index of typed blobs: the CRIU
//!   images tar becomes `checkpoint/`, the OCI runtime spec inside the
//!   `google.protobuf.Any` of the config blob becomes `spec.dump`, and the
//!   read-write layer becomes `rootfs-diff.tar`, the names Podman uses.
//!
//! An uncompressed blob inside an uncompressed tar is read where it is (a
//! sub-range of the mapped file); a gzip or zstd layer is decompressed once
//! with the limits of compressed archives. Every blob read is checked
//! against its sha256 digest; a mismatch is an error. Documents (indexes,
//! manifests, configs) are bounded in size, layers in number, index nesting
//! in depth.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{compressed, looks_like_tar, map_file, normalize_member_name, tar, ArchiveFormat, Backing, Member, MemberKind, OpenOptions};
use crate::error::{Error, Location, Result};

/// Largest index, manifest, config or `manifest.json` read (real ones are a
/// few KiB).
pub const MAX_DOCUMENT: u64 = 4 << 20;
/// Most layers an image may have (Docker and Podman stop at 127).
pub const MAX_LAYERS: usize = 1024;
/// Most images an index may list, all levels together.
pub const MAX_IMAGES: usize = 4096;
/// How deep indexes may nest (containerd's checkpoint nests one level).
pub const MAX_DEPTH: usize = 8;
/// Most nested indexes read in all (an index listing the same child index
/// many times, at every level, must not multiply the work).
pub const MAX_INDEXES: usize = 256;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// containerd's media types of a checkpoint's parts.
pub mod media_types {
    /// The CRIU images, an uncompressed tar of runc's image directory.
    pub const CRIU_TAR: &str = "application/vnd.containerd.container.criu.checkpoint.criu.tar";
    /// `google.protobuf.Any` holding the container's OCI runtime spec (JSON).
    pub const CONFIG: &str = "application/vnd.containerd.container.checkpoint.config.v1+proto";
    /// `google.protobuf.Any` holding the runc checkpoint options.
    pub const OPTIONS: &str = "application/vnd.containerd.container.checkpoint.options.v1+proto";
    /// `google.protobuf.Any` holding the runtime (shim) options.
    pub const RUNTIME_OPTIONS: &str = "application/vnd.containerd.container.checkpoint.runtime.options+proto";
}

/// The annotation naming a Podman checkpoint image's container.
pub const PODMAN_CHECKPOINT_NAME: &str = "io.podman.annotations.checkpoint.name";
/// The annotation CRI-O looks for to restore from an image (the Kubernetes
/// blog's buildah recipe).
pub const CRIO_CHECKPOINT_NAME: &str = "io.kubernetes.cri-o.annotations.checkpoint.name";
const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// Who made the checkpoint image, as its metadata tells.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ImageKind {
    /// `podman container checkpoint --create-image` (annotation
    /// `io.podman.annotations.checkpoint.name` on the manifest).
    Podman,
    /// An image CRI-O restores from (annotation
    /// `io.kubernetes.cri-o.annotations.checkpoint.name`; buildah recipe).
    Kubernetes,
    /// containerd's checkpoint index (`ctr containers checkpoint --image`).
    Containerd,
    /// No checkpoint annotation (docker-archive drops them all): recognised
    /// by its layer's content only.
    Unmarked,
}

impl ImageKind {
    /// `podman checkpoint`, `kubernetes checkpoint`, `containerd checkpoint`
    /// or `image`.
    pub fn name(self) -> &'static str {
        match self {
            ImageKind::Podman => "podman checkpoint",
            ImageKind::Kubernetes => "kubernetes checkpoint",
            ImageKind::Containerd => "containerd checkpoint",
            ImageKind::Unmarked => "image",
        }
    }
}

/// One blob read to open the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    /// What it is: `index`, `manifest`, `config`, `layer`, `criu images`,
    /// `spec`, `rw layer`, `base image manifest`.
    pub role: &'static str,
    /// Its media type as the referring document gives it (docker-archive:
    /// the file name).
    pub media_type: String,
    /// `sha256:<hex>`: the digest it was checked against (docker-archive
    /// layers: the config's `diff_id`, a digest of the uncompressed tar).
    pub digest: String,
    /// Bytes.
    pub size: u64,
}

/// An image an index (or a docker `manifest.json`) offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageChoice {
    /// Its name (`org.opencontainers.image.ref.name`,
    /// `io.containerd.image.name`, docker `RepoTags`), if any.
    pub reference: Option<String>,
    /// The digest of its manifest (or containerd's checkpoint index;
    /// docker-archive: of its config, the image id).
    pub digest: String,
    /// `os/architecture[/variant]`, if the index says.
    pub platform: Option<String>,
}

impl std::fmt::Display for ImageChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.reference.as_deref().unwrap_or("(no name)"), self.digest)?;
        if let Some(platform) = &self.platform {
            write!(f, " [{platform}]")?;
        }
        Ok(())
    }
}

/// What the image said about the checkpoint it carries.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageInfo {
    /// Who made it.
    pub kind: ImageKind,
    /// The image chosen (or the only one).
    pub chosen: ImageChoice,
    /// Every image the input offers, in index order.
    pub choices: Vec<ImageChoice>,
    /// Annotations of the manifest (containerd: of the checkpoint index).
    pub annotations: BTreeMap<String, String>,
    /// When the image was made: the config's `created` time, as stored (RFC
    /// 3339); for containerd's checkpoint, which has no config, the time
    /// the CRIU images were written (the modification time of
    /// `inventory.img` in the CRIU blob, UTC, whole seconds).
    pub created: Option<String>,
    /// The image the container ran from, when the image names it (containerd
    /// index; Podman's `rootfsImageName` annotation).
    pub base_image: Option<String>,
    /// The blobs read, each checked against its digest, in reading order.
    pub blobs: Vec<BlobInfo>,
}

impl ImageInfo {
    /// The `image` object of `inspect --format json` (docs/inspect.md) and
    /// of Python's `Checkpoint.image`: `form` is added by the caller.
    pub fn to_json(&self) -> serde_json::Value {
        let choice = |c: &ImageChoice| serde_json::json!({"reference": c.reference, "digest": c.digest, "platform": c.platform});
        serde_json::json!({
            "kind": self.kind.name(),
            "reference": self.chosen.reference,
            "digest": self.chosen.digest,
            "platform": self.chosen.platform,
            "choices": self.choices.iter().map(choice).collect::<Vec<_>>(),
            "created": self.created,
            "base_image": self.base_image,
            "annotations": self.annotations,
            "blobs": self.blobs.iter().map(|b| serde_json::json!({"role": b.role, "media_type": b.media_type, "digest": b.digest, "size": b.size})).collect::<Vec<_>>(),
        })
    }
}

/// The result of checking one blob with [`super::Archive::verify_blobs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobCheck {
    /// The blob's path in the layout or archive.
    pub name: String,
    /// The digest its name (or the config) claims.
    pub expected: String,
    /// The sha256 of its bytes.
    pub actual: String,
    /// Bytes.
    pub size: u64,
}

impl BlobCheck {
    /// True when the bytes match the digest.
    pub fn ok(&self) -> bool {
        self.expected == self.actual
    }
}

/// How the input was packed, for [`super::Archive::verify_blobs`].
pub(crate) enum Store {
    /// A tar (oci-archive, docker-archive): members of the outer backing.
    Tar { files: HashMap<String, (u64, u64)>, links: HashMap<String, String> },
    /// An OCI layout directory.
    Dir { root: PathBuf },
}

/// An opened image: its members and the bytes behind them.
pub(crate) struct Opened {
    pub(crate) format: ArchiveFormat,
    pub(crate) members: Vec<Member>,
    /// Extra backings; members with `source` n > 0 live in `extra[n - 1]`.
    pub(crate) extra: Vec<Backing>,
    pub(crate) info: ImageInfo,
    pub(crate) store: Store,
}

// ---- documents -------------------------------------------------------------

#[derive(Deserialize, Clone, Debug, Default)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize, Clone, Debug)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    platform: Option<Platform>,
}

impl Descriptor {
    fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn platform_text(&self) -> Option<String> {
        let p = self.platform.as_ref()?;
        let mut text = format!("{}/{}", p.os, p.architecture);
        if let Some(variant) = &p.variant {
            text.push('/');
            text.push_str(variant);
        }
        Some(text)
    }
}

#[derive(Deserialize, Debug)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Debug)]
struct Manifest {
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Debug, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

#[derive(Deserialize, Debug, Default)]
struct ImageConfig {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    rootfs: Option<RootFs>,
}

#[derive(Deserialize, Debug)]
struct DockerEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

// ---- detection -------------------------------------------------------------

/// What a tar holds, judged from its top-level members: an OCI layout, a
/// docker-archive, or neither. A checkpoint archive (with `checkpoint/` or
/// `inventory.img`) is never an image.
pub(crate) fn tar_form(members: &[Member]) -> Option<ArchiveFormat> {
    let has = |name: &str| members.iter().any(|m| m.name == name);
    if members.iter().any(|m| m.name == "inventory.img" || m.name == "checkpoint" || m.name.starts_with("checkpoint/")) {
        return None;
    }
    if has("oci-layout") && has("index.json") {
        Some(ArchiveFormat::OciArchive)
    } else if has("manifest.json") && !has("index.json") {
        Some(ArchiveFormat::DockerArchive)
    } else {
        None
    }
}

/// Whether directory `dir` is an OCI image layout.
pub(crate) fn is_layout_dir(dir: &Path) -> bool {
    let file = |name: &str| dir.join(name).symlink_metadata().is_ok_and(|m| m.is_file());
    file("oci-layout") && file("index.json")
}

// ---- opening -----------------------------------------------------------------

/// Reads blobs from the tar or directory and keeps the bytes they live in.
struct Reader<'a> {
    display: &'a str,
    outer: &'a [u8],
    store: Store,
    extra: Vec<Backing>,
    blobs: Vec<BlobInfo>,
    /// Decompression budget left.
    budget: u64,
    /// Nested indexes read so far.
    indexes_read: usize,
}

/// A blob's bytes: in `source` (0 = the outer tar, n = `extra[n - 1]`) at `offset`.
#[derive(Clone, Copy)]
struct Span {
    source: u32,
    offset: u64,
    len: u64,
}

fn archive_error(at: &str, offset: u64, detail: String) -> Error {
    Error::Archive { at: Location::new(at, offset), detail }
}

/// `sha256:<64 lowercase hex>` -> the hex; anything else is refused (it
/// would also name a path).
fn digest_hex<'d>(display: &str, digest: &'d str, what: &str) -> Result<&'d str> {
    match digest.strip_prefix("sha256:") {
        Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) => Ok(hex),
        _ if digest.contains(':') && !digest.starts_with("sha256:") => {
            Err(archive_error(display, 0, format!("{what}: digest {digest:?} uses an algorithm this reader does not check (only sha256)")))
        }
        _ => Err(archive_error(display, 0, format!("{what}: invalid digest {digest:?} (expected sha256:<64 hex digits>)"))),
    }
}

/// The sha256 of `bytes` as `sha256:<hex>`.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(71);
    text.push_str("sha256:");
    for b in Sha256::digest(bytes) {
        use std::fmt::Write as _;
        let _ = write!(text, "{b:02x}");
    }
    text
}

impl<'a> Reader<'a> {
    fn bytes(&self, span: Span) -> &[u8] {
        let all = if span.source == 0 { self.outer } else { self.extra[span.source as usize - 1].bytes() };
        // Spans are made from checked ranges of these very bytes.
        all.get(span.offset as usize..(span.offset + span.len) as usize).unwrap_or(&[])
    }

    fn label(&self, path: &str) -> String {
        match self.store {
            Store::Tar { .. } => format!("{}:{path}", self.display),
            Store::Dir { .. } => format!("{}/{path}", self.display),
        }
    }

    /// The bytes of member `path` (tar: symlinks followed inside the tar).
    fn file(&mut self, path: &str, what: &str) -> Result<Span> {
        match &self.store {
            Store::Tar { files, links } => {
                let mut name = normalize_member_name(path)
                    .map_err(|detail| archive_error(self.display, 0, format!("{what}: path {path:?}: {detail}")))?;
                for _ in 0..8 {
                    if let Some(&(offset, len)) = files.get(&name) {
                        return Ok(Span { source: 0, offset, len });
                    }
                    let Some(target) = links.get(&name) else { break };
                    name = target.clone();
                }
                Err(Error::NotFound {
                    container: self.display.to_string(),
                    name: format!("{what} {path}"),
                    hint: " (the image refers to it, but the archive does not have it)".into(),
                })
            }
            Store::Dir { root } => {
                let full = root.join(path);
                let label = self.label(path);
                let meta = full.symlink_metadata().map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => Error::NotFound {
                        container: self.display.to_string(),
                        name: format!("{what} {path}"),
                        hint: " (the image refers to it, but the layout does not have it)".into(),
                    },
                    _ => Error::io(&label, e),
                })?;
                if !meta.is_file() {
                    return Err(archive_error(&label, 0, format!("{what}: not a regular file (a blob may not be a link)")));
                }
                let backing = map_file(&full, &label)?;
                let len = backing.bytes().len() as u64;
                self.extra.push(backing);
                Ok(Span { source: self.extra.len() as u32, offset: 0, len })
            }
        }
    }

    /// Blob `digest`, checked: its size against `size` (when given) and its
    /// sha256 against the digest.
    fn blob(&mut self, desc: &Descriptor, role: &'static str, max: Option<u64>) -> Result<Span> {
        let span = self.fetch(desc, role, max)?;
        let label = self.label(&format!("blobs/sha256/{}", desc.digest.trim_start_matches("sha256:")));
        self.check(span, &desc.digest, &label, role)?;
        self.blobs.push(BlobInfo { role, media_type: desc.media_type.clone(), digest: desc.digest.clone(), size: span.len });
        Ok(span)
    }

    /// Blob `digest`, its size checked against the descriptor and `max`,
    /// not yet its digest.
    fn fetch(&mut self, desc: &Descriptor, role: &'static str, max: Option<u64>) -> Result<Span> {
        let what = format!("{role} blob {}", desc.digest);
        let hex = digest_hex(self.display, &desc.digest, &what)?.to_string();
        let path = format!("blobs/sha256/{hex}");
        if let Some(max) = max {
            if desc.size > max {
                return Err(Error::Limit {
                    file: self.label(&path),
                    what: format!("{role} ({} bytes declared; documents are small)", desc.size),
                    limit: max,
                });
            }
        }
        let span = self.file(&path, &format!("{role} blob"))?;
        let label = self.label(&path);
        if let Some(max) = max {
            if span.len > max {
                return Err(Error::Limit { file: label, what: format!("{role} ({} bytes)", span.len), limit: max });
            }
        }
        if desc.size != 0 && desc.size != span.len {
            return Err(archive_error(&label, 0, format!("{role}: the descriptor says {} bytes, the blob has {}", desc.size, span.len)));
        }
        Ok(span)
    }

    fn check(&self, span: Span, digest: &str, label: &str, role: &str) -> Result<()> {
        let actual = sha256_digest(self.bytes(span));
        if actual != digest {
            return Err(archive_error(
                label,
                0,
                format!("{role}: digest mismatch: expected {digest}, the bytes have {actual} (the blob was altered or corrupted)"),
            ));
        }
        Ok(())
    }

    fn json<T: serde::de::DeserializeOwned>(&self, span: Span, label: &str, what: &str) -> Result<T> {
        serde_json::from_slice(self.bytes(span)).map_err(|e| archive_error(label, 0, format!("not a valid {what}: {e}")))
    }

    /// Layer blob `desc` as a tar, its digest checked: in place if
    /// uncompressed, else decompressed once (gzip or zstd) within the
    /// budget, the blob hashed on a second thread meanwhile. Returns the
    /// tar's span.
    fn layer(&mut self, desc: &Descriptor, role: &'static str, what: &str) -> Result<Span> {
        let span = self.fetch(desc, role, None)?;
        let label = self.label(&format!("blobs/sha256/{}", desc.digest.trim_start_matches("sha256:")));
        let budget = self.budget;
        let bytes = self.bytes(span);
        let (actual, decompressed) = std::thread::scope(|scope| {
            let hasher = scope.spawn(|| sha256_digest(bytes));
            let decompressed = if bytes.starts_with(super::GZIP_MAGIC) {
                Some(compressed::gunzip(bytes, &label, budget))
            } else if bytes.starts_with(super::ZSTD_MAGIC) {
                Some(compressed::unzstd(bytes, &label, budget))
            } else {
                None
            };
            // The hash is plain arithmetic over a slice: it does not panic.
            (hasher.join().unwrap_or_default(), decompressed)
        });
        // A blob that is not what its digest says is reported as such, even
        // if it also fails to decompress.
        if actual != desc.digest {
            return Err(archive_error(
                &label,
                0,
                format!("{role}: digest mismatch: expected {}, the bytes have {actual} (the blob was altered or corrupted)", desc.digest),
            ));
        }
        self.blobs.push(BlobInfo { role, media_type: desc.media_type.clone(), digest: desc.digest.clone(), size: span.len });
        let decompressed = decompressed.transpose()?;
        self.layer_tar(span, decompressed, &label, what)
    }

    /// A blob as a tar: `span` itself, or its `decompressed` bytes.
    fn layer_tar(&mut self, span: Span, decompressed: Option<Backing>, label: &str, role: &str) -> Result<Span> {
        let bytes = self.bytes(span);
        match decompressed {
            None => {
                if !bytes.is_empty() && !looks_like_tar(bytes) {
                    return Err(archive_error(label, 0, format!("{role}: not a tar archive (nor gzip or zstd data)")));
                }
                Ok(span)
            }
            Some(backing) => {
                let len = backing.bytes().len() as u64;
                if !looks_like_tar(backing.bytes()) {
                    return Err(archive_error(label, 0, format!("{role}: the compressed data is not a tar archive")));
                }
                self.budget = self.budget.saturating_sub(len);
                self.extra.push(backing);
                Ok(Span { source: self.extra.len() as u32, offset: 0, len })
            }
        }
    }

    /// The members of the tar at `span`, with offsets into its backing.
    fn tar_members(&self, span: Span, label: &str) -> Result<Vec<Member>> {
        let mut members = tar::index(label, self.bytes(span))?;
        for m in &mut members {
            m.source = span.source;
            if m.kind == MemberKind::File {
                m.offset = m.offset.checked_add(span.offset).ok_or_else(|| archive_error(label, 0, "member offset out of range".into()))?;
            }
        }
        Ok(members)
    }
}

/// Opens an OCI layout or docker-archive held in the tar `outer` (already
/// indexed into `members`).
pub(crate) fn open_tar(display: &str, outer: &[u8], members: &[Member], form: ArchiveFormat, options: &OpenOptions) -> Result<Opened> {
    let mut files = HashMap::new();
    let mut links = HashMap::new();
    for m in members {
        match &m.kind {
            MemberKind::File => {
                files.insert(m.name.clone(), (m.offset, m.len));
            }
            MemberKind::HardLink(target) => {
                links.insert(m.name.clone(), target.clone());
            }
            MemberKind::Symlink(target) => {
                let dir = m.name.rsplit_once('/').map_or("", |(d, _)| d);
                let joined = if dir.is_empty() { target.clone() } else { format!("{dir}/{target}") };
                if let Ok(resolved) = normalize_member_name(&joined) {
                    links.insert(m.name.clone(), resolved);
                }
            }
            _ => {}
        }
    }
    let reader = Reader {
        display,
        outer,
        store: Store::Tar { files, links },
        extra: Vec::new(),
        blobs: Vec::new(),
        budget: options.max_decompressed,
        indexes_read: 0,
    };
    match form {
        ArchiveFormat::DockerArchive => open_docker(reader, options),
        _ => open_layout(reader, ArchiveFormat::OciArchive, options),
    }
}

/// Opens the OCI layout directory `root`.
pub(crate) fn open_dir(display: &str, root: &Path, options: &OpenOptions) -> Result<Opened> {
    let reader = Reader {
        display,
        outer: &[],
        store: Store::Dir { root: root.to_path_buf() },
        extra: Vec::new(),
        blobs: Vec::new(),
        budget: options.max_decompressed,
        indexes_read: 0,
    };
    open_layout(reader, ArchiveFormat::OciLayout, options)
}

/// A candidate image found in the index.
struct Candidate {
    choice: ImageChoice,
    descriptor: Descriptor,
    /// containerd's checkpoint index, parsed.
    containerd: Option<Index>,
}

fn open_layout(mut reader: Reader<'_>, format: ArchiveFormat, options: &OpenOptions) -> Result<Opened> {
    let index_span = reader.file("index.json", "index")?;
    let index_label = reader.label("index.json");
    if index_span.len > MAX_DOCUMENT {
        return Err(Error::Limit { file: index_label, what: format!("index ({} bytes)", index_span.len), limit: MAX_DOCUMENT });
    }
    let index: Index = reader.json(index_span, &index_label, "OCI image index (index.json)")?;
    let mut candidates = Vec::new();
    let mut path = Vec::new();
    collect(&mut reader, &index, None, 0, &mut path, &mut candidates, &index_label)?;
    let choices: Vec<ImageChoice> = candidates.iter().map(|c| c.choice.clone()).collect();
    let chosen = choose(reader.display, &choices, options.image.as_deref())?;
    let mut candidate = candidates.swap_remove(chosen);
    match candidate.containerd.take() {
        Some(index) => open_containerd(reader, format, candidate, index, choices),
        None => open_manifest(reader, format, candidate, choices),
    }
}

fn is_index_type(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

fn is_manifest_type(media_type: &str) -> bool {
    media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST
}

/// Walks an index: manifests are candidates; nested indexes are opened
/// (a containerd checkpoint index is one candidate), within bounds.
fn collect(
    reader: &mut Reader<'_>,
    index: &Index,
    inherited: Option<&str>,
    depth: usize,
    path: &mut Vec<String>,
    out: &mut Vec<Candidate>,
    label: &str,
) -> Result<()> {
    for desc in &index.manifests {
        if out.len() >= MAX_IMAGES {
            return Err(Error::Limit { file: label.to_string(), what: "images listed by the index".into(), limit: MAX_IMAGES as u64 });
        }
        let reference = desc.annotation(CONTAINERD_NAME).or(desc.annotation(REF_NAME)).or(inherited).map(str::to_string);
        if is_manifest_type(&desc.media_type) {
            let choice = ImageChoice { reference, digest: desc.digest.clone(), platform: desc.platform_text() };
            out.push(Candidate { choice, descriptor: desc.clone(), containerd: None });
        } else if is_index_type(&desc.media_type) {
            if path.contains(&desc.digest) {
                return Err(archive_error(
                    label,
                    0,
                    format!(
                        "index loop: index {} lists itself through {} (an index may not contain itself)",
                        desc.digest,
                        path.join(" -> ")
                    ),
                ));
            }
            if depth + 1 >= MAX_DEPTH {
                return Err(archive_error(label, 0, format!("indexes nested deeper than {MAX_DEPTH} levels at {}", desc.digest)));
            }
            reader.indexes_read += 1;
            if reader.indexes_read > MAX_INDEXES {
                return Err(Error::Limit { file: label.to_string(), what: "nested indexes read".into(), limit: MAX_INDEXES as u64 });
            }
            let hex = digest_hex(reader.display, &desc.digest, "index")?;
            let child_label = reader.label(&format!("blobs/sha256/{hex}"));
            // Loops are judged before the digest: an index that lists itself
            // is reported as the loop it is.
            let span = reader.file(&format!("blobs/sha256/{hex}"), "index blob")?;
            if span.len > MAX_DOCUMENT {
                return Err(Error::Limit { file: child_label, what: format!("index ({} bytes)", span.len), limit: MAX_DOCUMENT });
            }
            let child: Index = reader.json(span, &child_label, "OCI image index")?;
            path.push(desc.digest.clone());
            if let Some(looped) = child.manifests.iter().find(|c| path.contains(&c.digest)) {
                return Err(archive_error(
                    &child_label,
                    0,
                    format!(
                        "index loop: index {} lists {}, which contains it (an index may not contain itself)",
                        desc.digest, looped.digest
                    ),
                ));
            }
            reader.blob(desc, "index", Some(MAX_DOCUMENT))?;
            if child.manifests.iter().any(|c| c.media_type == media_types::CRIU_TAR) {
                let choice = ImageChoice { reference, digest: desc.digest.clone(), platform: desc.platform_text() };
                out.push(Candidate { choice, descriptor: desc.clone(), containerd: Some(child) });
            } else {
                collect(reader, &child, reference.as_deref(), depth + 1, path, out, &child_label)?;
            }
            path.pop();
        }
        // Other descriptors (attestations, signatures...) are not images.
    }
    Ok(())
}

/// Picks the image `wanted` names (a reference, a digest or its first 12+
/// hex digits, or a platform), or the only one.
fn choose(display: &str, choices: &[ImageChoice], wanted: Option<&str>) -> Result<usize> {
    let list = || choices.iter().map(|c| format!("\n  {c}")).collect::<String>();
    let Some(wanted) = wanted else {
        return match choices.len() {
            0 => Err(archive_error(display, 0, "the image index lists no image manifest".into())),
            1 => Ok(0),
            n => Err(archive_error(
                display,
                0,
                format!("the index offers {n} images; choose one with --image REF|DIGEST (Python: image=):{}", list()),
            )),
        };
    };
    let hex = wanted.strip_prefix("sha256:").unwrap_or(wanted);
    let matches = |c: &ImageChoice| {
        c.reference.as_deref() == Some(wanted)
            || c.digest == wanted
            || (hex.len() >= 12
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
                && c.digest.strip_prefix("sha256:").is_some_and(|d| d.starts_with(hex)))
            || c.platform.as_deref() == Some(wanted)
    };
    let found: Vec<usize> = (0..choices.len()).filter(|&i| matches(&choices[i])).collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(archive_error(display, 0, format!("no image matches --image {wanted:?}; the images are:{}", list()))),
        _ => Err(archive_error(
            display,
            0,
            format!(
                "--image {wanted:?} matches {} images; name one by digest:{}",
                found.len(),
                found.iter().map(|&i| format!("\n  {}", choices[i])).collect::<String>()
            ),
        )),
    }
}

/// The files of `layers` stacked: later layers replace earlier files, and
/// their whiteouts (`.wh.NAME`, `.wh..wh..opq`) remove earlier ones.
fn stack(layers: Vec<Vec<Member>>) -> Vec<Member> {
    let mut out: Vec<Member> = Vec::new();
    for layer in layers {
        let mut removed: HashSet<String> = HashSet::new();
        let mut opaque: HashSet<String> = HashSet::new();
        let mut kept = Vec::with_capacity(layer.len());
        for m in layer {
            let (dir, base) = m.name.rsplit_once('/').unwrap_or(("", &m.name));
            if base == ".wh..wh..opq" {
                opaque.insert(dir.to_string());
            } else if let Some(gone) = base.strip_prefix(".wh.") {
                removed.insert(if dir.is_empty() { gone.to_string() } else { format!("{dir}/{gone}") });
            } else {
                kept.push(m);
            }
        }
        if !removed.is_empty() || !opaque.is_empty() {
            out.retain(|m| {
                let mut name = m.name.as_str();
                if removed.contains(name) {
                    return false;
                }
                while let Some((parent, _)) = name.rsplit_once('/') {
                    if removed.contains(parent) || opaque.contains(parent) {
                        return false;
                    }
                    name = parent;
                }
                !opaque.contains("")
            });
        }
        out.extend(kept);
    }
    out
}

fn kind_of(annotations: &BTreeMap<String, String>) -> ImageKind {
    if annotations.contains_key(PODMAN_CHECKPOINT_NAME) {
        ImageKind::Podman
    } else if annotations.contains_key(CRIO_CHECKPOINT_NAME) {
        ImageKind::Kubernetes
    } else {
        ImageKind::Unmarked
    }
}

fn open_manifest(mut reader: Reader<'_>, format: ArchiveFormat, candidate: Candidate, choices: Vec<ImageChoice>) -> Result<Opened> {
    let desc = &candidate.descriptor;
    let span = reader.blob(desc, "manifest", Some(MAX_DOCUMENT))?;
    let label = reader.label(&format!("blobs/sha256/{}", desc.digest.trim_start_matches("sha256:")));
    let manifest: Manifest = reader.json(span, &label, "OCI image manifest")?;
    if manifest.layers.len() > MAX_LAYERS {
        return Err(Error::Limit {
            file: label,
            what: format!("layers in the manifest ({} listed)", manifest.layers.len()),
            limit: MAX_LAYERS as u64,
        });
    }
    let config = match &manifest.config {
        Some(config_desc) => {
            let span = reader.blob(config_desc, "config", Some(MAX_DOCUMENT))?;
            let label = reader.label(&format!("blobs/sha256/{}", config_desc.digest.trim_start_matches("sha256:")));
            reader.json::<ImageConfig>(span, &label, "OCI image config")?
        }
        None => ImageConfig::default(),
    };
    let mut layers = Vec::with_capacity(manifest.layers.len());
    for (i, layer) in manifest.layers.iter().enumerate() {
        let label = reader.label(&format!("blobs/sha256/{}", layer.digest.trim_start_matches("sha256:")));
        let role = format!("layer {} of {} ({})", i + 1, manifest.layers.len(), layer.media_type);
        let tar_span = reader.layer(layer, "layer", &role)?;
        layers.push(reader.tar_members(tar_span, &label)?);
    }
    let annotations = manifest.annotations.unwrap_or_default();
    let base_image = annotations
        .get("io.podman.annotations.checkpoint.rootfsImageName")
        .or(annotations.get("org.opencontainers.image.base.name"))
        .filter(|v| !v.is_empty())
        .cloned();
    let info = ImageInfo {
        kind: kind_of(&annotations),
        chosen: candidate.choice,
        choices,
        annotations,
        created: config.created,
        base_image,
        blobs: reader.blobs,
    };
    Ok(Opened { format, members: stack(layers), extra: reader.extra, info, store: reader.store })
}

/// `google.protobuf.Any`: the offsets of its `type_url` (field 1) and
/// `value` (field 2) inside `bytes`.
fn proto_any(bytes: &[u8]) -> std::result::Result<(String, std::ops::Range<usize>), String> {
    fn varint(bytes: &[u8], pos: &mut usize) -> std::result::Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *bytes.get(*pos).ok_or("truncated varint")?;
            *pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".into())
    }
    let mut pos = 0;
    let mut type_url = None;
    let mut value = 0..0;
    while pos < bytes.len() {
        let key = varint(bytes, &mut pos)?;
        if key & 7 != 2 {
            return Err(format!("field {} has wire type {}, expected length-delimited", key >> 3, key & 7));
        }
        let len = varint(bytes, &mut pos)?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| pos.checked_add(l))
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| format!("field {} claims {len} bytes, {} remain", key >> 3, bytes.len() - pos))?;
        match key >> 3 {
            1 => type_url = Some(String::from_utf8_lossy(&bytes[pos..end]).into_owned()),
            2 => value = pos..end,
            _ => {}
        }
        pos = end;
    }
    Ok((type_url.ok_or("no type_url (field 1)")?, value))
}

fn open_containerd(
    mut reader: Reader<'_>,
    format: ArchiveFormat,
    candidate: Candidate,
    index: Index,
    choices: Vec<ImageChoice>,
) -> Result<Opened> {
    let mut members: Vec<Member> = Vec::new();
    let mut base_image = index.annotations.as_ref().and_then(|a| a.get(REF_NAME)).filter(|v| !v.is_empty()).cloned();
    let (mut criu, mut spec, mut rw) = (false, false, false);
    let mut written = None;
    for desc in &index.manifests {
        let hex = digest_hex(reader.display, &desc.digest, "checkpoint part")?.to_string();
        let label = reader.label(&format!("blobs/sha256/{hex}"));
        match desc.media_type.as_str() {
            media_types::CRIU_TAR if !criu => {
                criu = true;
                let tar_span = reader.layer(desc, "criu images", "CRIU images blob")?;
                members.push(Member {
                    name: "checkpoint".into(),
                    kind: MemberKind::Directory,
                    offset: 0,
                    len: 0,
                    header_offset: 0,
                    source: 0,
                });
                let criu_members = reader.tar_members(tar_span, &label)?;
                written = criu_members.iter().find(|m| m.name == "inventory.img").and_then(|m| {
                    let at = usize::try_from(m.header_offset.checked_add(tar_span.offset)?).ok()?;
                    let field = reader
                        .bytes(Span { source: tar_span.source, offset: 0, len: tar_span.offset + tar_span.len })
                        .get(at + 136..at + 148)?;
                    Some(crate::utc::rfc3339(tar::parse_number(field)?))
                });
                for mut m in criu_members {
                    m.name = format!("checkpoint/{}", m.name);
                    if let MemberKind::HardLink(target) = &m.kind {
                        m.kind = MemberKind::HardLink(format!("checkpoint/{target}"));
                    }
                    members.push(m);
                }
            }
            media_types::CONFIG if !spec => {
                spec = true;
                let span = reader.blob(desc, "spec", Some(MAX_DOCUMENT))?;
                let (type_url, value) = proto_any(reader.bytes(span))
                    .map_err(|detail| archive_error(&label, 0, format!("checkpoint config: not a google.protobuf.Any: {detail}")))?;
                if !type_url.ends_with("opencontainers/runtime-spec/1/Spec") {
                    return Err(archive_error(
                        &label,
                        0,
                        format!("checkpoint config: expected the OCI runtime spec (type_url .../runtime-spec/1/Spec), found {type_url:?}"),
                    ));
                }
                members.push(Member {
                    name: "spec.dump".into(),
                    kind: MemberKind::File,
                    offset: span.offset + value.start as u64,
                    len: value.len() as u64,
                    header_offset: 0,
                    source: span.source,
                });
            }
            media_types::OPTIONS | media_types::RUNTIME_OPTIONS => {
                let role = if desc.media_type == media_types::OPTIONS { "checkpoint options" } else { "runtime options" };
                reader.blob(desc, role, Some(MAX_DOCUMENT))?;
            }
            t if (t.starts_with("application/vnd.oci.image.layer.") || t.starts_with("application/vnd.docker.image.rootfs.")) && !rw => {
                rw = true;
                let tar_span = reader.layer(desc, "rw layer", "read-write layer")?;
                members.push(Member {
                    name: "rootfs-diff.tar".into(),
                    kind: MemberKind::File,
                    offset: tar_span.offset,
                    len: tar_span.len,
                    header_offset: 0,
                    source: tar_span.source,
                });
            }
            t if is_manifest_type(t) => {
                let span = reader.blob(desc, "base image manifest", Some(MAX_DOCUMENT))?;
                let _: Manifest = reader.json(span, &label, "base image manifest")?;
                if let Some(name) = desc.annotation(CONTAINERD_NAME) {
                    base_image = Some(name.to_string());
                }
            }
            _ => {}
        }
    }
    let info = ImageInfo {
        kind: ImageKind::Containerd,
        chosen: candidate.choice,
        choices,
        annotations: index.annotations.unwrap_or_default(),
        created: written,
        base_image,
        blobs: reader.blobs,
    };
    Ok(Opened { format, members, extra: reader.extra, info, store: reader.store })
}

fn open_docker(mut reader: Reader<'_>, options: &OpenOptions) -> Result<Opened> {
    let span = reader.file("manifest.json", "docker manifest")?;
    let label = reader.label("manifest.json");
    if span.len > MAX_DOCUMENT {
        return Err(Error::Limit { file: label, what: format!("manifest.json ({} bytes)", span.len), limit: MAX_DOCUMENT });
    }
    let entries: Vec<DockerEntry> = reader.json(span, &label, "docker-archive manifest.json (a list of images)")?;
    if entries.len() > MAX_IMAGES {
        return Err(Error::Limit { file: label, what: "images in manifest.json".into(), limit: MAX_IMAGES as u64 });
    }
    let choices: Vec<ImageChoice> = entries
        .iter()
        .map(|e| {
            let id = e.config.trim_end_matches(".json").rsplit('/').next().unwrap_or_default();
            ImageChoice { reference: e.repo_tags.as_ref().and_then(|t| t.first().cloned()), digest: format!("sha256:{id}"), platform: None }
        })
        .collect();
    let chosen = choose(reader.display, &choices, options.image.as_deref())?;
    let entry = &entries[chosen];
    if entry.layers.len() > MAX_LAYERS {
        return Err(Error::Limit {
            file: label,
            what: format!("layers of an image ({} listed)", entry.layers.len()),
            limit: MAX_LAYERS as u64,
        });
    }
    let config_span = reader.file(&entry.config, "config")?;
    let config_label = reader.label(&entry.config);
    if config_span.len > MAX_DOCUMENT {
        return Err(Error::Limit { file: config_label, what: format!("config ({} bytes)", config_span.len), limit: MAX_DOCUMENT });
    }
    // The config's name is its digest (the image id).
    let config_digest = choices[chosen].digest.clone();
    digest_hex(reader.display, &config_digest, "config (named <sha256 hex>.json)")?;
    reader.check(config_span, &config_digest, &config_label, "config")?;
    reader.blobs.push(BlobInfo { role: "config", media_type: entry.config.clone(), digest: config_digest.clone(), size: config_span.len });
    let config: ImageConfig = reader.json(config_span, &config_label, "image config")?;
    let diff_ids = config.rootfs.as_ref().map(|r| r.diff_ids.clone()).unwrap_or_default();
    if diff_ids.len() != entry.layers.len() {
        return Err(archive_error(
            &config_label,
            0,
            format!("the config lists {} layer digests (diff_ids), manifest.json {} layers", diff_ids.len(), entry.layers.len()),
        ));
    }
    let mut layers = Vec::with_capacity(entry.layers.len());
    for (i, (name, diff_id)) in entry.layers.iter().zip(&diff_ids).enumerate() {
        let span = reader.file(name, "layer")?;
        let layer_label = reader.label(name);
        let role = format!("layer {} of {}", i + 1, entry.layers.len());
        digest_hex(reader.display, diff_id, &role)?;
        let bytes = reader.bytes(span);
        let decompressed = if bytes.starts_with(super::GZIP_MAGIC) {
            Some(compressed::gunzip(bytes, &layer_label, reader.budget)?)
        } else if bytes.starts_with(super::ZSTD_MAGIC) {
            Some(compressed::unzstd(bytes, &layer_label, reader.budget)?)
        } else {
            None
        };
        let tar_span = reader.layer_tar(span, decompressed, &layer_label, &role)?;
        // diff_ids are digests of the uncompressed tar.
        reader.check(tar_span, diff_id, &layer_label, &role)?;
        reader.blobs.push(BlobInfo { role: "layer", media_type: name.clone(), digest: diff_id.clone(), size: tar_span.len });
        layers.push(reader.tar_members(tar_span, &layer_label)?);
    }
    let info = ImageInfo {
        kind: ImageKind::Unmarked,
        chosen: choices[chosen].clone(),
        choices,
        annotations: BTreeMap::new(),
        created: config.created,
        base_image: None,
        blobs: reader.blobs,
    };
    Ok(Opened { format: ArchiveFormat::DockerArchive, members: stack(layers), extra: reader.extra, info, store: reader.store })
}

// ---- verification ------------------------------------------------------------

/// Checks every blob of the layout (`blobs/sha256/*`: the name is the
/// digest) or of the docker-archive (the config against its name, each
/// layer against the config's diff_ids), reading each once.
pub(crate) fn verify(
    display: &str,
    outer: &[u8],
    store: &Store,
    format: ArchiveFormat,
    info: &ImageInfo,
    max_decompressed: u64,
) -> Result<Vec<BlobCheck>> {
    let mut checks = Vec::new();
    match store {
        Store::Tar { files, links } if format == ArchiveFormat::DockerArchive => {
            // The files the image is made of, named in manifest.json: the
            // config against its name (the image id), each layer (its tar,
            // decompressed if need be) against the config's diff_id. Legacy
            // `<id>/layer.tar` links are followed as on open.
            for blob in &info.blobs {
                let mut name = normalize_member_name(&blob.media_type).unwrap_or_default();
                for _ in 0..8 {
                    match links.get(&name) {
                        Some(target) if !files.contains_key(&name) => name = target.clone(),
                        _ => break,
                    }
                }
                let Some(&(offset, len)) = files.get(&name) else { continue };
                let bytes = slice(outer, offset, len);
                let label = format!("{display}:{}", blob.media_type);
                let actual = if bytes.starts_with(super::GZIP_MAGIC) {
                    sha256_digest(compressed::gunzip(bytes, &label, max_decompressed)?.bytes())
                } else if bytes.starts_with(super::ZSTD_MAGIC) {
                    sha256_digest(compressed::unzstd(bytes, &label, max_decompressed)?.bytes())
                } else {
                    sha256_digest(bytes)
                };
                let expected = if blob.role == "config" { info.chosen.digest.clone() } else { blob.digest.clone() };
                checks.push(BlobCheck { name: label, expected, actual, size: len });
            }
        }
        Store::Tar { files, .. } => {
            let mut names: Vec<&String> = files.keys().filter(|n| n.starts_with("blobs/")).collect();
            names.sort();
            for name in names {
                let (offset, len) = files[name];
                checks.push(check_named(&format!("{display}:"), name, slice(outer, offset, len), len));
            }
        }
        Store::Dir { root } => {
            for algorithm in std::fs::read_dir(root.join("blobs")).map_err(|e| Error::io(format!("{display}/blobs"), e))? {
                let algorithm = algorithm.map_err(|e| Error::io(format!("{display}/blobs"), e))?;
                let dir = algorithm.path();
                if !algorithm.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .map_err(|e| Error::io(dir.display().to_string(), e))?
                    .filter_map(|e| e.ok())
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                    .map(|e| e.path())
                    .collect();
                names.sort();
                for path in names {
                    let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
                    let backing = map_file(&path, &path.display().to_string())?;
                    let len = backing.bytes().len() as u64;
                    checks.push(check_named(&format!("{display}/"), &rel, backing.bytes(), len));
                }
            }
        }
    }
    Ok(checks)
}

fn slice(bytes: &[u8], offset: u64, len: u64) -> &[u8] {
    bytes.get(offset as usize..offset.saturating_add(len) as usize).unwrap_or(&[])
}

/// `prefix` is the input's name with its separator (`x.tar:`, `dir/`).
fn check_named(prefix: &str, name: &str, bytes: &[u8], len: u64) -> BlobCheck {
    let mut parts = name.rsplit('/');
    let hex = parts.next().unwrap_or_default();
    let algorithm = parts.next().unwrap_or_default();
    BlobCheck { name: format!("{prefix}{name}"), expected: format!("{algorithm}:{hex}"), actual: sha256_digest(bytes), size: len }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_is_split_into_type_and_value() {
        let mut bytes = vec![0x0a, 3];
        bytes.extend_from_slice(b"a/b");
        bytes.extend_from_slice(&[0x12, 2, b'{', b'}']);
        let (url, value) = proto_any(&bytes).unwrap();
        assert_eq!(url, "a/b");
        assert_eq!(&bytes[value], b"{}");
        assert!(proto_any(&[0x0a, 9, b'x']).is_err());
        assert!(proto_any(&[0x08, 1]).is_err());
    }

    #[test]
    fn whiteouts_remove_earlier_files() {
        let m = |name: &str| Member { name: name.into(), kind: MemberKind::File, offset: 0, len: 0, header_offset: 0, source: 0 };
        let out = stack(vec![vec![m("a/x"), m("a/y"), m("b/z"), m("c")], vec![m("a/.wh.x"), m("b/.wh..wh..opq"), m("b/w")]]);
        let names: Vec<&str> = out.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a/y", "c", "b/w"]);
    }

    /// An uncompressed layer (docker-archive) and containerd's CRIU tar are
    /// read where they are in the mapped file: member bytes point into it.
    #[test]
    fn uncompressed_blobs_are_read_in_place() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        for (file, member) in [
            ("oci-image/docker-archive.tar", "checkpoint/pages-1.img"),
            ("containerd/containerd-checkpoint-nobase.tar", "checkpoint/pages-1.img"),
            ("containerd/containerd-checkpoint-nobase.tar", "spec.dump"),
        ] {
            let archive = super::super::Archive::open(root.join(file), &OpenOptions::default()).unwrap();
            let outer = archive.backing.bytes().as_ptr_range();
            let bytes = archive.read(member).unwrap();
            assert!(outer.contains(&bytes.as_ptr()) && bytes.as_ptr_range().end <= outer.end, "{file}: {member} was copied");
        }
        // A gzip layer is decompressed once, into the one extra backing.
        let archive = super::super::Archive::open(root.join("oci-image/oci-archive.tar"), &OpenOptions::default()).unwrap();
        assert_eq!(archive.extra.len(), 1);
        let pages = archive.read("checkpoint/pages-1.img").unwrap();
        assert!(archive.extra[0].bytes().as_ptr_range().contains(&pages.as_ptr()));
    }

    #[test]
    fn digests_must_be_sha256_hex() {
        assert!(digest_hex("x", &format!("sha256:{}", "a".repeat(64)), "t").is_ok());
        assert!(digest_hex("x", "sha256:../../etc/passwd", "t").is_err());
        assert!(digest_hex("x", &format!("sha512:{}", "a".repeat(128)), "t").unwrap_err().to_string().contains("only sha256"));
    }
}
