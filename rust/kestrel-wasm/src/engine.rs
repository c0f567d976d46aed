//! The process-wide wasmtime engine: Cranelift tuned for speed, on-demand
//! instance allocation, epoch interruption driven by a ticker thread, and the
//! linker holding Host API v1.

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, Linker, OptLevel};

use crate::config::EPOCH_TICK_MS;
use crate::host::{define_imports, HostState};

/// The largest linear memory any rule can be configured to use.
pub const MAX_MEMORY_BYTES: usize = 64 << 20;

pub struct Runtime {
    pub engine: Engine,
    pub linker: Linker<HostState>,
    /// How instances get their memory: always "on-demand".
    pub allocator: &'static str,
}

fn config() -> Config {
    let mut c = Config::new();
    c.cranelift_opt_level(OptLevel::Speed);
    c.epoch_interruption(true);
    c.wasm_multi_value(true);
    // Bounded reservations keep the pool's virtual footprint modest; rule
    // modules touch little memory, so explicit bounds checks cost nothing
    // measurable.
    c.memory_reservation(MAX_MEMORY_BYTES as u64);
    c.memory_guard_size(64 << 10);
    c.max_wasm_stack(512 << 10);
    // Traps are explicit checks, not SIGILL/SIGSEGV: Kestrel lives inside
    // other people's processes, and any library there that reinstalls signal
    // handlers after us (Python's faulthandler.disable()/enable() does,
    // pytest does it per in-process run) would turn a trapping rule into a
    // dead process. The memory settings above already make bounds checks
    // explicit, so this costs little.
    c.signals_based_traps(false);
    // SAFETY: the spectre mitigations rely on faulting loads, which need the
    // signal handlers switched off above; wasmtime requires them off too.
    unsafe {
        c.cranelift_flag_set("enable_heap_access_spectre_mitigation", "false");
        c.cranelift_flag_set("enable_table_access_spectre_mitigation", "false");
    }
    // On-demand rather than pooled: a pool caps live instances process-wide,
    // and every engine holds one instance per rule per worker thread, so a
    // few engines over the full corpus would exhaust any fixed pool.
    // Instances are created when rules load, never per batch, so the pool's
    // faster instantiation buys nothing on the hot path.
    c.allocation_strategy(InstanceAllocationStrategy::OnDemand);
    c
}

fn build() -> Runtime {
    let engine = Engine::new(&config()).expect("wasmtime engine");
    let mut linker = Linker::new(&engine);
    define_imports(&mut linker).expect("host imports are well-formed");
    let ticker = engine.clone();
    std::thread::Builder::new()
        .name("kestrel-wasm-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(EPOCH_TICK_MS));
            ticker.increment_epoch();
        })
        .expect("spawn epoch ticker");
    Runtime {
        engine,
        linker,
        allocator: "on-demand",
    }
}

/// The shared runtime, built on first use.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(build)
}
