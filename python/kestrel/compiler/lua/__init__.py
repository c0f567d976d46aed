"""The IR -> Lua backend: any compiled EQL rule as a ``predicate.lua`` package.

:func:`generate` gives the Lua text; :func:`generate_package` also gives the
field table and host constants the text refers to, which is what
:class:`kestrel.runtime.lua.LuaRule` (or a package on disk) needs to run it.
"""

from kestrel.compiler.lua.package import GeneratedLua, generate, generate_package, write_package

__all__ = ["GeneratedLua", "generate", "generate_package", "write_package"]
