import json

import pytest

from mindaudio.data.manifest import read_manifest
from mindaudio.errors import ManifestError


def test_manifest_errors_name_the_line(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"id": "a", "audio_filepath": "/x.wav", "duration": 1.0, "text": "A"}) + "\n"
                 + json.dumps({"id": "b", "duration": 1.0, "text": "B"}) + "\n")
    with pytest.raises(ManifestError, match=r"m.json:2: missing field\(s\) \['audio_filepath'\]"):
        read_manifest(str(p))
    p.write_text("{not json\n")
    with pytest.raises(ManifestError, match="m.json:1: not valid JSON"):
        read_manifest(str(p))
