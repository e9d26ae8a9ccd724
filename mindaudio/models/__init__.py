"""The network (MindSpore): DeepSpeech2 and its layers, its streaming step, and its analytic cost (pure Python)."""
