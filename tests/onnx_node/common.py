"""Shared helpers for the cnncc ONNX backend node test scripts."""
import os

import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
ONNX_DOMAINS = ("", "ai.onnx")


def load_ops(path=None):
    """Return the supported op list (order preserved) from ops.txt."""
    path = path or os.path.join(HERE, "ops.txt")
    ops = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                ops.append(line)
    return ops


def node_dir(data_dir):
    """Accept either the generate.py output dir or its node/ subdir."""
    sub = os.path.join(data_dir, "node")
    return sub if os.path.isdir(sub) else data_dir


def list_tests(data_dir):
    d = node_dir(data_dir)
    return sorted(t for t in os.listdir(d)
                  if os.path.isfile(os.path.join(d, t, "model.onnx")))


def _graph_ops(graph, acc):
    for n in graph.node:
        dom = n.domain if n.domain not in ONNX_DOMAINS else ""
        acc.append(n.op_type if not dom else dom + "::" + n.op_type)
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                _graph_ops(a.g, acc)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for g in a.graphs:
                    _graph_ops(g, acc)
    return acc


def model_ops(model):
    """All op types used by the model (nodes and subgraphs, in order).
    Ops outside the default domain are reported as 'domain::Op'."""
    return _graph_ops(model.graph, [])


def test_info(data_dir):
    """{test_name: (family, [ops])}.  The family of a test is the op of its
    single node; '*_expanded' tests (function bodies expanded into several
    nodes) take the family of their non-expanded counterpart."""
    d = node_dir(data_dir)
    info = {}
    for t in list_tests(d):
        m = onnx.load(os.path.join(d, t, "model.onnx"), load_external_data=False)
        info[t] = model_ops(m)
    out = {}
    for t, ops in info.items():
        fam = None
        for suffix in ("_expanded",):
            if t.endswith(suffix) and t[:-len(suffix)] in info:
                base = info[t[:-len(suffix)]]
                if len(set(base)) == 1:
                    fam = base[0]
        if fam is None:
            uniq = sorted(set(ops))
            fam = "+".join(uniq) if uniq else "?"
        out[t] = (fam, ops)
    return out


def load_excluded(path=None):
    """{test_name: reason} from excluded.txt."""
    path = path or os.path.join(HERE, "excluded.txt")
    out = {}
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                name, _, reason = line.partition(" ")
                out[name] = reason.strip()
    return out


def is_selected(ops, supported, family=None):
    """A test is selected when every op of its graph is supported and, for an expanded
    function test, the function itself (its family) is one of the supported ops."""
    s = set(supported)
    if family is not None and "+" not in family and family not in s:
        return False
    return len(ops) > 0 and all(o in s for o in ops)


def resolve_exe(path):
    """Absolute path for an existing file, else leave it to the PATH search."""
    return os.path.abspath(path) if os.path.isfile(path) else path
