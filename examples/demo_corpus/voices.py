"""Synthetic speakers: voice tables, speaking-rate calibration and per-speaker settings.

A speaker is a synthesizer voice plus its own settings: an espeak-ng English accent with a
voice variant ("en-us+m3", "en-gb-x-rp+f4"...), or a flite voice ("flite:kal16", "flite:awb",
"flite:rms", "flite:slt"); a speaking rate in characters per second (turned into espeak-ng
words per minute or a flite duration_stretch by calibrate_rates()), a pitch, a "warp"
(resampling that moves pitch and formants together, like a longer or shorter vocal tract),
a mild spectral tilt and a level, all drawn by draw_speakers().

Two speaker tables:

* DEMO_VOICES, the bundled corpus: dev/test speakers are unseen *speakers* (new espeak-ng
  variants on accents heard in training, new settings of the training flite voices);
* UNSEEN_FAMILIES, the held-out-families corpus: every dev/test speaker belongs to a
  synthesis *family* that training never hears (see the table's comment).

espeak-ng notes: base voice "en" is espeak-ng's British English; "en-gb+VARIANT" silently
drops the variant in espeak-ng 1.51, hence "en+VARIANT" (check_voices() guards against this).
Variants that whisper, echo strongly, or move F1-F3 far from normal (whisper, caleb, Demonic,
announcer, robosoft*, RicishayMax*, kaukovalta, Tweaky, iven*, Lee, Andy, Jacky, boris,
marcelo, travis, zac...) are not used. flite voices: kal16 (diphone), awb, rms, slt
(clustergen), all 16 kHz. (kal is the 8 kHz twin of kal16 and awb_time a limited-domain clock
voice: not used.) rms ignores int_f0_target_mean, so its pitch only changes through the warp.
"""
import os
import re
import subprocess
import tempfile

import numpy as np
import soundfile as sf

from synthesis import is_flite

SUBSETS = ("train-clean-100", "dev-clean", "test-clean")
TRAIN, DEV, TEST = SUBSETS
FIRST_SPEAKER_ID = {TRAIN: 1001, DEV: 2001, TEST: 3001}
FLITE_F0 = {"kal16": (85, 140), "awb": (95, 150), "slt": (155, 230), "rms": None}  # Hz
# speaking rate in characters per second of continuous speech, as reference_rate() measures it
# (espeak-ng's English voices speak about 19 at their default 175 words/minute; whole utterances,
# with their edges and final lengthening, come out about 20 % lower). Held-out speakers stay
# in the middle of the training range, so dev/test measure new voices, not faster speech.
RATE_RANGE = {TRAIN: (16.5, 21.0), DEV: (17.3, 20.2), TEST: (17.3, 20.2)}

# ----------------------------------------------------------------------------------
# Bundled corpus. Near-identical variant families (linda and belinda; steph, steph2 and
# steph3; the klatt* family; edward and edward2; Gene and Gene2; Diogo/Henrique/Hugo/michel/
# miguel) stay within one subset.
# ----------------------------------------------------------------------------------
DEMO_VOICES = {
    TRAIN: [
        # espeak-ng, female variants (some on two accents)
        "en-us+f1", "en-gb-x-rp+f1", "en+f2", "en-us-nyc+f2", "en-gb-scotland+f3", "en-us+f3",
        "en-029+Alicia", "en-us+aunty", "en-gb-x-gbcwmd+aunty", "en-us+linda", "en+belinda",
        "en-gb-x-gbclan+anika", "en-us+anika", "en-gb-x-rp+steph", "en-us-nyc+steph2", "en+steph3",
        "en-gb-scotland+grandma", "en-us+shelby", "en-029+f1", "en-gb-x-gbcwmd+f3",
        # espeak-ng, male variants
        "en-us+m1", "en+m3", "en-gb-x-rp+m2", "en-us+m4", "en-gb-scotland+m6", "en-us-nyc+Mike",
        "en-gb-x-gbclan+Gene", "en-029+adam", "en-gb-x-gbcwmd+m1", "en-us+edward", "en+m8",
        "en-us+Alex", "en-gb-x-rp+Denis", "en-us+Diogo", "en-gb-scotland+Hugo", "en+michel",
        "en-029+Gene2", "en-us+antonio", "en-gb-x-gbclan+croak", "en-us-nyc+ed", "en+edward2",
        "en-gb-x-gbcwmd+grandpa", "en-us+john", "en-gb-x-rp+klatt", "en-029+klatt3",
        "en-us+klatt5", "en-gb-scotland+max", "en-us-nyc+paul", "en+rob", "en-us+robert",
        "en-gb-x-gbclan+sandro", "en-029+Storm", "en-gb-x-gbcwmd+victor", "en-us+Nguyen",
        "en-gb-x-rp+Mario", "en-us+david", "en-us-nyc+benjamin", "en+Henrique",
        # flite
        "flite:kal16", "flite:kal16", "flite:kal16", "flite:kal16",
        "flite:awb", "flite:awb", "flite:awb", "flite:awb",
        "flite:rms", "flite:rms", "flite:rms", "flite:rms",
        "flite:slt", "flite:slt", "flite:slt", "flite:slt",
    ],
    DEV: ["en-us+m7", "en-gb-x-rp+f5", "en-gb-scotland+quincy", "en-029+Annie", "flite:slt", "flite:awb"],
    TEST: ["en-us-nyc+m5", "en+f4", "en-us+Andrea", "en-gb-x-gbclan+pedro", "flite:kal16", "flite:rms"],
}
# utterances per chapter, cycled over the speakers of a subset: two chapters per training
# speaker (17.5 utterances per speaker on average), one chapter per dev/test speaker
DEMO_CHAPTER_SIZES = {TRAIN: ((9, 9), (9, 8)), DEV: ((21,),), TEST: ((21,),)}

