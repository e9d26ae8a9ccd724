"""Data (NumPy, no MindSpore but for the dataset adapter): manifests, the audio loader, features, augmentation,
utterances and batch plans."""
