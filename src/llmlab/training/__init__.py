"""Pretraining: what a model learns from (objectives) and how it learns it (the trainer).

``objectives`` turns rows of token ids into (input, target) pairs for the three pretraining
objectives of the course: next-token prediction (GPT), masked language modelling (BERT) and span
corruption (T5). Each has ``make(tokens, generator)`` and a ``show`` view of one example.
"""
