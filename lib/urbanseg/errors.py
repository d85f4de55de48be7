"""The one exception the command line turns into a one-line message and exit status 2."""


class InputError(Exception):
    """Bad input from the user: a missing file, a malformed PNG, a value out of range.

    The message is one line that names the file or value at fault; ``urbanseg`` prints it as
    ``urbanseg: erro: <message>`` and exits with status 2, without a traceback.
    """
