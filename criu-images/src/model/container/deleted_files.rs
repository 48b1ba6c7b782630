//! `deleted.files`: files of the container image deleted before the checkpoint.

use super::bounded_json::{self, Node};
use super::members::DELETED_FILES;
use super::MAX_METADATA_SIZE;
use crate::error::Result;

/// The paths listed in `deleted.files`: files of the container image that
/// were deleted in the container before the checkpoint (restore deletes them
/// again). A JSON list of strings; `null` is an empty list.
///
/// ```
/// use criu_images::model::container::deleted_files;
///
/// let files = deleted_files(br#"["/etc/motd", "/tmp/payload"]"#)?;
/// assert_eq!(files, ["/etc/motd", "/tmp/payload"]);
/// # Ok::<(), criu_images::Error>(())
/// ```
pub fn deleted_files(bytes: &[u8]) -> Result<Vec<String>> {
    let value = bounded_json::parse(DELETED_FILES, bytes, MAX_METADATA_SIZE)?;
    Node::root(DELETED_FILES, &value).as_str_list()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn deleted_files_forms() {
        assert_eq!(deleted_files(b"null").unwrap(), Vec::<String>::new());
        assert_eq!(deleted_files(b"[]").unwrap(), Vec::<String>::new());
        assert_eq!(deleted_files(br#"["/a", "/b c"]"#).unwrap(), ["/a", "/b c"]);
        assert!(matches!(deleted_files(br#"["/a", 1]"#), Err(Error::Malformed { .. })));
        assert!(matches!(deleted_files(br#"{"a": 1}"#), Err(Error::Malformed { .. })));
        assert!(matches!(deleted_files(br#"["/a""#), Err(Error::Json { .. })));
        assert!(matches!(deleted_files(b""), Err(Error::Json { .. })));
    }
}
