"""``python -m diarizer`` is the ``diarizer`` command."""

from .cli import main

raise SystemExit(main())
