"""The vector store: search finds what was stored, replaced and deleted rows stay dead, readers in other
processes see commits, a second writer is refused, and a writer killed at any moment never corrupts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from bot.semantic.quantize import dequantize, quantize
from bot.semantic.vector_store import MAX_SEGMENTS, StoreBusy, VectorStore

DIM = 64
REPO = Path(__file__).resolve().parents[2]


def unit(rng: np.random.Generator, n: int) -> npt.NDArray[np.float32]:
    vectors = rng.normal(size=(n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_search_finds_each_stored_vector_first(tmp_path: Path, rng: np.random.Generator) -> None:
    vectors = unit(rng, 500)
    ids = [f"2403.{i:05d}" for i in range(500)]
    with VectorStore.open(tmp_path, model="m", dim=DIM, writable=True) as store:
        store.upsert(ids, vectors)
        assert store.count == 0  # staged, not committed
        store.commit()
        assert store.count == 500
        for i in (0, 123, 499):
            hits = store.search(vectors[i], 5)
            assert hits[0][0] == ids[i]
            assert hits[0][1] == pytest.approx(1.0, abs=0.01)
            assert [s for _i, s in hits] == sorted((s for _i, s in hits), reverse=True)


def test_search_agrees_with_exact_ranking(tmp_path: Path, rng: np.random.Generator) -> None:
    # Sentence vectors cluster by topic: 384-dimensional points around 40 topics, queries near a paper.
    centres = rng.normal(size=(40, 384)).astype(np.float32)
    points = centres[rng.integers(0, 40, 5000)] + rng.normal(size=(5000, 384)).astype(np.float32) * 0.8
    vectors = points / np.linalg.norm(points, axis=1, keepdims=True)
    stored = dequantize(quantize(vectors))
    with VectorStore.open(tmp_path, model="m", dim=384, writable=True) as store:
        store.upsert([str(i) for i in range(5000)], vectors)
        store.commit()
        overlap = []
        for index in rng.integers(0, 5000, 20):
            query = vectors[index] + rng.normal(size=384).astype(np.float32) * 0.03
            query /= np.linalg.norm(query)
            # Exact ranking over what the store holds (int8 rows): this checks the scan and re-scoring; how
            # int8 ranks against float32 on real embeddings is measured in bench/.
            exact = [str(i) for i in np.argsort(-(stored @ dequantize(quantize(query[None]))[0]))[:10]]
            found = [paper_id for paper_id, _s in store.search(query, 10)]
            overlap.append(len(set(found) & set(exact)) / 10)
        assert np.mean(overlap) >= 0.98


def test_upsert_replaces_delete_removes_exclude_skips(tmp_path: Path, rng: np.random.Generator) -> None:
    first, second = unit(rng, 3), unit(rng, 1)
    with VectorStore.open(tmp_path, model="m", dim=DIM, writable=True) as store:
        store.upsert(["a", "b", "c"], first)
        store.commit()
        store.upsert(["a"], second)
        store.delete(["b"])
        store.commit()
        assert store.count == 2
        assert not store.contains("b")
        assert store.missing(["a", "b", "c", "d"]) == ["b", "d"]
        vector = store.vector("a")
        assert vector is not None and float(vector @ second[0]) > 0.99
        assert [i for i, _s in store.search(first[0], 3)] != ["a"]  # a's old vector is gone
        assert "b" not in [i for i, _s in store.search(first[1], 3)]
        assert "c" not in [i for i, _s in store.search(first[2], 3, exclude={"c"})]
        store.upsert(["b"], first[1:2])  # deleted, then added again
        store.commit()
        assert store.contains("b") and store.count == 3


def test_compaction_keeps_exactly_the_live_rows(tmp_path: Path, rng: np.random.Generator) -> None:
    with VectorStore.open(tmp_path, model="m", dim=DIM, writable=True) as store:
        expected: dict[str, npt.NDArray[np.float32]] = {}
        for step in range(MAX_SEGMENTS + 4):
            vectors = unit(rng, 3)
            ids = [f"p{step}", f"p{step + 1}", "shared"]
            store.upsert(ids, vectors)
            expected.update(zip(ids, vectors, strict=True))
            if step % 3 == 0:
                store.delete([f"p{step}"])
                expected.pop(f"p{step}")
            store.commit()
        assert store.count == len(expected)
        assert len(list(tmp_path.glob("seg-*.keys.npy"))) <= MAX_SEGMENTS + 1
        for paper_id, vector in expected.items():
            stored = store.vector(paper_id)
            assert stored is not None and float(stored @ vector) > 0.99


def test_reader_sees_commits_after_refresh(tmp_path: Path, rng: np.random.Generator) -> None:
    writer = VectorStore.open(tmp_path, model="m", dim=DIM, writable=True)
    reader = VectorStore.open(tmp_path, model="m", dim=DIM)
    try:
        assert reader.count == 0
        writer.upsert(["x"], unit(rng, 1))
        writer.commit()
        assert reader.count == 0
        assert reader.refresh() is True
        assert reader.count == 1 and reader.contains("x")
        assert reader.refresh() is False
        with pytest.raises(PermissionError):
            reader.upsert(["y"], unit(rng, 1))
    finally:
        writer.close()
        reader.close()


def test_second_writer_is_refused(tmp_path: Path) -> None:
    script = (
        "import time\nfrom bot.semantic.vector_store import VectorStore\n"
        f"store = VectorStore.open({str(tmp_path)!r}, model='m', dim=4, writable=True)\n"
        "print('opened', flush=True)\ntime.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "opened"
        with pytest.raises(StoreBusy):
            VectorStore.open(tmp_path, model="m", dim=4, writable=True)
    finally:
        holder.kill()
        holder.wait()
    VectorStore.open(tmp_path, model="m", dim=4, writable=True).close()  # the lock died with its process


def test_another_model_starts_afresh(tmp_path: Path, rng: np.random.Generator) -> None:
    with VectorStore.open(tmp_path, model="old", dim=DIM, writable=True) as store:
        store.upsert(["a"], unit(rng, 1))
        store.commit()
    assert VectorStore.open(tmp_path, model="new", dim=DIM).count == 0  # a reader ignores foreign vectors
    with VectorStore.open(tmp_path, model="new", dim=DIM, writable=True) as store:
        assert store.count == 0
    assert not list(tmp_path.glob("seg-*"))


_CRASHING_WRITER = textwrap.dedent(
    """
    import sys, numpy as np
    from bot.semantic.vector_store import VectorStore
    folder, start = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(start)
    store = VectorStore.open(folder, model="m", dim=64, writable=True)
    print("ready", flush=True)
    batch = start
    while True:
        ids = [f"b{batch}-{i}" for i in range(50)]
        vectors = rng.normal(size=(50, 64)).astype(np.float32)
        store.upsert(ids, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        if batch % 4 == 0:
            store.delete([f"b{batch - 1}-0"])
        store.commit()
        batch += 1
    """
)


@pytest.mark.parametrize("delay_ms", [5, 20, 45, 80, 130])
def test_a_writer_killed_mid_commit_never_corrupts_the_store(tmp_path: Path, delay_ms: int) -> None:
    start = 0
    for round_number in range(2):
        proc = subprocess.Popen(
            [sys.executable, "-c", _CRASHING_WRITER, str(tmp_path), str(start)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        try:
            proc.wait(timeout=delay_ms / 1000 * (round_number + 1))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        # Whatever the moment of death: the store opens, every live row is readable and consistent.
        with VectorStore.open(tmp_path, model="m", dim=64, writable=True) as store:
            count = store.count
            batches = {f.name for f in tmp_path.iterdir() if f.name.startswith(".tmp-")}
            assert not batches  # a writer's open removes a crashed commit's temporaries
            ids = [f"b{b}-{i}" for b in range(start + 200) for i in range(50)]
            absent = set(store.missing(ids))
            present = [i for i in ids if i not in absent]
            assert len(present) == count
            for paper_id in present[:: max(1, len(present) // 20)]:
                vector = store.vector(paper_id)
                assert vector is not None
                assert store.search(vector, 1)[0][0] == paper_id
            start += 200


@pytest.mark.parametrize("dim", [20, 384])
def test_any_dimension(tmp_path: Path, rng: np.random.Generator, dim: int) -> None:
    # 20 dims pack into 3 bytes per code (padded to a 64-bit word); 384 into 6 whole words.
    vectors = rng.normal(size=(50, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with VectorStore.open(tmp_path, model="m", dim=dim, writable=True) as store:
        store.upsert([f"p{i}" for i in range(50)], vectors)
        store.commit()
        assert [store.search(v, 1)[0][0] for v in vectors[:10]] == [f"p{i}" for i in range(10)]
        with pytest.raises(ValueError, match="dimensions"):
            store.search(np.ones(dim + 1, dtype=np.float32), 1)
