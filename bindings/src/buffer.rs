//! `PagesBuffer`: a read-only buffer over pages of a checkpoint, exported
//! through the buffer protocol so that `memoryview` sees the mapped bytes
//! without a copy, and keeps them mapped for as long as it lives.
//!
//! pyo3 offers `__getbuffer__` only for the limited API of Python 3.11+,
//! and this module is built for the stable ABI of 3.9. The type is therefore
//! made here with `PyType_FromSpec` and the `Py_bf_getbuffer` slot, which
//! CPython has accepted since 3.3 (3.11 only made `Py_buffer`, whose layout
//! never changed, officially part of the stable ABI).

use std::any::Any;
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::ptr::null_mut;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// `Py_buffer` as CPython declares it (Include/pybuffer.h).
#[repr(C)]
struct RawBuffer {
    buf: *mut c_void,
    obj: *mut ffi::PyObject,
    len: ffi::Py_ssize_t,
    itemsize: ffi::Py_ssize_t,
    readonly: c_int,
    ndim: c_int,
    format: *mut c_char,
    shape: *mut ffi::Py_ssize_t,
    strides: *mut ffi::Py_ssize_t,
    suboffsets: *mut ffi::Py_ssize_t,
    internal: *mut c_void,
}

const PYBUF_WRITABLE: c_int = 0x0001;
const PYBUF_FORMAT: c_int = 0x0004;
const PYBUF_ND: c_int = 0x0008;
const PYBUF_STRIDES: c_int = 0x0010 | PYBUF_ND;

/// What keeps the bytes valid: an `Arc` of the memory index, which owns the
/// checkpoint (and its mappings).
type Keep = Box<dyn Any + Send + Sync>;

/// The instance layout.
#[repr(C)]
struct PagesObject {
    ob_base: ffi::PyObject,
    /// `Box<Keep>` leaked into a raw pointer; null for an empty buffer.
    keep: *mut Keep,
    ptr: *const u8,
    len: ffi::Py_ssize_t,
    pid: u32,
    address: u64,
}

static EMPTY: [u8; 1] = [0];

const DOC: &std::ffi::CStr = c"Read-only bytes of process memory, borrowed from the checkpoint without copying (the buffer behind Memory.view()). Keeps the checkpoint's pages mapped while a memoryview of it exists.";

/// `bf_getbuffer` of `PagesBuffer`: fills `view` like `PyBuffer_FillInfo`.
///
/// # Safety
/// Called by CPython only, with the GIL held, `exporter` a live instance of
/// the `PagesBuffer` type (so a `PagesObject` whose `ptr`/`len` were set by
/// [`memoryview`] and stay valid while `keep` lives) and `view` either NULL
/// or a `Py_buffer` the caller owns.
unsafe extern "C" fn getbuffer(exporter: *mut ffi::PyObject, view: *mut RawBuffer, flags: c_int) -> c_int {
    if view.is_null() {
        // SAFETY: the GIL is held (we are called by the interpreter).
        unsafe { ffi::PyErr_SetString(ffi::PyExc_BufferError, c"PagesBuffer: NULL view".as_ptr()) };
        return -1;
    }
    if flags & PYBUF_WRITABLE != 0 {
        // SAFETY: as above.
        unsafe { ffi::PyErr_SetString(ffi::PyExc_BufferError, c"checkpoint memory is read-only".as_ptr()) };
        return -1;
    }
    // SAFETY: `exporter` is a PagesObject (our slot is only installed on that
    // type) and `view` is non-NULL and writable by contract; the INCREF is
    // balanced by CPython's PyBuffer_Release, which DECREFs `view.obj`.
    unsafe {
        let this = exporter.cast::<PagesObject>();
        let ptr = if (*this).ptr.is_null() { EMPTY.as_ptr() } else { (*this).ptr };
        // The same fields, in the same way, as PyBuffer_FillInfo.
        (*view).buf = ptr as *mut c_void;
        ffi::Py_INCREF(exporter);
        (*view).obj = exporter;
        (*view).len = (*this).len;
        (*view).itemsize = 1;
        (*view).readonly = 1;
        (*view).ndim = 1;
        (*view).format = if flags & PYBUF_FORMAT == PYBUF_FORMAT { c"B".as_ptr() as *mut c_char } else { null_mut() };
        (*view).shape = if flags & PYBUF_ND == PYBUF_ND { &raw mut (*view).len } else { null_mut() };
        (*view).strides = if flags & PYBUF_STRIDES == PYBUF_STRIDES { &raw mut (*view).itemsize } else { null_mut() };
        (*view).suboffsets = null_mut();
        (*view).internal = null_mut();
    }
    0
}

