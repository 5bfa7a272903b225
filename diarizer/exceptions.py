"""Exception and warning hierarchy of the diarizer.

Every error the package raises on purpose is a :class:`DiarizerError`. Configuration problems are
:class:`ConfigError` (the CLI exits with status 2), problems with an input or output file are
:class:`InputError` (exit status 1) and carry the path and the problem so that the message fits on
one line: ``"<path>: <problem>"``.
"""

__all__ = [
    "DiarizerError",
    "ConfigError",
    "InputError",
    "NumericalError",
    "ConvergenceWarning",
]


class DiarizerError(Exception):
    """Base class of every error raised on purpose by the diarizer."""


class ConfigError(DiarizerError, ValueError):
    """A setting is missing, unknown, of the wrong type or out of range."""


class InputError(DiarizerError):
    """A file cannot be read, is malformed, or an output cannot be written.

    Parameters
    ----------
    path : str or os.PathLike or None
        The file concerned (``None`` for in-memory data).
    problem : str
        What is wrong with it, without the path.
    """

    def __init__(self, path, problem):
        self.path = None if path is None else str(path)
        self.problem = str(problem)
        super().__init__(self.problem if path is None else f"{self.path}: {self.problem}")

    def __reduce__(self):
        return (type(self), (self.path, self.problem))


class NumericalError(DiarizerError, ArithmeticError):
    """A numerical failure (e.g. a covariance that is not positive definite)."""


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before reaching the convergence threshold."""
