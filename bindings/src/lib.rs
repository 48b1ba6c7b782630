//! Python bindings of criu-images (the `criu_images._criu_images` module).
use pyo3::prelude::*;

#[pymodule]
fn _criu_images(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
