#!/usr/bin/env python3
"""Generate a small LibriSpeech-layout corpus of synthetic (espeak-ng + flite) English speech.

The corpus lets a newcomer prepare, train and evaluate a small DeepSpeech2 on CPU in
minutes without downloading anything. Layout, exactly like LibriSpeech::

    LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<utt:04d>.opus
    LibriSpeech/<subset>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt
    LibriSpeech/SPEAKERS.TXT        # one line per synthetic speaker: how it was made

for the subsets ``train-clean-100``, ``dev-clean`` and ``test-clean``.

* A "speaker" is a synthesizer base voice plus its own settings: an espeak-ng English
  accent with a voice variant (``en-us+m3``, ``en-gb-x-rp+f4``...), or a flite voice
  (``kal16``, ``awb``, ``rms``, ``slt``); its own speaking rate (in characters per
  second, calibrated per voice, see reference_rate()) and pitch; a "warp"
  (resampling that moves pitch and formants together, like a longer or shorter vocal
  tract); a mild spectral tilt; and a level. dev-clean and test-clean speakers are never
  used in training nor in the other held-out subset. Their espeak-ng variants are unseen
  in training too, on accents seen in training; their flite speakers use the flite base
  voices of training with new settings (the task is "unseen speaker", not "unseen
  synthesizer"), at speaking rates inside the training range.
* Each utterance gets a small random speed/pitch/word-gap/gain change and a very low
  level of white noise (SNR 50-65 dB), so no two utterances are identical.
* Text: English sentences from a grammar written for this project (29-symbol
  alphabet: A-Z, apostrophe, space). All sentences are distinct; dev/test sentences
  use only words that also occur in the training text.
* Audio: 16 kHz mono Ogg Opus (soundfile/libsndfile, about 22 kbit/s). The Ogg stream
  serial number, random in libsndfile, is replaced by one derived from the utterance
  id so that the files are reproducible.

Deterministic: everything random comes from ``SEED``; per-utterance randomness is
seeded by the utterance id, so the result does not depend on worker scheduling.
Output may still differ between espeak-ng / flite / libsndfile (libopus) versions: the
corpus is committed, this script documents how it was made.

Idempotent: the corpus is built in a temporary sibling directory and swapped in with
renames only once it is complete and within the size budget.

Usage::

    python examples/demo_corpus/make_demo_corpus.py --jobs 2       # writes examples/demo_corpus/LibriSpeech
    python examples/demo_corpus/make_demo_corpus.py --out DIR      # writes DIR/LibriSpeech
    python examples/demo_corpus/make_demo_corpus.py --check-only   # validates the existing corpus

Requires: espeak-ng and flite (Debian packages ``espeak-ng``, ``flite``), numpy, scipy,
soundfile >= 0.12 with libsndfile >= 1.0.29 (Opus support).
"""
import argparse
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SEED = 20240611
SAMPLE_RATE = 16000
MAX_BYTES = 10 * 1000 * 1000  # audio + transcripts + SPEAKERS.TXT, apparent size
# libsndfile maps the Opus "compression level" c in [0, 1] linearly to a target bitrate of
# about 6 + 250 * (1 - c) kbit/s: 0.94 -> 21 kbit/s (about 22 kbit/s measured on this
# corpus, Ogg container included): wideband (8 kHz) speech that stays clearly intelligible.
# (libsndfile 1.2.2 rejects a bitrate_mode for Opus, so the encoder's default VBR is used.)
OPUS_COMPRESSION_LEVEL = 0.94
AUDIO_EXT = ".opus"
MIN_WORDS, MAX_WORDS, MAX_CHARS = 2, 14, 72  # about 1-5 s of speech
SHORT_CHARS, SHORT_DROP = 22, 0.4  # drop 40 % of the sentences shorter than 22 characters
ALLOWED = re.compile(r"^[A-Z' ]+$")
SUBSETS = ("train-clean-100", "dev-clean", "test-clean")

# ----------------------------------------------------------------------------------
# Speakers.
# espeak-ng voices are "<accent>+<variant>". Base voice "en" is espeak-ng's British
# English; "en-gb+VARIANT" silently drops the variant in espeak-ng 1.51, hence
# "en+VARIANT" (voice_check() guards against this). Variants that whisper, echo
# strongly, or move F1-F3 far from normal (whisper, caleb, Demonic, announcer,
# robosoft*, RicishayMax*, kaukovalta, Tweaky, iven*, Lee, Andy, Jacky, boris,
# marcelo, travis, zac...) are not used. Near-identical variant families (linda and
# belinda; steph, steph2 and steph3; the klatt* family; edward and edward2; Gene and
# Gene2; Diogo/Henrique/Hugo/michel/miguel) stay within one subset.
# flite voices: kal16 (diphone), awb, rms, slt (clustergen), all 16 kHz. (kal is the
# 8 kHz twin of kal16 and awb_time a limited-domain clock voice: not used.) rms ignores
# int_f0_target_mean, so its pitch only changes through the warp.
# Numeric settings (rate, pitch, warp, tilt, level) are drawn from SEED, see speakers().
# ----------------------------------------------------------------------------------
TRAIN_VOICES = [
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
]
DEV_VOICES = ["en-us+m7", "en-gb-x-rp+f5", "en-gb-scotland+quincy", "en-029+Annie",
              "flite:slt", "flite:awb"]
TEST_VOICES = ["en-us-nyc+m5", "en+f4", "en-us+Andrea", "en-gb-x-gbclan+pedro",
               "flite:kal16", "flite:rms"]
FIRST_SPEAKER_ID = {"train-clean-100": 1001, "dev-clean": 2001, "test-clean": 3001}
# utterances per chapter, cycled over the speakers of a subset: two chapters per training
# speaker (17.5 utterances per speaker on average), one chapter per dev/test speaker
CHAPTER_SIZES = {"train-clean-100": ((9, 9), (9, 8)), "dev-clean": ((21,),), "test-clean": ((21,),)}
FLITE_F0 = {"kal16": (85, 140), "awb": (95, 150), "slt": (155, 230), "rms": None}  # Hz
# speaking rate in characters per second of continuous speech, as reference_rate() measures it
# (espeak-ng's English voices speak about 19 at their default 175 words/minute; whole utterances,
# with their edges and final lengthening, come out about 20 % lower). Held-out speakers stay
# in the middle of the training range, so dev/test measure new voices, not faster speech.
RATE_RANGE = {"train-clean-100": (16.5, 21.0), "dev-clean": (17.3, 20.2), "test-clean": (17.3, 20.2)}


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
        if voice.startswith("flite:"):
            cmd = ["flite", "-voice", voice[6:], "-t", CALIBRATION_TEXT, "-o", wav]
        else:
            cmd = ["espeak-ng", "-v", voice, "-s", str(REF_WPM), "-w", wav, CALIBRATION_TEXT]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        x, sr = sf.read(wav, dtype="float64")
    idx = np.nonzero(np.abs(x) > np.max(np.abs(x)) * 10 ** (-50 / 20))[0]
    return len(re.sub(r"[^a-z' ]", "", CALIBRATION_TEXT)) / ((idx[-1] - idx[0] + 1) / sr)


def set_rates(spk_table):
    """Turn each speaker's target rate (characters per second) into an espeak-ng words-per-minute
    or a flite duration_stretch, using each voice's reference_rate()."""
    ref = {v: reference_rate(v) for v in sorted({v for _, _, v, _ in spk_table})}
    for _, _, voice, s in spk_table:
        if voice.startswith("flite:"):
            s["stretch"] = round(ref[voice] / s["cps"], 3)
        else:
            s["wpm"] = int(round(REF_WPM * s["cps"] / ref[voice]))
    return spk_table


def _flite_distance(a, b):
    """How far apart two settings of one flite voice sound: warp (formants) in units of 0.03,
    effective pitch (f0 x warp) in units of 10 %."""
    d = ((a["warp"] - b["warp"]) / 0.03) ** 2
    if a["f0"] and b["f0"]:
        d += (np.log(a["f0"] * a["warp"] / (b["f0"] * b["warp"])) / 0.1) ** 2
    return float(np.sqrt(d))


def speakers():
    """[(subset, speaker id, voice, settings dict)] for all subsets, drawn from SEED.
    A held-out flite speaker is redrawn until it is at least 1 unit (_flite_distance) away from
    every training speaker of the same flite voice, so that it is not a near-copy of one."""
    rng = np.random.default_rng([SEED, 1])
    out = []
    for subset, voices in zip(SUBSETS, (TRAIN_VOICES, DEV_VOICES, TEST_VOICES)):
        for k, voice in enumerate(voices):
            while True:
                s = {"tilt": round(float(rng.uniform(-0.3, 0.3)), 2) + 0.0,  # + 0.0: no "-0.00"
                     "level": round(float(rng.uniform(0.016, 0.026)), 4)}
                if not voice.startswith("flite:"):
                    s.update(cps=round(float(rng.uniform(*RATE_RANGE[subset])), 1), pitch=int(rng.uniform(30, 70)),
                             warp=round(float(rng.uniform(0.94, 1.06)), 3))
                    break
                lo_hi = FLITE_F0[voice[6:]]
                s.update(cps=round(float(rng.uniform(*RATE_RANGE[subset])), 1),
                         f0=int(rng.uniform(*lo_hi)) if lo_hi else None,
                         warp=round(float(rng.uniform(0.92, 1.08)), 3))
                if subset == SUBSETS[0] or all(_flite_distance(s, t) >= 1.0 for sub, _, v, t in out
                                               if sub == SUBSETS[0] and v == voice):
                    break
            out.append((subset, FIRST_SPEAKER_ID[subset] + k, voice, s))
    return out


