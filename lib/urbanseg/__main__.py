"""``python -m urbanseg ...``: the command line without the ``urbanseg`` script on the PATH
(Windows without make, a notebook's ``!python -m urbanseg``)."""

import sys

from .cli import main

sys.exit(main())
