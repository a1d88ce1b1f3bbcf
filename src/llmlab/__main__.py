"""Allow ``python -m llmlab`` as a synonym for the ``llmlab`` command."""

from llmlab.cli.main import main

raise SystemExit(main())
