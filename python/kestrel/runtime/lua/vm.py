"""Which Lua VM runs rules, and how a locked-down lupa runtime is created.

LuaJIT 2.1 (``lupa.luajit21``) is the runtime: its FFI is how the prelude
reaches Host API v1 without per-event Python calls. PUC Lua 5.4 is only a
fallback for platforms whose lupa wheel lacks LuaJIT, and :func:`runtime_info`
says which one is in use.
"""

from __future__ import annotations

import ctypes
import importlib
import os
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any, Dict, Optional, Tuple, Type

#: lupa modules in order of preference.
_CANDIDATES = ("lupa.luajit21", "lupa.lua54")
#: Set to "lupa.lua54" to run the fallback on purpose (tests, or a platform
#: where LuaJIT misbehaves).
VM_ENV = "KESTREL_LUA_VM"


@dataclass(frozen=True)
class RuntimeInfo:
    """What evaluates Lua rules in this process."""

    module: str  #: the lupa module, e.g. "lupa.luajit21"
    version: str  #: the VM's own version string, e.g. "LuaJIT 2.1.1774896198"
    jit: bool  #: True when JIT compilation is available
    ffi: bool  #: True when the FFI (and so the C Host API binding) is available
    fallback: bool  #: True when LuaJIT was missing and PUC Lua runs instead
    lupa_version: str


def _select(vm: Optional[str] = None) -> Tuple[ModuleType, RuntimeInfo]:
    return _select_named(vm or os.environ.get(VM_ENV) or None)


@lru_cache(maxsize=None)
def _select_named(vm: Optional[str]) -> Tuple[ModuleType, RuntimeInfo]:
    import lupa

    if vm is not None and vm not in _CANDIDATES:
        raise ValueError(f"unknown Lua VM {vm!r}; expected one of {', '.join(_CANDIDATES)}")
    for name in _CANDIDATES:
        if vm is not None and name != vm:
            continue
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        probe = module.LuaRuntime(register_eval=False, register_builtins=False)
        version = probe.eval("jit and jit.version or _VERSION")
        has_jit = bool(probe.eval("jit ~= nil"))
        has_ffi = bool(probe.eval("package.preload.ffi ~= nil or package.loaded.ffi ~= nil or pcall(require, 'ffi')"))
        return module, RuntimeInfo(name, str(version), has_jit, has_ffi, not has_jit, lupa.__version__)
    raise ImportError("lupa has neither LuaJIT 2.1 nor Lua 5.4; install lupa>=2.7")


def runtime_info(vm: Optional[str] = None) -> RuntimeInfo:
    """The Lua VM in use (LuaJIT, or the PUC Lua 5.4 fallback); `vm` forces one."""
    return _select(vm)[1]


def lua_errors(vm: Optional[str] = None) -> Tuple[Type[Exception], Type[Exception]]:
    """(LuaError, LuaMemoryError) of the VM in use: each lupa module has its own classes."""
    module, _ = _select(vm)
    return module.LuaError, module.LuaMemoryError


def lua_api_addresses(vm: Optional[str] = None) -> Optional[Dict[str, int]]:
    """Where the Lua C API functions the core calls live in the process's
    LuaJIT (lupa's module), for `kestrel._core.LuaHost`; None on the PUC Lua
    fallback or when a symbol is missing."""
    module, info = _select(vm)
    return _addresses_in(info.module) if info.jit else None


@lru_cache(maxsize=None)
def _addresses_in(module_name: str) -> Optional[Dict[str, int]]:
    from kestrel import _core

    # lupa loaded the module without global symbols; opening it again by
    # path returns the same library, whose symbols ctypes can then look up.
    library = ctypes.CDLL(importlib.import_module(module_name).__file__)
    addresses: Dict[str, int] = {}
    for name in _core.lua_api_symbols():
        function = getattr(library, name, None)
        if function is None:
            return None
        addresses[name] = ctypes.cast(function, ctypes.c_void_p).value or 0
    return addresses


def _deny_python_attributes(obj: Any, name: Any, is_setting: bool) -> Any:
    # Rule code never gets a Python object, but if one leaked (through a bug in
    # the prelude) it must not become a way out: no attribute is reachable.
    raise AttributeError("Python objects are not accessible from Lua rules")


def new_runtime(max_memory: Optional[int], vm: Optional[str] = None) -> Any:
    """A fresh lupa runtime with Python's eval, builtins and attributes out of reach."""
    module, _ = _select(vm)
    runtime = module.LuaRuntime(
        register_eval=False,
        register_builtins=False,
        unpack_returned_tuples=True,
        attribute_filter=_deny_python_attributes,
        max_memory=max_memory,
    )
    # lupa registers a `python` table of helpers; nothing in Kestrel uses it.
    runtime.execute("python = nil; package.loaded.python = nil")
    return runtime
