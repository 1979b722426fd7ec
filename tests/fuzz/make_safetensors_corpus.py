#!/usr/bin/env python3
"""Seed corpus for the header fuzzer (argv[1]): small valid files as the Python
peer writes them, plus the edge cases the writer never produces (sub-byte
dtypes, null metadata, unpadded or odd-length headers, zero-size tensors),
each as a file and in the fuzzer's framed form (JSON, newline, data)."""
import os
import struct
import sys

import torch
from safetensors.torch import save


def with_header(header, data=b""):
    header = header.encode()
    return struct.pack("<Q", len(header)) + header + data


def seeds():
    yield "empty", save({})
    yield "metadata", save({}, metadata={"format": "pt", "note": "épalm"})
    yield "one", save({"w": torch.ones(2, 3)})
    yield "dtypes", save({
        "f32": torch.randn(2, 2), "f16": torch.randn(3).half(), "bf16": torch.randn(3).bfloat16(),
        "f64": torch.randn(1, dtype=torch.float64), "i64": torch.arange(3), "i32": torch.arange(2, dtype=torch.int32),
        "i16": torch.arange(2, dtype=torch.int16), "i8": torch.arange(2, dtype=torch.int8),
        "u8": torch.arange(2, dtype=torch.uint8), "bool": torch.tensor([True]),
        "e4m3": torch.randn(2).to(torch.float8_e4m3fn), "e5m2": torch.randn(2).to(torch.float8_e5m2),
        "c64": torch.ones(1, dtype=torch.complex64), "u16": torch.arange(2, dtype=torch.int32).to(torch.uint16),
    }, metadata={"format": "pt"})
    yield "scalar_and_empty", save({"s": torch.tensor(1.5), "e": torch.zeros(0, 4), "z": torch.zeros(2, 0, 3)})
    yield "opt_like", save({
        "model.decoder.embed_tokens.weight": torch.randn(8, 4).half(),
        "model.decoder.layers.0.self_attn.q_proj.weight": torch.randn(4, 4).half(),
        "model.decoder.layers.0.self_attn.q_proj.bias": torch.randn(4).half(),
    }, metadata={"format": "pt"})
    yield "sub_byte", with_header('{"f4":{"dtype":"F4","shape":[2,2],"data_offsets":[0,2]},'
                                  '"f6":{"dtype":"F6_E3M2","shape":[4],"data_offsets":[2,5]}}', b"\0" * 5)
    yield "null_metadata_odd_header", with_header('{"__metadata__":null,"a":{"dtype":"U8","shape":[3],'
                                                  '"data_offsets":[0,3],"extra":[1]}}', b"abc")
    yield "unsorted_offsets", with_header('{"b":{"dtype":"I16","shape":[1],"data_offsets":[2,4]},'
                                          '"a":{"dtype":"I16","shape":[1],"data_offsets":[0,2]}}', b"\1\0\2\0")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name + ".safetensors"), "wb") as f:
            f.write(data)
        # The fuzzer's framed form: header JSON, newline, data.
        n = struct.unpack("<Q", data[:8])[0]
        with open(os.path.join(out, name + ".framed"), "wb") as f:
            f.write(data[8:8 + n] + b"\n" + data[8 + n:])


if __name__ == "__main__":
    main()
