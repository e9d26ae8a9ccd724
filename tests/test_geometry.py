from mindaudio.config import Config
from mindaudio.geometry import Geometry, ctc_min_frames


def test_output_frames_and_ctc_feasibility():
    output_frames = Geometry(Config().model, 161).output_frames
    assert output_frames(1) == 1 and output_frames(100) == 50 and output_frames(101) == 51
    assert ctc_min_frames([3, 3, 4]) == 4 and ctc_min_frames([1, 2, 3]) == 3
