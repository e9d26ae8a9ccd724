"""Data: LibriSpeech preparation, manifests, features, augmentation, batching."""
