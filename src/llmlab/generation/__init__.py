"""Decoding: turning a language model's next-token distributions into text.

``greedy`` (always the most likely token, with or without a KV cache) is the first rung;
sampling strategies build on it.
"""
