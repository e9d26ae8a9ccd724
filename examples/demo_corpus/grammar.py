"""Sentence grammar of the demo corpus: word lists and templates (written for this project).

Pure text generation, no audio: make_texts() draws the distinct training, dev and test
sentences from a numpy Generator. Each sentence comes in two forms: what the synthesizer
says (may hold commas, ends with "." or "?", for natural pauses and question intonation)
and its transcript (upper case A-Z, apostrophe and single spaces, see TRANSCRIPT_RE).
Every draw goes through the Generator in a fixed order, so a seed fixes the sentences.
"""
import re

import numpy as np

MIN_WORDS, MAX_WORDS, MAX_CHARS = 2, 14, 72  # about 1-5 s of speech
SHORT_CHARS, SHORT_DROP = 22, 0.4  # drop 40 % of the sentences shorter than 22 characters
TRANSCRIPT_RE = re.compile(r"^[A-Z' ]+$")


def wordlist(s):
    """"A B C" -> ["A", "B", "C"]."""
    return s.split()


NAMES = wordlist("JOHN MARY PETER ANNA JAMES SARAH TOM LUCY DAVID EMMA GEORGE ALICE FRANK HELEN JACK "
                 "KATE MAX ZOE PAUL RUTH NICK JANE OSCAR VICTOR SAM LAURA BEN CLARA DANIEL GRACE HARRY "
                 "SOPHIE LEO OLIVIA MARTIN NORA SIMON JULIA ADAM ROSE")
PEOPLE = wordlist("KING QUEEN DOCTOR TEACHER FARMER DRIVER BAKER SAILOR CHILD FRIEND NEIGHBOUR NURSE "
                  "PILOT STUDENT BOY GIRL MAN WOMAN UNCLE AUNT BROTHER SISTER MOTHER FATHER BABY CAPTAIN "
                  "GUARD WAITER SINGER PAINTER POSTMAN FISHERMAN GRANDMOTHER GRANDFATHER")
ANIMALS = wordlist("DOG CAT BIRD FISH HORSE COW SHEEP GOAT DUCK FOX MOUSE RABBIT ZEBRA LION TIGER BEAR "
                   "WOLF MONKEY OWL FROG PIG CHICKEN DEER ELEPHANT PARROT SPIDER BEE SQUIRREL")
THINGS = wordlist("BOOK PEN LETTER MAP KEY BOX BAG CUP PLATE SPOON KNIFE BOTTLE JAR VASE LAMP CLOCK CHAIR "
                  "TABLE HAT COAT JACKET SHOE GLOVE SCARF SHIRT PHONE RADIO CAMERA TICKET PICTURE BASKET "
                  "BLANKET PILLOW UMBRELLA NEWSPAPER ENVELOPE WALLET HAMMER ROPE LADDER BUCKET BRUSH MIRROR "
                  "CANDLE TOWEL KETTLE COMPUTER BATTERY GUITAR VIOLIN PARCEL NOTE PUZZLE PRIZE BLAZER QUILT "
                  "JIGSAW BALL KITE DRUM GLASS PENCIL NOTEBOOK SUITCASE CARPET SOFA PAINTING PACKAGE")
FOOD = wordlist("APPLE ORANGE BANANA LEMON PEAR PEACH TOMATO POTATO CARROT ONION EGG CAKE SANDWICH "
                "BISCUIT PIZZA SAUSAGE PIE")
MASS = wordlist("BREAD CHEESE SOUP JUICE MILK TEA COFFEE RICE BUTTER HONEY SUGAR CHOCOLATE WATER")
VEHICLES = wordlist("CAR BUS TRAIN BOAT BIKE VAN TAXI SHIP PLANE TRUCK TRACTOR")
PLACE_NOUNS = wordlist("GARDEN RIVER LAKE HILL ROAD BRIDGE FIELD FOREST BEACH STATION MARKET PARK SCHOOL "
                       "LIBRARY MUSEUM HOSPITAL CHURCH CASTLE HOTEL SHOP BANK KITCHEN OFFICE FACTORY "
                       "HARBOUR AIRPORT VILLAGE ISLAND MOUNTAIN FARM ZOO CINEMA THEATRE")
