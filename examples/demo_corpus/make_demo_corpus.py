#!/usr/bin/env python3
"""Generate a tiny LibriSpeech-layout corpus of synthetic (espeak-ng) English speech.

The corpus lets a newcomer prepare, train and evaluate a small DeepSpeech2 on CPU in
minutes without downloading anything. Layout, exactly like LibriSpeech::

    LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt:04d>.flac
    LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt

for the subsets ``train-clean-100``, ``dev-clean`` and ``test-clean``.

* A "speaker" is an espeak-ng English base voice (accent) plus a voice variant
  (``en-us+m3``, ``en-gb-x-rp+f4``...) with its own speed, pitch, level and a mild
  spectral tilt. dev-clean and test-clean speakers use variants never used in
  training (nor in the other held-out subset) on base accents seen in training.
* Each utterance gets a small random speed/pitch/word-gap/gain change and a very
  low level of white noise (SNR 50-65 dB), so no two utterances are identical.
* Text: short English sentences drawn from a small grammar written for this
  project (29-symbol alphabet: A-Z, apostrophe, space). All sentences are
  distinct; dev/test sentences use only words that also occur in training.
* Audio: espeak-ng writes 22050 Hz WAV; it is trimmed, resampled to 16 kHz with a
  polyphase filter (scipy), and written as 16 kHz mono 16-bit FLAC (soundfile).

Deterministic: everything random comes from ``SEED``; per-utterance randomness is
seeded by the utterance id, so the result does not depend on worker scheduling.
Output may still differ slightly between espeak-ng / libsndfile versions: the
corpus is committed, this script documents how it was made.

Idempotent: the corpus is built in a temporary sibling directory and swapped in
with renames only once it is complete.

Usage::

    python examples/demo_corpus/make_demo_corpus.py            # writes examples/demo_corpus/LibriSpeech
    python examples/demo_corpus/make_demo_corpus.py --out DIR  # writes DIR/LibriSpeech

Requires: espeak-ng (Debian package ``espeak-ng``), numpy, scipy, soundfile.
"""
import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SEED = 20240611
SAMPLE_RATE = 16000
ESPEAK_RATE = 22050
MAX_BYTES = 10 * 1000 * 1000  # FLAC + transcripts, apparent size
MAX_CHARS = 28  # keeps utterances short (~0.8-2.5 s) so the corpus fits the size budget
ALLOWED = re.compile(r"^[A-Z' ]+$")

# ----------------------------------------------------------------------------------
# Speakers. (id, espeak voice, base speed in words/min, base pitch 0-99,
#            speech RMS level, spectral tilt coefficient, chapter sizes)
# Held-out speakers use variants absent from training and from each other.
# Base voice "en" is espeak-ng's British English; note "en-gb+VARIANT" silently drops
# the variant in espeak-ng 1.51, hence "en+VARIANT" (voice_check() guards against this).
# ----------------------------------------------------------------------------------
TRAIN_SPEAKERS = [
    (1001, "en-us+m1", 170, 45, 0.023, 0.00),
    (1002, "en-us+f1", 178, 55, 0.020, -0.20),
    (1003, "en+m3", 172, 50, 0.022, 0.15),
    (1004, "en+f2", 165, 60, 0.018, 0.00),
    (1005, "en-gb-x-rp+m2", 185, 40, 0.024, -0.15),
    (1006, "en-gb-x-rp+f3", 175, 50, 0.021, 0.20),
    (1007, "en-us+m4", 190, 45, 0.019, 0.10),
    (1008, "en-us-nyc+Mike", 170, 52, 0.023, -0.10),
    (1009, "en-gb-scotland+m6", 176, 55, 0.022, 0.00),
    (1010, "en-us+linda", 168, 48, 0.018, 0.10),
    (1011, "en-us+edward", 182, 50, 0.023, -0.05),
    (1012, "en-gb-x-gbclan+Gene", 172, 44, 0.021, 0.05),
    (1013, "en-029+adam", 176, 50, 0.022, 0.00),
    (1014, "en-gb-x-gbcwmd+f1", 174, 62, 0.020, 0.10),
]
DEV_SPEAKERS = [
    (2001, "en-us+m7", 175, 46, 0.022, 0.05),
    (2002, "en+f5", 170, 56, 0.020, -0.10),
    (2003, "en-gb-x-rp+benjamin", 180, 50, 0.023, 0.00),
]
TEST_SPEAKERS = [
    (3001, "en-us+m5", 178, 48, 0.023, -0.05),
    (3002, "en-gb-x-rp+f4", 168, 58, 0.020, 0.10),
    (3003, "en-us+david", 174, 52, 0.022, 0.00),
]
TRAIN_UTTS_PER_CHAPTER = (11, 11)  # two chapters per training speaker
HELDOUT_UTTS_PER_CHAPTER = (14,)   # one chapter per dev/test speaker

