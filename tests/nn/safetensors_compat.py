#!/usr/bin/env python3
"""Byte-compatibility check between minidp's safetensors files and the reference layout.

The reference implementation (the `safetensors` package, which PyTorch users
call through safetensors.torch.save_file / load_file) writes: 8 bytes of
little-endian header length N; N bytes of compact JSON, "__metadata__" first,
then the tensors in data order, sorted widest dtype first and then by name,
each as {"dtype", "shape", "data_offsets"}; spaces to a multiple of 8; the raw
little-endian data, tensors back to back. Its reader insists that the offsets
tile the data section exactly.

minidp adds one metadata string per tensor, "crc32.<name>": its zlib crc32
as 8 hex digits, which load_safetensors verifies. Apart from that metadata the
bytes are the reference's: the script expects exactly what the reference
writes when given METADATA plus those checksums.

This script needs only the Python standard library. When torch and
safetensors are importable it also checks with the real thing.

    safetensors_compat.py TOOL WORKDIR

TOOL is minidp's helper: `TOOL roundtrip IN OUT` loads IN with minidp, checks
the values this script wrote, and saves them again to OUT. Exit status 0 on
success, 1 on a mismatch, 77 when something needed is missing (ctest: skipped).
"""
import json
import math
import os
import struct
import subprocess
import sys
import zlib

# dtype -> (struct code, size, rank in the reference's dtype enum)
DTYPES = {"U8": ("B", 1, 1), "I32": ("i", 4, 9), "F32": ("f", 4, 11), "F64": ("d", 8, 12), "I64": ("q", 8, 13)}

# The tensors both sides agree on: name -> (dtype, shape, values). The values
# are also hard-coded in the helper (tests/scripts/safetensors_compat.cpp).
TENSORS = {
    "fc.weight": ("F32", [2, 3], [0.5, -1.25, 3.0, float("inf"), -0.0, 1e-30]),
    "fc.bias": ("F32", [3], [1.0, 2.0, 3.0]),
    "bn.num_batches_tracked": ("I64", [], [123456789012]),
    "bn.running_mean": ("F64", [2], [math.pi, -2.5e-300]),
    "labels": ("I32", [4], [-1, 0, 7, 2147483647]),
    "pixels": ("U8", [2, 2], [0, 17, 128, 255]),
}
METADATA = {"format": "pt", "epoch": "3", "minidp": "compat"}


def reference_bytes(tensors, metadata):
    """The file the reference implementation writes for these tensors."""
    order = sorted(tensors.items(), key=lambda kv: (-DTYPES[kv[1][0]][2], kv[0]))
    header, data, offset = {}, b"", 0
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    for name, (dtype, shape, values) in order:
        code, size, _ = DTYPES[dtype]
        raw = struct.pack("<%d%s" % (len(values), code), *values)
        assert len(raw) == size * math.prod(shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def checksums(tensors):
    """The metadata minidp adds: each tensor's crc32 over its raw little-endian bytes."""
    out = {}
    for name, (dtype, shape, values) in tensors.items():
        code = DTYPES[dtype][0]
        out["crc32." + name] = "%08x" % zlib.crc32(struct.pack("<%d%s" % (len(values), code), *values))
    return out


def strict_read(blob):
    """Parse like the reference reader, including its strict offset tiling."""
    (n,) = struct.unpack("<Q", blob[:8])
    assert 8 + n <= len(blob), "header length beyond the file"
    assert n % 8 == 0, "header not padded to a multiple of 8"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = blob[8 + n:]
    start, out = 0, {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, end = info["data_offsets"]
        assert begin == start, "%s: offsets do not tile the data (%d != %d)" % (name, begin, start)
        code, size, _ = DTYPES[info["dtype"]]
        count = math.prod(info["shape"])
        assert end - begin == count * size, "%s: span does not match shape" % name
        out[name] = (info["dtype"], info["shape"], list(struct.unpack("<%d%s" % (count, code), data[begin:end])))
        start = end
    assert start == len(data), "data section has %d trailing bytes" % (len(data) - start)
    return out, metadata


def stored(dtype, values):
    """The values as the file stores them (float32 rounds)."""
    code = DTYPES[dtype][0]
    return list(struct.unpack("<%d%s" % (len(values), code), struct.pack("<%d%s" % (len(values), code), *values)))


def same(a, b):
    return len(a) == len(b) and all(x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)) for x, y in zip(a, b))


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    if sys.version_info < (3, 8):
        print("SKIP: needs Python 3.8 or newer (math.prod), found %s" % sys.version.split()[0])
        return 77
    tool, workdir = sys.argv[1], sys.argv[2]
    os.makedirs(workdir, exist_ok=True)
    ref_path = os.path.join(workdir, "reference.safetensors")
    out_path = os.path.join(workdir, "minidp.safetensors")
    with open(ref_path, "wb") as f:  # as PyTorch would write it: no checksums
        f.write(reference_bytes(TENSORS, METADATA))
    expected_metadata = dict(METADATA, **checksums(TENSORS))
    expected = reference_bytes(TENSORS, expected_metadata)

    # 1. minidp reads the reference layout and writes its own file.
    proc = subprocess.run([tool, "roundtrip", ref_path, out_path], capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        print("FAIL: minidp could not read the reference-layout file")
        return 1

    # 2. minidp's file parses under the reference's strict rules, with the same values ...
    with open(out_path, "rb") as f:
        blob = f.read()
    tensors, metadata = strict_read(blob)
    ok = metadata == expected_metadata and set(tensors) == set(TENSORS)
    if metadata != expected_metadata:
        print("FAIL: metadata %s, expected %s" % (metadata, expected_metadata))
    for name, (dtype, shape, values) in TENSORS.items():
        got = tensors.get(name)
        if got is None or got[0] != dtype or got[1] != shape or not same(got[2], stored(dtype, values)):
            print("FAIL: tensor %s: expected %s %s %s, got %s" % (name, dtype, shape, values, got))
            ok = False
    # ... and is byte for byte the file the reference writes (given the checksums as metadata).
    if blob != expected:
        print("FAIL: minidp's bytes differ from the reference layout")
        print("  minidp:    ", blob[:200])
        print("  reference: ", expected[:200])
        ok = False

    # 3. With the real package at hand, let it have the last word.
    try:
        import torch  # noqa: F401
        from safetensors import safe_open
        from safetensors.torch import load_file
        loaded = load_file(out_path)
        with safe_open(out_path, framework="pt") as f:
            if f.metadata() != expected_metadata:
                print("FAIL: safetensors reads the metadata as %s" % f.metadata())
                ok = False
        for name, (dtype, shape, values) in TENSORS.items():
            t = loaded[name]
            if list(t.shape) != shape or not same(t.flatten().tolist(), stored(dtype, values)):
                print("FAIL: safetensors.torch.load_file disagrees on %s" % name)
                ok = False
        print("checked with safetensors.torch.load_file as well")
    except ImportError:
        print("torch/safetensors not installed: checked against the standard-library reference layout only")

    print("OK: minidp reads and writes the reference safetensors layout" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