CONTAINERS = wordlist("CUP GLASS BOTTLE JAR PIECE BOWL")
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
COLOURS = wordlist("RED BLUE GREEN YELLOW BLACK WHITE BROWN GREY PINK PURPLE ORANGE")
PERSON_ADJS = wordlist("TIRED HUNGRY HAPPY SAD BUSY LATE READY ANGRY SURPRISED WORRIED BORED CALM "
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
READABLE = wordlist("BOOK LETTER MAP NOTE NEWSPAPER STORY POEM MESSAGE RECIPE")
BALLS = wordlist("BALL")
FILLABLE = wordlist("CUP GLASS BOTTLE JAR BUCKET BAG BASKET BOX KETTLE SUITCASE")
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
ADVS = wordlist("QUICKLY SLOWLY QUIETLY LOUDLY CAREFULLY HAPPILY EARLY LATE TOGETHER ALONE AGAIN "
                "OUTSIDE UPSTAIRS DOWNSTAIRS AWAY HOME")
INTENS = wordlist("VERY REALLY QUITE TOO SO RATHER EXTREMELY")
FREQ = wordlist("ALWAYS USUALLY OFTEN SOMETIMES NEVER RARELY")
DAYS = wordlist("MONDAY TUESDAY WEDNESDAY THURSDAY FRIDAY SATURDAY SUNDAY")
MONTHS = wordlist("JANUARY FEBRUARY MARCH APRIL MAY JUNE JULY AUGUST SEPTEMBER OCTOBER NOVEMBER DECEMBER")
PRONOUNS = wordlist("I YOU HE SHE WE THEY")
OBJ_PRONOUN = {"I": "ME", "YOU": "YOU", "HE": "HIM", "SHE": "HER", "WE": "US", "THEY": "THEM"}
BE_CONTRACTED = {"I": "I'M", "YOU": "YOU'RE", "HE": "HE'S", "SHE": "SHE'S", "WE": "WE'RE", "THEY": "THEY'RE"}
WILL_CONTRACTED = {"I": "I'LL", "YOU": "YOU'LL", "HE": "HE'LL", "SHE": "SHE'LL", "WE": "WE'LL", "THEY": "THEY'LL"}
HAVE_CONTRACTED = {"I": "I'VE", "YOU": "YOU'VE", "HE": "HE'S", "SHE": "SHE'S", "WE": "WE'VE", "THEY": "THEY'VE"}
WOULD_CONTRACTED = {"I": "I'D", "YOU": "YOU'D", "HE": "HE'D", "SHE": "SHE'D", "WE": "WE'D", "THEY": "THEY'D"}
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
QUESTION_START = set(wordlist("WHERE WHERE'S WHAT WHAT'S WHO WHO'S WHY WHEN HOW WHICH WHOSE CAN COULD WOULD "
                              "WILL DID DO DOES IS ARE WAS WERE HAVE HAS SHALL SHOULD ISN'T AREN'T"))
NOT_A_AN = set(wordlist("ONE USEFUL UNIFORM USUAL EUROPEAN"))


def pick(rng, seq):
    """One element of seq, uniformly."""
    return seq[int(rng.integers(len(seq)))]


def plural(n):
    """Plural of a noun (irregular ones from IRREGULAR_PLURAL)."""
    if n in IRREGULAR_PLURAL:
        return IRREGULAR_PLURAL[n]
    if n.endswith(("S", "X", "Z", "CH", "SH")):
        return n + "ES"
    if n.endswith("Y") and n[-2] not in "AEIOU":
        return n[:-1] + "IES"
    return n + "S"


ONES = wordlist("ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE TEN ELEVEN TWELVE THIRTEEN FOURTEEN "
                "FIFTEEN SIXTEEN SEVENTEEN EIGHTEEN NINETEEN")
TENS = wordlist("_ _ TWENTY THIRTY FORTY FIFTY SIXTY SEVENTY EIGHTY NINETY")
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
    """Ordinal in words ("TWENTY FIRST"), 1 <= n <= 31 (days of the month)."""
    if n in ORD_IRREG:
        return ORD_IRREG[n]
    if n > 20 and n % 10:
        return TENS[n // 10] + " " + ordinal(n % 10)
    return ONES[n] + "TH"


def year(y):
    """A year as it is said: "NINETEEN OH FIVE", "TWO THOUSAND AND THREE", "TWENTY TWELVE"."""
    if 2000 <= y < 2010:
        return "TWO THOUSAND" + ("" if y == 2000 else " AND " + ONES[y - 2000])
    hi, lo = divmod(y, 100)
    if lo == 0:
        return number(hi) + " HUNDRED"
    return number(hi) + " " + ("OH " + ONES[lo] if lo < 10 else number(lo))


def clock(rng):
    """A clock time: "SEVEN O'CLOCK", "HALF PAST TWO", "TEN TO SIX", "FIVE FORTY"..."""
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


def time_phrase(rng, tense):
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


def place_phrase(rng):
    """Where something happens ("IN THE GARDEN", "AT HOME"...)."""
    r = rng.random()
    if r < 0.6:
        prep = pick(rng, ["IN THE", "IN THE", "AT THE", "NEAR THE", "BEHIND THE", "OUTSIDE THE", "BY THE",
                          "NEXT TO THE", "OPPOSITE THE", "IN FRONT OF THE", "ACROSS THE"])
        return f"{prep} {pick(rng, PLACE_NOUNS)}"
    if r < 0.85:
        return pick(rng, ["AT HOME", "IN TOWN", "UPSTAIRS", "DOWNSTAIRS", "OUTSIDE", "NEXT DOOR", "AT WORK",
                          "IN BED", "ON THE HILL", "ON THE BEACH", "ON THE BRIDGE", "AT SCHOOL",
                          "IN THE CITY", "BY THE SEA", "ON THE TRAIN", "ON THE BUS", "IN THE RAIN"])
    return spot_phrase(rng)


def spot_phrase(rng):
    """Where a thing lies."""
    prep = pick(rng, ["ON THE", "UNDER THE", "IN THE", "BEHIND THE", "NEXT TO THE", "NEAR THE"])
    return f"{prep} {pick(rng, wordlist('TABLE SHELF FLOOR SOFA CHAIR BED BOX BAG DRAWER CUPBOARD CAR DOOR WINDOW DESK'))}"


def determiner(rng, owner=True):
    """THE, A, THIS... or, with owner=True, also a possessive (MY, JOHN'S...)."""
    if owner and rng.random() < 0.1:
        return pick(rng, NAMES) + "'S" if rng.random() < 0.7 else f"THE {pick(rng, PEOPLE)}'S"
    dets = ["THE", "THE", "THE", "A", "A", "THIS", "THAT"]
    if owner:
        dets += ["MY", "YOUR", "HIS", "HER", "OUR", "THEIR"]
    return pick(rng, dets)


def noun_phrase(rng, pool, adj_p=0.35, plural_p=0.0):
    """A noun from pool with a determiner and maybe an adjective; plural with probability plural_p."""
    if rng.random() < plural_p:
        return plural_noun_phrase(rng, pool, adj_p)
    words = [pick(rng, ADJS if rng.random() < 0.7 else COLOURS)] if rng.random() < adj_p else []
    return " ".join([determiner(rng)] + words + [pick(rng, pool)])


def plural_noun_phrase(rng, pool, adj_p=0.35):
    """A plural noun from pool with a quantifier (SOME, THREE, ALL THE...) and maybe an adjective."""
    d = pick(rng, ["THE", "THE", "SOME", "MY", "YOUR", "OUR", "THEIR", "THOSE", "THESE", "ALL THE",
                   "TWO", "THREE", "FOUR", "FIVE", "SIX", "TEN", "TWENTY", "MANY"])
    words = [pick(rng, ADJS if rng.random() < 0.7 else COLOURS)] if rng.random() < adj_p else []
    return " ".join([d] + words + [plural(pick(rng, pool))])


def object_phrase(rng, kind, adj_p=0.3):
    """An object noun phrase for a verb of the given object kinds (T thing, F food, A animal,
    P person, R readable, C fillable, B ball)."""
    k = pick(rng, kind)
    if k == "T":
        return noun_phrase(rng, THINGS, adj_p, 0.2)
    if k == "F":
        r = rng.random()
        if r < 0.25:
            return f"{pick(rng, ['SOME', 'THE', 'A LITTLE', 'MORE', 'A LOT OF'])} {pick(rng, MASS)}"
        if r < 0.4:
            return f"A {pick(rng, CONTAINERS)} OF {pick(rng, MASS)}"
        return noun_phrase(rng, FOOD, adj_p, 0.35)
    if k == "A":
        return noun_phrase(rng, ANIMALS, adj_p, 0.25)
    if k == "P":
        r = rng.random()
        if r < 0.35:
            return pick(rng, NAMES)
        if r < 0.5:
            return pick(rng, list(OBJ_PRONOUN.values()))
        return noun_phrase(rng, PEOPLE, adj_p, 0.2)
    if k == "R":
        return noun_phrase(rng, READABLE, adj_p, 0.2)
    if k == "C":
        return noun_phrase(rng, FILLABLE, adj_p * 0.5, 0.2)
    return noun_phrase(rng, BALLS, adj_p)


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
        return noun_phrase(rng, PEOPLE + ANIMALS, 0.25), "3S"
    return plural_noun_phrase(rng, PEOPLE + ANIMALS, 0.25), "PL"


def is_third_singular(person):
    """True for a subject that takes "IS" and "-S" (HE, SHE, a name, a singular noun)."""
    return person in ("HE", "SHE", "3S")


def be(person, past=False):
    """Present or past "be" agreeing with person."""
    if past:
        return "WAS" if person in ("I", "HE", "SHE", "3S") else "WERE"
    return "AM" if person == "I" else "IS" if is_third_singular(person) else "ARE"


def be_contracted(s, person):
    """Subject plus present "be", contracted where it's natural."""
    if person in BE_CONTRACTED:
        return BE_CONTRACTED[person]
    if person == "3S" and " " not in s:
        return s + "'S"  # JOHN'S
    return f"{s} {be(person)}"


def present(v, person):
    """Present tense of a VERBS or INTRANS entry for person."""
    return v[1] if is_third_singular(person) else v[0]


def clause_past(rng):
    """A short past-tense clause, for compound and subordinate sentences."""
    s, _ = subject(rng, 0.35)
    if rng.random() < 0.6:
        v = pick(rng, VERBS)
        return f"{s} {v[2]} {object_phrase(rng, v[5], 0.2)}"
    iv = pick(rng, INTRANS)
    return f"{s} {iv[2]}{' ' + pick(rng, ADVS) if rng.random() < 0.3 else ''}"


def clause_present(rng):
    """A short present-tense clause."""
    s, p = subject(rng, 0.4)
    if rng.random() < 0.6:
        v = pick(rng, VERBS)
        return f"{s} {present(v, p)} {object_phrase(rng, v[5], 0.2)}"
    r = rng.random()
    if r < 0.5:
        return f"{s} {be(p)} {pick(rng, PERSON_ADJS)}"
    iv = pick(rng, INTRANS)
    return f"{s} {present(iv, p)}"


def maybe(rng, p, text):
    """" " + text with probability p, else "" (an optional sentence part)."""
    return " " + text if rng.random() < p else ""


# --- templates: each returns the sentence (commas allowed: they shape the prosody and are
# removed from the transcript); questions are detected from the first word -------------------
def t_past(rng):
    s, _ = subject(rng)
    v = pick(rng, VERBS)
    return f"{s} {v[2]} {object_phrase(rng, v[5])}{maybe(rng, 0.25, place_phrase(rng))}{maybe(rng, 0.3, time_phrase(rng, 'past'))}"


def t_past_intr(rng):
    s, _ = subject(rng)
    iv = pick(rng, INTRANS)
    return f"{s} {iv[2]}{maybe(rng, 0.35, pick(rng, ADVS))}{maybe(rng, 0.3, place_phrase(rng))}{maybe(rng, 0.3, time_phrase(rng, 'past'))}"


def t_habit(rng):
    s, p = subject(rng)
    if rng.random() < 0.6:
        v = pick(rng, VERBS)
        body = f"{present(v, p)} {object_phrase(rng, v[5])}"
    else:
        iv = pick(rng, INTRANS)
        body = f"{present(iv, p)}{maybe(rng, 0.4, place_phrase(rng))}"
    freq = pick(rng, FREQ) + " " if rng.random() < 0.5 else ""
    return f"{s} {freq}{body}{maybe(rng, 0.5, time_phrase(rng, 'habit'))}"


def t_neg(rng):
    s, p = subject(rng, 0.5)
    v = pick(rng, VERBS)
    r = rng.random()
    if r < 0.45:
        aux, tense = ("DOESN'T" if is_third_singular(p) else "DON'T"), "habit"
    elif r < 0.8:
        aux, tense = "DIDN'T", "past"
    else:
        aux, tense = pick(rng, ["WON'T", "CAN'T", "COULDN'T", "SHOULDN'T", "WOULDN'T"]), "future"
    return f"{s} {aux} {v[0]} {object_phrase(rng, v[5])}{maybe(rng, 0.3, time_phrase(rng, tense))}"


def t_progressive(rng):
    s, p = subject(rng, 0.5)
    if rng.random() < 0.5:
        v = pick(rng, VERBS)
        body = f"{v[4]} {object_phrase(rng, v[5])}"
    else:
        iv = pick(rng, INTRANS)
        body = f"{iv[3]}{maybe(rng, 0.5, place_phrase(rng))}"
    if rng.random() < 0.25:
        return f"{s} {be(p, past=True)} {body}{maybe(rng, 0.4, time_phrase(rng, 'past'))}"
    return f"{be_contracted(s, p)} {body}{maybe(rng, 0.3, time_phrase(rng, 'now'))}"


def t_future(rng):
    s, p = subject(rng, 0.5)
    v = pick(rng, VERBS)
    r = rng.random()
    if r < 0.45 and p in WILL_CONTRACTED:
        head = WILL_CONTRACTED[p]
    elif r < 0.7:
        head = f"{s} WILL"
    else:
        head = f"{be_contracted(s, p)} GOING TO"
    return f"{head} {v[0]} {object_phrase(rng, v[5])}{maybe(rng, 0.6, time_phrase(rng, 'future'))}"


def t_perfect(rng):
    s, p = subject(rng, 0.6)
    v = pick(rng, VERBS)
    head = HAVE_CONTRACTED[p] if p in HAVE_CONTRACTED else f"{s} {'HAS' if is_third_singular(p) else 'HAVE'}"
    if rng.random() < 0.2:
        head = s + " " + ("HASN'T" if is_third_singular(p) else "HAVEN'T")
    adv = pick(rng, ["", "", "NEVER ", "JUST ", "ALREADY ", "ALWAYS "]) if "'T" not in head else ""
    return f"{head} {adv}{v[3]} {object_phrase(rng, v[5])}{maybe(rng, 0.2, 'BEFORE')}"


def t_modal(rng):
    s, _ = subject(rng)
    v = pick(rng, VERBS)
    modal = pick(rng, ["CAN'T", "WON'T", "COULDN'T", "SHOULDN'T", "CAN", "MUST", "MIGHT", "SHOULD", "COULD",
                       "WOULD", "MAY"])
    return f"{s} {modal} {v[0]} {object_phrase(rng, v[5])}{maybe(rng, 0.25, place_phrase(rng))}"


def t_describe(rng):
    noun = pick(rng, THINGS + ANIMALS + FOOD + VEHICLES + PLACE_NOUNS)
    verb = pick(rng, ["IS", "WAS", "ISN'T", "WASN'T", "LOOKS", "SEEMS", "LOOKED", "FEELS", "SMELLS"])
    d = pick(rng, ["THE", "THE", "THIS", "THAT", "MY", "YOUR", "OUR"])
    return f"{d} {noun} {verb}{maybe(rng, 0.4, pick(rng, INTENS))} {pick(rng, ADJS + COLOURS)}{maybe(rng, 0.2, time_phrase(rng, 'now'))}"


def t_feel(rng):
    s, p = subject(rng, 0.6)
    past = rng.random() < 0.4
    head = f"{s} {be(p, past)}" if past or rng.random() < 0.4 else be_contracted(s, p)
    tail = maybe(rng, 0.3, time_phrase(rng, "past" if past else "now"))
    return f"{head}{maybe(rng, 0.4, pick(rng, INTENS))} {pick(rng, PERSON_ADJS)}{tail}"


def t_it(rng):
    r = rng.random()
    if r < 0.4:
        return f"IT'S{maybe(rng, 0.5, pick(rng, INTENS))} {pick(rng, ADJS)}{maybe(rng, 0.4, time_phrase(rng, 'now'))}"
    if r < 0.7:
        w = pick(rng, ["RAINING", "SNOWING", "GETTING DARK", "GETTING LATE", "VERY WINDY", "SUNNY", "FOGGY",
                       "TOO HOT", "FREEZING"])
        return f"IT'S {w}{maybe(rng, 0.4, pick(rng, ['AGAIN', 'OUTSIDE', 'TODAY', 'IN TOWN']))}"
    if r < 0.85:
        return f"IT WAS{maybe(rng, 0.5, pick(rng, INTENS))} {pick(rng, ADJS)} {time_phrase(rng, 'past')}"
    return f"IT'S GOING TO {pick(rng, ['RAIN', 'SNOW', 'BE COLD', 'BE SUNNY', 'BE A LONG DAY'])} {time_phrase(rng, 'future')}"


def t_possessive(rng):
    owner = pick(rng, NAMES) if rng.random() < 0.6 else "THE " + pick(rng, PEOPLE)
    thing = pick(rng, THINGS + ANIMALS)
    r = rng.random()
    if r < 0.35:
        return f"THAT'S {owner}'S {thing}"
    if r < 0.7:
        return f"{owner}'S {thing} {pick(rng, ['IS', 'WAS', 'LOOKS'])}{maybe(rng, 0.3, pick(rng, INTENS))} {pick(rng, ADJS + COLOURS)}"
    if r < 0.85:
        return f"IS THIS YOUR {thing}"
    return f"WHOSE {thing} IS THIS"


def t_there(rng):
    r = rng.random()
    if r < 0.45:
        return f"THERE'S {noun_phrase(rng, THINGS + ANIMALS + FOOD, 0.3).replace('THE ', 'A ', 1)} {spot_phrase(rng) if rng.random() < 0.5 else place_phrase(rng)}"
    n = int(rng.integers(2, 30)) if rng.random() < 0.8 else int(rng.integers(30, 500))
    verb = pick(rng, ["ARE", "WERE"])
    return f"THERE {verb} {number(n)}{maybe(rng, 0.3, pick(rng, ADJS))} {plural(pick(rng, THINGS + ANIMALS + PEOPLE))} {place_phrase(rng)}"


def t_wh(rng):
    s, p = subject(rng, 0.5)
    v = pick(rng, VERBS)
    r = rng.random()
    if r < 0.15:
        return f"WHERE DID {s} {pick(rng, ['PUT', 'FIND', 'LEAVE', 'BUY', 'HIDE'])} {object_phrase(rng, 'T', 0.2)}"
    if r < 0.3:
        q = pick(rng, ["WHERE IS", "WHERE'S", "WHAT'S IN", "WHY IS", "HOW OLD IS", "WHAT COLOUR IS"])
        return f"{q} {noun_phrase(rng, THINGS + ANIMALS, 0.3)}"
    if r < 0.42:
        return f"WHAT {be(p) if p != 'I' else 'AM'} {s} {v[4]}{maybe(rng, 0.4, time_phrase(rng, 'now'))}"
    if r < 0.54:
        aux = pick(rng, ["DIDN'T", "DID", "CAN'T", "WON'T", "SHOULD"])
        return f"WHY {aux} {s} {v[0]} {object_phrase(rng, v[5])}"
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
        return f"{pick(rng, ['CAN', 'COULD', 'WOULD', 'WILL'])} YOU {v[0]} {object_phrase(rng, v[5])}{maybe(rng, 0.4, pick(rng, ['PLEASE', 'FOR ME', 'TODAY']))}"
    s, p = subject(rng, 0.4)
    if r < 0.45:
        return f"{'DID' if rng.random() < 0.6 else 'DOES' if is_third_singular(p) else 'DO'} {s} {v[0]} {object_phrase(rng, v[5])}"
    if r < 0.6:
        aux = pick(rng, ["IS", "WAS", "ISN'T"])
        return f"{aux} THE {pick(rng, THINGS + ANIMALS + VEHICLES)}{maybe(rng, 0.3, pick(rng, INTENS))} {pick(rng, ADJS)}"
    if r < 0.75:
        aux = pick(rng, ["HAVE", "HAVEN'T"])
        return f"{aux} YOU {pick(rng, ['SEEN', 'FOUND', 'MOVED', 'TAKEN'])} {pick(rng, ['MY', 'THE', 'OUR'])} {pick(rng, THINGS)}"
    if r < 0.87:
        aux = "DO" if rng.random() < 0.7 else "DON'T"
        return f"{aux} YOU {pick(rng, ['LIKE', 'WANT', 'NEED', 'REMEMBER'])} {noun_phrase(rng, THINGS + ANIMALS + FOOD, 0.2, 0.5)}"
    aux = pick(rng, ["ARE", "AREN'T"])
    return f"{aux} YOU {pick(rng, PERSON_ADJS)}{maybe(rng, 0.3, time_phrase(rng, 'now'))}"


def t_imperative(rng):
    v = pick(rng, VERBS)
    start = pick(rng, ["PLEASE", "DON'T", "PLEASE DON'T", "LET'S", "", "", "NOW", "YOU MUST"])
    return f"{start} {v[0]} {object_phrase(rng, v[5])}{maybe(rng, 0.3, spot_phrase(rng) if rng.random() < 0.5 else time_phrase(rng, 'future'))}".strip()


def t_compound(rng):
    conj = pick(rng, ["AND", "AND", "BUT", "SO", "THEN"])
    sep = "," if rng.random() < 0.7 else ""
    return f"{clause_past(rng)}{sep} {conj} {clause_past(rng)}"


def t_subordinate(rng):
    r = rng.random()
    if r < 0.3:
        s, p = subject(rng, 0.5)
        v = pick(rng, VERBS)
        main = f"{WILL_CONTRACTED[p] if p in WILL_CONTRACTED else s + ' WILL'} {v[0]} {object_phrase(rng, v[5], 0.2)}"
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
        return f"{pick(rng, NAMES)} IS {comp} THAN {pick(rng, NAMES + ['HIS ' + x for x in wordlist('BROTHER SISTER FATHER FRIEND')])}"
    if r < 0.85:
        return f"{pick(rng, ['THIS', 'THAT', 'MY', 'YOUR'])} {pick(rng, THINGS + VEHICLES)} IS THE {'BEST' if rng.random() < 0.5 else 'WORST'}"
    return f"IT'S GETTING {comp}{maybe(rng, 0.5, 'AND ' + comp)}"


def t_infinitive(rng):
    s, p = subject(rng)
    v = pick(rng, VERBS)
    head = pick(rng, ["WANTED", "NEEDED", "TRIED", "FORGOT", "DECIDED", "PROMISED", "HOPED", "STARTED",
                      "WANTS" if is_third_singular(p) else "WANT", "NEEDS" if is_third_singular(p) else "NEED",
                      "LIKES" if is_third_singular(p) else "LIKE", "HAS" if is_third_singular(p) else "HAVE"])
    return f"{s} {head} TO {v[0]} {object_phrase(rng, v[5])}{maybe(rng, 0.3, time_phrase(rng, 'future' if head in ('WANTS', 'WANT', 'NEEDS', 'NEED', 'HAS', 'HAVE') else 'past'))}"


def t_numbers(rng):
    r = rng.random()
    n = int(rng.integers(2, 25)) if rng.random() < 0.75 else int(rng.integers(25, 1000))
    if r < 0.2:
        s, _ = subject(rng)
        return f"{s} {pick(rng, ['BOUGHT', 'FOUND', 'SOLD', 'SAW', 'COUNTED', 'NEEDED'])} {number(n)}{maybe(rng, 0.3, pick(rng, ADJS + COLOURS))} {plural(pick(rng, THINGS + FOOD + ANIMALS))}"
    if r < 0.35:
        money = pick(rng, ["POUNDS", "DOLLARS", "EUROS"])
        cents = maybe(rng, 0.3, f"AND {number(int(rng.choice([10, 20, 25, 50, 75, 99])))} {'PENCE' if money == 'POUNDS' else 'CENTS'}")
        return f"{pick(rng, ['THE', 'THIS', 'THAT', 'MY'])} {pick(rng, THINGS + FOOD)} {pick(rng, ['COSTS', 'COST'])} {number(n)} {money}{cents}"
    if r < 0.5:
        return f"THE {pick(rng, VEHICLES)} {pick(rng, ['LEAVES', 'ARRIVES', 'LEFT', 'ARRIVED', 'STOPS HERE'])} AT {clock(rng)}"
    if r < 0.62:
        return f"{pick(rng, ['WE MET', 'I ARRIVED', 'THEY LEFT', 'SHE CALLED', 'HE CAME BACK', 'IT SNOWED'])} ON THE {ordinal(int(rng.integers(1, 32)))} OF {pick(rng, MONTHS)}"
    if r < 0.72:
        return f"{pick(rng, NAMES)} WAS BORN IN {year(int(rng.integers(1920, 2024)))}"
    if r < 0.82:
        who = pick(rng, ["MY " + pick(rng, wordlist("GRANDMOTHER GRANDFATHER BROTHER SISTER UNCLE AUNT FRIEND")), pick(rng, NAMES)])
        return f"{who} IS {number(int(rng.integers(2, 99)))}{maybe(rng, 0.5, 'YEARS OLD')}"
    if r < 0.9:
        return f"{pick(rng, ['ROOM', 'HOUSE', 'BUS', 'PLATFORM', 'GATE'])} NUMBER {number(int(rng.integers(1, 400)))} IS {pick(rng, ['CLOSED', 'OVER THERE', 'ON THE LEFT', 'ON THE RIGHT', 'UPSTAIRS', 'EMPTY'])}"
    if r < 0.95:
        digits = " ".join(pick(rng, ONES[:10] + ["OH"]).replace("ZERO", "OH") for _ in range(int(rng.integers(4, 7))))
        return f"{pick(rng, ['MY NUMBER IS', 'THE CODE IS', 'CALL', 'THE PASSWORD IS'])} {digits}"
    return f"THE {pick(rng, PLACE_NOUNS)} IS {number(n)} {pick(rng, ['MILES', 'METRES', 'MINUTES'])} AWAY"


def t_request(rng):
    r = rng.random()
    if r < 0.35:
        food = object_phrase(rng, "F", 0.2).replace("THE ", "A ", 1)
        head = pick(rng, ["I'D LIKE", "WE'D LIKE", "CAN I HAVE", "COULD I HAVE", "WOULD YOU LIKE"])
        return f"{head} {food}{maybe(rng, 0.4, 'PLEASE')}"
    v = pick(rng, VERBS)
    if r < 0.65:
        p = pick(rng, PRONOUNS)
        return f"{WOULD_CONTRACTED[p]} {pick(rng, ['LIKE TO', 'RATHER', 'LOVE TO'])} {v[0]} {object_phrase(rng, v[5])}{maybe(rng, 0.3, time_phrase(rng, 'future'))}"
    return f"{pick(rng, ['COULD YOU', 'WOULD YOU', 'CAN YOU', 'PLEASE'])} {v[0]} {object_phrase(rng, v[5])} FOR {pick(rng, ['ME', 'US', 'HIM', 'HER', 'THEM'])}"


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
    """(train, dev, test) lists of (say, transcript): distinct sentences of MIN_WORDS to MAX_WORDS
    words and at most MAX_CHARS characters; dev/test sentences only use words of the training text."""
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