# ----------------------------------------------------------------------------------
# Text grammar (written for this project).
# ----------------------------------------------------------------------------------
NAMES = ("JOHN MARY PETER ANNA JAMES SARAH TOM LUCY DAVID EMMA GEORGE ALICE FRANK HELEN "
         "JACK KATE MAX ZOE PAUL RUTH NICK JANE OSCAR VICTOR").split()
NOUNS = ("DOG CAT BIRD FISH HORSE COW SHEEP GOAT DUCK FOX MOUSE RABBIT "
         "BOOK PEN LETTER MAP KEY BOX BAG CUP PLATE SPOON KNIFE BOTTLE JAR VASE LAMP CLOCK "
         "CHAIR TABLE BED DOOR WINDOW WALL ROOF FLOOR GATE FENCE "
         "CAR BUS TRAIN BOAT BIKE VAN TAXI SHIP PLANE TRUCK "
         "APPLE ORANGE BREAD CAKE CHEESE EGG SOUP PIZZA JUICE MILK TEA COFFEE "
         "SHIRT COAT HAT JACKET SHOE GLOVE SCARF "
         "TREE FLOWER GARDEN RIVER LAKE HILL ROAD BRIDGE FIELD FOREST BEACH STONE "
         "PHONE RADIO PIANO VIOLIN GUITAR CAMERA TICKET PICTURE BASKET BLANKET PILLOW "
         "KING QUEEN DOCTOR TEACHER FARMER DRIVER BAKER SAILOR CHILD FRIEND NEIGHBOUR "
         "QUESTION ANSWER STORY SONG GAME LESSON PLAN PARCEL NOTE "
         "ZEBRA PUZZLE PRIZE BLAZER QUILT JIGSAW SQUARE").split()
PEOPLE = "KING QUEEN DOCTOR TEACHER FARMER DRIVER BAKER SAILOR CHILD FRIEND NEIGHBOUR".split()
ANIMALS = "DOG CAT BIRD HORSE COW SHEEP GOAT DUCK FOX MOUSE RABBIT ZEBRA".split()
THINGS = [n for n in NOUNS if n not in PEOPLE and n not in ANIMALS]
ADJS = ("BIG SMALL OLD NEW RED BLUE GREEN YELLOW BLACK WHITE BROWN GREY WARM COLD HOT "
        "QUIET LOUD HAPPY SAD TIRED HUNGRY CLEAN DIRTY HEAVY LIGHT DARK BRIGHT SOFT HARD "
        "LONG SHORT TALL EMPTY FULL FRESH SWEET SMART LAZY BUSY STRANGE FAMOUS FUNNY "
        "GENTLE BRAVE CLEVER FRIENDLY FROZEN CRAZY FUZZY DIZZY QUICK").split()
