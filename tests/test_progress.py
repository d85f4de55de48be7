"""Progress bars: whole lines where output is a file or pipe, one display in a notebook."""

import io

from urbanseg import progress
from urbanseg.progress import _Board, _Screen, progress_bar


def test_a_screen_keeps_what_a_terminal_would_show():
    screen = _Screen()
    screen.feed("\r  0%|  | 0/3")
    screen.feed("\r 33%|# | 1/3")
    screen.feed("\r" + " " * 20 + "\r")  # tqdm clears its bar before a message
    screen.feed("epoch 1: loss 0.5\n")
    screen.feed("\r 66%|##| 2/3")
    assert screen.lines == ["epoch 1: loss 0.5"]
    assert screen.current == " 66%|##| 2/3"
    screen.feed("\n")
    assert screen.lines == ["epoch 1: loss 0.5", " 66%|##| 2/3"]


def test_a_pipe_gets_whole_lines_and_no_carriage_returns(monkeypatch):
    monkeypatch.setattr(progress, "_in_notebook", lambda: False)
    out = io.StringIO()  # not a terminal
    with progress_bar(total=4, desc="train", file=out, mininterval=0) as bar:
        for step in range(4):
            bar.update(1)
            if step == 1:
                bar.write("epoch 1: loss 0.5000", file=bar.fp)
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert "epoch 1: loss 0.5000" in lines
    assert lines[0].startswith("train:   0%")  # the first draw, then at most one per interval
    assert lines[-1].startswith("train: 100%") and "4/4" in lines[-1]
    assert len(lines) <= 4  # not a line per update


def test_bars_running_at_once_in_a_pipe_write_no_cursor_moves(monkeypatch):
    """urbanseg run --jobs 2 (or a cluster) with output to a file: two bars open at once."""
    monkeypatch.setattr(progress, "_in_notebook", lambda: False)
    out = io.StringIO()
    first = progress_bar(total=3, desc="a", file=out, mininterval=0, leave=False)
    second = progress_bar(total=3, desc="b", file=out, mininterval=0, leave=False)
    for _ in range(3):
        first.update(1)
        second.update(1)
    second.close()
    first.close()
    text = out.getvalue()
    assert "\x1b[" not in text and "\r" not in text
    lines = text.splitlines()
    assert all(line.startswith(("a:", "b:")) for line in lines), lines
    assert len(lines) <= 6  # each bar's first draw and final state, not a line per update


def test_a_notebook_gets_one_display_updated_in_place(monkeypatch):
    shown = []

    class Handle:
        def update(self, content, raw):
            shown.append(("update", content["text/plain"]))

    def display(content, raw, display_id):
        shown.append(("display", content["text/plain"]))
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", display)
    monkeypatch.setattr(progress, "_in_notebook", lambda: True)
    with progress_bar(total=3, desc="train", mininterval=0) as bar:
        assert isinstance(bar.fp._wrapped if hasattr(bar.fp, "_wrapped") else bar.fp, _Board)
        for _ in range(3):
            bar.update(1)
        bar.write("epoch 1: loss 0.5000", file=bar.fp)
    assert [kind for kind, _ in shown].count("display") == 1
    final = shown[-1][1].splitlines()
    assert final[0] == "epoch 1: loss 0.5000"  # the messages above, the bar below
    assert final[-1].startswith("train: 100%")
