"""Errors that mean "the user's input was wrong", as opposed to a bug.

The command line turns an ``InputError`` into one line on stderr and exit code 2;
Python callers catch it like any ``ValueError``.
"""


class InputError(ValueError):
    """Bad user input: a missing or malformed file, an invalid option or value.

    The message names the file or option and what was expected, in one line.
    """


class TrainingDiverged(RuntimeError):
    """A loss term became NaN or infinite; the message names the step and the term."""
