"""Errors that mean "the user's input was wrong", as opposed to a bug, and warnings about it.

The command line turns an ``InputError`` into one line on stderr and exit code 2;
Python callers catch it like any ``ValueError``.
"""


def shown(value, quote: bool = True, limit: int = 80) -> str:
    """``value`` as an error message shows it: text in quotes (unless not ``quote``),
    anything else as printed, cut to ``limit`` characters so that a huge value cannot
    flood the one line."""
    text = repr(value) if quote and isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class InputError(ValueError):
    """Bad user input: a missing or malformed file, an invalid option or value.

    The message names the file or option and what was expected, in one line: line
    breaks that user input brings into it (a key, a value) are written ``\\n``.
    """

    def __init__(self, message: str):
        super().__init__(str(message).replace("\r", "\\r").replace("\n", "\\n"))


class SettingError(InputError):
    """One setting of a configuration (a field of a config dataclass) has a bad value.

    ``setting`` is the field's name, ``expected`` what it must be ("> 0", "one of a, b"),
    ``value`` what it was. The message names the setting as a command-line flag;
    ``disentangle.train.config.RunConfig`` re-words it to name where the value came
    from (a YAML file and key, a flag, a sweep entry).
    """

    def __init__(self, setting: str, expected: str, value):
        self.setting, self.expected, self.value = setting, expected, value
        super().__init__(f"--{setting.replace('_', '-')}: must be {expected}, got {shown(value, quote=False)}")


class DataChanged(UserWarning):
    """A run's data files differ from those its ``config.json`` records (``data_files``): the
    run is read with the data as it is now. The message names the file and what changed,
    in one line; the command line shows it as one line on stderr."""


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the message names the step and the term."""
