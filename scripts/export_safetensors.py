#!/usr/bin/env python3
"""Writes a PyTorch checkpoint's state_dict as a safetensors file, which inv reads with
inv::io::load_safetensors (include/inv/io/safetensors.hpp) and loads into a model with
inv::io::load_state_dict.

    scripts/export_safetensors.py IN.pt OUT.safetensors [--meta KEY=VALUE ...] [--unsafe-pickle]
    scripts/export_safetensors.py --torchvision resnet18 [IN.pth] OUT.safetensors [--seed S]

IN is what torch.save wrote: a dict with a 'state_dict' or a 'model' key (training
checkpoints), a state_dict itself, or a whole nn.Module. With --torchvision NAME, IN must
be a state_dict of torchvision.models.NAME (it is loaded into that model, strictly, so a
mismatch is an error); without IN, the state_dict of a freshly initialised NAME (seeded
with --seed) is written. NAME goes into the metadata as "inv.model"; --meta adds more
string metadata.

The format (https://github.com/huggingface/safetensors): u64 little-endian header length
N, N bytes of JSON {"<name>": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
"__metadata__": {...}} padded with spaces to a multiple of 8, then the tensors' bytes,
little-endian, row-major, one after the other in the state_dict's order. dtypes follow the
tensors: float32 F32, float64 F64, float16 F16, bfloat16 BF16, int64 I64 (also bool BOOL,
uint8 U8, int8 I8, int16 I16, int32 I32, which the format has but inv does not read).

torch.load runs pickle: by default only with weights_only=True, which refuses anything but
tensors, numbers, strings and plain containers; --unsafe-pickle lifts that, for files you
trust (a whole nn.Module needs it). Needs python3 with torch and numpy (Debian's python3-torch), and for
--torchvision python3-torchvision (0.14 or later).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

# torch dtype -> (safetensors dtype, the numpy dtype of the same width whose bytes are written)
DTYPES = {
    torch.float32: ("F32", np.float32),
    torch.float64: ("F64", np.float64),
    torch.float16: ("F16", np.float16),
    torch.bfloat16: ("BF16", np.int16),  # numpy has no bfloat16: the raw 16-bit patterns
    torch.int64: ("I64", np.int64),
    torch.int32: ("I32", np.int32),
    torch.int16: ("I16", np.int16),
    torch.int8: ("I8", np.int8),
    torch.uint8: ("U8", np.uint8),
    torch.bool: ("BOOL", np.bool_),
}


def fail(msg):
    sys.exit("export_safetensors: " + msg)


def tensor_bytes(name, t):
    """The safetensors dtype and the little-endian bytes of tensor t."""
    if t.dtype not in DTYPES:
        fail(f"tensor '{name}' has dtype {t.dtype}, which safetensors does not have")
    code, np_dtype = DTYPES[t.dtype]
    t = t.detach().cpu().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    arr = t.numpy().astype(np.dtype(np_dtype).newbyteorder("<"), copy=False)
    return code, arr.tobytes()


def encode(state_dict, metadata):
    """The bytes of a safetensors file holding state_dict (name -> tensor) and metadata."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in state_dict.items():
        if not isinstance(name, str) or name == "__metadata__":
            fail(f"invalid tensor name {name!r}")
        if not torch.is_tensor(t):
            fail(f"entry '{name}' is a {type(t).__name__}, not a tensor")
        code, data = tensor_bytes(name, t)
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def state_dict_of(obj, source):
    """The state_dict in what torch.load returned."""
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj:
                return state_dict_of(obj[key], f"{source}['{key}']")
        if all(torch.is_tensor(v) for v in obj.values()):
            return obj
        bad = next(k for k, v in obj.items() if not torch.is_tensor(v))
        fail(f"{source}: a dict without a 'state_dict' or 'model' key, and its entry '{bad}' is a "
             f"{type(obj[bad]).__name__}, not a tensor (expected a state_dict)")
    fail(f"{source} holds a {type(obj).__name__}, expected a state_dict, a dict with a 'state_dict' "
         f"or 'model' key, or an nn.Module")


def load(path, unsafe_pickle):
    try:
        return torch.load(path, map_location="cpu", weights_only=not unsafe_pickle)
    except Exception as e:  # pickle refused something, or the file is not a torch.save file
        hint = "" if unsafe_pickle else " (if it holds more than tensors and you trust it: --unsafe-pickle)"
        fail(f"cannot load '{path}': {e}{hint}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("paths", nargs="+", metavar="[IN] OUT", help="the checkpoint, then the .safetensors to write")
    p.add_argument("--torchvision", metavar="NAME", help="a torchvision model, e.g. resnet18")
    p.add_argument("--seed", type=int, default=0, help="seed of a fresh --torchvision model (default 0)")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="string metadata")
    p.add_argument("--unsafe-pickle", action="store_true", help="torch.load without weights_only")
    a = p.parse_args()
    if len(a.paths) > 2 or (len(a.paths) == 1 and not a.torchvision):
        p.error("expected IN OUT, or --torchvision NAME [IN] OUT")
    source, out = (a.paths[0] if len(a.paths) == 2 else None), a.paths[-1]

    metadata = {}
    for kv in a.meta:
        if "=" not in kv:
            p.error(f"--meta expects KEY=VALUE, got '{kv}'")
        k, v = kv.split("=", 1)
        metadata[k] = v

    if a.torchvision:
        try:
            import torchvision
        except ImportError:
            fail("--torchvision needs torchvision (Debian's python3-torchvision)")
        names = torchvision.models.list_models()
        if a.torchvision not in names:
            fail(f"torchvision has no model '{a.torchvision}' (it has: {', '.join(sorted(names))})")
        torch.manual_seed(a.seed)
        model = torchvision.models.get_model(a.torchvision)
        if source is not None:
            try:
                model.load_state_dict(state_dict_of(load(source, a.unsafe_pickle), f"'{source}'"), strict=True)
            except RuntimeError as e:
                fail(f"'{source}' is not a state_dict of torchvision's {a.torchvision}: {e}")
        state_dict = model.state_dict()
        metadata["inv.model"] = a.torchvision
    else:
        state_dict = state_dict_of(load(source, a.unsafe_pickle), f"'{source}'")

    data = encode(state_dict, metadata)
    tmp = f"{out}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out)  # no half-written file under the final name
    print(f"{out}: {len(state_dict)} tensors, {len(data)} bytes")


if __name__ == "__main__":
    main()