# ----------------------------------------------------------------------------------
# Text grammar (written for this project).
# ----------------------------------------------------------------------------------
def W(s):
    return s.split()


NAMES = W("JOHN MARY PETER ANNA JAMES SARAH TOM LUCY DAVID EMMA GEORGE ALICE FRANK HELEN JACK "
          "KATE MAX ZOE PAUL RUTH NICK JANE OSCAR VICTOR SAM LAURA BEN CLARA DANIEL GRACE HARRY "
          "SOPHIE LEO OLIVIA MARTIN NORA SIMON JULIA ADAM ROSE")
PEOPLE = W("KING QUEEN DOCTOR TEACHER FARMER DRIVER BAKER SAILOR CHILD FRIEND NEIGHBOUR NURSE "
           "PILOT STUDENT BOY GIRL MAN WOMAN UNCLE AUNT BROTHER SISTER MOTHER FATHER BABY CAPTAIN "
           "GUARD WAITER SINGER PAINTER POSTMAN FISHERMAN GRANDMOTHER GRANDFATHER")
ANIMALS = W("DOG CAT BIRD FISH HORSE COW SHEEP GOAT DUCK FOX MOUSE RABBIT ZEBRA LION TIGER BEAR "
            "WOLF MONKEY OWL FROG PIG CHICKEN DEER ELEPHANT PARROT SPIDER BEE SQUIRREL")
THINGS = W("BOOK PEN LETTER MAP KEY BOX BAG CUP PLATE SPOON KNIFE BOTTLE JAR VASE LAMP CLOCK CHAIR "
           "TABLE HAT COAT JACKET SHOE GLOVE SCARF SHIRT PHONE RADIO CAMERA TICKET PICTURE BASKET "
           "BLANKET PILLOW UMBRELLA NEWSPAPER ENVELOPE WALLET HAMMER ROPE LADDER BUCKET BRUSH MIRROR "
           "CANDLE TOWEL KETTLE COMPUTER BATTERY GUITAR VIOLIN PARCEL NOTE PUZZLE PRIZE BLAZER QUILT "
           "JIGSAW BALL KITE DRUM GLASS PENCIL NOTEBOOK SUITCASE CARPET SOFA PAINTING PACKAGE")
FOOD = W("APPLE ORANGE BANANA LEMON PEAR PEACH TOMATO POTATO CARROT ONION EGG CAKE SANDWICH "
         "BISCUIT PIZZA SAUSAGE PIE")
MASS = W("BREAD CHEESE SOUP JUICE MILK TEA COFFEE RICE BUTTER HONEY SUGAR CHOCOLATE WATER")
VEHICLES = W("CAR BUS TRAIN BOAT BIKE VAN TAXI SHIP PLANE TRUCK TRACTOR")
PLACE_NOUNS = W("GARDEN RIVER LAKE HILL ROAD BRIDGE FIELD FOREST BEACH STATION MARKET PARK SCHOOL "
                "LIBRARY MUSEUM HOSPITAL CHURCH CASTLE HOTEL SHOP BANK KITCHEN OFFICE FACTORY "
                "HARBOUR AIRPORT VILLAGE ISLAND MOUNTAIN FARM ZOO CINEMA THEATRE")
CONTAINERS = W("CUP GLASS BOTTLE JAR PIECE BOWL")
IRREGULAR_PLURAL = {"CHILD": "CHILDREN", "MAN": "MEN", "WOMAN": "WOMEN", "POSTMAN": "POSTMEN",
                    "FISHERMAN": "FISHERMEN", "MOUSE": "MICE", "SHEEP": "SHEEP", "FISH": "FISH",
                    "DEER": "DEER", "KNIFE": "KNIVES", "WOLF": "WOLVES", "SCARF": "SCARVES",
                    "TOMATO": "TOMATOES", "POTATO": "POTATOES"}
# adjective, comparative (None: "MORE <adj>")
ADJ_TABLE = [
    ("BIG", "BIGGER"), ("SMALL", "SMALLER"), ("OLD", "OLDER"), ("NEW", "NEWER"), ("WARM", "WARMER"),
    ("COLD", "COLDER"), ("HOT", "HOTTER"), ("QUIET", "QUIETER"), ("LOUD", "LOUDER"),
    ("HAPPY", "HAPPIER"), ("SAD", "SADDER"), ("TIRED", None), ("HUNGRY", "HUNGRIER"),
    ("CLEAN", "CLEANER"), ("DIRTY", "DIRTIER"), ("HEAVY", "HEAVIER"), ("LIGHT", "LIGHTER"),
    ("DARK", "DARKER"), ("BRIGHT", "BRIGHTER"), ("SOFT", "SOFTER"), ("HARD", "HARDER"),
    ("LONG", "LONGER"), ("SHORT", "SHORTER"), ("TALL", "TALLER"), ("EMPTY", None), ("FULL", None),
    ("FRESH", "FRESHER"), ("SWEET", "SWEETER"), ("SMART", "SMARTER"), ("LAZY", "LAZIER"),
    ("BUSY", "BUSIER"), ("STRANGE", "STRANGER"), ("FAMOUS", None), ("FUNNY", "FUNNIER"),
    ("GENTLE", "GENTLER"), ("BRAVE", "BRAVER"), ("CLEVER", "CLEVERER"), ("FRIENDLY", "FRIENDLIER"),
    ("FROZEN", None), ("CRAZY", "CRAZIER"), ("FUZZY", "FUZZIER"), ("QUICK", "QUICKER"),
    ("SLOW", "SLOWER"), ("FAST", "FASTER"), ("CHEAP", "CHEAPER"), ("EXPENSIVE", None),
    ("BEAUTIFUL", None), ("DANGEROUS", None), ("USEFUL", None), ("STRONG", "STRONGER"),
    ("WEAK", "WEAKER"), ("RICH", "RICHER"), ("POOR", "POORER"), ("YOUNG", "YOUNGER"),
    ("WET", "WETTER"), ("DRY", "DRIER"), ("SHARP", "SHARPER"), ("ROUND", None), ("NICE", "NICER"),
    ("LOVELY", None), ("TINY", "TINIER"), ("HUGE", None), ("NOISY", "NOISIER"), ("CALM", "CALMER"),
]
ADJS = [a for a, _ in ADJ_TABLE]
COLOURS = W("RED BLUE GREEN YELLOW BLACK WHITE BROWN GREY PINK PURPLE ORANGE")
PERSON_ADJS = W("TIRED HUNGRY HAPPY SAD BUSY LATE READY ANGRY SURPRISED WORRIED BORED CALM "
                "EXCITED SCARED SLEEPY THIRSTY LUCKY SURE AFRAID COLD")
