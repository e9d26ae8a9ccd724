"""TensorBoard event files of a run (``<train.output_dir>/tensorboard``, rank 0), written with tensorboardX (no
PyTorch or TensorFlow needed): watch a run with ``tensorboard --logdir runs``. ``metrics.jsonl`` stays the record
that resume, best.ckpt and the plot read; these files are a view of the same rows."""
import os

# metrics.jsonl key → TensorBoard tag
STEP_TAGS = {"loss": "train/loss", "lr": "train/lr", "grad_norm": "train/grad_norm",
             "grad_norm_max": "train/grad_norm_max", "clipped_steps": "train/clipped_steps",
             "skipped_steps": "train/skipped_steps", "loss_scale": "train/loss_scale",
             "audio_s_per_s": "speed/audio_s_per_s", "step_time": "speed/step_time_s"}
VALIDATION_TAGS = {"val_loss": "validation/loss", "val_wer": "validation/wer", "val_cer": "validation/cer",
                   "val_cer_nospace": "validation/cer_nospace"}


class Board:
    """One writer for a run. ``resume_step``: events past it (written by the run being resumed after its last
    checkpoint) are discarded by TensorBoard's reader, as metrics.jsonl drops its lines."""

    def __init__(self, run_dir, resume_step=None):
        from tensorboardX import SummaryWriter
        self.logdir = os.path.join(run_dir, "tensorboard")
        self.writer = SummaryWriter(self.logdir, purge_step=resume_step + 1 if resume_step else None,
                                    flush_secs=30)

    def write(self, record, examples=()):
        """A metrics.jsonl row (a logging window, or a validation with ``examples`` of (id, reference,
        hypothesis))."""
        step = int(record["step"])
        tags = VALIDATION_TAGS if "val_utterances" in record else STEP_TAGS
        for key, tag in tags.items():
            if record.get(key) is not None:
                self.writer.add_scalar(tag, float(record[key]), step)
        if examples:
            rows = "\n".join(f"| {i} | {ref} | {hyp} |" for i, ref, hyp in examples)
            self.writer.add_text("validation/transcripts",
                                 "| utterance | reference | hypothesis |\n| --- | --- | --- |\n" + rows, step)
        if "val_utterances" in record:
            self.writer.flush()

    def close(self):
        self.writer.close()
