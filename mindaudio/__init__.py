"""DeepSpeech2 speech recognition on MindSpore: data preparation, training, evaluation, transcription, serving.

    from mindaudio import Recognizer          # see mindaudio/inference/recognizer.py

The package, by layer (each imports only from the layers below it; tests/test_architecture.py checks):
  core        config, errors, fileio, device, geometry, text, metrics, lm, decoding, checkpoint
  data/       manifests, the audio loader, features, augmentation, batch plans      models/     the network
  prep/       corpus preparation          training/   the loop and its parts          inference/  using a model
  serving/    the HTTP server             cli/        every command line
"""
import os as _os
import tempfile as _tempfile

__version__ = "0.3.0"

# On a machine without Ascend's toolkit, MindSpore's log is kept to errors (set before MindSpore is imported): its
# warnings about this project's CPU graphs are known and harmless ("side effect nodes were eliminated by mistake" for
# the CPU convolution, "'FusedSparseAdam' is deprecated", the cluster's connection retries while ranks start). Where
# CANN is set up (its set_env.sh exports ASCEND_HOME_PATH or ASCEND_TOOLKIT_HOME), MindSpore's own default stays:
# CANN's warnings about online compiles and AI-CPU fallbacks are what a user there needs to see.
# MINDAUDIO_VERBOSE=1, or the user's GLOG_v, keeps every warning anywhere.
# When quiet, MindSpore's C++ log goes to a file (MINDSPORE_LOG_DIR) instead of stderr, so that an interrupt or an
# error is one sentence (mindaudio.cli), not a C++ stack. The graphs MindSpore dumps when a compile fails
# (analyze_fail.ir) go beside it, never into the current directory.
_CANN = any(_os.environ.get(k) for k in ("ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME", "ASCEND_OPP_PATH"))
MINDSPORE_LOG_DIR = _os.path.join(_tempfile.gettempdir(), f"mindaudio-{_os.getuid()}")
_os.environ.setdefault("MS_DEV_SAVE_GRAPHS_PATH", _os.path.join(MINDSPORE_LOG_DIR, "graphs"))
if not _os.environ.get("MINDAUDIO_VERBOSE") and not _CANN and "GLOG_v" not in _os.environ:
    _os.environ.update(GLOG_v="3", GLOG_logtostderr="0", GLOG_stderrthreshold="4",
                       GLOG_log_dir=_os.path.join(MINDSPORE_LOG_DIR, "log"))
    _os.makedirs(_os.environ["GLOG_log_dir"], exist_ok=True)
__all__ = ["Recognizer", "Transcript", "Word"]


def __getattr__(name):  # the API without importing MindSpore at ``import mindaudio``
    if name in __all__:
        from mindaudio.inference import recognizer
        return getattr(recognizer, name)
    raise AttributeError(f"module 'mindaudio' has no attribute {name!r}")
