"""Quantise a GGUF for ``/api/create``'s ``quantize`` through llama.cpp itself.

``llama_model_quantize`` writes the new GGUF into a temporary file beside the
blobs; the file is hashed and renamed to its content address, so a crash during
the minutes a big model takes leaves only a ``.tmp-`` file that the next start
removes. llama.cpp reports no progress, so progress is the size of the output
written so far against the size of the input (what Ollama shows as ``completed``
and ``total``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from ollama_harness.realserver import store as st

# Ollama's ParseFileType names (case-insensitive) -> llama.cpp's LLAMA_FTYPE_MOSTLY_*.
QUANT_TYPES = {
    "Q4_0": "Q4_0",
    "Q4_1": "Q4_1",
    "Q5_0": "Q5_0",
    "Q5_1": "Q5_1",
    "Q8_0": "Q8_0",
    "Q2_K": "Q2_K",
    "Q3_K_S": "Q3_K_S",
    "Q3_K_M": "Q3_K_M",
    "Q3_K_L": "Q3_K_L",
    "Q4_K_S": "Q4_K_S",
    "Q4_K_M": "Q4_K_M",
    "Q4_K": "Q4_K_M",
    "Q5_K_S": "Q5_K_S",
    "Q5_K_M": "Q5_K_M",
    "Q5_K": "Q5_K_M",
    "Q6_K": "Q6_K",
}
SOURCE_TYPES = ("F16", "F32")


class QuantizeError(ValueError):
    """A request llama.cpp cannot quantise, or a quantisation that failed."""


def target_type(requested: str) -> str:
    """Ollama's spelling of a quantisation type (``q4_k_m`` -> ``Q4_K_M``)."""
    upper = requested.strip().upper()
    if upper not in QUANT_TYPES:
        raise QuantizeError(f"unsupported quantization type {requested}")
    return QUANT_TYPES[upper]


@dataclass
class QuantizeJob:
    """One quantisation, run with :meth:`run` in a worker thread."""

    store: st.ModelStore
    source: Path
    quant_type: str  # as returned by target_type
    threads: int = 0
    output: Path | None = None
    done: threading.Event | None = None
    created: bool = False

    @property
    def total(self) -> int:
        return self.source.stat().st_size

    def completed(self) -> int:
        """Bytes of output written so far (0 before llama.cpp opens it)."""
        try:
            return self.output.stat().st_size if self.output else 0
        except OSError:
            return 0

    def run(self) -> st.Layer:
        """Quantise, hash and publish the result as a model blob."""
        import llama_cpp

        self.store.blobs_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=st.TMP_PREFIX, dir=self.store.blobs_dir)
        os.close(fd)
        self.output = Path(name)
        try:
            params = llama_cpp.llama_model_quantize_default_params()
            params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{self.quant_type}")
            params.nthread = self.threads
            code = llama_cpp.llama_model_quantize(
                str(self.source).encode(), str(self.output).encode(), params
            )
            if code != 0:
                raise QuantizeError(f"llama.cpp failed to quantize the model (code {code})")
            digest = _sha256(self.output)
            target = self.store.blob_path(digest)
            size = self.output.stat().st_size
            with open(self.output, "rb") as handle:
                os.fsync(handle.fileno())
            if target.exists():
                self.output.unlink()
            else:
                os.replace(self.output, target)
                self.created = True
            return st.Layer(st.MEDIA_MODEL, digest, size)
        finally:
            if self.output is not None:
                self.output.unlink(missing_ok=True)
            if self.done is not None:
                self.done.set()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"