COLOURS = "RED BLUE GREEN YELLOW BLACK WHITE BROWN GREY".split()
# base, third person, past, participle, -ing
VERBS = [
    ("TAKE", "TAKES", "TOOK", "TAKEN", "TAKING"), ("FIND", "FINDS", "FOUND", "FOUND", "FINDING"),
    ("BRING", "BRINGS", "BROUGHT", "BROUGHT", "BRINGING"), ("BUY", "BUYS", "BOUGHT", "BOUGHT", "BUYING"),
    ("SELL", "SELLS", "SOLD", "SOLD", "SELLING"), ("LOSE", "LOSES", "LOST", "LOST", "LOSING"),
    ("MOVE", "MOVES", "MOVED", "MOVED", "MOVING"), ("OPEN", "OPENS", "OPENED", "OPENED", "OPENING"),
    ("CLOSE", "CLOSES", "CLOSED", "CLOSED", "CLOSING"), ("WASH", "WASHES", "WASHED", "WASHED", "WASHING"),
    ("FIX", "FIXES", "FIXED", "FIXED", "FIXING"), ("PAINT", "PAINTS", "PAINTED", "PAINTED", "PAINTING"),
    ("CARRY", "CARRIES", "CARRIED", "CARRIED", "CARRYING"), ("DROP", "DROPS", "DROPPED", "DROPPED", "DROPPING"),
    ("HIDE", "HIDES", "HID", "HIDDEN", "HIDING"), ("KEEP", "KEEPS", "KEPT", "KEPT", "KEEPING"),
    ("SEE", "SEES", "SAW", "SEEN", "SEEING"), ("WATCH", "WATCHES", "WATCHED", "WATCHED", "WATCHING"),
    ("LIKE", "LIKES", "LIKED", "LIKED", "LIKING"), ("WANT", "WANTS", "WANTED", "WANTED", "WANTING"),
    ("NEED", "NEEDS", "NEEDED", "NEEDED", "NEEDING"), ("MAKE", "MAKES", "MADE", "MADE", "MAKING"),
    ("BREAK", "BREAKS", "BROKE", "BROKEN", "BREAKING"), ("CATCH", "CATCHES", "CAUGHT", "CAUGHT", "CATCHING"),
    ("PUSH", "PUSHES", "PUSHED", "PUSHED", "PUSHING"), ("PULL", "PULLS", "PULLED", "PULLED", "PULLING"),
    ("CHECK", "CHECKS", "CHECKED", "CHECKED", "CHECKING"), ("SEND", "SENDS", "SENT", "SENT", "SENDING"),
    ("GIVE", "GIVES", "GAVE", "GIVEN", "GIVING"), ("DRAW", "DRAWS", "DREW", "DRAWN", "DRAWING"),
    ("PACK", "PACKS", "PACKED", "PACKED", "PACKING"), ("VISIT", "VISITS", "VISITED", "VISITED", "VISITING"),
]
INTRANS = [  # base, past, -ing
    ("SLEEP", "SLEPT", "SLEEPING"), ("RUN", "RAN", "RUNNING"), ("JUMP", "JUMPED", "JUMPING"),
    ("SING", "SANG", "SINGING"), ("WAIT", "WAITED", "WAITING"), ("LAUGH", "LAUGHED", "LAUGHING"),
    ("SWIM", "SWAM", "SWIMMING"), ("WALK", "WALKED", "WALKING"), ("DANCE", "DANCED", "DANCING"),
    ("SMILE", "SMILED", "SMILING"), ("WORK", "WORKED", "WORKING"), ("READ", "READ", "READING"),
    ("COOK", "COOKED", "COOKING"), ("SHOUT", "SHOUTED", "SHOUTING"), ("REST", "RESTED", "RESTING"),
]
PLACES = ("IN THE KITCHEN|IN THE GARDEN|NEAR THE RIVER|BY THE LAKE|AT SCHOOL|AT HOME|ON THE HILL|"
          "IN THE CAR|UNDER THE BED|ON THE TABLE|IN THE BOX|AT THE STATION|IN THE PARK|BY THE DOOR|"
          "ON THE BRIDGE|IN THE FOREST|AT THE MARKET|ON THE BEACH|IN TOWN|AT THE ZOO|IN THE VILLAGE|"
          "UPSTAIRS|OUTSIDE|DOWNSTAIRS|NEXT DOOR").split("|")
