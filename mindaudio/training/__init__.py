"""Training: the loop, the train step, the learning-rate schedule, validation, the dry run, callbacks and the
data-parallel launch (``launch`` imports no MindSpore: it must run before MindSpore is imported)."""
