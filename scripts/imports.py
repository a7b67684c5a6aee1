#!/usr/bin/env python3
"""Prints the module import graph of src/: layers, cycles and upward imports.

Each `use crate::...` (and `super::`/`self::` path) is an arrow from the file that
writes it to the file that defines the module it names; a re-export in a mod.rs is
followed to the file it comes from. Layers are the longest import chain below each
file; a cycle is a set of files that import each other; an upward import runs from a
folder to one that stands higher in the data flow (FLOW below).
"""
import os
import re
import sys
from collections import defaultdict

# The data flow, lowest first. A folder may import only from its own rank or below;
# folders on one rank stand beside each other.
FLOW = [
    ["metrics"],
    # dnssec depends on hickory's types and ring only; the zone carries its key set.
    ["geo", "dnssec"],
    # The typed zone set is what config's validation produces, so config imports it.
    ["zone"],
    ["config"],
    ["policy"],
    ["health"],
    ["routing"],
    ["dns"],
    ["alerts", "operator", "agent"],
    ["updater"],
    ["reload"],
    ["control"],
    ["server"],
    ["demo", "fuzzing"],
    ["main", "lib"],
]
RANK = {name: i for i, names in enumerate(FLOW) for name in names}


def module_of(rel):
    parts = rel[:-3].split("/")
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip(text):
    """The code without comments, string contents and unit-test modules."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + len(hashes) + 2)
            out.append('""')
            i = n if end < 0 else end + 1 + len(hashes)
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            out.append('""')
            i += 1
        elif c == "'" and re.match(r"'(\\.[^']*|[^\\'])'", text[i:i + 12]):
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:i + 12])
            out.append("' '")
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    text = "".join(out)
    # Unit tests may import anything; they are not part of the module graph.
    m = re.search(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*mod\s+\w+\s*\{", text)
    if m:
        text = text[: m.start()]
    return text


def expand(tree):
    """`a::{b, c::{d, e}}` -> [a::b, a::c::d, a::c::e]."""
    tree = tree.replace(" ", "").replace("\n", "")
    out = []

    def go(prefix, s):
        depth, start, items = 0, 0, []
        for i, ch in enumerate(s):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(s[start:i])
                start = i + 1
        items.append(s[start:])
        for item in items:
            if not item:
                continue
            if "{" in item:
                head, rest = item.split("{", 1)
                go(prefix + head, rest[: rest.rfind("}")])
            else:
                out.append(prefix + item.split("as")[0] if "::as" not in item else prefix + item)
    go("", tree)
    return [p.strip(":") for p in out]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "src"
    files = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            if n.endswith(".rs"):
                rel = os.path.relpath(os.path.join(dirpath, n), root)
                files[rel] = strip(open(os.path.join(dirpath, n), encoding="utf-8").read())
    # Files that hold only unit tests (`#[cfg(test)] mod tests;`) are not part of the graph.
    for rel, text in list(files.items()):
        here = os.path.dirname(rel)
        base = here if rel.endswith("mod.rs") or rel == "lib.rs" else rel[:-3]
        for name in re.findall(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([\w:]+\))?\s+)?mod\s+(\w+)\s*;", text):
            for cand in (f"{base}/{name}.rs", f"{base}/{name}/mod.rs"):
                files.pop(os.path.normpath(cand), None)
    # main.rs is the binary: it uses the library by its crate name, and nothing imports it.
    files.pop("main.rs", None)
    mods = {module_of(rel): rel for rel in files}
    reexports = defaultdict(dict)  # module -> name -> source module
    for rel, text in files.items():
        me = module_of(rel)
        for m in re.finditer(r"pub\s+use\s+([^;]+);", text):
            for path in expand(m.group(1)):
                segs = path.split("::")
                if segs[0] == "self":
                    segs = list(me) + segs[1:]
                elif segs[0] == "crate":
                    segs = segs[1:]
                else:
                    segs = list(me) + segs
                reexports[me][segs[-1]] = tuple(segs[:-1])

    def resolve(segs, seen=0):
        for k in range(len(segs), -1, -1):
            head = tuple(segs[:k])
            if head in mods:
                if k < len(segs) and segs[k] in reexports.get(head, {}) and seen < 8:
                    src = reexports[head][segs[k]]
                    if src != head:
                        return resolve(list(src) + segs[k:], seen + 1)
                return mods[head]
        return None

    edges = defaultdict(set)
    for rel, text in files.items():
        me = module_of(rel)
        paths = []
        for m in re.finditer(r"\buse\s+([^;]+);", text):
            paths += expand(m.group(1))
        paths += re.findall(r"\b(?:crate|super)(?:::\w+)+", text)
        for path in paths:
            segs = path.split("::")
            if segs[0] == "crate":
                segs = segs[1:]
            elif segs[0] == "super":
                base = list(me)
                while segs and segs[0] == "super":
                    base = base[:-1]
                    segs = segs[1:]
                segs = base + segs
            elif segs[0] == "self":
                segs = list(me) + segs[1:]
            else:
                continue
            target = resolve(segs)
            if target and target != rel:
                edges[rel].add(target)

    # Strongly connected components (Tarjan), then layers on the condensed graph.
    index, low, stack, on, comp = {}, {}, [], set(), {}
    comps = []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            c = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp[w] = len(comps)
                c.append(w)
                if w == v:
                    break
            comps.append(sorted(c))

    sys.setrecursionlimit(10000)
    for v in sorted(files):
        if v not in index:
            strong(v)
    layer = {}

    def depth(c):
        if c in layer:
            return layer[c]
        layer[c] = 1
        below = [comp[w] for v in comps[c] for w in edges[v] if comp[w] != c]
        layer[c] = 1 + max((depth(b) for b in below), default=0)
        return layer[c]

    for c in range(len(comps)):
        depth(c)
    cycles = [c for c in comps if len(c) > 1]

    def folder(rel):
        return rel.split("/")[0].removesuffix(".rs")

    upward = []
    for a in sorted(edges):
        for b in sorted(edges[a]):
            fa, fb = folder(a), folder(b)
            if fa != fb and RANK.get(fa, 99) < RANK.get(fb, 99):
                upward.append((a, b))

    print(f"files: {len(files)}  imports: {sum(len(v) for v in edges.values())}")
    print(f"layers: {max(layer.values(), default=0)}")
    print(f"cycles: {len(cycles)}")
    for c in cycles:
        print("  cycle: " + " <-> ".join(c))
    print(f"upward imports: {len(upward)}")
    for a, b in upward:
        print(f"  {a} -> {b}")
    if "-v" in sys.argv:
        by_layer = defaultdict(list)
        for rel in files:
            by_layer[layer[comp[rel]]].append(rel)
        for n in sorted(by_layer, reverse=True):
            print(f"layer {n:2}: " + " ".join(sorted(by_layer[n])))
    return 1 if "--strict" in sys.argv and (cycles or upward) else 0


if __name__ == "__main__":
    sys.exit(main())