# base, third person, past, participle, -ing, object kind
VERBS = [
    ("TAKE", "TAKES", "TOOK", "TAKEN", "TAKING", "T"), ("FIND", "FINDS", "FOUND", "FOUND", "FINDING", "TA"),
    ("BRING", "BRINGS", "BROUGHT", "BROUGHT", "BRINGING", "TF"), ("BUY", "BUYS", "BOUGHT", "BOUGHT", "BUYING", "TF"),
    ("SELL", "SELLS", "SOLD", "SOLD", "SELLING", "TF"), ("LOSE", "LOSES", "LOST", "LOST", "LOSING", "T"),
    ("MOVE", "MOVES", "MOVED", "MOVED", "MOVING", "T"), ("OPEN", "OPENS", "OPENED", "OPENED", "OPENING", "T"),
    ("CLOSE", "CLOSES", "CLOSED", "CLOSED", "CLOSING", "T"), ("WASH", "WASHES", "WASHED", "WASHED", "WASHING", "TA"),
    ("FIX", "FIXES", "FIXED", "FIXED", "FIXING", "T"), ("PAINT", "PAINTS", "PAINTED", "PAINTED", "PAINTING", "T"),
    ("CARRY", "CARRIES", "CARRIED", "CARRIED", "CARRYING", "TF"), ("DROP", "DROPS", "DROPPED", "DROPPED", "DROPPING", "TF"),
    ("HIDE", "HIDES", "HID", "HIDDEN", "HIDING", "T"), ("KEEP", "KEEPS", "KEPT", "KEPT", "KEEPING", "TA"),
    ("SEE", "SEES", "SAW", "SEEN", "SEEING", "TAP"), ("WATCH", "WATCHES", "WATCHED", "WATCHED", "WATCHING", "AP"),
    ("LIKE", "LIKES", "LIKED", "LIKED", "LIKING", "TFAP"), ("WANT", "WANTS", "WANTED", "WANTED", "WANTING", "TF"),
    ("NEED", "NEEDS", "NEEDED", "NEEDED", "NEEDING", "TF"), ("MAKE", "MAKES", "MADE", "MADE", "MAKING", "TF"),
    ("BREAK", "BREAKS", "BROKE", "BROKEN", "BREAKING", "T"), ("CATCH", "CATCHES", "CAUGHT", "CAUGHT", "CATCHING", "TA"),
    ("PUSH", "PUSHES", "PUSHED", "PUSHED", "PUSHING", "T"), ("PULL", "PULLS", "PULLED", "PULLED", "PULLING", "T"),
    ("CHECK", "CHECKS", "CHECKED", "CHECKED", "CHECKING", "T"), ("SEND", "SENDS", "SENT", "SENT", "SENDING", "T"),
    ("GIVE", "GIVES", "GAVE", "GIVEN", "GIVING", "TF"), ("DRAW", "DRAWS", "DREW", "DRAWN", "DRAWING", "TA"),
    ("PACK", "PACKS", "PACKED", "PACKED", "PACKING", "T"), ("VISIT", "VISITS", "VISITED", "VISITED", "VISITING", "P"),
    ("EAT", "EATS", "ATE", "EATEN", "EATING", "F"), ("COOK", "COOKS", "COOKED", "COOKED", "COOKING", "F"),
    ("READ", "READS", "READ", "READ", "READING", "R"), ("WRITE", "WRITES", "WROTE", "WRITTEN", "WRITING", "R"),
    ("FOLLOW", "FOLLOWS", "FOLLOWED", "FOLLOWED", "FOLLOWING", "AP"), ("FEED", "FEEDS", "FED", "FED", "FEEDING", "A"),
    ("HOLD", "HOLDS", "HELD", "HELD", "HOLDING", "TA"), ("THROW", "THROWS", "THREW", "THROWN", "THROWING", "T"),
    ("MEET", "MEETS", "MET", "MET", "MEETING", "P"), ("CALL", "CALLS", "CALLED", "CALLED", "CALLING", "AP"),
    ("HELP", "HELPS", "HELPED", "HELPED", "HELPING", "P"), ("FORGET", "FORGETS", "FORGOT", "FORGOTTEN", "FORGETTING", "T"),
    ("CHOOSE", "CHOOSES", "CHOSE", "CHOSEN", "CHOOSING", "TF"), ("BORROW", "BORROWS", "BORROWED", "BORROWED", "BORROWING", "T"),
    ("ORDER", "ORDERS", "ORDERED", "ORDERED", "ORDERING", "TF"), ("FILL", "FILLS", "FILLED", "FILLED", "FILLING", "C"),
    ("CLEAN", "CLEANS", "CLEANED", "CLEANED", "CLEANING", "T"), ("KICK", "KICKS", "KICKED", "KICKED", "KICKING", "B"),
    ("ASK", "ASKS", "ASKED", "ASKED", "ASKING", "P"), ("THANK", "THANKS", "THANKED", "THANKED", "THANKING", "P"),
    ("REMEMBER", "REMEMBERS", "REMEMBERED", "REMEMBERED", "REMEMBERING", "TP"),
    ("SHARE", "SHARES", "SHARED", "SHARED", "SHARING", "TF"), ("WRAP", "WRAPS", "WRAPPED", "WRAPPED", "WRAPPING", "T"),
]
READABLE = W("BOOK LETTER MAP NOTE NEWSPAPER STORY POEM MESSAGE RECIPE")
BALLS = W("BALL")
FILLABLE = W("CUP GLASS BOTTLE JAR BUCKET BAG BASKET BOX KETTLE SUITCASE")
# base, third person, past, -ing
INTRANS = [
    ("SLEEP", "SLEEPS", "SLEPT", "SLEEPING"), ("RUN", "RUNS", "RAN", "RUNNING"), ("JUMP", "JUMPS", "JUMPED", "JUMPING"),
    ("SING", "SINGS", "SANG", "SINGING"), ("WAIT", "WAITS", "WAITED", "WAITING"), ("LAUGH", "LAUGHS", "LAUGHED", "LAUGHING"),
    ("SWIM", "SWIMS", "SWAM", "SWIMMING"), ("WALK", "WALKS", "WALKED", "WALKING"), ("DANCE", "DANCES", "DANCED", "DANCING"),
    ("SMILE", "SMILES", "SMILED", "SMILING"), ("WORK", "WORKS", "WORKED", "WORKING"), ("READ", "READS", "READ", "READING"),
    ("COOK", "COOKS", "COOKED", "COOKING"), ("SHOUT", "SHOUTS", "SHOUTED", "SHOUTING"), ("REST", "RESTS", "RESTED", "RESTING"),
    ("CRY", "CRIES", "CRIED", "CRYING"), ("TRAVEL", "TRAVELS", "TRAVELLED", "TRAVELLING"),
    ("ARRIVE", "ARRIVES", "ARRIVED", "ARRIVING"), ("LEAVE", "LEAVES", "LEFT", "LEAVING"), ("FALL", "FALLS", "FELL", "FALLING"),
    ("CLIMB", "CLIMBS", "CLIMBED", "CLIMBING"), ("SIT", "SITS", "SAT", "SITTING"), ("WIN", "WINS", "WON", "WINNING"),
    ("LISTEN", "LISTENS", "LISTENED", "LISTENING"), ("PLAY", "PLAYS", "PLAYED", "PLAYING"), ("STUDY", "STUDIES", "STUDIED", "STUDYING"),
    ("WRITE", "WRITES", "WROTE", "WRITING"), ("DRIVE", "DRIVES", "DROVE", "DRIVING"), ("HIDE", "HIDES", "HID", "HIDING"),
    ("WHISTLE", "WHISTLES", "WHISTLED", "WHISTLING"), ("PRACTISE", "PRACTISES", "PRACTISED", "PRACTISING"),
]
ADVS = W("QUICKLY SLOWLY QUIETLY LOUDLY CAREFULLY HAPPILY EARLY LATE TOGETHER ALONE AGAIN "
         "OUTSIDE UPSTAIRS DOWNSTAIRS AWAY HOME")
INTENS = W("VERY REALLY QUITE TOO SO RATHER EXTREMELY")
FREQ = W("ALWAYS USUALLY OFTEN SOMETIMES NEVER RARELY")
DAYS = W("MONDAY TUESDAY WEDNESDAY THURSDAY FRIDAY SATURDAY SUNDAY")
MONTHS = W("JANUARY FEBRUARY MARCH APRIL MAY JUNE JULY AUGUST SEPTEMBER OCTOBER NOVEMBER DECEMBER")
PRONOUNS = W("I YOU HE SHE WE THEY")
OBJ_PRONOUN = {"I": "ME", "YOU": "YOU", "HE": "HIM", "SHE": "HER", "WE": "US", "THEY": "THEM"}
POSSESSIVE = {"I": "MY", "YOU": "YOUR", "HE": "HIS", "SHE": "HER", "WE": "OUR", "THEY": "THEIR"}
BE_CONTR = {"I": "I'M", "YOU": "YOU'RE", "HE": "HE'S", "SHE": "SHE'S", "WE": "WE'RE", "THEY": "THEY'RE"}
WILL_CONTR = {"I": "I'LL", "YOU": "YOU'LL", "HE": "HE'LL", "SHE": "SHE'LL", "WE": "WE'LL", "THEY": "THEY'LL"}
HAVE_CONTR = {"I": "I'VE", "YOU": "YOU'VE", "HE": "HE'S", "SHE": "SHE'S", "WE": "WE'VE", "THEY": "THEY'VE"}
WOULD_CONTR = {"I": "I'D", "YOU": "YOU'D", "HE": "HE'D", "SHE": "SHE'D", "WE": "WE'D", "THEY": "THEY'D"}
PHRASES = ("GOOD MORNING|GOOD NIGHT|GOOD EVENING|THANK YOU|THANK YOU VERY MUCH|SEE YOU LATER|"
           "SEE YOU TOMORROW|WELL DONE|EXCUSE ME|HOW ARE YOU|WHAT'S YOUR NAME|WHERE'S THE STATION|"
           "I DON'T KNOW|I'M NOT SURE|THAT'S RIGHT|THAT'S WRONG|LET'S GO|LET'S WAIT|IT'S LATE|"
           "IT'S EARLY|DON'T WORRY|WHO'S THERE|I CAN'T HEAR YOU|WE WON'T STAY|IT ISN'T FAIR|"
           "COME IN PLEASE|SIT DOWN PLEASE|HAPPY BIRTHDAY|NOT AGAIN|JUST A MINUTE|NEVER MIND|"
           "OF COURSE|WHAT A LOVELY DAY|HOLD ON|GOOD LUCK|NO THANKS|YES PLEASE|I'M SORRY|"
           "WHAT TIME IS IT|WHAT'S THE MATTER|WAIT FOR ME|HURRY UP|BE CAREFUL|I'M COMING|"
           "THAT'S GREAT|HAVE A NICE DAY|I DON'T THINK SO|IT DOESN'T MATTER|WHAT HAPPENED|"
           "DON'T BE LATE|I'LL BE BACK SOON|CAN I HELP YOU|HOW MUCH IS IT|WHERE ARE YOU GOING|"
           "NICE TO MEET YOU|SEE YOU ON MONDAY|I'M ON MY WAY|THAT'S ENOUGH|IT'S YOUR TURN").split("|")
QUESTION_START = set(W("WHERE WHERE'S WHAT WHAT'S WHO WHO'S WHY WHEN HOW WHICH WHOSE CAN COULD WOULD "
                       "WILL DID DO DOES IS ARE WAS WERE HAVE HAS SHALL SHOULD ISN'T AREN'T"))
NOT_A_AN = set(W("ONE USEFUL UNIFORM USUAL EUROPEAN"))


def pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def plural(n):
    if n in IRREGULAR_PLURAL:
        return IRREGULAR_PLURAL[n]
    if n.endswith(("S", "X", "Z", "CH", "SH")):
        return n + "ES"
    if n.endswith("Y") and n[-2] not in "AEIOU":
        return n[:-1] + "IES"
    return n + "S"


ONES = W("ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE TEN ELEVEN TWELVE THIRTEEN FOURTEEN "
         "FIFTEEN SIXTEEN SEVENTEEN EIGHTEEN NINETEEN")
