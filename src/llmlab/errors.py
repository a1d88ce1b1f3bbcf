"""The one exception type that means "the user asked for something we cannot do".

The CLI prints an ``LLMLabError`` as a single line and exits non-zero; every other exception
is a bug in llmlab and shows its traceback. Messages say what went wrong *and* what to do next.
"""


class LLMLabError(Exception):
    """A user-facing error: bad input, a missing asset, an unreachable registry."""


class AssetError(LLMLabError):
    """Something is wrong with an asset: unknown name, missing, corrupt, or not fetchable."""
