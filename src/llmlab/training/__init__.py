"""Pretraining: what a model learns from (objectives) and how it learns it (the trainer).

The files, in reading order: ``objectives`` (next-token prediction, masked language modelling and
span corruption, each with ``make`` and a ``show`` view), ``optim`` (SGD, Adam and AdamW written
out), ``schedule`` (warmup + cosine), ``checkpoint`` (atomic JSON + safetensors checkpoints),
``events`` (the JSONL log and TensorBoard event files), ``runtime`` and ``distributed`` (seeds,
autocast, DDP/FSDP), ``trainer`` (:class:`TrainConfig` and :func:`train`) with its loop in ``loop``,
``preflight`` (memory and time before a run), ``corpus`` (a corpus name to a token file) and
``report`` (the run's Markdown/HTML report and loss curve). ``docs/training.md`` walks through them.
"""