TIMES = ("TODAY|TONIGHT|YESTERDAY|TOMORROW|LAST NIGHT|THIS MORNING|ON MONDAY|ON FRIDAY|AT NOON|"
         "EVERY DAY|IN MAY|IN JULY|AT SIX|AT SEVEN|SOON|AGAIN|LATER|NOW|ALL WEEK|BEFORE LUNCH").split("|")
ADVS = "QUICKLY SLOWLY QUIETLY LOUDLY CAREFULLY HAPPILY EARLY LATE TOGETHER ALONE".split()
INTENS = "VERY REALLY QUITE TOO SO RATHER".split()
NEG_DO = {"I": "DON'T", "WE": "DON'T", "THEY": "DON'T", "YOU": "DON'T", "HE": "DOESN'T", "SHE": "DOESN'T"}
BE_CONTR = {"I": "I'M", "WE": "WE'RE", "THEY": "THEY'RE", "YOU": "YOU'RE", "HE": "HE'S", "SHE": "SHE'S"}
WILL_CONTR = {"I": "I'LL", "WE": "WE'LL", "THEY": "THEY'LL", "YOU": "YOU'LL", "HE": "HE'LL", "SHE": "SHE'LL"}
HAVE_CONTR = {"I": "I'VE", "WE": "WE'VE", "THEY": "THEY'VE", "YOU": "YOU'VE", "HE": "HE'S", "SHE": "SHE'S"}
PRONOUNS = list(NEG_DO)
POSSESSIVE = {"I": "MY", "WE": "OUR", "THEY": "THEIR", "YOU": "YOUR", "HE": "HIS", "SHE": "HER"}
PHRASES = ("GOOD MORNING|GOOD NIGHT|THANK YOU|THANK YOU VERY MUCH|SEE YOU LATER|SEE YOU TOMORROW|"
           "WELL DONE|EXCUSE ME|HOW ARE YOU|WHAT'S YOUR NAME|WHERE'S THE STATION|I DON'T KNOW|"
           "I'M NOT SURE|THAT'S RIGHT|THAT'S WRONG|LET'S GO|LET'S WAIT|IT'S LATE|IT'S EARLY|"
           "DON'T WORRY|WHO'S THERE|I CAN'T HEAR YOU|WE WON'T STAY|IT ISN'T FAIR|COME IN PLEASE|"
           "SIT DOWN PLEASE|HAPPY BIRTHDAY|NOT AGAIN|JUST A MINUTE|NEVER MIND|OF COURSE|"
           "WHAT A LOVELY DAY|HOLD ON|GOOD LUCK|NO THANKS|YES PLEASE").split("|")


def _det(rng):
    return str(rng.choice(["THE", "THE", "A", "MY", "YOUR", "HIS", "HER", "OUR", "THEIR", "THIS", "THAT"]))


def _np(rng, pool=None, adj_p=0.35):
    det = _det(rng)
    words = [str(rng.choice(ADJS))] if rng.random() < adj_p else []
    words.append(str(rng.choice(pool or NOUNS)))
    if det == "A" and words[0][0] in "AEIOU":
        det = "AN"
    return " ".join([det] + words)


def _subject(rng):
    r = rng.random()
    if r < 0.35:
        return str(rng.choice(NAMES))
    if r < 0.7:
        return _np(rng, PEOPLE + ANIMALS, adj_p=0.3)
    return str(rng.choice(["I", "WE", "THEY", "YOU", "HE", "SHE"]))


def _tail(rng, p_place=0.3, p_time=0.25):
    r = rng.random()
    if r < p_place:
        return " " + str(rng.choice(PLACES))
    if r < p_place + p_time:
        return " " + str(rng.choice(TIMES))
    return ""


