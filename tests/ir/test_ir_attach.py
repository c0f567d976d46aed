"""IrProgram.attach: a HostContext serves the Host API's eval_node (the C
ABI's, as the Lua runtime calls it) from the program's nodes."""

from __future__ import annotations

import kestrel
from kestrel import HostContext
from kestrel._core import IrProgram
from kestrel.compiler import compile
from kestrel.host_abi import table


def test_eval_node_through_the_c_abi():
    schema = kestrel.Schema.default()
    compiled = compile('process where length(process.name) > 3 and cidrMatch(source.ip, "10.0.0.0/8")', schema=schema)
    document = compiled.ir_dict()
    names = [node["op"] + ":" + node.get("name", node.get("cmp", "")) for node in document["nodes"]]
    length_test = names.index("Compare:gt")
    cidr = names.index("FunctionCall:cidrMatch")
    batch = kestrel.EventBatch.from_dicts(
        [
            {"process": {"name": "bash"}, "source": {"ip": "10.1.2.3"}},
            {"process": {"name": "sh"}, "source": {"ip": "11.0.0.1"}},
            {},
        ],
        schema=schema,
    )
    api, context = table(), HostContext()
    address = context._address()
    assert api.eval_node(address, batch._address(), 0, cidr) == -1  # no evaluator yet: null
    IrProgram(compiled.ir_json(), schema).attach(context)  # the context keeps the program alive
    assert [api.eval_node(address, batch._address(), ev, length_test) for ev in range(3)] == [1, 0, -1]
    assert [api.eval_node(address, batch._address(), ev, cidr) for ev in range(3)] == [1, 0, -1]
    assert api.eval_node(address, batch._address(), 0, len(names)) == -1  # a bad node id is null
    assert api.eval_node(address, batch._address(), 7, cidr) == -1  # so is a bad event index
