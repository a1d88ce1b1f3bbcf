"""The ``llmlab`` command: one sub-command group per stage (``llmlab <stage> <action>``)."""