# ----------------------------------------------------------------------------------
# Held-out-families corpus.
# espeak-ng variants that sound nearly alike: they share most of their settings in
# espeak-ng-data/voices/!v (formant tables, or the Klatt synthesizer). In the held-out-families
# corpus a group never spans two subsets (family_problems() checks it).
# ----------------------------------------------------------------------------------
KLATT_VARIANTS = ("klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6",
                  "adam", "benjamin", "david", "edward", "edward2")  # espeak-ng's Klatt synthesizer
DIOGO_VARIANTS = ("Diogo", "Henrique", "Hugo", "michel", "miguel", "anika")  # one F0-F3 formant table
NEAR_IDENTICAL_VARIANTS = (
    KLATT_VARIANTS, DIOGO_VARIANTS,
    ("linda", "belinda", "aunty", "f4"), ("steph", "steph2", "steph3"), ("Gene", "Gene2"),
    ("m7", "m8", "Nguyen"), ("rob", "robert", "quincy"), ("f2", "f5"), ("m3", "Mike"),
    ("Mario", "Michael", "gustave"),
)
# Training hears only espeak-ng's default (formant) synthesizer, on six accents; every variant
# below is used on one or two of them (variant i on accent i % 6, and again on accent
# (i + 39) % 6 for the first 35).
UNSEEN_TRAIN_ACCENTS = ("en-us", "en", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc")
UNSEEN_TRAIN_VARIANTS = (
    "f1", "m1", "f2", "m2", "f3", "m3", "f4", "m4", "f5", "m5", "aunty", "m6", "linda", "m7",
    "belinda", "m8", "steph", "Mike", "steph2", "Gene", "steph3", "Gene2", "shelby", "Alex",
    "Andrea", "Denis", "antonio", "croak", "grandpa", "john", "max", "paul", "pedro", "rob",
    "robert", "quincy", "victor", "Nguyen", "Mario",
)
UNSEEN_TRAIN_SPEAKERS = 74
# (family, subset, held-out traits, voices, description). A trait is a flite voice, an
# espeak-ng accent or an espeak-ng variant; no training speaker has any held-out trait of a
# dev/test family. Every family lies in one subset; dev and test families are disjoint, of the
# same four kinds: two flite voices, one group of espeak-ng variants on training accents, one
# espeak-ng accent never heard in training (spoken by variants used nowhere else).
UNSEEN_FAMILIES = (
    ("train-espeak", TRAIN, (),
     [f"{UNSEEN_TRAIN_ACCENTS[i % 6]}+{UNSEEN_TRAIN_VARIANTS[i % len(UNSEEN_TRAIN_VARIANTS)]}"
      for i in range(UNSEEN_TRAIN_SPEAKERS)],
     f"espeak-ng default synthesizer: {len(UNSEEN_TRAIN_VARIANTS)} variants on {len(UNSEEN_TRAIN_ACCENTS)} accents"),
    ("flite-awb", DEV, ("flite:awb",), ["flite:awb"] * 3, "flite clustergen voice awb (Scottish English, male)"),
    ("flite-rms", DEV, ("flite:rms",), ["flite:rms"] * 3, "flite clustergen voice rms (US English, male)"),
    ("espeak-diogo", DEV, DIOGO_VARIANTS, ["en-us+Diogo", "en-gb-x-gbcwmd+Hugo", "en+anika"],
     "espeak-ng variants sharing Diogo's formant table (Diogo, Henrique, Hugo, michel, miguel, anika), "
     "on training accents"),
    ("espeak-en-029", DEV, ("en-029", "Annie", "grandma", "sandro"),
     ["en-029+Annie", "en-029+grandma", "en-029+sandro"],
     "espeak-ng Caribbean English accent, with variants used nowhere else"),
    ("flite-kal16", TEST, ("flite:kal16",), ["flite:kal16"] * 3, "flite diphone voice kal16 (US English, male)"),
    ("flite-slt", TEST, ("flite:slt",), ["flite:slt"] * 3, "flite clustergen voice slt (US English, female)"),
    ("espeak-klatt", TEST, KLATT_VARIANTS, ["en-us+klatt", "en-gb-x-rp+edward", "en-gb-x-gbclan+david"],
     "espeak-ng's Klatt synthesizer (variants klatt*, adam, benjamin, david, edward, edward2), on training accents"),
    ("espeak-en-gb-scotland", TEST, ("en-gb-scotland", "Alicia", "ed", "Storm"),
     ["en-gb-scotland+Alicia", "en-gb-scotland+ed", "en-gb-scotland+Storm"],
     "espeak-ng Scottish English accent, with variants used nowhere else"),
)
UNSEEN_VOICES = {s: [v for _, sub, _, voices, _ in UNSEEN_FAMILIES if sub == s for v in voices] for s in SUBSETS}
# one chapter of 10 utterances per dev/test speaker: 30 utterances per family
UNSEEN_CHAPTER_SIZES = {TRAIN: ((9, 9), (9, 8)), DEV: ((10,),), TEST: ((10,),)}


def voice_traits(voice):
    """{flite voice} or {accent, variant} of a voice string."""
    return {voice} if is_flite(voice) else set(voice.split("+"))


def family_of_speakers(spk_table):
    """{speaker id: family name} for a table drawn from UNSEEN_VOICES (families in table order)."""
    voices = [(spk, v) for _, spk, v, _ in spk_table]
    out, pos = {}, 0
    for subset in SUBSETS:
        for name, sub, _, fam_voices, _ in UNSEEN_FAMILIES:
            if sub == subset:
                for spk, v in voices[pos:pos + len(fam_voices)]:
                    assert v in fam_voices, (spk, v, name)
                    out[spk] = name
                pos += len(fam_voices)
    assert pos == len(voices)
    return out


def family_problems(families):
    """Problems with a family table [(name, subset, held-out traits, voices)]: a held-out trait
    heard in training, a flite voice or espeak-ng variant in two subsets, a group of
    NEAR_IDENTICAL_VARIANTS split across subsets. Returns a list of messages."""
    problems = []
    train_traits = set().union(*(voice_traits(v) for _, sub, _, vs in families if sub == TRAIN for v in vs))
    for name, subset, held_out, _ in families:
        if subset != TRAIN and set(held_out) & train_traits:
            problems.append(f"family {name}: {sorted(set(held_out) & train_traits)} also in training")
    subsets_of = {}
    for _, subset, _, voices in families:
        for v in voices:
            timbre = v if is_flite(v) else v.split("+")[1]
            subsets_of.setdefault(timbre, set()).add(subset)
    for timbre, subs in sorted(subsets_of.items()):
        if len(subs) > 1:
            problems.append(f"{timbre} in {sorted(subs)}")
    for group in NEAR_IDENTICAL_VARIANTS:
        subs = set().union(*(subsets_of.get(v, set()) for v in group))
        if len(subs) > 1:
            problems.append(f"near-identical variants {'/'.join(group)} split over {sorted(subs)}")
    return problems


CALIBRATION_TEXT = ("the old farmer took his dog to the market on monday, and they came back late. "
                    "would you like a cup of tea before the train leaves at half past seven?")
REF_WPM = 175  # espeak-ng's default rate


def reference_rate(voice):
    """Characters (letters, apostrophes, spaces) per second that ``voice`` speaks at espeak-ng's
    default rate or at flite's duration_stretch=1, measured on CALIBRATION_TEXT (silence trimmed).
    Voices differ a lot (a variant may change the phoneme lengths), so speaking rates are set in
    characters per second through this calibration, not in raw espeak-ng words per minute."""
    with tempfile.TemporaryDirectory() as d:
        wav = os.path.join(d, "c.wav")
        if is_flite(voice):
            cmd = ["flite", "-voice", voice[6:], "-t", CALIBRATION_TEXT, "-o", wav]
        else:
            cmd = ["espeak-ng", "-v", voice, "-s", str(REF_WPM), "-w", wav, CALIBRATION_TEXT]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        x, sr = sf.read(wav, dtype="float64")
    idx = np.nonzero(np.abs(x) > np.max(np.abs(x)) * 10 ** (-50 / 20))[0]
    return len(re.sub(r"[^a-z' ]", "", CALIBRATION_TEXT)) / ((idx[-1] - idx[0] + 1) / sr)


def calibrate_rates(spk_table):
    """Turn each speaker's target rate (characters per second) into an espeak-ng words-per-minute
    ("wpm") or a flite duration_stretch ("stretch"), using each voice's reference_rate()."""
    ref = {v: reference_rate(v) for v in sorted({v for _, _, v, _ in spk_table})}
    for _, _, voice, s in spk_table:
        if is_flite(voice):
            s["stretch"] = round(ref[voice] / s["cps"], 3)
        else:
            s["wpm"] = int(round(REF_WPM * s["cps"] / ref[voice]))
    return spk_table


def flite_distance(a, b):
    """How far apart two settings of one flite voice sound: warp (formants) in units of 0.03,
    effective pitch (f0 x warp) in units of 10 %."""
    d = ((a["warp"] - b["warp"]) / 0.03) ** 2
    if a["f0"] and b["f0"]:
        d += (np.log(a["f0"] * a["warp"] / (b["f0"] * b["warp"])) / 0.1) ** 2
    return float(np.sqrt(d))


def draw_speakers(voices, seed):
    """[(subset, speaker id, voice, settings dict)] for voices {subset: [voice per speaker]},
    drawn from seed. A held-out flite speaker is redrawn until it is at least 1 unit
    (flite_distance) away from every earlier speaker of the same flite voice, so that it is
    not a near-copy of a training speaker (or of another held-out one)."""
    rng = np.random.default_rng([seed, 1])
    out = []
    for subset in SUBSETS:
        for k, voice in enumerate(voices[subset]):
            while True:
                s = {"tilt": round(float(rng.uniform(-0.3, 0.3)), 2) + 0.0,  # + 0.0: no "-0.00"
                     "level": round(float(rng.uniform(0.016, 0.026)), 4)}
                if not is_flite(voice):
                    s.update(cps=round(float(rng.uniform(*RATE_RANGE[subset])), 1), pitch=int(rng.uniform(30, 70)),
                             warp=round(float(rng.uniform(0.94, 1.06)), 3))
                    break
                lo_hi = FLITE_F0[voice[6:]]
                s.update(cps=round(float(rng.uniform(*RATE_RANGE[subset])), 1),
                         f0=int(rng.uniform(*lo_hi)) if lo_hi else None,
                         warp=round(float(rng.uniform(0.92, 1.08)), 3))
                if subset == TRAIN or all(flite_distance(s, t) >= 1.0 for _, _, v, t in out if v == voice):
                    break
            out.append((subset, FIRST_SPEAKER_ID[subset] + k, voice, s))
    return out


def check_voices(voices):
    """Fail if a voice doesn't exist, or a setting silently has no effect: espeak-ng falls back
    to the base voice without an error when a variant isn't applied; flite ignores the pitch
    target of some voices."""
    flite_voices = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout.split()
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "v.wav")

        def synth(cmd):
            subprocess.run(cmd + [out], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(out, "rb") as f:
                return f.read()
        for v in sorted(set(voices)):
            if is_flite(v):
                name = v[6:]
                if name not in flite_voices:
                    raise SystemExit(f"flite has no voice {name!r} (flite -lv: {' '.join(flite_voices)})")
                if FLITE_F0[name]:
                    base = synth(["flite", "-voice", name, "-t", "hello there", "-o"])
                    if base == synth(["flite", "-voice", name, "--setf", "int_f0_target_mean=200", "-t",
                                      "hello there", "-o"]):
                        raise SystemExit(f"flite voice {name!r} ignores int_f0_target_mean")
            else:
                wav = synth(["espeak-ng", "-v", v, "hello there", "-w"])
                if len(wav) < 1000:
                    raise SystemExit(f"espeak-ng voice {v!r} produced no audio")
                if "+" in v and wav == synth(["espeak-ng", "-v", v.split("+")[0], "hello there", "-w"]):
                    raise SystemExit(f"espeak-ng ignores the variant in voice {v!r}")
