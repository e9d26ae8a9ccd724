"""Networks. Only this package, the dataset adapter, training and distributed setup import MindSpore."""
