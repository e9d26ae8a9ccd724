"""Training: learning-rate schedule, the train step, checkpoints and the loop."""
