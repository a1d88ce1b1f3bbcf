"""Named datasets with fixed, seeded splits: corpora, labelled sets, QA, dialogue and code.

>>> from llmlab import data                     # doctest: +SKIP
>>> [d.name for d in data.list_datasets()]      # shakespeare, movie-reviews, jeopardy, ...
>>> ds = data.load("movie-reviews")             # default seed 1234
>>> ds.split("train")[:2], ds.label_counts("train")
>>> data.load("shakespeare").text("validation") # a corpus split as one string

The files, in reading order: ``schema`` (the record types), ``splits`` (how a seed becomes
train/validation/test), ``files`` (decoding and one-line errors), the readers ``corpora``,
``labelled`` and ``tasks``, ``registry`` (every dataset name, as data) and ``dataset``
(``load`` and the :class:`Dataset` it returns). ``docs/data.md`` lists every dataset.
For pretraining, ``tokens`` turns a corpus into memory-mapped token files once and ``batches``
draws training windows from them (imported on their own: ``from llmlab.data.tokens import TokenFile``).
"""

from llmlab.data.dataset import ALL, Dataset, load
from llmlab.data.registry import DatasetInfo, Pool, get_info, list_datasets
from llmlab.data.schema import SPLITS, CodeTask, Conversation, Document, LabelledText, QAPair, Record
from llmlab.data.splits import DEFAULT_SEED, Fractions

__all__ = [
    "ALL", "DEFAULT_SEED", "SPLITS", "CodeTask", "Conversation", "Dataset", "DatasetInfo", "Document",
    "Fractions", "LabelledText", "Pool", "QAPair", "Record", "get_info", "list_datasets", "load",
]  # fmt: skip
