"""The package's own errors: each says which file (or name) is at fault and what is wrong.

The command line prints them as one line (no traceback unless ``--verbose``) and exits non-zero.
A message names settings as the library knows them (config fields, parameters) and lists them in
``fields``; only the command line shows them as its flags (``vsr_latent.command_runner.run_command``).
"""


class VsrError(Exception):
    """Base class of every error the package raises on purpose.

    ``fields``: the names of the settings (config fields or parameters) the message names.
    """

    fields = ()


class InputError(VsrError, ValueError):
    """Bad input data: a file, folder or array the package cannot use as given."""

    def __init__(self, path, problem, *, fields=()):
        self.path = str(path) if path is not None else None
        self.problem = problem
        self.fields = tuple(fields)
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class ConfigError(VsrError, ValueError):
    """An unknown name (model, config, degradation, protocol) or an invalid setting."""

    def __init__(self, message, *, fields=()):
        self.fields = tuple(fields)
        super().__init__(message)


class CheckpointError(VsrError):
    """A checkpoint that is missing, corrupt, or belongs to a different model."""


class TrainingError(VsrError):
    """Training cannot go on (e.g. a non-finite loss); the last good checkpoint is kept."""
