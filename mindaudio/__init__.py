"""DeepSpeech2 speech recognition on MindSpore: data preparation, training, evaluation, transcription, serving.

    from mindaudio import Recognizer          # see mindaudio/recognizer.py
"""

__version__ = "0.2.0"
__all__ = ["Recognizer", "Transcript", "Word"]


def __getattr__(name):  # the API without importing MindSpore at ``import mindaudio``
    if name in __all__:
        from mindaudio import recognizer
        return getattr(recognizer, name)
    raise AttributeError(f"module 'mindaudio' has no attribute {name!r}")
