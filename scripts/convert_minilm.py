#!/usr/bin/env python3
"""Convert a sentence-transformers BERT model (all-MiniLM-L6-v2) to GGUF for llama.cpp.

llama.cpp's own converter imports torch (gigabytes); this one needs only numpy and the pure-Python
gguf-py package that ships with the llama.cpp sources. It reads the safetensors file directly
(an 8-byte header length, a JSON header, raw little-endian tensors), writes the `bert`
architecture with mean pooling and the WordPiece vocabulary, and stores 2-D weights as F16 or
Q8_0 (norms, biases, position and token-type embeddings stay F32, as llama.cpp expects).

    convert_minilm.py MODEL_DIR OUT.gguf --type q8_0 --gguf-py LLAMA_CPP/gguf-py
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    with path.open("rb") as handle:
        (header_length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(header_length))
        base = 8 + header_length
        tensors = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            if info["dtype"] not in dtypes:
                raise SystemExit(f"convert: tensor {name} has unsupported dtype {info['dtype']}")
            start, end = info["data_offsets"]
            handle.seek(base + start)
            data = np.frombuffer(handle.read(end - start), dtype=dtypes[info["dtype"]])
            tensors[name] = data.reshape(info["shape"]).astype(np.float32) if info["dtype"] != "I64" else data
        return tensors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--type", choices=["f16", "q8_0"], default="q8_0")
    parser.add_argument("--gguf-py", type=Path, required=True, help="the gguf-py directory of the llama.cpp sources")
    args = parser.parse_args()

    sys.path.insert(0, str(args.gguf_py))
    import gguf  # noqa: E402  (found through --gguf-py)

    model = args.model_dir
    config = json.loads((model / "config.json").read_text())
    if config.get("model_type") != "bert":
        raise SystemExit(f"convert: {model} is a {config.get('model_type')!r} model; only BERT is supported")
    blocks = config["num_hidden_layers"]

    writer = gguf.GGUFWriter(str(args.output), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
    writer.add_name(model.parent.name if model.name == "model" else model.name)
    writer.add_block_count(blocks)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_causal_attention(False)
    pooling = json.loads((model / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise SystemExit("convert: only mean pooling is supported")
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    file_type = gguf.LlamaFileType.MOSTLY_Q8_0 if args.type == "q8_0" else gguf.LlamaFileType.MOSTLY_F16
    writer.add_file_type(file_type)

    # WordPiece vocabulary in llama.cpp's "phantom space" form: word starts get U+2581, "##"
    # continuations lose their prefix, special tokens stay as they are.
    vocab = (model / "vocab.txt").read_text(encoding="utf-8").split("\n")
    if vocab and vocab[-1] == "":
        vocab.pop()
    tokenizer = json.loads((model / "tokenizer.json").read_text(encoding="utf-8"))
    special = {token["content"] for token in tokenizer.get("added_tokens", []) if token.get("special")}
    tokens, types = [], []
    for token in vocab:
        if token in special:
            tokens.append(token)
            types.append(gguf.TokenType.CONTROL)
        else:
            tokens.append(token[2:] if token.startswith("##") else "\u2581" + token)
            types.append(gguf.TokenType.NORMAL)
    if len(tokens) != config["vocab_size"]:
        raise SystemExit(f"convert: vocab.txt has {len(tokens)} tokens, config says {config['vocab_size']}")
    writer.add_token_type_count(config.get("type_vocab_size", 1))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    gguf.SpecialVocab(model, n_vocab=len(tokens)).add_to_gguf(writer)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, blocks)
    skipped = ("embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias")
    # llama.cpp adds these to activations directly, so (like its own converter) keep them F32.
    always_f32 = {gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.POS_EMBD] + ".weight", gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.TOKEN_TYPES] + ".weight"}
    for name, data in read_safetensors(model / "model.safetensors").items():
        name = name.removeprefix("bert.")
        if name in skipped:
            continue
        mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if mapped is None:
            raise SystemExit(f"convert: no GGUF name for tensor {name}")
        if data.ndim == 2 and not mapped.endswith("_norm.weight") and mapped not in always_f32:
            if args.type == "q8_0" and data.shape[-1] % 32 == 0:
                writer.add_tensor(mapped, gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0),
                                  raw_dtype=gguf.GGMLQuantizationType.Q8_0)
            else:
                writer.add_tensor(mapped, data.astype(np.float16))
        else:
            writer.add_tensor(mapped, data.astype(np.float32))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"convert: wrote {args.output} ({args.type}, {args.output.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