# relative frequency of the templates in make_sentence (0..15); about a third of the
# sentences end up with an apostrophe
TEMPLATE_WEIGHTS = np.array([3, 2, 1, 0.8, 0.6, 1, 1.5, 0.8, 2, 0.5, 0.7, 0.6, 0.6, 2, 1.5, 1.0])
TEMPLATE_WEIGHTS = TEMPLATE_WEIGHTS / TEMPLATE_WEIGHTS.sum()
FUTURE_TIMES = "TONIGHT|TOMORROW|ON MONDAY|ON FRIDAY|AT NOON|AT SIX|AT SEVEN|SOON|AGAIN|LATER|NOW".split("|")


def make_sentence(rng):
    """One random sentence, upper case, A-Z / apostrophe / space only."""
    t = int(rng.choice(len(TEMPLATE_WEIGHTS), p=TEMPLATE_WEIGHTS))
    p = str(rng.choice(PRONOUNS))
    v = VERBS[int(rng.integers(len(VERBS)))]
    iv = INTRANS[int(rng.integers(len(INTRANS)))]
    if t == 0:
        s = f"{_subject(rng)} {v[2]} {_np(rng, THINGS + ANIMALS)}{_tail(rng)}"
    elif t == 1:
        s = f"{_subject(rng)} {iv[1]}{_tail(rng, 0.4, 0.3)}"
    elif t == 2:
        s = f"{p} {NEG_DO[p]} {v[0]} {_np(rng, THINGS, 0.2)}"
    elif t == 3:
        s = f"IT'S {rng.choice(INTENS)} {rng.choice(ADJS)}{_tail(rng, 0.2, 0.4)}"
    elif t == 4:
        owner = str(rng.choice(NAMES)) if rng.random() < 0.5 else "THE " + str(rng.choice(PEOPLE + ANIMALS))
        s = f"THAT'S {owner}'S {rng.choice(THINGS)}"
    elif t == 5:
        q = str(rng.choice(["WHERE IS", "WHERE'S", "WHAT'S IN", "WHO HAS", "WHY IS", "HOW BIG IS"]))
        s = f"{q} {_np(rng, THINGS, 0.3)}"
    elif t == 6:
        start = str(rng.choice(["PLEASE", "DON'T", "PLEASE DON'T", "LET'S", ""]))
        s = f"{start} {v[0]} {_np(rng, THINGS, 0.3)}".strip()
    elif t == 7:
        s = f"{BE_CONTR[p]} {iv[2]}{_tail(rng, 0.35, 0.35)}"
    elif t == 8:
        verb = str(rng.choice(["IS", "WAS", "ISN'T", "WASN'T", "LOOKS", "SEEMS"]))
        s = f"THE {rng.choice(NOUNS)} {verb} {rng.choice(ADJS)}"
    elif t == 9:
        s = f"{rng.choice(NAMES)}'S {rng.choice(THINGS)} IS {rng.choice(ADJS)}"
    elif t == 10:
        when = " " + str(rng.choice(FUTURE_TIMES)) if rng.random() < 0.4 else ""
        s = f"{WILL_CONTR[p]} {v[0]} {_np(rng, THINGS, 0.2)}{when}"
    elif t == 11:
        s = f"{HAVE_CONTR[p]} {rng.choice(['', 'NEVER ', 'JUST ', 'ALREADY '])}{v[3]} {_np(rng, THINGS, 0.2)}"
    elif t == 12:
        s = f"THERE'S {_np(rng, THINGS + ANIMALS, 0.3)} {rng.choice(PLACES)}"
    elif t == 13:
        s = f"{_subject(rng)} {iv[1]} {rng.choice(ADVS)}"
    elif t == 14:
        modal = str(rng.choice(["CAN'T", "WON'T", "DIDN'T", "COULDN'T", "SHOULDN'T", "CAN", "MUST", "MIGHT"]))
        s = f"{_subject(rng)} {modal} {v[0]} {POSSESSIVE[p] if rng.random() < 0.5 else 'THE'} {rng.choice(THINGS)}"
    else:
        s = str(rng.choice(PHRASES))
    return re.sub(r" +", " ", s).strip()


