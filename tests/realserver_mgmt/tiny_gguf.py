"""A tiny llama-architecture GGUF with random weights that llama.cpp really loads.

Two blocks, hidden size 256 (a multiple of 256 so that k-quants such as q4_K_M
apply to every matrix instead of falling back), a byte-level SentencePiece
vocabulary. Written with the ``gguf`` package, weights in F16 (or F32), so the
reference server can quantise it for real. Deterministic: the same seed gives
the same bytes, hence the same digest.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

HIDDEN = 256
FFN = 512
BLOCKS = 2
HEADS = 4
CONTEXT = 256
_WORDS = ["▁the", "▁a", "▁sky", "▁is", "▁blue", "▁hello", "▁world", "▁why", "?", "."]


def _vocab() -> tuple[list[bytes], list[float], list[int]]:
    tokens = [b"<unk>", b"<s>", b"</s>"]
    types = [
        gguf.TokenType.UNKNOWN,
        gguf.TokenType.CONTROL,
        gguf.TokenType.CONTROL,
    ]
    tokens += [f"<0x{i:02X}>".encode() for i in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    tokens += [w.encode() for w in _WORDS]
    types += [gguf.TokenType.NORMAL] * len(_WORDS)
    scores = [0.0] * 3 + [-1000.0] * 256 + [-float(i) for i in range(len(_WORDS))]
    return tokens, scores, [int(t) for t in types]


def write_tiny_llama(
    path: Path,
    *,
    seed: int = 0,
    dtype: str = "f16",
    name: str = "tiny-llama",
    chat_template: str | None = None,
    hidden: int = HIDDEN,
    ffn: int = FFN,
    blocks: int = BLOCKS,
) -> Path:
    """Write the model to ``path`` and return it (larger sizes for benchmarks)."""
    rng = np.random.default_rng(seed)
    np_type = np.float16 if dtype == "f16" else np.float32
    file_type = gguf.LlamaFileType.MOSTLY_F16 if dtype == "f16" else gguf.LlamaFileType.ALL_F32
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(hidden)
    writer.add_block_count(blocks)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(hidden // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(int(file_type))
    tokens, scores, types = _vocab()
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    vocab = len(tokens)

    def matrix(rows: int, cols: int) -> np.ndarray:
        # gguf wants numpy shape (rows, cols) = ggml ne (cols, rows).
        return (rng.standard_normal((rows, cols)) * 0.02).astype(np_type)

    writer.add_tensor("token_embd.weight", matrix(vocab, hidden))
    writer.add_tensor("output_norm.weight", np.ones(hidden, dtype=np.float32))
    writer.add_tensor("output.weight", matrix(vocab, hidden))
    for block in range(blocks):
        prefix = f"blk.{block}"
        writer.add_tensor(f"{prefix}.attn_norm.weight", np.ones(hidden, dtype=np.float32))
        for part in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"{prefix}.{part}.weight", matrix(hidden, hidden))
        writer.add_tensor(f"{prefix}.ffn_norm.weight", np.ones(hidden, dtype=np.float32))
        writer.add_tensor(f"{prefix}.ffn_gate.weight", matrix(ffn, hidden))
        writer.add_tensor(f"{prefix}.ffn_up.weight", matrix(ffn, hidden))
        writer.add_tensor(f"{prefix}.ffn_down.weight", matrix(hidden, ffn))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_tiny_lora(path: Path, *, seed: int = 1, rank: int = 4) -> Path:
    """A LoRA adapter for :func:`write_tiny_llama` (attn_q and attn_v of every block),
    strong enough that a test can see it change the output."""
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(rank))
    for block in range(BLOCKS):
        for part in ("attn_q", "attn_v"):
            name = f"blk.{block}.{part}.weight"
            a = (rng.standard_normal((rank, HIDDEN)) * 0.5).astype(np.float32)
            b = (rng.standard_normal((HIDDEN, rank)) * 0.5).astype(np.float32)
            writer.add_tensor(f"{name}.lora_a", a)
            writer.add_tensor(f"{name}.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
