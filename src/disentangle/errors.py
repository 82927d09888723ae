"""Errors that mean "the user's input was wrong", as opposed to a bug.

The command line turns an ``InputError`` into one line on stderr and exit code 2;
Python callers catch it like any ``ValueError``.
"""


class InputError(ValueError):
    """Bad user input: a missing or malformed file, an invalid option or value.

    The message names the file or option and what was expected, in one line.
    """


class SettingError(InputError):
    """One setting of a configuration (a field of a config dataclass) has a bad value.

    ``setting`` is the field's name, ``expected`` what it must be ("> 0", "one of a, b"),
    ``value`` what it was. The message names the setting as a command-line flag;
    ``disentangle.train.config.RunConfig`` re-words it to name where the value came
    from (a YAML file and key, a flag, a sweep entry).
    """

    def __init__(self, setting: str, expected: str, value):
        self.setting, self.expected, self.value = setting, expected, value
        super().__init__(f"--{setting.replace('_', '-')}: must be {expected}, got {value}")


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the message names the step and the term."""
