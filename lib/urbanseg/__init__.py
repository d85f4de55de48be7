"""urbanseg: comparative semantic-segmentation studies on Cityscapes."""

__version__ = "0.1.0"
