"""How fast the Claimbench JSONL importer parses, and whether its memory stays flat.

Generates 10,000 documents of about 4 KB each (invented political-news
sentences with Cyrillic, guillemets, curly quotes and emoji) in a temporary
directory, twice: without annotations, and with one annotation set of 10
spans and 5 relations per document. Each file is parsed 5 times through
`get_importer("jsonl")`; the script prints the median documents per second
(wall clock, and CPU time, which a busy machine disturbs less),
then parses once more under tracemalloc to print the peak Python memory,
which must stay far below the file size (the importer streams line by line).

    .venv/bin/python bench/importers_parse_bench.py [--documents N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotations.importers import ImportOptions, ParsedDocument, get_importer  # noqa: E402

SENTENCES = (
    "The minister of finance said that «the budget deficit will fall below two percent next year».",
    "Opposition deputies called the forecast “wishful thinking” and demanded an independent audit.",
    "According to the press service, the new tariffs will take effect on the first of July.",
    "Депутат Мажилиса заявила, что «тарифы на коммунальные услуги вырастут вдвое».",
    "Analysts at a regional bank doubt that inflation will slow to six percent 📉.",
    "The governor promised that every district would receive a new school by 2026.",
    "Residents say the roads were not cleared, despite the akimat's statement 🚧.",
    "A spokesman for the ministry denied reports of a ban on grain exports.",
    "Эксперты считают, что реформа «не решит проблему задолженности».",
    "The central bank kept its key rate unchanged, citing “persistent price pressure”.",
)
LABELS = ("claim", "attribution", "counter-claim")
TARGET_BYTES = 4000


def _document_text(rng: random.Random) -> str:
    sentences: list[str] = []
    size = 0
    while size < TARGET_BYTES:
        sentence = rng.choice(SENTENCES)
        sentences.append(sentence)
        size += len(sentence.encode("utf-8")) + 1
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    return "\n\n".join(paragraphs)


def _spans(text: str, rng: random.Random, count: int) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    starts = sorted(rng.sample(range(0, len(text) - 60, 60), count))
    spans = []
    for number, start in enumerate(starts, start=1):
        end = start + rng.randint(10, 50)
        spans.append(
            {
                "id": f"s{number}",
                "label": LABELS[number % 3],
                "start": start,
                "end": end,
                "quote": text[start:end],
                "attributes": {"check_worthy": "yes"},
                "note": "",
            }
        )
    relations = [
        {"type": "sources", "source": f"s{n}", "target": f"s{n + 1}", "attributes": {}, "note": ""}
        for n in range(1, count, 2)
    ]
    return spans, relations


def generate(path: Path, documents: int, spans_per_document: int) -> None:
    """Write the file line by line, so generating does not inflate the memory figures either."""
    rng = random.Random(2024)
    with path.open("w", encoding="utf-8") as output:
        for number in range(documents):
            text = _document_text(rng)
            record: dict[str, object] = {
                "uuid": f"00000000-0000-4000-8000-{number:012d}",
                "title": f"Bench document {number}",
                "text": text,
                "metadata": {"outlet": "Bench Herald", "published": "2024-03-05", "language": "en"},
            }
            if spans_per_document:
                spans, relations = _spans(text, rng, spans_per_document)
                record["sets"] = [
                    {"annotator": "alice", "gold": False, "state": "submitted", "spans": spans, "relations": relations}
                ]
            output.write(json.dumps(record, ensure_ascii=False) + "\n")


def parse_all(path: Path) -> tuple[int, int]:
    documents = errors = 0
    importer = get_importer("jsonl")
    with path.open("rb") as stream:
        for item in importer.parse(stream, path.name, ImportOptions()):
            if isinstance(item, ParsedDocument):
                documents += 1
            else:
                errors += 1
    return documents, errors


def bench(path: Path, runs: int) -> tuple[float, float, int, int, float]:
    """Median wall and CPU seconds of `runs` parses, documents, errors, and peak traced MB of one more."""
    wall, cpu = [], []
    for _ in range(runs):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        documents, errors = parse_all(path)
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
    tracemalloc.start()
    parse_all(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(wall), statistics.median(cpu), documents, errors, peak / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="claimbench-bench-") as directory:
        for spans in (0, 10):
            path = Path(directory) / f"documents-{spans}-spans.jsonl"
            generate(path, arguments.documents, spans)
            size = path.stat().st_size / 1024 / 1024
            wall, cpu, documents, errors, peak = bench(path, arguments.runs)
            print(
                f"jsonl, {spans:>2} spans/doc: {documents:,} documents ({size:.1f} MB, {errors} errors); "
                f"median of {arguments.runs}: {wall:.2f} s wall = {documents / wall:,.0f} documents/s "
                f"({cpu:.2f} s CPU = {documents / cpu:,.0f} documents/s); peak traced memory {peak:.2f} MB"
            )
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    print(f"process max RSS: {max_rss / scale:.1f} MB")


if __name__ == "__main__":
    main()
