#!/usr/bin/env python3
"""Reference safetensors files from the Python peers, for safetensors_parity_tests.

Writes into OUT (argv[1]):
  dtypes.safetensors      safetensors.torch.save_file: every dtype LibTorch shares with
                          the format, scalars, empty and non-finite values, metadata
  dtypes.json             per tensor: dtype, shape; and the metadata
  dtypes/<name>.raw       the stored bytes, as Python reads them back (safe_open)
  dtypes/<name>.f32       the same tensor converted by torch to float32
  opt-sharded/            transformers OPTForCausalLM(tiny, fp16).save_pretrained in
                          several shards (model.safetensors.index.json)
  opt-single/             the same model in one model.safetensors
  opt.json                tensor names/shapes/dtypes/shard as the shards hold them, the
                          number of shards, and the state-dict names/shapes of
                          OPTForCausalLM and OPTModel (what a model wants)
  opt/<name>.raw          each checkpoint tensor's bytes, read back with safe_open
"""
import json
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import OPTConfig, OPTForCausalLM


def raw(tensor):
    return tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def dtype_tensors():
    g = torch.Generator().manual_seed(0)
    special = torch.tensor([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-40, 65504.0, 3.0e38])
    big = torch.tensor([2**62 + 1, -(2**62) - 3, 0, -1, 2**63 - 1])
    return {
        "float.f32": torch.randn(3, 4, 5, generator=g) * 100,
        "float.f32.special": special,
        "float.f16": (torch.randn(7, 3, generator=g) * 10).half(),
        "float.f16.special": special.half(),
        "float.bf16": (torch.randn(2, 8, generator=g) * 10).bfloat16(),
        "float.bf16.special": special.bfloat16(),
        "float.f64": torch.randn(4, generator=g, dtype=torch.float64),
        "float.e4m3": torch.randn(8, generator=g).to(torch.float8_e4m3fn),
        "float.e5m2": torch.randn(8, generator=g).to(torch.float8_e5m2),
        "int.i64": big,
        "int.i32": torch.randint(-(2**31), 2**31 - 1, (2, 2, 2), generator=g, dtype=torch.int32),
        "int.i16": torch.randint(-(2**15), 2**15 - 1, (3, 3), generator=g, dtype=torch.int16),
        "int.i8": torch.arange(-4, 5, dtype=torch.int8),
        "int.u8": torch.arange(240, 256, dtype=torch.int32).to(torch.uint8).reshape(4, 4),
        "int.u16": torch.tensor([0, 1, 65535], dtype=torch.int32).to(torch.uint16),
        "int.u32": torch.tensor([0, 7, 2**32 - 1], dtype=torch.int64).to(torch.uint32),
        "int.u64": torch.tensor([0, 2**62], dtype=torch.int64).to(torch.uint64),
        "bool": torch.tensor([True, False, True, True, False, False]),
        "complex.c64": torch.tensor([1 + 2j, -3.5 + 0.25j], dtype=torch.complex64),
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 3),
    }


def write_dtypes(out):
    tensors = dtype_tensors()
    metadata = {"format": "pt", "note": "épalm ✓ \"quoted\""}
    path = os.path.join(out, "dtypes.safetensors")
    save_file(tensors, path, metadata=metadata)
    os.makedirs(os.path.join(out, "dtypes"), exist_ok=True)
    manifest = {"metadata": metadata, "tensors": {}}
    with safe_open(path, framework="pt") as f:
        assert f.metadata() == metadata
        for name in f.keys():
            t = f.get_tensor(name)
            assert raw(t) == raw(tensors[name]), name
            manifest["tensors"][name] = {"shape": list(t.shape)}
            with open(os.path.join(out, "dtypes", name + ".raw"), "wb") as w:
                w.write(raw(t))
            if not t.is_complex():
                with open(os.path.join(out, "dtypes", name + ".f32"), "wb") as w:
                    w.write(raw(t.to(torch.float32)))
    with open(os.path.join(out, "dtypes.json"), "w") as w:
        json.dump(manifest, w, indent=1)


def write_opt(out):
    torch.manual_seed(0)
    config = OPTConfig(vocab_size=128, hidden_size=16, num_hidden_layers=2, ffn_dim=32, num_attention_heads=2,
                       max_position_embeddings=32, word_embed_proj_dim=16)
    model = OPTForCausalLM(config).half().eval()
    sharded = os.path.join(out, "opt-sharded")
    model.save_pretrained(sharded, max_shard_size="5KB", safe_serialization=True)
    model.save_pretrained(os.path.join(out, "opt-single"), safe_serialization=True)
    with open(os.path.join(sharded, "model.safetensors.index.json")) as f:
        weight_map = json.load(f)["weight_map"]
    shards = sorted(set(weight_map.values()))
    assert len(shards) >= 3, shards
    assert not os.path.exists(os.path.join(sharded, "model.safetensors"))

    os.makedirs(os.path.join(out, "opt"), exist_ok=True)
    manifest = {"shards": len(shards), "tensors": {}}
    for shard in shards:
        with safe_open(os.path.join(sharded, shard), framework="pt") as f:
            for name in f.keys():
                t = f.get_tensor(name)
                manifest["tensors"][name] = {"shape": list(t.shape), "dtype": str(t.dtype), "shard": shard}
                with open(os.path.join(out, "opt", name + ".raw"), "wb") as w:
                    w.write(raw(t))
    manifest["causal_lm"] = {k: list(v.shape) for k, v in model.state_dict().items()}
    manifest["base_model"] = {k: list(v.shape) for k, v in model.model.state_dict().items()}
    with open(os.path.join(out, "opt.json"), "w") as w:
        json.dump(manifest, w, indent=1)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    write_dtypes(out)
    write_opt(out)


if __name__ == "__main__":
    main()
