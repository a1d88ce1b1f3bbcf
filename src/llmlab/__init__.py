"""llmlab: learn how large language models work by building and running every piece.

The package is cut by stage, in the order a course teaches them (see ``docs/index.md``):
``assets`` (offline data and weights from package registries) and ``data`` (named corpora and
labelled sets with fixed splits) come first; each later stage gets its own subpackage.
"""

__version__ = "0.1.0"
