"""DeepSpeech2 speech recognition on MindSpore: data preparation, training, evaluation."""

__version__ = "0.1.0"