def make_texts(rng, n_train, n_dev, n_test, max_words=6):
    """Distinct sentences; dev/test sentences only use words seen in the training text."""
    seen = set()
    train = []
    while len(train) < n_train:
        s = make_sentence(rng)
        if s in seen or not 2 <= len(s.split()) <= max_words or len(s) > MAX_CHARS:
            continue
        seen.add(s)
        train.append(s)
    vocab = {w for s in train for w in s.split()}
    held = []
    while len(held) < n_dev + n_test:
        s = make_sentence(rng)
        if s in seen or not 2 <= len(s.split()) <= max_words or len(s) > MAX_CHARS:
            continue
        if not set(s.split()) <= vocab:
            continue
        seen.add(s)
        held.append(s)
    return train, held[:n_dev], held[n_dev:]


# ----------------------------------------------------------------------------------
# Audio.
# ----------------------------------------------------------------------------------
def synthesize(text, voice, speed, pitch, gap, rng, level, tilt, tmpdir, utt_id):
    wav = os.path.join(tmpdir, utt_id + ".wav")
    # espeak-ng reads lower-case text more naturally (no acronym spelling of short capitals).
    cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-g", str(gap),
           "-a", "100", "-w", wav, text.lower() + "."]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    x, sr = sf.read(wav, dtype="float64")
    os.remove(wav)
    if x.ndim > 1:
        x = x.mean(axis=1)
    if sr != ESPEAK_RATE:
        raise RuntimeError(f"unexpected espeak-ng sample rate {sr}")
    y = resample_poly(x, 320, 441)  # 22050 Hz -> 16000 Hz
    # trim leading/trailing silence (-50 dB re. peak), then pad 50-150 ms each side
    peak = np.max(np.abs(y))
    if peak <= 0:
        raise RuntimeError(f"espeak-ng produced silence for {text!r}")
    idx = np.nonzero(np.abs(y) > peak * 10 ** (-50 / 20))[0]
    y = y[idx[0]:idx[-1] + 1]
    rms = np.sqrt(np.mean(y ** 2))
    pad = rng.integers(int(0.05 * SAMPLE_RATE), int(0.15 * SAMPLE_RATE), size=2)
    y = np.concatenate([np.zeros(pad[0]), y, np.zeros(pad[1])])
    # speaker "channel": mild first-order spectral tilt
    if tilt:
        y = y + tilt * np.concatenate([[0.0], np.diff(y)])
    # level: speaker RMS (over speech) +- 3 dB
    y *= level * 10 ** (rng.uniform(-3, 3) / 20) / rms
    # background noise at high SNR
    snr_db = rng.uniform(50, 65)
    y += rng.standard_normal(len(y)) * level * 10 ** (-snr_db / 20)
    y = np.clip(y, -0.99, 0.99)
    return y


