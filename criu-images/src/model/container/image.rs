//! The container of a checkpoint that arrived as a container image
//! (`oci-archive`, `oci-layout`, `docker-archive`, containerd's checkpoint
//! image): the metadata members the image carries, completed by what the
//! image itself records (see docs/container.md for what each form keeps).

use crate::archive::oci::{ImageInfo, ImageKind, CRIO_CHECKPOINT_NAME, PODMAN_CHECKPOINT_NAME};
use crate::error::Result;
use crate::model::container::members::{CONFIG_DUMP, SPEC_DUMP};
use crate::model::container::ContainerInfo;

/// The runtime containerd used, from its checkpoint index.
const CONTAINERD_RUNTIME: &str = "io.containerd.checkpoint.runtime";

/// Reads the container of an image checkpoint. `member` looks members up as
/// for [`ContainerInfo::try_from_members`].
///
/// Podman and buildah images carry the whole checkpoint archive
/// (`config.dump`, `spec.dump`, ...) and read as it does; the image fills
/// only what the archive lacks (the base image, the container's name from
/// the checkpoint annotations). containerd's checkpoint image has the OCI
/// runtime spec (as `spec.dump`) but no engine config: the container is
/// read from the spec alone, its image and runtime from the checkpoint
/// index's annotations.
pub fn from_image<'a>(member: impl Fn(&str) -> Result<Option<&'a [u8]>>, image: &ImageInfo) -> Result<Option<ContainerInfo>> {
    let spec_only = member(CONFIG_DUMP)?.is_none() && member(SPEC_DUMP)?.is_some();
    let info = if spec_only {
        // No engine config: every field of it is optional, so an empty
        // object reads as "nothing recorded" (it is not shown as a member).
        ContainerInfo::try_from_members(|name| if name == CONFIG_DUMP { Ok(Some(&b"{}"[..])) } else { member(name) })?
    } else {
        ContainerInfo::try_from_members(&member)?
    };
    let Some(mut info) = info else { return Ok(None) };
    let annotation = |key: &str| image.annotations.get(key).filter(|v| !v.is_empty()).cloned();
    if info.image_name.is_none() {
        info.image_name = image.base_image.clone();
    }
    if info.name.is_none() {
        info.name = annotation(PODMAN_CHECKPOINT_NAME).or_else(|| annotation(CRIO_CHECKPOINT_NAME));
    }
    if image.kind == ImageKind::Containerd && info.runtime.is_none() {
        info.runtime = annotation(CONTAINERD_RUNTIME);
    }
    Ok(Some(info))
}