TENS = W("_ _ TWENTY THIRTY FORTY FIFTY SIXTY SEVENTY EIGHTY NINETY")
ORD_IRREG = {1: "FIRST", 2: "SECOND", 3: "THIRD", 5: "FIFTH", 8: "EIGHTH", 9: "NINTH", 12: "TWELFTH",
             20: "TWENTIETH", 30: "THIRTIETH"}


def number(n):
    """Cardinal in words, British style ("THREE HUNDRED AND TWELVE"), 0 <= n < 1000000."""
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        h = ONES[n // 100] + " HUNDRED"
        return h if n % 100 == 0 else h + " AND " + number(n % 100)
    t = number(n // 1000) + " THOUSAND"
    r = n % 1000
    return t if r == 0 else t + (" AND " if r < 100 else " ") + number(r)


def ordinal(n):
    if n in ORD_IRREG:
        return ORD_IRREG[n]
    if n > 20 and n % 10:
        return TENS[n // 10] + " " + ordinal(n % 10)
    return ONES[n] + "TH"


def year(y):
    if 2000 <= y < 2010:
        return "TWO THOUSAND" + ("" if y == 2000 else " AND " + ONES[y - 2000])
    hi, lo = divmod(y, 100)
    if lo == 0:
        return number(hi) + " HUNDRED"
    return number(hi) + " " + ("OH " + ONES[lo] if lo < 10 else number(lo))


def clock(rng):
    h = int(rng.integers(1, 13))
    r = rng.random()
    if r < 0.25:
        return f"{number(h)} O'CLOCK"
    if r < 0.45:
        return f"HALF PAST {number(h)}"
    if r < 0.6:
        return f"QUARTER {pick(rng, ['PAST', 'TO'])} {number(h)}"
    if r < 0.75:
        return f"{number(int(rng.choice([5, 10, 20, 25])))} {pick(rng, ['PAST', 'TO'])} {number(h)}"
    return f"{number(h)} {number(int(rng.integers(10, 60)))}"


def times(rng, tense):
    """A time adverbial that fits the tense ("past", "future", "now", "habit")."""
    if tense == "past":
        return pick(rng, ["YESTERDAY", "LAST NIGHT", "THIS MORNING", "LAST WEEK", "LAST YEAR",
                          f"ON {pick(rng, DAYS)}", f"LAST {pick(rng, DAYS)}", f"IN {pick(rng, MONTHS)}",
                          f"AT {clock(rng)}", f"{number(int(rng.integers(2, 12)))} DAYS AGO",
                          f"{number(int(rng.choice([5, 10, 20, 30])))} MINUTES AGO", "BEFORE LUNCH",
                          "AFTER DINNER", "YESTERDAY AFTERNOON", "AT MIDNIGHT", "A LONG TIME AGO"])
    if tense == "future":
        return pick(rng, ["TOMORROW", "TONIGHT", "NEXT WEEK", "NEXT YEAR", "SOON", "LATER",
                          f"ON {pick(rng, DAYS)}", f"NEXT {pick(rng, DAYS)}", f"IN {pick(rng, MONTHS)}",
                          f"AT {clock(rng)}", f"IN {number(int(rng.integers(2, 11)))} MINUTES",
                          "THIS AFTERNOON", "THIS EVENING", "AFTER LUNCH", "TOMORROW MORNING"])
    if tense == "habit":
        return pick(rng, ["EVERY DAY", "EVERY MORNING", "EVERY WEEK", "ON SUNDAYS", "AT WEEKENDS",
                          f"ON {pick(rng, DAYS)}S", "IN THE EVENING", "IN THE MORNING", "AFTER SCHOOL",
                          "AFTER WORK", "IN SUMMER", "IN WINTER", f"AT {clock(rng)}"])
    return pick(rng, ["NOW", "RIGHT NOW", "TODAY", "AT THE MOMENT", "THIS MORNING", "TONIGHT", "AGAIN"])


def place(rng):
    r = rng.random()
    if r < 0.6:
        prep = pick(rng, ["IN THE", "IN THE", "AT THE", "NEAR THE", "BEHIND THE", "OUTSIDE THE", "BY THE",
                          "NEXT TO THE", "OPPOSITE THE", "IN FRONT OF THE", "ACROSS THE"])
        return f"{prep} {pick(rng, PLACE_NOUNS)}"
    if r < 0.85:
        return pick(rng, ["AT HOME", "IN TOWN", "UPSTAIRS", "DOWNSTAIRS", "OUTSIDE", "NEXT DOOR", "AT WORK",
                          "IN BED", "ON THE HILL", "ON THE BEACH", "ON THE BRIDGE", "AT SCHOOL",
                          "IN THE CITY", "BY THE SEA", "ON THE TRAIN", "ON THE BUS", "IN THE RAIN"])
    return spot(rng)


def spot(rng):
    """Where a thing lies."""
    prep = pick(rng, ["ON THE", "UNDER THE", "IN THE", "BEHIND THE", "NEXT TO THE", "NEAR THE"])
    return f"{prep} {pick(rng, W('TABLE SHELF FLOOR SOFA CHAIR BED BOX BAG DRAWER CUPBOARD CAR DOOR WINDOW DESK'))}"


def det(rng, owner=True):
    if owner and rng.random() < 0.1:
        return pick(rng, NAMES) + "'S" if rng.random() < 0.7 else f"THE {pick(rng, PEOPLE)}'S"
    dets = ["THE", "THE", "THE", "A", "A", "THIS", "THAT"]
    if owner:
        dets += ["MY", "YOUR", "HIS", "HER", "OUR", "THEIR"]
    return pick(rng, dets)


def np_(rng, pool, adj_p=0.35, plural_p=0.0):
    if rng.random() < plural_p:
        return np_plural(rng, pool, adj_p)
    words = [pick(rng, ADJS if rng.random() < 0.7 else COLOURS)] if rng.random() < adj_p else []
    return " ".join([det(rng)] + words + [pick(rng, pool)])


def np_plural(rng, pool, adj_p=0.35):
    d = pick(rng, ["THE", "THE", "SOME", "MY", "YOUR", "OUR", "THEIR", "THOSE", "THESE", "ALL THE",
                   "TWO", "THREE", "FOUR", "FIVE", "SIX", "TEN", "TWENTY", "MANY"])
    words = [pick(rng, ADJS if rng.random() < 0.7 else COLOURS)] if rng.random() < adj_p else []
    return " ".join([d] + words + [plural(pick(rng, pool))])


def obj(rng, kind, adj_p=0.3):
    """An object noun phrase for a verb of the given object kinds (T thing, F food, A animal,
    P person, R readable, C fillable, B ball)."""
    k = pick(rng, kind)
    if k == "T":
        return np_(rng, THINGS, adj_p, 0.2)
    if k == "F":
        r = rng.random()
        if r < 0.25:
            return f"{pick(rng, ['SOME', 'THE', 'A LITTLE', 'MORE', 'A LOT OF'])} {pick(rng, MASS)}"
        if r < 0.4:
            return f"A {pick(rng, CONTAINERS)} OF {pick(rng, MASS)}"
        return np_(rng, FOOD, adj_p, 0.35)
    if k == "A":
        return np_(rng, ANIMALS, adj_p, 0.25)
    if k == "P":
        r = rng.random()
        if r < 0.35:
            return pick(rng, NAMES)
        if r < 0.5:
            return pick(rng, list(OBJ_PRONOUN.values()))
        return np_(rng, PEOPLE, adj_p, 0.2)
    if k == "R":
        return np_(rng, READABLE, adj_p, 0.2)
    if k == "C":
        return np_(rng, FILLABLE, adj_p * 0.5, 0.2)
    return np_(rng, BALLS, adj_p)


def subject(rng, pron_p=0.3):
    """(text, person) with person in PRONOUNS, "3S" or "PL"."""
    r = rng.random()
    if r < pron_p:
        p = pick(rng, PRONOUNS)
        return p, p
    r = rng.random()
    if r < 0.4:
        return pick(rng, NAMES), "3S"
    if r < 0.55:
        return f"{pick(rng, NAMES)} AND {pick(rng, NAMES)}", "PL"
    if r < 0.85:
        return np_(rng, PEOPLE + ANIMALS, 0.25), "3S"
    return np_plural(rng, PEOPLE + ANIMALS, 0.25), "PL"


def third(person):
    return person in ("HE", "SHE", "3S")


def be(person, past=False):
    if past:
        return "WAS" if person in ("I", "HE", "SHE", "3S") else "WERE"
    return "AM" if person == "I" else "IS" if third(person) else "ARE"


def be_contr(s, person):
    """Subject plus present "be", contracted where it's natural."""
    if person in BE_CONTR:
        return BE_CONTR[person]
    if person == "3S" and " " not in s:
        return s + "'S"  # JOHN'S
    return f"{s} {be(person)}"


def pres(v, person):
    return v[1] if third(person) else v[0]


def clause_past(rng):
    s, _ = subject(rng, 0.35)
    if rng.random() < 0.6:
        v = pick(rng, VERBS)
        return f"{s} {v[2]} {obj(rng, v[5], 0.2)}"
    iv = pick(rng, INTRANS)
    return f"{s} {iv[2]}{' ' + pick(rng, ADVS) if rng.random() < 0.3 else ''}"


def clause_present(rng):
    s, p = subject(rng, 0.4)
    if rng.random() < 0.6:
        v = pick(rng, VERBS)
        return f"{s} {pres(v, p)} {obj(rng, v[5], 0.2)}"
    r = rng.random()
    if r < 0.5:
        return f"{s} {be(p)} {pick(rng, PERSON_ADJS)}"
    iv = pick(rng, INTRANS)
    return f"{s} {pres(iv, p)}"


def opt(rng, p, text):
    return " " + text if rng.random() < p else ""


# --- templates: each returns the sentence (commas allowed: they shape the prosody and are
# removed from the transcript); questions are detected from the first word -------------------
def t_past(rng):
    s, _ = subject(rng)
    v = pick(rng, VERBS)
    return f"{s} {v[2]} {obj(rng, v[5])}{opt(rng, 0.25, place(rng))}{opt(rng, 0.3, times(rng, 'past'))}"


def t_past_intr(rng):
    s, _ = subject(rng)
    iv = pick(rng, INTRANS)
    return f"{s} {iv[2]}{opt(rng, 0.35, pick(rng, ADVS))}{opt(rng, 0.3, place(rng))}{opt(rng, 0.3, times(rng, 'past'))}"


def t_habit(rng):
    s, p = subject(rng)
    if rng.random() < 0.6:
        v = pick(rng, VERBS)
        body = f"{pres(v, p)} {obj(rng, v[5])}"
    else:
        iv = pick(rng, INTRANS)
        body = f"{pres(iv, p)}{opt(rng, 0.4, place(rng))}"
    freq = pick(rng, FREQ) + " " if rng.random() < 0.5 else ""
    return f"{s} {freq}{body}{opt(rng, 0.5, times(rng, 'habit'))}"


def t_neg(rng):
    s, p = subject(rng, 0.5)
    v = pick(rng, VERBS)
    r = rng.random()
    if r < 0.45:
        aux, tense = ("DOESN'T" if third(p) else "DON'T"), "habit"
    elif r < 0.8:
        aux, tense = "DIDN'T", "past"
    else:
        aux, tense = pick(rng, ["WON'T", "CAN'T", "COULDN'T", "SHOULDN'T", "WOULDN'T"]), "future"
    return f"{s} {aux} {v[0]} {obj(rng, v[5])}{opt(rng, 0.3, times(rng, tense))}"


def t_progressive(rng):
    s, p = subject(rng, 0.5)
    if rng.random() < 0.5:
        v = pick(rng, VERBS)
        body = f"{v[4]} {obj(rng, v[5])}"
    else:
        iv = pick(rng, INTRANS)
        body = f"{iv[3]}{opt(rng, 0.5, place(rng))}"
    if rng.random() < 0.25:
        return f"{s} {be(p, past=True)} {body}{opt(rng, 0.4, times(rng, 'past'))}"
    return f"{be_contr(s, p)} {body}{opt(rng, 0.3, times(rng, 'now'))}"


def t_future(rng):
    s, p = subject(rng, 0.5)
    v = pick(rng, VERBS)
    r = rng.random()
    if r < 0.45 and p in WILL_CONTR:
        head = WILL_CONTR[p]
    elif r < 0.7:
        head = f"{s} WILL"
    else:
        head = f"{be_contr(s, p)} GOING TO"
    return f"{head} {v[0]} {obj(rng, v[5])}{opt(rng, 0.6, times(rng, 'future'))}"


def t_perfect(rng):
    s, p = subject(rng, 0.6)
    v = pick(rng, VERBS)
    head = HAVE_CONTR[p] if p in HAVE_CONTR else f"{s} {'HAS' if third(p) else 'HAVE'}"
    if rng.random() < 0.2:
        head = s + " " + ("HASN'T" if third(p) else "HAVEN'T")
    adv = pick(rng, ["", "", "NEVER ", "JUST ", "ALREADY ", "ALWAYS "]) if "'T" not in head else ""
    return f"{head} {adv}{v[3]} {obj(rng, v[5])}{opt(rng, 0.2, 'BEFORE')}"


def t_modal(rng):
    s, _ = subject(rng)
    v = pick(rng, VERBS)
    modal = pick(rng, ["CAN'T", "WON'T", "COULDN'T", "SHOULDN'T", "CAN", "MUST", "MIGHT", "SHOULD", "COULD",
                       "WOULD", "MAY"])
    return f"{s} {modal} {v[0]} {obj(rng, v[5])}{opt(rng, 0.25, place(rng))}"


def t_describe(rng):
    noun = pick(rng, THINGS + ANIMALS + FOOD + VEHICLES + PLACE_NOUNS)
    verb = pick(rng, ["IS", "WAS", "ISN'T", "WASN'T", "LOOKS", "SEEMS", "LOOKED", "FEELS", "SMELLS"])
    d = pick(rng, ["THE", "THE", "THIS", "THAT", "MY", "YOUR", "OUR"])
    return f"{d} {noun} {verb}{opt(rng, 0.4, pick(rng, INTENS))} {pick(rng, ADJS + COLOURS)}{opt(rng, 0.2, times(rng, 'now'))}"


def t_feel(rng):
    s, p = subject(rng, 0.6)
    past = rng.random() < 0.4
    head = f"{s} {be(p, past)}" if past or rng.random() < 0.4 else be_contr(s, p)
    tail = opt(rng, 0.3, times(rng, "past" if past else "now"))
    return f"{head}{opt(rng, 0.4, pick(rng, INTENS))} {pick(rng, PERSON_ADJS)}{tail}"


def t_it(rng):
    r = rng.random()
    if r < 0.4:
        return f"IT'S{opt(rng, 0.5, pick(rng, INTENS))} {pick(rng, ADJS)}{opt(rng, 0.4, times(rng, 'now'))}"
    if r < 0.7:
        w = pick(rng, ["RAINING", "SNOWING", "GETTING DARK", "GETTING LATE", "VERY WINDY", "SUNNY", "FOGGY",
                       "TOO HOT", "FREEZING"])
        return f"IT'S {w}{opt(rng, 0.4, pick(rng, ['AGAIN', 'OUTSIDE', 'TODAY', 'IN TOWN']))}"
    if r < 0.85:
        return f"IT WAS{opt(rng, 0.5, pick(rng, INTENS))} {pick(rng, ADJS)} {times(rng, 'past')}"
    return f"IT'S GOING TO {pick(rng, ['RAIN', 'SNOW', 'BE COLD', 'BE SUNNY', 'BE A LONG DAY'])} {times(rng, 'future')}"


def t_possessive(rng):
    owner = pick(rng, NAMES) if rng.random() < 0.6 else "THE " + pick(rng, PEOPLE)
    thing = pick(rng, THINGS + ANIMALS)
    r = rng.random()
    if r < 0.35:
        return f"THAT'S {owner}'S {thing}"
    if r < 0.7:
        return f"{owner}'S {thing} {pick(rng, ['IS', 'WAS', 'LOOKS'])}{opt(rng, 0.3, pick(rng, INTENS))} {pick(rng, ADJS + COLOURS)}"
    if r < 0.85:
        return f"IS THIS YOUR {thing}"
    return f"WHOSE {thing} IS THIS"


def t_there(rng):
    r = rng.random()
    if r < 0.45:
        return f"THERE'S {np_(rng, THINGS + ANIMALS + FOOD, 0.3).replace('THE ', 'A ', 1)} {spot(rng) if rng.random() < 0.5 else place(rng)}"
    n = int(rng.integers(2, 30)) if rng.random() < 0.8 else int(rng.integers(30, 500))
    verb = pick(rng, ["ARE", "WERE"])
    return f"THERE {verb} {number(n)}{opt(rng, 0.3, pick(rng, ADJS))} {plural(pick(rng, THINGS + ANIMALS + PEOPLE))} {place(rng)}"


def t_wh(rng):
    s, p = subject(rng, 0.5)
    v = pick(rng, VERBS)
    r = rng.random()
    if r < 0.15:
        return f"WHERE DID {s} {pick(rng, ['PUT', 'FIND', 'LEAVE', 'BUY', 'HIDE'])} {obj(rng, 'T', 0.2)}"
    if r < 0.3:
        q = pick(rng, ["WHERE IS", "WHERE'S", "WHAT'S IN", "WHY IS", "HOW OLD IS", "WHAT COLOUR IS"])
        return f"{q} {np_(rng, THINGS + ANIMALS, 0.3)}"
    if r < 0.42:
        return f"WHAT {be(p) if p != 'I' else 'AM'} {s} {v[4]}{opt(rng, 0.4, times(rng, 'now'))}"
    if r < 0.54:
        aux = pick(rng, ["DIDN'T", "DID", "CAN'T", "WON'T", "SHOULD"])
        return f"WHY {aux} {s} {v[0]} {obj(rng, v[5])}"
    if r < 0.66:
        return f"WHO {v[2]} {pick(rng, ['MY', 'THE', 'YOUR', 'OUR'])} {pick(rng, THINGS)}"
    if r < 0.76:
        return f"WHEN {'DOES' if rng.random() < 0.6 else 'DID'} THE {pick(rng, VEHICLES)} {pick(rng, ['LEAVE', 'ARRIVE', 'STOP HERE'])}"
    if r < 0.88:
        n = pick(rng, THINGS + FOOD + ANIMALS)
        return f"HOW MANY {plural(n)} {pick(rng, ['DID', 'DO', 'CAN', 'WILL'])} {s} {pick(rng, ['BUY', 'NEED', 'SEE', 'FIND', 'WANT', 'SELL'])}"
    return f"WHICH {pick(rng, THINGS + FOOD)} {pick(rng, ['DO YOU WANT', 'DID YOU CHOOSE', 'IS YOURS', 'IS BETTER', 'SHOULD I TAKE'])}"


def t_yesno(rng):
    v = pick(rng, VERBS)
    r = rng.random()
    if r < 0.25:
        return f"{pick(rng, ['CAN', 'COULD', 'WOULD', 'WILL'])} YOU {v[0]} {obj(rng, v[5])}{opt(rng, 0.4, pick(rng, ['PLEASE', 'FOR ME', 'TODAY']))}"
    s, p = subject(rng, 0.4)
    if r < 0.45:
        return f"{'DID' if rng.random() < 0.6 else 'DOES' if third(p) else 'DO'} {s} {v[0]} {obj(rng, v[5])}"
    if r < 0.6:
        aux = pick(rng, ["IS", "WAS", "ISN'T"])
        return f"{aux} THE {pick(rng, THINGS + ANIMALS + VEHICLES)}{opt(rng, 0.3, pick(rng, INTENS))} {pick(rng, ADJS)}"
    if r < 0.75:
        aux = pick(rng, ["HAVE", "HAVEN'T"])
        return f"{aux} YOU {pick(rng, ['SEEN', 'FOUND', 'MOVED', 'TAKEN'])} {pick(rng, ['MY', 'THE', 'OUR'])} {pick(rng, THINGS)}"
    if r < 0.87:
        aux = "DO" if rng.random() < 0.7 else "DON'T"
        return f"{aux} YOU {pick(rng, ['LIKE', 'WANT', 'NEED', 'REMEMBER'])} {np_(rng, THINGS + ANIMALS + FOOD, 0.2, 0.5)}"
    aux = pick(rng, ["ARE", "AREN'T"])
    return f"{aux} YOU {pick(rng, PERSON_ADJS)}{opt(rng, 0.3, times(rng, 'now'))}"


def t_imperative(rng):
    v = pick(rng, VERBS)
    start = pick(rng, ["PLEASE", "DON'T", "PLEASE DON'T", "LET'S", "", "", "NOW", "YOU MUST"])
    return f"{start} {v[0]} {obj(rng, v[5])}{opt(rng, 0.3, spot(rng) if rng.random() < 0.5 else times(rng, 'future'))}".strip()


def t_compound(rng):
    conj = pick(rng, ["AND", "AND", "BUT", "SO", "THEN"])
    sep = "," if rng.random() < 0.7 else ""
    return f"{clause_past(rng)}{sep} {conj} {clause_past(rng)}"


def t_subordinate(rng):
    r = rng.random()
    if r < 0.3:
        s, p = subject(rng, 0.5)
        v = pick(rng, VERBS)
        main = f"{WILL_CONTR[p] if p in WILL_CONTR else s + ' WILL'} {v[0]} {obj(rng, v[5], 0.2)}"
        return f"IF {clause_present(rng)}, {main}"
    conj = pick(rng, ["WHEN", "BECAUSE", "AFTER", "BEFORE", "WHILE", "AS SOON AS", "ALTHOUGH"])
    first, second = clause_past(rng), clause_past(rng)
    return f"{conj} {first}, {second}" if rng.random() < 0.5 else f"{second} {conj} {first}"


def t_report(rng):
    head = pick(rng, ["I THINK", "I DON'T THINK", "DID YOU KNOW THAT", "I KNOW", "SHE SAID", "HE SAID THAT",
                      f"{pick(rng, NAMES)} SAID", "WE HEARD THAT", "THEY TOLD ME", "I'M SURE", "I HOPE"])
    return f"{head} {clause_past(rng) if rng.random() < 0.5 else clause_present(rng)}"


def t_compare(rng):
    adj, comp = pick(rng, ADJ_TABLE)
    comp = comp or f"MORE {adj}"
    r = rng.random()
    if r < 0.4:
        pool = pick(rng, [THINGS, ANIMALS, VEHICLES, PLACE_NOUNS, FOOD])
        a, b = pick(rng, pool), pick(rng, pool)
        verb = pick(rng, ["IS", "WAS", "LOOKS", "ISN'T"])
        return f"THE {a} {verb} {comp} THAN THE {b}"
    if r < 0.7:
        return f"{pick(rng, NAMES)} IS {comp} THAN {pick(rng, NAMES + ['HIS ' + x for x in W('BROTHER SISTER FATHER FRIEND')])}"
    if r < 0.85:
        return f"{pick(rng, ['THIS', 'THAT', 'MY', 'YOUR'])} {pick(rng, THINGS + VEHICLES)} IS THE {'BEST' if rng.random() < 0.5 else 'WORST'}"
    return f"IT'S GETTING {comp}{opt(rng, 0.5, 'AND ' + comp)}"


def t_infinitive(rng):
    s, p = subject(rng)
    v = pick(rng, VERBS)
    head = pick(rng, ["WANTED", "NEEDED", "TRIED", "FORGOT", "DECIDED", "PROMISED", "HOPED", "STARTED",
                      "WANTS" if third(p) else "WANT", "NEEDS" if third(p) else "NEED",
                      "LIKES" if third(p) else "LIKE", "HAS" if third(p) else "HAVE"])
    return f"{s} {head} TO {v[0]} {obj(rng, v[5])}{opt(rng, 0.3, times(rng, 'future' if head in ('WANTS', 'WANT', 'NEEDS', 'NEED', 'HAS', 'HAVE') else 'past'))}"


def t_numbers(rng):
    r = rng.random()
    n = int(rng.integers(2, 25)) if rng.random() < 0.75 else int(rng.integers(25, 1000))
    if r < 0.2:
        s, _ = subject(rng)
        return f"{s} {pick(rng, ['BOUGHT', 'FOUND', 'SOLD', 'SAW', 'COUNTED', 'NEEDED'])} {number(n)}{opt(rng, 0.3, pick(rng, ADJS + COLOURS))} {plural(pick(rng, THINGS + FOOD + ANIMALS))}"
    if r < 0.35:
        money = pick(rng, ["POUNDS", "DOLLARS", "EUROS"])
        cents = opt(rng, 0.3, f"AND {number(int(rng.choice([10, 20, 25, 50, 75, 99])))} {'PENCE' if money == 'POUNDS' else 'CENTS'}")
        return f"{pick(rng, ['THE', 'THIS', 'THAT', 'MY'])} {pick(rng, THINGS + FOOD)} {pick(rng, ['COSTS', 'COST'])} {number(n)} {money}{cents}"
    if r < 0.5:
        return f"THE {pick(rng, VEHICLES)} {pick(rng, ['LEAVES', 'ARRIVES', 'LEFT', 'ARRIVED', 'STOPS HERE'])} AT {clock(rng)}"
    if r < 0.62:
        return f"{pick(rng, ['WE MET', 'I ARRIVED', 'THEY LEFT', 'SHE CALLED', 'HE CAME BACK', 'IT SNOWED'])} ON THE {ordinal(int(rng.integers(1, 32)))} OF {pick(rng, MONTHS)}"
    if r < 0.72:
        return f"{pick(rng, NAMES)} WAS BORN IN {year(int(rng.integers(1920, 2024)))}"
    if r < 0.82:
        who = pick(rng, ["MY " + pick(rng, W("GRANDMOTHER GRANDFATHER BROTHER SISTER UNCLE AUNT FRIEND")), pick(rng, NAMES)])
        return f"{who} IS {number(int(rng.integers(2, 99)))}{opt(rng, 0.5, 'YEARS OLD')}"
    if r < 0.9:
        return f"{pick(rng, ['ROOM', 'HOUSE', 'BUS', 'PLATFORM', 'GATE'])} NUMBER {number(int(rng.integers(1, 400)))} IS {pick(rng, ['CLOSED', 'OVER THERE', 'ON THE LEFT', 'ON THE RIGHT', 'UPSTAIRS', 'EMPTY'])}"
    if r < 0.95:
        digits = " ".join(pick(rng, ONES[:10] + ["OH"]).replace("ZERO", "OH") for _ in range(int(rng.integers(4, 7))))
        return f"{pick(rng, ['MY NUMBER IS', 'THE CODE IS', 'CALL', 'THE PASSWORD IS'])} {digits}"
    return f"THE {pick(rng, PLACE_NOUNS)} IS {number(n)} {pick(rng, ['MILES', 'METRES', 'MINUTES'])} AWAY"


def t_request(rng):
    r = rng.random()
    if r < 0.35:
        food = obj(rng, "F", 0.2).replace("THE ", "A ", 1)
        head = pick(rng, ["I'D LIKE", "WE'D LIKE", "CAN I HAVE", "COULD I HAVE", "WOULD YOU LIKE"])
        return f"{head} {food}{opt(rng, 0.4, 'PLEASE')}"
    v = pick(rng, VERBS)
    if r < 0.65:
        p = pick(rng, PRONOUNS)
        return f"{WOULD_CONTR[p]} {pick(rng, ['LIKE TO', 'RATHER', 'LOVE TO'])} {v[0]} {obj(rng, v[5])}{opt(rng, 0.3, times(rng, 'future'))}"
    return f"{pick(rng, ['COULD YOU', 'WOULD YOU', 'CAN YOU', 'PLEASE'])} {v[0]} {obj(rng, v[5])} FOR {pick(rng, ['ME', 'US', 'HIM', 'HER', 'THEM'])}"


def t_exclaim(rng):
    n = pick(rng, THINGS + ANIMALS + PLACE_NOUNS + FOOD)
    a = pick(rng, ADJS)
    art = "AN" if a[0] in "AEIOU" and a not in NOT_A_AN else "A"
    return pick(rng, [f"WHAT {art} {a} {n}", f"LOOK AT THAT {a} {n}", f"LOOK AT THE {n}", f"WHAT {art} {a} DAY"])


def t_phrase(rng):
    return pick(rng, PHRASES)


TEMPLATES = [  # (template, relative frequency)
    (t_past, 3.0), (t_past_intr, 1.6), (t_habit, 1.6), (t_neg, 1.9), (t_progressive, 1.6), (t_future, 1.4),
    (t_perfect, 0.9), (t_modal, 1.0), (t_describe, 1.2), (t_feel, 0.9), (t_it, 0.8), (t_possessive, 0.9),
    (t_there, 0.9), (t_wh, 1.8), (t_yesno, 1.5), (t_imperative, 1.2), (t_compound, 1.6), (t_subordinate, 1.6),
    (t_report, 0.9), (t_compare, 0.8), (t_infinitive, 1.1), (t_numbers, 1.6), (t_request, 0.8),
    (t_exclaim, 0.4), (t_phrase, 1.0),
]
TEMPLATE_P = np.array([w for _, w in TEMPLATES]) / sum(w for _, w in TEMPLATES)


def make_sentence(rng):
    """One random sentence: (text for the synthesizer, transcript). The transcript is upper
    case A-Z / apostrophe / single spaces; the synthesizer text may also hold commas and
    ends with "." or "?"."""
    t = TEMPLATES[int(rng.choice(len(TEMPLATES), p=TEMPLATE_P))][0]
    s = re.sub(r" +", " ", t(rng)).strip()
    s = re.sub(r"\bA (?=([AEIOU]\w*))", lambda m: "A " if m.group(1) in NOT_A_AN else "AN ", s)
    s = re.sub(r"\bAN (?=(U[BCDFGHJKLMNPQRSTVWXZ]I|ONE\b))", "A ", s)  # "A UNICORN", "A ONE"
    words = s.replace(",", "").split()
    text = " ".join(words)
    question = words[0] in QUESTION_START and not (words[0] == "WHAT" and words[1] in ("A", "AN"))
    say = s + ("?" if question else ".")
    return say, text


def make_texts(rng, n_train, n_dev, n_test):
    """Distinct sentences; dev/test sentences only use words seen in the training text."""
    seen = set()

    def draw(vocab=None):
        while True:
            say, text = make_sentence(rng)
            words = text.split()
            if text in seen or not MIN_WORDS <= len(words) <= MAX_WORDS or len(text) > MAX_CHARS:
                continue
            if len(text) < SHORT_CHARS and rng.random() < SHORT_DROP:
                continue  # the grammar favours short sentences; even out the lengths a little
            if vocab is not None and not set(words) <= vocab:
                continue
            seen.add(text)
            return say, text

    train = [draw() for _ in range(n_train)]
    vocab = {w for _, t in train for w in t.split()}
    dev = [draw(vocab) for _ in range(n_dev)]
    test = [draw(vocab) for _ in range(n_test)]
    return train, dev, test


# ----------------------------------------------------------------------------------
# Audio.
# ----------------------------------------------------------------------------------
def run_synth(voice, say, rate_factor, pitch_shift, gap, settings, wav):
    """Run espeak-ng or flite for one utterance; returns (float64 audio, sample rate)."""
    warp = settings["warp"]
    if voice.startswith("flite:"):
        # duration_stretch > 1 is slower; the warp below speeds up by `warp`, so compensate here
        cmd = ["flite", "-voice", voice[6:], "--setf", f"duration_stretch={settings['stretch'] * warp / rate_factor:.4f}"]
        if settings["f0"]:
            cmd += ["--setf", f"int_f0_target_mean={settings['f0'] * pitch_shift:.1f}"]
        cmd += ["-t", say.lower(), "-o", wav]
    else:
        # espeak-ng reads lower-case text more naturally (no acronym spelling of short capitals)
        wpm = int(round(settings["wpm"] * rate_factor / warp))
        pitch = int(np.clip(settings["pitch"] + pitch_shift, 0, 99))
        cmd = ["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "-g", str(gap), "-a", "100",
               "-w", wav, say.lower()]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    x, sr = sf.read(wav, dtype="float64")
    os.remove(wav)
    if x.ndim > 1:
        x = x.mean(axis=1)
    return x, sr


def resample_warp(x, sr, warp):
    """Resample to SAMPLE_RATE / warp and reinterpret as SAMPLE_RATE: pitch and formants
    go up by `warp`, duration down by it (a shorter or longer "vocal tract")."""
    ratio = Fraction(SAMPLE_RATE / (sr * warp)).limit_denominator(400)
    if ratio == 1:
        return x
    return resample_poly(x, ratio.numerator, ratio.denominator)


def synthesize(say, voice, settings, rng, tmpdir, utt_id):
    if voice.startswith("flite:"):
        rate, pitch_shift, gap = rng.uniform(0.92, 1.08), rng.uniform(0.94, 1.06), 0
    else:
        rate, pitch_shift, gap = rng.uniform(0.92, 1.08), int(rng.integers(-6, 7)), int(rng.integers(0, 3))
    x, sr = run_synth(voice, say, rate, pitch_shift, gap, settings, os.path.join(tmpdir, utt_id + ".wav"))
    y = resample_warp(x, sr, settings["warp"])
    # trim leading/trailing silence (-50 dB re. peak), then pad 50-150 ms each side
    peak = np.max(np.abs(y)) if len(y) else 0
    if peak <= 0:
        raise RuntimeError(f"{voice} produced silence for {say!r}")
    idx = np.nonzero(np.abs(y) > peak * 10 ** (-50 / 20))[0]
    y = y[idx[0]:idx[-1] + 1]
    rms = np.sqrt(np.mean(y ** 2))
    pad = rng.integers(int(0.05 * SAMPLE_RATE), int(0.15 * SAMPLE_RATE), size=2)
    y = np.concatenate([np.zeros(pad[0]), y, np.zeros(pad[1])])
    # speaker "channel": mild first-order spectral tilt
    tilt = settings["tilt"]
    if tilt:
        y = y + tilt * np.concatenate([[0.0], np.diff(y)])
    # level: speaker RMS (over speech) +- 3 dB
    level = settings["level"]
    y *= level * 10 ** (rng.uniform(-3, 3) / 20) / rms
    # background noise at high SNR
    y += rng.standard_normal(len(y)) * level * 10 ** (-rng.uniform(50, 65) / 20)
    return np.clip(y, -0.95, 0.95)


# Ogg pages carry a stream serial number that libsndfile draws at random; replace it with
# a fixed one (and fix the page checksums) so that the files are reproducible.
def _ogg_crc_table():
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


OGG_CRC = _ogg_crc_table()


def _ogg_crc(data):
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ OGG_CRC[((crc >> 24) ^ b) & 0xFF]
    return crc


def ogg_set_serial(data, serial):
    out = bytearray()
    pos = 0
    while pos < len(data):
        if data[pos:pos + 4] != b"OggS":
            raise ValueError("not an Ogg page")
        nseg = data[pos + 26]
        size = 27 + nseg + sum(data[pos + 27:pos + 27 + nseg])
        page = bytearray(data[pos:pos + size])
        struct.pack_into("<I", page, 14, serial)
        struct.pack_into("<I", page, 22, 0)
        struct.pack_into("<I", page, 22, _ogg_crc(page))
        out += page
        pos += size
    return bytes(out)


def write_opus(path, y, utt_id):
    tmp = path + ".tmp.opus"
    sf.write(tmp, y, SAMPLE_RATE, format="OGG", subtype="OPUS", compression_level=OPUS_COMPRESSION_LEVEL)
    with open(tmp, "rb") as f:
        data = ogg_set_serial(f.read(), zlib.crc32(utt_id.encode()))
    os.remove(tmp)
    with open(path, "wb") as f:
        f.write(data)


def voice_check(voices):
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
            if v.startswith("flite:"):
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


def utt_rng(utt_id):
    return np.random.default_rng([SEED, zlib.crc32(utt_id.encode())])


def speakers_txt(spk_table, minutes):
    lines = ["; Synthetic speakers of the demo corpus; see ../README.md and make_demo_corpus.py.\n",
             "; WARP: resampling factor (pitch and formants x WARP); TILT: first-order spectral tilt;\n",
             "; CPS: target speaking rate in characters/s; RATE: the espeak-ng words/minute or flite\n",
             "; duration_stretch giving it; PITCH: espeak-ng -p or flite int_f0_target_mean in Hz\n",
             "; (- : the voice's own); LEVEL: speech RMS.\n",
             ";ID  |SUBSET          |MINUTES|VOICE                    |CPS |RATE  |PITCH|WARP |TILT |LEVEL\n"]
    for subset, spk, voice, s in spk_table:
        rate = f"{s['stretch']:.3f}" if "stretch" in s else str(s["wpm"])
        pitch = (str(s["f0"]) if s["f0"] else "-") if "stretch" in s else str(s["pitch"])
        lines.append(f"{spk:<5}|{subset:<16}|{minutes[spk]:>7.2f}|{voice:<25}|{s['cps']:<4}|{rate:<6}|{pitch:<5}|"
                     f"{s['warp']:.3f}|{s['tilt']:+.2f}|{s['level']:.4f}\n")
    return "".join(lines)


def build(out_root, jobs):
    rng = np.random.default_rng(SEED)
    spk_table = set_rates(speakers())
    per_subset = {s: [x for x in spk_table if x[0] == s] for s in SUBSETS}
    def sizes(subset, k):
        return CHAPTER_SIZES[subset][k % len(CHAPTER_SIZES[subset])]
    counts = [sum(sum(sizes(s, k)) for k in range(len(per_subset[s]))) for s in SUBSETS]
    texts = dict(zip(SUBSETS, make_texts(rng, *counts)))

    tasks = []
    for subset in SUBSETS:
        pos = 0
        for j, (_, spk, voice, settings) in enumerate(per_subset[subset]):
            for k, n in enumerate(sizes(subset, j)):
                chapter = spk * 10 + k + 1  # e.g. speaker 1001 -> chapters 10011, 10012
                d = os.path.join(out_root, subset, str(spk), str(chapter))
                os.makedirs(d, exist_ok=True)
                lines = []
                for i, (say, text) in enumerate(texts[subset][pos:pos + n]):
                    assert ALLOWED.match(text), text
                    utt_id = f"{spk}-{chapter}-{i:04d}"
                    lines.append(f"{utt_id} {text}\n")
                    tasks.append((subset, spk, utt_id, os.path.join(d, utt_id + AUDIO_EXT), say, voice, settings))
                pos += n
                with open(os.path.join(d, f"{spk}-{chapter}.trans.txt"), "w", encoding="utf-8", newline="\n") as f:
                    f.writelines(lines)
        assert pos == len(texts[subset])

    tmpdir = tempfile.mkdtemp(prefix="demo-synth-")

    def run(task):
        subset, spk, utt_id, path, say, voice, settings = task
        y = synthesize(say, voice, settings, utt_rng(utt_id), tmpdir, utt_id)
        write_opus(path, y, utt_id)
        return subset, spk, len(y) / SAMPLE_RATE

    try:
        with ThreadPoolExecutor(max_workers=jobs) as ex:
            results = list(ex.map(run, tasks))
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    minutes = {}
    for _, spk, dur in results:
        minutes[spk] = minutes.get(spk, 0.0) + dur / 60
    with open(os.path.join(out_root, "SPEAKERS.TXT"), "w", encoding="utf-8", newline="\n") as f:
        f.write(speakers_txt(spk_table, minutes))
    return results


def corpus_bytes(root):
    total = 0
    for dirpath, _, files in os.walk(root):
        for fn in files:
            if fn.endswith((AUDIO_EXT, ".trans.txt")) or fn == "SPEAKERS.TXT":
                total += os.path.getsize(os.path.join(dirpath, fn))
    return total


def summarize(root):
    """Per-subset table (speakers, utterances, minutes, MB, bytes per minute); returns total bytes."""
    print(f"{'subset':<16}{'spk':>4}{'utts':>6}{'min':>7}{'MB':>7}{'bytes/min':>11}")
    total_b, total_s = 0, 0.0
    for subset in SUBSETS:
        sdir = os.path.join(root, subset)
        n, secs = 0, 0.0
        for dirpath, _, files in os.walk(sdir):
            for fn in files:
                if fn.endswith(AUDIO_EXT):
                    n += 1
                    secs += sf.info(os.path.join(dirpath, fn)).frames / SAMPLE_RATE
        b = corpus_bytes(sdir)
        total_b += b
        total_s += secs
        print(f"{subset:<16}{len(os.listdir(sdir)):>4}{n:>6}{secs / 60:>7.2f}{b / 1e6:>7.2f}{b / (secs / 60):>11.0f}")
    spk_file = os.path.join(root, "SPEAKERS.TXT")
    total_b += os.path.getsize(spk_file) if os.path.exists(spk_file) else 0
    print(f"total (incl. SPEAKERS.TXT): {total_s / 60:.2f} min, {total_b / 1e6:.3f} MB ({total_b} bytes), "
          f"{total_b / (total_s / 60):.0f} bytes per minute of audio")
    return total_b


def check(root):
    """Validate a LibriSpeech-layout tree; print the duration distribution. Returns a list of problems."""
    problems = []
    durs, texts, spk_of = {}, {}, {}
    for subset in SUBSETS:
        sdir = os.path.join(root, subset)
        if not os.path.isdir(sdir):
            problems.append(f"missing subset {subset}")
            continue
        durs[subset], texts[subset], spk_of[subset] = [], [], set(os.listdir(sdir))
        for spk in sorted(os.listdir(sdir)):
            for chap in sorted(os.listdir(os.path.join(sdir, spk))):
                cdir = os.path.join(sdir, spk, chap)
                trans = os.path.join(cdir, f"{spk}-{chap}.trans.txt")
                audio = {f[:-len(AUDIO_EXT)] for f in os.listdir(cdir) if f.endswith(AUDIO_EXT)}
                others = [f for f in os.listdir(cdir) if not f.endswith(AUDIO_EXT) and f != os.path.basename(trans)]
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
                        texts[subset].append(text)
                        if not re.fullmatch(rf"{spk}-{chap}-\d{{4}}", utt):
                            problems.append(f"{trans}:{lineno}: bad utterance id {utt!r}")
                        if not ALLOWED.match(text) or "  " in text or text != text.strip():
                            problems.append(f"{trans}:{lineno}: text outside A-Z, apostrophe, single spaces: {text!r}")
                for utt in sorted(set(ids) - audio):
                    problems.append(f"{trans}: {utt} has no {AUDIO_EXT}")
                for utt in sorted(audio - set(ids)):
                    problems.append(f"{cdir}/{utt}{AUDIO_EXT} has no transcript line")
                if len(ids) != len(set(ids)):
                    problems.append(f"{trans}: duplicate utterance ids")
                for utt in sorted(audio):
                    path = os.path.join(cdir, utt + AUDIO_EXT)
                    try:
                        info = sf.info(path)
                        x, _ = sf.read(path, dtype="float32")
                    except RuntimeError as e:
                        problems.append(f"{path}: unreadable ({e})")
                        continue
                    if (info.samplerate, info.channels, info.format, info.subtype) != (SAMPLE_RATE, 1, "OGG", "OPUS"):
                        problems.append(f"{path}: {info.samplerate} Hz, {info.channels} ch, {info.format}/{info.subtype}")
                    if len(x) == 0 or len(x) != info.frames or np.max(np.abs(x)) >= 0.999:
                        problems.append(f"{path}: empty, truncated or clipped")
                    durs[subset].append(len(x) / SAMPLE_RATE)
    # cross-subset properties
    if len(texts) == len(SUBSETS):
        all_texts = [t for s in SUBSETS for t in texts[s]]
        if len(all_texts) != len(set(all_texts)):
            problems.append(f"{len(all_texts) - len(set(all_texts))} sentences occur more than once")
        vocab = {w for t in texts["train-clean-100"] for w in t.split()}
        for s in SUBSETS[1:]:
            oov = {w for t in texts[s] for w in t.split()} - vocab
            if oov:
                problems.append(f"{s}: words not in the training text: {sorted(oov)[:10]}")
        for a, b in (("train-clean-100", "dev-clean"), ("train-clean-100", "test-clean"), ("dev-clean", "test-clean")):
            if spk_of[a] & spk_of[b]:
                problems.append(f"speakers in both {a} and {b}: {sorted(spk_of[a] & spk_of[b])}")
        n_apos = sum("'" in t for t in all_texts)
        print(f"text: {len(all_texts)} sentences, {len(vocab)} distinct training words, "
              f"{100 * n_apos / max(1, len(all_texts)):.0f} % with an apostrophe, "
              f"{np.mean([len(t.split()) for t in all_texts]):.1f} words on average")
    edges = [0, 1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 100]
    print("duration histogram (s):  " + "  ".join(f"{a:g}-{b:g}" if b < 100 else f">{a:g}" for a, b in zip(edges, edges[1:])))
    for subset, d in durs.items():
        hist, _ = np.histogram(d, bins=edges)
        q = np.percentile(d, [0, 10, 50, 90, 100]) if d else [0] * 5
        print(f"  {subset:<16}" + "  ".join(f"{h:>5d}" for h in hist)
              + "   min/p10/median/p90/max " + "/".join(f"{v:.2f}" for v in q))
    if os.path.isdir(root) and not problems:
        total = summarize(root)
        if total > MAX_BYTES:
            problems.append(f"corpus is {total} bytes, over the {MAX_BYTES} budget")
    return problems


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=here, help="directory to hold LibriSpeech/ (default: next to this script)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel synthesizer processes")
    ap.add_argument("--check-only", action="store_true", help="only validate an existing corpus")
    args = ap.parse_args(argv)
    final = os.path.join(os.path.abspath(args.out), "LibriSpeech")
    if args.check_only:
        problems = check(final)
        print("\n".join(problems) or "corpus OK")
        sys.exit(1 if problems else 0)

    for tool, pkg in (("espeak-ng", "espeak-ng"), ("flite", "flite")):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install {pkg}")
    print(subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip())
    print("flite " + subprocess.run(["flite", "--version"], capture_output=True, text=True).stdout.split("version:")[-1].strip())
    print(f"soundfile {sf.__version__}, libsndfile {sf.__libsndfile_version__}")
    voice_check(TRAIN_VOICES + DEV_VOICES + TEST_VOICES)

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".LibriSpeech.tmp-", dir=out)
    t0 = time.time()
    try:
        build(staging, max(1, args.jobs))
        print(f"synthesized in {time.time() - t0:.0f} s")
        grand = summarize(staging)
        if grand > MAX_BYTES:
            raise SystemExit(f"corpus would be larger than {MAX_BYTES / 1e6:.0f} MB: "
                             "reduce the counts or the bitrate (existing corpus left unchanged)")
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
