"""The Lua runtime: hand-written and generated Lua predicates on LuaJIT.

* :class:`LuaRule` -- one rule in its own sandboxed LuaJIT state;
* :func:`load_lua_package` -- a rule package directory to a :class:`LuaRule`;
* :func:`runtime_info` -- which VM runs rules (LuaJIT, or the Lua 5.4 fallback).

The Host API binding, the sandbox and the batch loop live in ``prelude.lua``.
"""

from kestrel.runtime.lua.core_eval import attach_core_evaluator
from kestrel.runtime.lua.package import load_generated, load_lua_package
from kestrel.runtime.lua.rule import BatchResult, LuaLimits, LuaRule, LuaRuleError, RuleFailure
from kestrel.runtime.lua.vm import RuntimeInfo, runtime_info

__all__ = [
    "BatchResult",
    "LuaLimits",
    "LuaRule",
    "LuaRuleError",
    "RuleFailure",
    "RuntimeInfo",
    "attach_core_evaluator",
    "load_generated",
    "load_lua_package",
    "runtime_info",
]
