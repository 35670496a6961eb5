"""The bundled embedding model: loads from the installed packages with the network cut, never downloads,
reports a missing or broken model as ModelUnavailable (once), and is safe to share between threads."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from bot.semantic import Embedder, ModelFiles, ModelUnavailable, OnnxEmbedder, locate_model

REPO = Path(__file__).resolve().parents[2]

_OFFLINE_PROBE = textwrap.dedent(
    """
    import os, socket
    attempts = []
    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled by the test")
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    from bot.semantic import OnnxEmbedder
    embedder = OnnxEmbedder()
    vector = embedder.embed_query("state space models for long sequences")
    matrix = embedder.embed_documents(["A title. An abstract.", "Another title."])
    print(embedder.name, embedder.dim, vector.shape[0], matrix.shape, len(attempts))
    """
)


def test_loads_and_embeds_with_no_network(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),  # an empty home: no cached hub files to fall back on
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(home / "hf"),
        "PYTHONPATH": str(REPO),
    }
    result = subprocess.run(
        [sys.executable, "-c", _OFFLINE_PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["all-MiniLM-L6-v2-int8", "384", "384", "(2,", "384)", "0"]
    # Nothing fetched or cached: the only files written are onnxruntime's own local device-id/usage database,
    # which it creates on import (no network involved).
    written = [p.relative_to(home) for p in home.rglob("*") if p.is_file()]
    assert all(p.parts[:4] == (".cache", "Microsoft", "DeveloperTools", ".onnxruntime") for p in written), written


def test_the_default_is_an_embedder_with_unit_vectors(embedder: OnnxEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    vector = embedder.embed_query("diffusion models that generate images from text")
    assert vector.dtype == np.float32 and vector.shape == (384,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert embedder.embed_documents([]).shape == (0, 384)
    assert np.linalg.norm(embedder.embed_query("   ")) == pytest.approx(1.0, abs=1e-5)  # blank text still embeds


def test_similar_meaning_scores_higher(embedder: OnnxEmbedder) -> None:
    query = embedder.embed_query("making pictures from a text prompt")
    near, far = embedder.embed_documents(
        [
            "High-resolution image synthesis with latent diffusion models. We generate images from captions.",
            "Heat-bath random walks with Markov bases. Graphs on lattice points are studied.",
        ]
    )
    assert float(near @ query) > float(far @ query) + 0.2


def test_long_documents_are_truncated_not_refused(embedder: OnnxEmbedder) -> None:
    assert embedder.embed_documents(["word " * 5000]).shape == (1, 384)


def test_threads_share_one_model(embedder: OnnxEmbedder) -> None:
    texts = [f"query number {i} about transformers" for i in range(24)]
    sequential = np.vstack([embedder.embed_query(t) for t in texts])
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = np.vstack(list(pool.map(embedder.embed_query, texts)))
    np.testing.assert_allclose(parallel, sequential, atol=1e-5)


def test_a_model_name_that_is_not_a_folder_is_never_downloaded() -> None:
    with pytest.raises(ModelUnavailable, match="never downloads"):
        locate_model("sentence-transformers/all-mpnet-base-v2")
    assert locate_model("sentence-transformers/all-MiniLM-L6-v2").name == "all-MiniLM-L6-v2-int8"
    assert locate_model("").name == "all-MiniLM-L6-v2-int8"


def test_a_local_folder_can_replace_the_default(tmp_path: Path, embedder: OnnxEmbedder) -> None:
    default = locate_model("")
    folder = tmp_path / "my-minilm"
    folder.mkdir()
    shutil.copy(default.onnx, folder / "model.onnx")
    shutil.copy(default.tokenizer, folder / "tokenizer.json")
    local = OnnxEmbedder(str(folder))
    assert local.name == "my-minilm"
    np.testing.assert_allclose(local.embed_query("same model"), embedder.embed_query("same model"), atol=1e-5)


def test_missing_and_broken_models_are_unavailable_and_remembered(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    with pytest.raises(ModelUnavailable, match=r"no model\.onnx"):
        OnnxEmbedder(str(folder)).load()
    (folder / "model.onnx").write_bytes(b"not an onnx graph")
    with pytest.raises(ModelUnavailable, match="tokenizer"):
        OnnxEmbedder(str(folder)).load()
    shutil.copy(locate_model("").tokenizer, folder / "tokenizer.json")
    broken = OnnxEmbedder(str(folder))
    with pytest.raises(ModelUnavailable, match="failed to load") as first:
        broken.embed_query("x")
    with pytest.raises(ModelUnavailable) as second:
        broken.embed_documents(["x"])
    assert second.value is first.value  # not retried on every query


def test_a_damaged_default_file_is_caught_by_its_checksum(tmp_path: Path) -> None:
    default = locate_model("")
    damaged = tmp_path / "model.onnx"
    damaged.write_bytes(default.onnx.read_bytes()[:-10] + b"0123456789")
    files = ModelFiles(name="x", onnx=damaged, tokenizer=default.tokenizer, sha256=default.sha256)
    with pytest.raises(ModelUnavailable, match="damaged"):
        OnnxEmbedder(files).load()