/// `tp_dealloc` of `PagesBuffer`: drops what kept the bytes valid.
///
/// # Safety
/// Called by CPython only, once, with the GIL held, when the last reference
/// to `obj` (a `PagesBuffer` instance) is gone; no buffer view of it is
/// alive then, since each view holds a reference.
unsafe extern "C" fn dealloc(obj: *mut ffi::PyObject) {
    // SAFETY: `obj` is a PagesObject; `keep` was made by Box::into_raw in
    // `memoryview` (or is NULL) and is taken once; `tp_free` of a heap type
    // made by PyType_FromSpec is a `freefunc`; the instance held one
    // reference to its heap type, released last.
    unsafe {
        let this = obj.cast::<PagesObject>();
        let keep = (*this).keep;
        if !keep.is_null() {
            (*this).keep = null_mut();
            drop(Box::from_raw(keep));
        }
        let ty = ffi::Py_TYPE(obj);
        let free = ffi::PyType_GetSlot(ty, ffi::Py_tp_free);
        if !free.is_null() {
            let free: ffi::freefunc = std::mem::transmute(free);
            free(obj.cast::<c_void>());
        }
        // Instances of heap types hold a reference to their type.
        ffi::Py_DECREF(ty.cast::<ffi::PyObject>());
    }
}

/// `tp_repr` of `PagesBuffer`.
///
/// # Safety
/// Called by CPython only, with the GIL held and `obj` a live `PagesBuffer`.
unsafe extern "C" fn repr(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: `obj` is a PagesObject; the text is valid UTF-8 of the given length.
    unsafe {
        let this = obj.cast::<PagesObject>();
        let text = format!("<PagesBuffer pid={} address={:#x} size={}>", (*this).pid, (*this).address, (*this).len);
        ffi::PyUnicode_FromStringAndSize(text.as_ptr().cast::<c_char>(), text.len() as ffi::Py_ssize_t)
    }
}

/// `tp_new` of `PagesBuffer`: instances come only from [`memoryview`].
///
/// # Safety
/// Called by CPython only, with the GIL held.
unsafe extern "C" fn refuse_new(_: *mut ffi::PyTypeObject, _: *mut ffi::PyObject, _: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: the GIL is held; the message is a static C string.
    unsafe { ffi::PyErr_SetString(ffi::PyExc_TypeError, c"PagesBuffer objects come from Memory.view()".as_ptr()) };
    null_mut()
}

static TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// The `PagesBuffer` type, made once.
pub(crate) fn pages_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    let ty = TYPE.get_or_try_init(py, || {
        let mut slots = [
            ffi::PyType_Slot { slot: ffi::Py_bf_getbuffer, pfunc: getbuffer as *mut c_void },
            ffi::PyType_Slot { slot: ffi::Py_tp_dealloc, pfunc: dealloc as *mut c_void },
            ffi::PyType_Slot { slot: ffi::Py_tp_repr, pfunc: repr as *mut c_void },
            ffi::PyType_Slot { slot: ffi::Py_tp_new, pfunc: refuse_new as *mut c_void },
            ffi::PyType_Slot { slot: ffi::Py_tp_doc, pfunc: DOC.as_ptr() as *mut c_void },
            ffi::PyType_Slot { slot: 0, pfunc: null_mut() },
        ];
        let mut spec = ffi::PyType_Spec {
            // tp_name keeps pointing at this name: it must be static.
            name: c"criu_images.PagesBuffer".as_ptr(),
            basicsize: std::mem::size_of::<PagesObject>() as c_int,
            itemsize: 0,
            flags: ffi::Py_TPFLAGS_DEFAULT as c_uint,
            slots: slots.as_mut_ptr(),
        };
        // SAFETY: a valid spec; the result is a new reference or NULL with an exception set.
        let ty = unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyType_FromSpec(&mut spec))? };
        Ok::<_, PyErr>(ty.cast_into::<PyType>()?.unbind())
    })?;
    Ok(ty.bind(py))
}

/// A read-only `memoryview` of `bytes` without copying them; `keep` must
/// own whatever keeps `bytes` valid, and is dropped with the last view.
pub(crate) fn memoryview<'py>(py: Python<'py>, keep: Keep, bytes: &[u8], pid: u32, address: u64) -> PyResult<Bound<'py, PyAny>> {
    let ty = pages_type(py)?;
    let len = ffi::Py_ssize_t::try_from(bytes.len())
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("view larger than the address space"))?;
    // SAFETY: PyType_GenericAlloc returns a zeroed instance of our type (or
    // NULL with an exception); we fill our fields before anyone sees it.
    let exporter = unsafe {
        let obj = ffi::PyType_GenericAlloc(ty.as_type_ptr(), 0);
        let obj = Bound::from_owned_ptr_or_err(py, obj)?;
        let this = obj.as_ptr().cast::<PagesObject>();
        (*this).keep = Box::into_raw(Box::new(keep));
        (*this).ptr = bytes.as_ptr();
        (*this).len = len;
        (*this).pid = pid;
        (*this).address = address;
        obj
    };
    // SAFETY: exporter supports the buffer protocol; new reference or NULL.
    unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyMemoryView_FromObject(exporter.as_ptr())) }
}
