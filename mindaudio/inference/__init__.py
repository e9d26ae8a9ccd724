"""Using a trained model: load it (a checkpoint or an exported MindIR) and run it (``network``), transcribe
(``recognizer``, the Python API), stream (``streaming``), export (``export``) and score (``evaluate``)."""
