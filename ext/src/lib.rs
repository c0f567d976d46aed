//! `kestrel._core`: the pyo3 binding over Kestrel's pure Rust crates.
//!
//! This crate only adapts types and maps errors; the logic lives in
//! `rust/`.

use pyo3::prelude::*;

/// Every batch allocates buffers of megabytes (raw lines, arena, columns,
/// dictionaries) and frees them a batch later. glibc's malloc returns such
/// blocks to the kernel and faults fresh pages in for the next batch;
/// mimalloc keeps them for reuse.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod batch;
mod errors;
mod host;
mod index;
mod ir;
mod lua;
mod matches;
mod pipeline;
mod schema;
mod sequence;
mod wasm;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__core_version__", env!("CARGO_PKG_VERSION"))?;
    m.add("HOST_ABI_VERSION", kestrel_host::ABI_VERSION)?;
    errors::register(m)?;
    m.add_class::<schema::PySchema>()?;
    m.add_class::<schema::PyFieldInfo>()?;
    m.add_class::<batch::PyEventBatch>()?;
    m.add_class::<batch::PyIngestErrorRecord>()?;
    m.add_class::<batch::PyNdjsonFile>()?;
    m.add_class::<host::PyHostContext>()?;
    m.add_function(wrap_pyfunction!(host::host_api_v1_address, m)?)?;
    m.add_function(wrap_pyfunction!(host::host_api_v1_fields, m)?)?;
    m.add_function(wrap_pyfunction!(host::wasm_imports, m)?)?;
    m.add_function(wrap_pyfunction!(host::wasm_leaf_kinds, m)?)?;
    m.add_class::<lua::PyLuaHost>()?;
    m.add_function(wrap_pyfunction!(lua::lua_api_symbols, m)?)?;
    m.add_class::<ir::PyIrProgram>()?;
    m.add_class::<wasm::PyWasmRule>()?;
    m.add_class::<matches::PyMatches>()?;
    m.add_class::<index::PyRuleIndex>()?;
    m.add_class::<sequence::PyStateBudget>()?;
    m.add_class::<sequence::PySequenceMatcher>()?;
    m.add_class::<pipeline::PyNativeRule>()?;
    m.add_class::<pipeline::PyPipeline>()?;
    m.add_function(wrap_pyfunction!(wasm::wat_to_wasm, m)?)?;
    Ok(())
}