def voice_check(voices):
    """Fail if espeak-ng silently ignores a voice variant (it falls back without an error)."""
    with tempfile.TemporaryDirectory() as d:
        def synth(v):
            out = os.path.join(d, "v.wav")
            subprocess.run(["espeak-ng", "-v", v, "-w", out, "hello there"], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(out, "rb") as f:
                return f.read()
        for v in voices:
            base = v.split("+")[0]
            if synth(v) == synth(base):
                raise SystemExit(f"espeak-ng ignores the variant in voice {v!r}")


def utt_rng(utt_id):
    return np.random.default_rng([SEED, zlib.crc32(utt_id.encode())])


def build(out_root, jobs):
    rng = np.random.default_rng(SEED)
    plan = []  # (subset, speaker tuple, chapter id, [texts])
    n_train = len(TRAIN_SPEAKERS) * sum(TRAIN_UTTS_PER_CHAPTER)
    n_held = sum(HELDOUT_UTTS_PER_CHAPTER)
    train_txt, dev_txt, test_txt = make_texts(rng, n_train, len(DEV_SPEAKERS) * n_held, len(TEST_SPEAKERS) * n_held)
    for subset, speakers, sizes, texts in (
        ("train-clean-100", TRAIN_SPEAKERS, TRAIN_UTTS_PER_CHAPTER, train_txt),
        ("dev-clean", DEV_SPEAKERS, HELDOUT_UTTS_PER_CHAPTER, dev_txt),
        ("test-clean", TEST_SPEAKERS, HELDOUT_UTTS_PER_CHAPTER, test_txt),
    ):
        pos = 0
        for spk in speakers:
            for k, n in enumerate(sizes):
                chapter = spk[0] * 10 + k + 1  # e.g. speaker 1001 -> chapters 10011, 10012
                plan.append((subset, spk, chapter, texts[pos:pos + n]))
                pos += n
        assert pos == len(texts)

    tasks = []
    for subset, spk, chapter, texts in plan:
        spk_id, voice, speed, pitch, level, tilt = spk
        d = os.path.join(out_root, subset, str(spk_id), str(chapter))
        os.makedirs(d, exist_ok=True)
        lines = []
        for i, text in enumerate(texts):
            assert ALLOWED.match(text), text
            utt_id = f"{spk_id}-{chapter}-{i:04d}"
            lines.append(f"{utt_id} {text}\n")
            tasks.append((subset, utt_id, os.path.join(d, utt_id + ".flac"), text, voice, speed, pitch, level, tilt))
        with open(os.path.join(d, f"{spk_id}-{chapter}.trans.txt"), "w", encoding="utf-8", newline="\n") as f:
            f.writelines(lines)

    tmpdir = tempfile.mkdtemp(prefix="espeak-")

    def run(task):
        subset, utt_id, path, text, voice, speed, pitch, level, tilt = task
        r = utt_rng(utt_id)
        s = int(round(speed * r.uniform(0.92, 1.08)))
        p = int(np.clip(pitch + r.integers(-6, 7), 0, 99))
        g = int(r.integers(0, 3))
        y = synthesize(text, voice, s, p, g, r, level, tilt, tmpdir, utt_id)
        sf.write(path, y, SAMPLE_RATE, format="FLAC", subtype="PCM_16", compression_level=1.0)
        return subset, len(y) / SAMPLE_RATE

    try:
        with ThreadPoolExecutor(max_workers=jobs) as ex:
            results = list(ex.map(run, tasks))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return results


def subset_bytes(root):
    total = 0
    for dirpath, _, files in os.walk(root):
        for fn in files:
            if fn.endswith((".flac", ".trans.txt")):
                total += os.path.getsize(os.path.join(dirpath, fn))
    return total


def check(root):
    """Validate a LibriSpeech-layout tree; print the duration distribution. Returns a list of problems."""
    problems = []
    durs = {}
    for subset in ("train-clean-100", "dev-clean", "test-clean"):
        sdir = os.path.join(root, subset)
        if not os.path.isdir(sdir):
            problems.append(f"missing subset {subset}")
            continue
        durs[subset] = []
        for spk in sorted(os.listdir(sdir)):
            for chap in sorted(os.listdir(os.path.join(sdir, spk))):
                cdir = os.path.join(sdir, spk, chap)
                trans = os.path.join(cdir, f"{spk}-{chap}.trans.txt")
                flacs = {f[:-5] for f in os.listdir(cdir) if f.endswith(".flac")}
                others = [f for f in os.listdir(cdir) if not f.endswith(".flac") and f != os.path.basename(trans)]
                if others:
                    problems.append(f"{cdir}: unexpected files {others}")
                if not os.path.isfile(trans):
                    problems.append(f"{cdir}: no {os.path.basename(trans)}")
                    continue
                ids = []
                with open(trans, encoding="utf-8") as f:
                    for lineno, line in enumerate(f, 1):
                        utt, _, text = line.rstrip("\n").partition(" ")
                        ids.append(utt)
                        if not re.fullmatch(rf"{spk}-{chap}-\d{{4}}", utt):
                            problems.append(f"{trans}:{lineno}: bad utterance id {utt!r}")
                        if not ALLOWED.match(text) or "  " in text or text != text.strip():
                            problems.append(f"{trans}:{lineno}: text outside A-Z, apostrophe, single spaces: {text!r}")
                for utt in sorted(set(ids) - flacs):
                    problems.append(f"{trans}: {utt} has no .flac")
                for utt in sorted(flacs - set(ids)):
                    problems.append(f"{cdir}/{utt}.flac has no transcript line")
                if len(ids) != len(set(ids)):
                    problems.append(f"{trans}: duplicate utterance ids")
                for utt in sorted(flacs):
                    path = os.path.join(cdir, utt + ".flac")
                    info = sf.info(path)
                    if (info.samplerate, info.channels, info.format, info.subtype) != (SAMPLE_RATE, 1, "FLAC", "PCM_16"):
                        problems.append(f"{path}: {info.samplerate} Hz, {info.channels} ch, {info.format}/{info.subtype}")
                    x, _ = sf.read(path, dtype="int16")
                    if len(x) == 0 or np.max(np.abs(x.astype(np.int32))) >= 32767:
                        problems.append(f"{path}: empty or clipped")
                    durs[subset].append(len(x) / SAMPLE_RATE)
    edges = [0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 100]
    print("duration histogram (s):  " + "  ".join(f"{a:g}-{b:g}" if b < 100 else f">{a:g}" for a, b in zip(edges, edges[1:])))
    for subset, d in durs.items():
        hist, _ = np.histogram(d, bins=edges)
        q = np.percentile(d, [0, 10, 50, 90, 100]) if d else [0] * 5
        print(f"  {subset:<16}" + "  ".join(f"{h:>5d}" for h in hist)
              + "   min/p10/median/p90/max " + "/".join(f"{v:.2f}" for v in q))
    return problems


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=here, help="directory to hold LibriSpeech/ (default: next to this script)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel espeak-ng processes")
    ap.add_argument("--check-only", action="store_true", help="only validate an existing corpus")
    args = ap.parse_args(argv)
    final = os.path.join(os.path.abspath(args.out), "LibriSpeech")
    if args.check_only:
        problems = check(final)
        print("\n".join(problems) or "corpus OK")
        sys.exit(1 if problems else 0)

    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng not found: apt-get install espeak-ng")
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip()
    print(version)
    voice_check([spk[1] for spk in TRAIN_SPEAKERS + DEV_SPEAKERS + TEST_SPEAKERS])

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".LibriSpeech.tmp-", dir=out)
    try:
        results = build(staging, max(1, args.jobs))
        print(f"{'subset':<16}{'spk':>4}{'utts':>6}{'hours':>8}{'min':>7}{'MB':>7}   dur min/mean/max s")
        grand = 0
        for subset in ("train-clean-100", "dev-clean", "test-clean"):
            durs = np.array([d for s, d in results if s == subset])
            nspk = len(os.listdir(os.path.join(staging, subset)))
            b = subset_bytes(os.path.join(staging, subset))
            grand += b
            print(f"{subset:<16}{nspk:>4}{len(durs):>6}{durs.sum() / 3600:>8.3f}{durs.sum() / 60:>7.2f}"
                  f"{b / 1e6:>7.2f}   {durs.min():.2f}/{durs.mean():.2f}/{durs.max():.2f}")
        print(f"total FLAC + transcripts: {grand / 1e6:.2f} MB ({grand} bytes)")
        if grand > MAX_BYTES:
            raise SystemExit(f"corpus would be larger than {MAX_BYTES / 1e6:.0f} MB: "
                             "shorten the sentences or reduce the counts (existing corpus left unchanged)")
        # swap in with renames: old -> trash, staging -> final, then delete trash
        trash = None
        if os.path.exists(final):
            trash = tempfile.mkdtemp(prefix=".LibriSpeech.old-", dir=out)
            os.rename(final, os.path.join(trash, "LibriSpeech"))
        os.chmod(staging, 0o755)
        os.rename(staging, final)
        if trash:
            shutil.rmtree(trash)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    print(f"wrote {final}")
    problems = check(final)
    print("\n".join(problems) or "corpus OK")
    if problems:
        sys.exit(1)

if __name__ == "__main__":
    main()
