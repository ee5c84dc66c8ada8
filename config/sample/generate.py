#!/usr/bin/env python3
"""Write cxpulse's sample data set: config/sample/reviews.jsonl.

Synthetic reviews and social posts about a fictional product (the "Nordwind Trail Runner 2"
trail-running shoe by the fictional brand Nordwind), shaped like an export from a review tool.
Everything is made up here from templates and slot fillers; nothing is fetched or copied.

Python 3.11 standard library only, no network. The output is deterministic: the same seed gives
the same file byte for byte (no set/dict iteration depends on hash randomisation).

    python3 config/sample/generate.py                  # writes config/sample/reviews.jsonl
    python3 config/sample/generate.py --labels x.jsonl # also writes the planted ground truth

See config/sample/README.md for the planted patterns.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import random
import re
import sys
from pathlib import Path

SEED = 20260928
START = dt.datetime(2026, 9, 28, tzinfo=dt.timezone.utc)  # a Monday; week 1 starts here
END = dt.datetime(2026, 11, 22, 23, 59, 59, tzinfo=dt.timezone.utc)
DAYS = 56  # 8 weeks
MAX_WORDS = 125

# The product filter the sample config is meant to use. Every relevant post matches it; the
# planted off-topic posts must not.
KEYWORD_RE = re.compile(r"\b(?:nordwind|trail runner 2|tr2)\b", re.IGNORECASE)

# --------------------------------------------------------------------------------------------
# Slot fillers
# --------------------------------------------------------------------------------------------

SLOTS: dict[str, list[str]] = {
    "terrain": [
        "wet limestone", "muddy forest trails", "loose gravel", "slick roots", "granite slabs",
        "scree", "wet boardwalks", "rocky descents", "frosty singletrack", "mossy rocks",
        "technical alpine stuff", "wet leaves", "chalky downs", "sandy dunes", "forest fire roads",
    ],
    "wetrock": [
        "wet granite", "slick roots", "wet wooden boardwalks", "mossy rocks", "wet limestone",
        "polished slabs", "a wet metal bridge", "greasy clay",
    ],
    "dist": [
        "50 km", "80 km", "120 km", "200 km", "250 km", "150k", "about 90 km", "100 miles",
        "300 km", "60-odd km",
    ],
    "dur": ["a month", "three weeks", "six weeks", "two months", "a fortnight", "ten runs"],
    "dist_long": [
        "400 km", "500 km", "600k", "350 km", "three months of daily runs", "450 km",
        "700 km", "a full season", "550 km",
    ],
    "dist_short": [
        "60 km", "80 km", "100 km", "120 km", "150 km", "three weeks", "a month", "90k",
        "barely 70 km", "five runs", "110 km", "six weeks",
    ],
    "race": [
        "a 25k trail race", "my first ultra", "the Harz trail marathon", "a muddy 15k",
        "a night race", "a 50k in the Alps", "the club's cross-country series", "a 30k with 1500 m of climbing",
        "a parkrun on grass", "the Eifel 42k", "a hilly half",
    ],
    "weekday": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "days_late": [
        "10 days", "two weeks", "12 days", "over a week", "9 days", "almost three weeks",
        "11 days", "8 days", "two and a half weeks",
    ],
    "courier": ["ParcelJet", "ParcelJet", "ParcelJet", "Parceljet", "PJ"],
    "price": ["€149", "149 euros", "€149.95", "149€", "€150"],
    "price2": ["€139", "€159", "€129", "€144"],
    "sale": ["€119", "€109", "€99", "30% off", "€124", "25% off"],
    "size": ["EU 42", "EU 43", "44.5", "US 9", "UK 8", "EU 38", "EU 40.5", "US 10.5", "EU 46"],
    "staffp": [
        "Mira", "Jonas", "the guy at the fitting lane", "a lovely woman called Ana", "Tom",
        "the manager", "one of the store staff", "Lena",
    ],
    "oldshoe": [
        "Kestrel Ridge 4", "Alpenfox Glide", "first Trail Runner", "Fellwalker Pro",
        "Summit Sprint 3", "old Ridgeback XT", "Mudlark 2",
    ],
    "weekly": ["30 km", "40 km", "50 km", "60-70 km", "25 km", "80 km", "35 miles"],
    "age": ["34", "41", "27", "52", "38", "45", "29", "60"],
    "runnertype": [
        "weekend trail runner", "ultra runner", "ex-road runner", "mountain runner",
        "orienteer", "beginner", "fell runner", "parkrun regular",
    ],
    "years": ["3", "5", "10", "15", "two", "20"],
    "colour": ["moss", "slate", "orange", "black/volt", "sand", "ocean blue"],
}

# Mentions of the product. The first mention in a post uses one of these (weighted); later
# mentions use a short form so text doesn't repeat the full name every sentence.
FIRST_MENTION = [
    ("Nordwind Trail Runner 2", 24), ("Trail Runner 2", 14), ("TR2", 22), ("Nordwind TR2", 12),
    ("tr2", 5), ("Nordwind trail runner 2", 4),
]
LATER_MENTION = ["TR2", "shoe", "shoe", "TR2", "Nordwind"]

# --------------------------------------------------------------------------------------------
# Topics: touchpoints, sentiment, emotion-tagged sentence templates
# --------------------------------------------------------------------------------------------
# Each topic: tp (touchpoints), sent (positive/negative/neutral/mixed), auth (brand-authenticity
# perception the text expresses: genuine/fake/none), emo (emotion -> weight), core (emotion ->
# full sentences), short (5-12 word social-style posts), titles (for rated channels), ch (channel
# weights: webshop, appstore, forum, social), base (topic weight), and drivers (how the planted
# storylines scale the weight: {"delay": k, "sole": k, "recovery": k, "launch": k, "honeymoon": k},
# weight * (1 + k * intensity), see intensities()). A core template tagged "[sole] " or "[delay] "
# is only used once that storyline has begun. max_core caps the core sentences per post.

T: dict[str, dict] = {}


def topic(name, **kw):
    kw.setdefault("auth", "none")
    kw.setdefault("drivers", {})
    kw.setdefault("short", [])
    kw.setdefault("titles", [])
    T[name] = kw


topic(
    "grip_pos", tp=["product"], sent="positive", base=7.0,
    emo={"admiration": 5, "joy": 5},
    ch={"webshop": 45, "appstore": 0, "forum": 25, "social": 30},
    drivers={"launch": 0.5},
    core={
        "admiration": [
            "The grip on {terrain} is honestly ridiculous, I never felt the {P} slip once.",
            "Grip is the big upgrade over the first version, {terrain} feels like tarmac in the {P}.",
            "I was sceptical about the new outsole but the {P} holds on {terrain} better than anything I've owned.",
            "Downhill on {terrain} with the {P} and zero sketchy moments. Impressive rubber.",
            "Whoever designed the lug pattern on the {P} knows what they're doing.",
            "The {P} outsole is like velcro on rock.",
            "Honest verdict: the {P} has the best wet grip of any shoe I've tested, and I've tested a lot.",
        ],
        "joy": [
            "Took the {P} out on {terrain} this morning and the lugs just bite. Grinning the whole way down.",
            "Ran {race} in the {P} and passed half the field on the muddy descents 😄",
            "So much fun bombing down {terrain} in the {P}, feels like cheating.",
            "Love how planted the {P} feels on {terrain}.",
            "First muddy run in the {P} and I'm in love with the grip.",
        ],
    },
    short=[
        "{P} grip on {terrain}: unreal", "these {P} lugs tho 🔥", "Grip of the {P} is next level.",
        "No slipping at all. {P} delivers.", "{P} + {terrain} = pure fun",
        "Wet rock, no problem. Love the {P}!",
    ],
    titles=["Grip monster", "Sticks to everything", "Best grip I've had", "Great on wet rock",
            "Finally a grippy shoe", "Lugs that work"],
)

topic(
    "cushion_pos", tp=["product"], sent="positive", base=7.0,
    emo={"joy": 6, "admiration": 3, "love": 1},
    ch={"webshop": 50, "appstore": 0, "forum": 20, "social": 30},
    drivers={"launch": 0.5},
    core={
        "joy": [
            "Cushioning is soft enough for long days but the {P} still feels fast.",
            "My knees are thanking me, the {P} midsole is super plush without being mushy.",
            "Did {dist} in the {P} so far and my legs feel fresh after every long run.",
            "Comfortable right out of the box, no break-in needed with the {P}.",
            "Foam feels bouncy, not dead like my old pair. Loving the {P}.",
            "Wore the {P} all day at a festival after a morning run and my feet were still happy.",
        ],
        "admiration": [
            "The {P} is the first trail shoe I can wear for a four hour run without sore feet.",
            "Really well balanced ride, the {P} is protective on rocks but not clunky.",
            "Rock plate in the {P} does its job, didn't feel a single sharp stone on {terrain}.",
        ],
        "love": [
            "I love these shoes. The {P} is the comfiest thing I've ever put on my feet.",
            "Honestly in love with the {P}. Bought a second pair just in case.",
        ],
    },
    short=["{P} = comfy cloud shoes ☁️", "So comfy. {P} is a winner.", "Legs fresh after 30k in the {P}!",
           "comfiest trail shoe ever, the {P}", "The {P} is pure comfort."],
    titles=["Super comfortable", "Comfy and fast", "Like running on clouds", "Great cushioning",
            "My new favourite shoe"],
)

topic(
    "fit_pos", tp=["product"], sent="positive", base=4.0,
    emo={"joy": 6, "approval": 4},
    ch={"webshop": 60, "appstore": 0, "forum": 20, "social": 20},
    core={
        "joy": [
            "Fits true to size, I wear {size} in everything and the {P} in {size} is perfect.",
            "Lacing is easy and the tongue doesn't slide around. The {P} fits like a sock.",
            "Finally a Nordwind that fits my narrow heel, no slipping at all.",
        ],
        "approval": [
            "Toe box of the {P} is roomy enough for my wide-ish feet and the heel lock is solid.",
            "Sizing of the {P} is spot on, went with my usual {size}.",
            "The gusseted tongue on the {P} keeps grit out, nice detail.",
        ],
    },
    short=["{P} fits perfectly, true to size.", "Fit of the {P}: chef's kiss", "{P} in {size}, perfect fit."],
    titles=["True to size", "Perfect fit", "Fits like a glove", "Good fit for wide feet"],
)

topic(
    "sizing_neg", tp=["product"], sent="negative", base=2.5,
    emo={"disappointment": 5, "annoyance": 3, "confusion": 3},
    ch={"webshop": 55, "appstore": 0, "forum": 25, "social": 20},
    core={
        "disappointment": [
            "The {P} runs at least half a size small. Had to send my {size} back.",
            "Really wanted these to work but the {P} toe box squeezes my little toes after 10 km.",
            "The {P} in my usual {size} is way too tight, which is a shame because everything else is great.",
            "Narrow, narrow, narrow. The {P} is not for wide feet, sadly.",
        ],
        "annoyance": [
            "Why does the {P} fit completely differently from the first Trail Runner? Now I have to exchange them.",
            "Second exchange for sizing on the {P}. Getting really annoying.",
            "The {P} size chart is useless, ordered twice and both pairs were wrong.",
        ],
        "confusion": [
            "Size chart says {size} but the {P} feels like a size down?? Which one is right?",
            "Confused about {P} sizing, reviews say true to size but my feet say otherwise.",
            "Do I go up half a size in the {P} or not? Getting mixed answers everywhere.",
        ],
    },
    short=["{P} runs small. size up.", "{P} sizing is a lottery 🙄", "{P} too narrow for me :(",
           "half size up on the {P}?"],
    titles=["Runs small", "Size up!", "Too narrow", "Sizing is off", "Had to return"],
)

topic(
    "grip_fear", tp=["product"], sent="negative", base=2.2,
    emo={"fear": 5, "nervousness": 5},
    ch={"webshop": 40, "appstore": 0, "forum": 35, "social": 25},
    core={
        "fear": [
            "Nearly went down twice on {wetrock} in the {P}, the grip on wet rock isn't as good as the ads say.",
            "After a bad slip on {wetrock} I don't trust the {P} in the rain anymore. Scared me properly.",
            "Honestly scared on wet descents in the {P}, the heel slides out on {wetrock}.",
            "Slid a metre on {wetrock} in my {P} and almost went over the edge. Not fun.",
        ],
        "nervousness": [
            "Slipped on a wet bridge in my {P} and I'm still nervous running downhill in them.",
            "Does anyone else feel unstable on wet rock in the {P}? I'm getting nervous before every descent.",
            "Bit anxious about taking the {P} to the Alps next month after how it handled {wetrock}.",
            "The {P} feels wobbly on off-camber stuff and it makes me tense up on every descent.",
        ],
    },
    short=["{P} on wet rock is sketchy, nearly ate it 😬", "careful on {wetrock} with the {P}...",
           "{P} + rain = nervous descents"],
    titles=["Slippery on wet rock", "Careful in the wet", "Not confident on descents", "Scary in the rain"],
)

topic(
    "durability_pos", tp=["product"], sent="positive", base=3.0,
    emo={"admiration": 7, "approval": 3},
    ch={"webshop": 45, "appstore": 0, "forum": 35, "social": 20},
    drivers={"sole": -0.7},
    core={
        "admiration": [
            "{dist_long} on the {P} and the outsole barely shows wear.",
            "Uppers still look new after {dist_long} on rocky trails. The {P} is built tough.",
            "Durability is excellent, my {P} has survived {dist_long} and a lot of mud baths.",
            "Impressive build quality on the {P}, stitching and toe cap are all intact after {dist_long}.",
        ],
        "approval": [
            "Mine have done {dist_long} and are going strong, no sole issues here with the {P}.",
            "Solid construction overall. The {P} should last a good while.",
        ],
    },
    short=["{P} after {dist_long}: still going strong 💪", "{dist_long} in, the {P} looks fine."],
    titles=["Built to last", "Durable", "Still going strong", "Tough shoe"],
)

topic(
    "sole_sep", tp=["product"], sent="negative", base=0.6,
    emo={"disappointment": 10, "anger": 4, "sadness": 3, "surprise": 2},
    ch={"webshop": 45, "appstore": 0, "forum": 30, "social": 25},
    drivers={"sole": 75.0, "recovery": 1.0},
    core={
        "disappointment": [
            "After only {dist_short} the sole of my {P} started separating at the toe.",
            "The outsole on my {P} is peeling away from the midsole after {dist_short}. Really disappointed with the quality.",
            "Glue failed on both shoes. {dist_short} and the {P} sole is flapping.",
            "Expected way better durability from a €149 shoe. My {P} is delaminating after {dist_short}.",
            "Loved the ride of the {P} but the sole coming apart after {dist_short} is a dealbreaker.",
            "Same problem as everyone in the forum: {P} sole separating near the toe cap.",
            "The sole on my {P} is lifting at the front. Such a letdown after the great first weeks.",
            "Checked my pair after reading the forum and yep, the {P} sole is coming away on the left shoe.",
        ],
        "anger": [
            "{dist_short} and the sole of my {P} is coming off. This is unacceptable at this price.",
            "Sole on my {P} ripped off mid-run, had to limp home 6 km. Furious.",
            "How does a {P} fall apart after {dist_short}?? Absolute garbage quality control.",
            "Nordwind KNEW about the glue problem on the {P} and kept selling them. Disgraceful.",
        ],
        "sadness": [
            "My favourite shoe and now the sole is coming apart after {dist_short}. Sad to retire the {P} so early.",
            "Kind of heartbroken, the {P} was perfect until the sole started peeling.",
        ],
        "surprise": [
            "Didn't expect this at all: the sole of my {P} just came loose after {dist_short}.",
            "Whoa, looked down mid-run and half the outsole of my {P} was hanging off. Never seen that before.",
        ],
    },
    short=["{P} sole separating after {dist_short}. great. 🙃", "Sole on my {P} is coming off already 😞",
           "{P} delamination club, anyone?", "my {P} sole is peeling. again.",
           "sole came off my {P} mid run 😡"],
    titles=["Sole came apart", "Sole separation", "Fell apart", "Poor durability", "Glue failure",
            "Disappointing quality"],
)

topic(
    "prod_neutral", tp=["product"], sent="neutral", base=5.0,
    emo={"neutral": 1},
    ch={"webshop": 35, "appstore": 0, "forum": 40, "social": 25},
    core={
        "neutral": [
            "The {P} weighs about 290 g in {size} on my kitchen scale.",
            "Drop on the {P} is 6 mm, stack height feels around 32 mm.",
            "Wore the {P} on a mix of gravel and forest paths this week.",
            "The {P} comes in six colours, I went with {colour}.",
            "Lugs on the {P} are 5 mm, a bit shallower than a proper mud shoe.",
            "I have {dist} on my {P} now, mostly {terrain}.",
            "Upper on the {P} is a single-layer mesh, drains within a few minutes after river crossings.",
            "The {P} laces are a bit long, I tuck them under the lace garage.",
            "The {P} has a rock plate in the forefoot only.",
            "Insole of the {P} is removable, about 4 mm thick.",
        ],
    },
    short=["{P}: 290 g, 6 mm drop, 5 mm lugs.", "Testing the {P} this week.", "{P} in {colour}, first run tomorrow.",
           "Weighed my {P}: 288 g."],
    titles=["Specs", "First impressions", "Okay so far", "Does the job", "Initial thoughts"],
)

topic(
    "prod_question", tp=["product"], sent="neutral", base=3.0,
    emo={"confusion": 6, "curiosity": 4},
    ch={"webshop": 25, "appstore": 0, "forum": 50, "social": 25},
    core={
        "confusion": [
            "Is the {P} waterproof or just water resistant? The product page doesn't say.",
            "What's the actual difference between the {P} and the first version? The description reads the same.",
            "Can someone explain the {P} 'adaptive fit' thing? I don't get what it does.",
            "Does the {P} work with orthotics? The insole looks glued in.",
        ],
        "curiosity": [
            "Not sure whether to get the {P} or the road version, what's the difference really?",
            "Anyone run a proper mountain ultra in the {P}? Wondering how they hold up past 50 km.",
            "How does the {P} compare to the {oldshoe} for wide feet?",
            "Thinking about the {P} for winter running, anyone tried it with spikes?",
        ],
    },
    short=["is the {P} waterproof??", "{P} vs v1, what changed?", "{P} any good on snow?"],
    titles=["Question", "Waterproof?", "Difference to v1?", "Orthotics?"],
)

topic(
    "launch_excite", max_core=1, tp=["product"], sent="positive", base=2.0,
    emo={"excitement": 8, "joy": 2},
    ch={"webshop": 20, "appstore": 5, "forum": 25, "social": 50},
    drivers={"launch": 5.0},
    core={
        "excitement": [
            "Just ordered the {P}, can't wait to take them out on the trails!",
            "The {P} is finally out!! Pre-ordered the {colour} colourway the minute it dropped.",
            "Been waiting months for the {P} and it's here. First run tomorrow!",
            "Unboxing my {P} tonight, so hyped.",
            "New shoe day! The {P} goes straight to the hills this weekend.",
        ],
        "joy": [
            "Got the {P} as an early birthday present and I'm grinning like an idiot.",
            "First run in the {P} done and it was a blast.",
        ],
    },
    short=["{P} day!! 🎉", "Finally got my hands on the {P}!!", "{P} just landed 😍", "New {P} who dis",
           "can't wait to try the {P}!!"],
    titles=["Can't wait!", "New shoe day", "So excited", "Finally here"],
)

topic(
    "light_surprise", tp=["product"], sent="positive", base=3.0,
    emo={"surprise": 1},
    ch={"webshop": 40, "appstore": 0, "forum": 25, "social": 35},
    core={
        "surprise": [
            "Wow, the {P} is way lighter than it looks. Did not expect that.",
            "Surprised how fast the {P} feels on the flats for a trail shoe.",
            "Didn't think a Nordwind could feel this nimble, genuinely surprised.",
            "Wasn't expecting much from the {P} but it blew me away on {terrain}.",
            "Plot twist: the {P} is actually great on the road too.",
        ],
    },
    short=["{P} is so light?! 😮", "wait, the {P} is actually fast??", "Did not expect the {P} to be this good."],
    titles=["Pleasantly surprised", "Lighter than expected", "Wow", "Better than I expected"],
)

topic(
    "retire_sad", max_core=1, tp=["product"], sent="mixed", base=1.2,
    emo={"sadness": 1},
    ch={"webshop": 10, "appstore": 0, "forum": 40, "social": 50},
    core={
        "sadness": [
            "Retiring my {P} after 800 km today. Sad to see them go, they carried me through my first ultra.",
            "Last run in my {P}, the upper finally tore. Bit of a sad day honestly.",
            "My old {P} finally died after a great season. Gonna miss them.",
            "Had to bin my {P} after the upper ripped on a fence. They deserved a better ending.",
        ],
    },
    short=["RIP my {P} 😢", "Goodbye old {P}, it was a good run."],
    titles=["Goodbye old friend", "Retired"],
)

topic(
    "staff_pos", max_core=1, tp=["service"], sent="positive", base=3.0,
    emo={"gratitude": 6, "admiration": 4},
    ch={"webshop": 30, "appstore": 0, "forum": 20, "social": 50},
    core={
        "gratitude": [
            "Huge thanks to {staffp} at the Nordwind store who spent 30 minutes helping me find the right size in the {P}.",
            "The staff at the flagship let me test the {P} on their treadmill and were super patient. Thank you!",
            "{staffp} at the store checked my gait before recommending the {P}. Really grateful.",
            "Thanks to the store team for swapping my {P} for a half size up without any fuss.",
        ],
        "admiration": [
            "Staff at the store really know their stuff, they talked me through the {P} vs the v1 honestly.",
            "The store guy was a trail runner himself and gave great advice on the {P}.",
            "Best shop experience in ages, staff actually run and it shows. Walked out with the {P}.",
        ],
    },
    short=["Store staff were lovely, got my {P} sorted 🙏", "Shoutout to {staffp} at the Nordwind store!"],
    titles=["Great staff", "Helpful store team", "Excellent advice", "Thank you!"],
)

topic(
    "staff_neg", max_core=1, tp=["service"], sent="negative", base=1.2,
    emo={"annoyance": 6, "anger": 2, "disappointment": 2},
    ch={"webshop": 30, "appstore": 0, "forum": 20, "social": 50},
    core={
        "annoyance": [
            "Asked a staff member about {P} sizes and got ignored for 10 minutes while they chatted.",
            "The sales guy at the Nordwind store was pushy and clearly didn't know anything about the {P}.",
            "Staff at the store told me the {P} was out of stock, the website said otherwise. Wasted trip.",
        ],
        "anger": [
            "Was told by a store employee that the {P} 'isn't for women like me'. Unbelievable.",
        ],
        "disappointment": [
            "Expected better service at a flagship store. Nobody helped me with the {P} fitting.",
        ],
    },
    short=["Nordwind store staff could not care less 🙄", "rude staff at the Nordwind shop today"],
    titles=["Rude staff", "Poor service in store", "Not helpful"],
)

topic(
    "price_pos", max_core=1, tp=["price"], sent="positive", base=3.0,
    emo={"joy": 6, "approval": 4},
    ch={"webshop": 45, "appstore": 10, "forum": 15, "social": 30},
    core={
        "joy": [
            "Got the {P} for {sale} in the sale, absolute steal.",
            "Snagged the {P} at {sale} with the club discount, very happy.",
        ],
        "approval": [
            "At {price} the {P} isn't cheap but it's worth every cent.",
            "Way better value than the big brands, the {P} costs less and lasts longer.",
            "For {price} you get a shoe that does everything. Good value, the {P}.",
        ],
    },
    short=["{P} at {sale}? instant buy.", "{P} for {sale}, bargain!"],
    titles=["Great value", "Worth the money", "Bargain", "Good price"],
)

topic(
    "price_neg", max_core=1, tp=["price"], sent="negative", base=2.3,
    emo={"annoyance": 5, "disappointment": 3, "disapproval": 2},
    ch={"webshop": 40, "appstore": 10, "forum": 20, "social": 30},
    core={
        "annoyance": [
            "Bought the {P} at {price} and two weeks later it was {sale}. Annoying.",
            "The {P} went up €20 compared to the first version. Not impressed.",
        ],
        "disappointment": [
            "{price} for the {P} is a lot for what is basically the v1 with a new outsole.",
            "Hoped the {P} would justify the price. It doesn't quite.",
        ],
        "disapproval": [
            "Overpriced. The {P} is a good shoe but not {price} good.",
            "Can't recommend the {P} at full price, wait for a sale.",
        ],
    },
    short=["{price} for the {P}?? no thanks", "{P} is overpriced imo"],
    titles=["Overpriced", "Too expensive", "Wait for a sale", "Pricey"],
)

topic(
    "price_confused", max_core=1, tp=["price"], sent="neutral", base=1.5,
    emo={"confusion": 1},
    ch={"webshop": 30, "appstore": 30, "forum": 20, "social": 20},
    core={
        "confusion": [
            "Why is the {P} {price} on the website but {price2} in the app?",
            "Does the member discount apply to the {P} or not? Checkout shows two different prices.",
            "Saw the {P} at {sale} yesterday, today it's back to {price}. Which is the real price?",
        ],
    },
    short=["which {P} price is right, app or web?"],
    titles=["Price confusion", "Which price?", "Two prices?"],
)

topic(
    "deliv_fast", max_core=1, tp=["delivery"], sent="positive", base=4.0,
    emo={"joy": 6, "surprise": 2, "approval": 2},
    ch={"webshop": 45, "appstore": 30, "forum": 5, "social": 20},
    drivers={"delay": -0.8, "recovery": 0.5},
    core={
        "joy": [
            "Ordered the {P} on {weekday} evening and it was at my door the next day.",
            "Super fast delivery, the {P} arrived in two days, well packed.",
            "Shipping was quick and the box arrived in perfect condition. Now to test the {P}!",
        ],
        "surprise": [
            "Delivery was faster than promised, the {P} came a day early.",
            "Wow, ordered the {P} at midnight and it arrived the same afternoon.",
        ],
        "approval": [
            "Smooth order, tracking was accurate and the {P} arrived on time.",
            "Packaging was minimal and recyclable, and the {P} arrived on the promised day.",
        ],
    },
    short=["{P} arrived next day 📦 nice", "fast shipping, {P} already here!"],
    titles=["Fast delivery", "Quick shipping", "Arrived early", "Smooth order"],
)

topic(
    "deliv_late", max_core=1, tp=["delivery"], sent="negative", base=0.8,
    emo={"anger": 4, "annoyance": 3, "disappointment": 3},
    ch={"webshop": 40, "appstore": 30, "forum": 10, "social": 20},
    drivers={"delay": 45.0},
    core={
        "anger": [
            "Ordered the {P} {days_late} ago and it's STILL not here. {courier} keeps saying 'in transit'.",
            "{days_late} waiting for my {P}. {courier} is a joke and Nordwind just blames them.",
            "Third missed delivery date for my {P}. I'm done being patient.",
            "Where is my {P}?! {courier} tracking hasn't moved in a week.",
            "Paid for express shipping on the {P} and it's been {days_late}. Absolutely ridiculous.",
            "Nordwind, stop using {courier}. {days_late} for a pair of {P} is a disgrace.",
        ],
        "annoyance": [
            "Delivery of the {P} delayed again. {courier} rescheduled for the third time.",
            "Still waiting for my {P}, tracking says delayed at the depot. Annoying.",
            "Took {days_late} for the {P} to arrive. The shoe's fine, the shipping isn't.",
            "Every day a new excuse from {courier} about my {P}.",
        ],
        "disappointment": [
            "Wanted the {P} for {race} this weekend but delivery is {days_late} late. So disappointed.",
            "Was really looking forward to my {P}, but {days_late} of delays took the fun out of it.",
            "Ordered the {P} as a birthday present, it arrived {days_late} late. Disappointing.",
            "Had to run {race} in my old shoes because the {P} still hadn't arrived.",
        ],
    },
    short=["still no {P}. thanks {courier} 🙄", "Day 12 of waiting for my {P}...", "{courier} lost my {P}?? 😡",
           "where is my {P} 😤", "{P} delivery delayed AGAIN"],
    titles=["Where is my order?", "Delivery took forever", "Still waiting", "Terrible delivery",
            "Courier nightmare", "Late, late, late"],
)

topic(
    "deliv_damaged", max_core=1, tp=["delivery"], sent="negative", base=0.8,
    emo={"disappointment": 5, "annoyance": 5},
    ch={"webshop": 50, "appstore": 25, "forum": 5, "social": 20},
    drivers={"delay": 4.0},
    core={
        "disappointment": [
            "The box for my {P} arrived crushed and one shoe had a scuffed toe.",
            "Parcel was soaked and torn open when the {P} finally arrived.",
        ],
        "annoyance": [
            "{courier} left the {P} box in the rain, completely squashed.",
            "Box was ripped and resealed with tape, {P} inside had dirt on it. Not what I paid for.",
        ],
    },
    short=["{P} box arrived crushed 😒"],
    titles=["Damaged box", "Arrived damaged", "Crushed parcel"],
)

topic(
    "deliv_tracking", max_core=1, tp=["delivery"], sent="negative", base=0.8,
    emo={"confusion": 8, "nervousness": 2},
    ch={"webshop": 30, "appstore": 40, "forum": 10, "social": 20},
    drivers={"delay": 6.0},
    core={
        "confusion": [
            "Tracking says my {P} was delivered yesterday, but nothing is here. Neighbours don't have it either. What now?",
            "Got three different delivery dates for the {P} from the app, the email and {courier}. Which one is right?",
            "My {P} order shows 'returned to sender' but I never got a delivery attempt. Confused.",
            "Order status for my {P} jumped from 'shipped' back to 'processing'. How?",
        ],
        "nervousness": [
            "Tracking for my {P} hasn't updated in six days and I'm starting to worry it's lost.",
        ],
    },
    short=["{P} 'delivered'?? where though", "anyone understand {courier} tracking? my {P} is in limbo"],
    titles=["Tracking makes no sense", "Delivered?", "Lost parcel?"],
)

topic(
    "support_pos", max_core=1, tp=["support"], sent="positive", base=1.5,
    emo={"gratitude": 8, "relief": 2, "admiration": 2},
    ch={"webshop": 35, "appstore": 20, "forum": 20, "social": 25},
    drivers={"recovery": 20.0, "sole": 1.0},
    core={
        "gratitude": [
            "[sole] Sent photos of my {P} sole to support and had a full refund within 2 days. Thank you Nordwind!",
            "Warranty claim for my {P} was painless, replacement pair shipped the same day.",
            "Support replied in a few hours and sorted the {P} exchange without any hassle. Really grateful.",
            "[delay] Big thanks to the support team, they tracked down my lost {P} and sent a new pair.",
            "Support sorted out a wrong-size {P} for me in two days. Thank you!",
            "Thank you to whoever handled my {P} case, refund came through before I even posted the old pair back.",
        ],
        "relief": [
            "Was dreading the warranty process for my {P}, but it took one email. Such a relief.",
            "Phew. Nordwind approved the {P} replacement without any back and forth.",
        ],
        "admiration": [
            "Credit where it's due: Nordwind refunded my {P} without arguing and even covered return shipping.",
            "[sole] After the sole issue I expected a fight, but support just sent a new {P}. Impressed.",
            "[sole] The way Nordwind handled the {P} recall is how it should be done.",
        ],
    },
    short=["Refund for my {P} done in 48h. Thanks Nordwind 🙏", "replacement {P} already here, great support!",
           "Nordwind support sorted my {P} in a day 👏"],
    titles=["Great customer service", "Refund handled well", "Excellent support", "Warranty was easy",
            "Thank you Nordwind"],
)

topic(
    "support_neg", max_core=1, tp=["support"], sent="negative", base=0.8,
    emo={"anger": 5, "annoyance": 5},
    ch={"webshop": 30, "appstore": 30, "forum": 15, "social": 25},
    drivers={"delay": 4.0, "sole": 4.0, "recovery": -0.3},
    core={
        "anger": [
            "Emailed support about my {P} four times. No answer. Nothing.",
            "Warranty claim for my {P} got rejected because I 'used them off-road'. It's a TRAIL shoe.",
            "On hold for 40 minutes to ask about my {P} order, then the line dropped.",
        ],
        "annoyance": [
            "Support chatbot keeps sending me the FAQ instead of answering about my {P} refund.",
            "Customer service asked for the same photos of my {P} three times.",
            "Ticket about my {P} closed automatically without a reply. Great.",
        ],
    },
    short=["Nordwind support ghosting me about my {P}", "still no reply about my {P} refund 😡"],
    titles=["No reply from support", "Useless customer service", "Ignored", "Bad support"],
)

topic(
    "support_question", max_core=1, tp=["support"], sent="neutral", base=1.5,
    emo={"confusion": 6, "curiosity": 4},
    ch={"webshop": 20, "appstore": 20, "forum": 40, "social": 20},
    drivers={"delay": 1.5, "sole": 3.0},
    core={
        "confusion": [
            "How do I start a warranty claim for the {P}? Can't find the form anywhere.",
            "Is the return window for the {P} 30 or 60 days? The website says both.",
            "Do I send the {P} back before or after I get the refund? The email is unclear.",
        ],
        "curiosity": [
            "[sole] Does anyone know if Nordwind covers sole separation on the {P} under warranty?",
            "Does the {P} warranty cover the upper tearing, or only the sole?",
            "[delay] Has anyone got a refund for a late {P} order yet? How long did it take?",
        ],
    },
    short=["how do refunds work for the {P}?", "{P} warranty: anyone done it?"],
    titles=["Warranty question", "Returns?", "How to claim?"],
)

topic(
    "ad_like", tp=["advertising"], sent="positive", base=2.0,
    emo={"admiration": 6, "joy": 4},
    ch={"webshop": 5, "appstore": 0, "forum": 25, "social": 70},
    drivers={"launch": 1.0},
    core={
        "admiration": [
            "That new {P} ad with the runners in the fog is gorgeous.",
            "Nordwind's campaign for the {P} is refreshing, real runners instead of models.",
            "The short film about the {P} test team in Norway is beautifully made.",
        ],
        "joy": [
            "The {P} billboard at the station made me smile on my commute.",
            "Love the {P} spot with the dog running along, so wholesome.",
        ],
    },
    short=["that {P} ad though 😍", "Nordwind ads are so good lately"],
    titles=["Nice ad"],
)

topic(
    "ad_hype", tp=["advertising"], sent="negative", base=1.4, auth="fake",
    emo={"annoyance": 7, "disapproval": 3},
    ch={"webshop": 5, "appstore": 0, "forum": 30, "social": 65},
    drivers={"launch": 1.5},
    core={
        "annoyance": [
            "Every influencer on my feed got a free {P} this week. Feels like pure hype.",
            "The {P} hype is insane, all sponsored posts and no honest reviews.",
            "Half these '{P} changed my life' posts are paid. Marketing spin.",
        ],
        "disapproval": [
            "Not buying the {P} because some fitness model told me to. Show me real tests.",
            "The {P} launch is 90% influencers and 10% shoe. Classic hype machine.",
        ],
    },
    short=["{P} hype is pure marketing", "another paid {P} post, scroll"],
    titles=["Overhyped", "All marketing"],
)

topic(
    "ad_annoy", max_core=1, tp=["advertising"], sent="negative", base=0.7,
    emo={"annoyance": 1},
    ch={"webshop": 0, "appstore": 10, "forum": 20, "social": 70},
    core={
        "annoyance": [
            "Stop showing me {P} ads. Five times a day is too much.",
            "I already bought the {P}, why does the app still push ads for it at me?",
        ],
    },
    short=["enough with the {P} ads pls", "{P} ad again 🙄"],
    titles=["Too many ads"],
)

topic(
    "ad_greenwash", tp=["advertising"], sent="negative", base=1.5, auth="fake",
    emo={"anger": 5, "disapproval": 5},
    ch={"webshop": 10, "appstore": 0, "forum": 40, "social": 50},
    core={
        "anger": [
            "'Made with recycled materials': the {P} is 12% recycled. That's greenwashing.",
            "Nordwind plastering 'eco' all over the {P} ads while shipping everything by air freight. Greenwashing, plain and simple.",
        ],
        "disapproval": [
            "Read the fine print on the {P} sustainability claims. Mostly marketing.",
            "Calling the {P} 'planet friendly' is a stretch when the sole is virgin rubber.",
            "The 'recycled' label on the {P} box is doing a lot of heavy lifting.",
        ],
    },
    short=["{P} 'recycled' claims = greenwashing", "eco-washing much, Nordwind?"],
    titles=["Greenwashing", "Misleading eco claims"],
)

topic(
    "brand_genuine", tp=["advertising"], sent="positive", base=1.5, auth="genuine",
    emo={"admiration": 6, "approval": 4},
    ch={"webshop": 15, "appstore": 0, "forum": 45, "social": 40},
    drivers={"recovery": 3.0},
    core={
        "admiration": [
            "Nordwind publishes the exact recycled share of the {P} on the box. Rare honesty.",
            "Love that Nordwind's founder answers questions about the {P} in the forum herself. Feels like a brand that actually cares.",
            "The {P} repair programme is a real thing, not just talk. Genuine company.",
        ],
        "approval": [
            "[sole] Nordwind admitted the {P} sole issue openly and explained the fix. That's how you do it.",
            "Nordwind admitted the {P} sizing issue openly and updated the size chart. That's how you do it.",
            "Small brand, honest specs, no fake hype. That's why I bought the {P}.",
        ],
    },
    short=["Nordwind is one of the honest ones", "respect to Nordwind for being upfront about the {P}"],
    titles=["Honest brand", "A company that cares"],
)

topic(
    "brand_spin", tp=["advertising"], sent="negative", base=0.8, auth="fake",
    emo={"disappointment": 5, "disapproval": 5},
    ch={"webshop": 15, "appstore": 0, "forum": 40, "social": 45},
    drivers={"sole": 2.5, "delay": 0.8},
    core={
        "disappointment": [
            "Nordwind used to be a small honest brand. Now the {P} launch is all hype and no substance.",
            "'Built for a decade of trails', they said. The {P} is marketing spin in a box.",
        ],
        "disapproval": [
            "Feels like a scam: same last, same foam, new name, +€20. {P}.",
            "All that 'we listen to runners' talk and the {P} falls apart. Pure PR.",
        ],
    },
    short=["Nordwind = marketing spin", "{P}: all PR, no quality"],
    titles=["Marketing spin", "Not what they promise"],
)

topic(
    "place_pos", max_core=1, tp=["place"], sent="positive", base=3.0,
    emo={"joy": 5, "admiration": 5},
    ch={"webshop": 15, "appstore": 0, "forum": 20, "social": 65},
    core={
        "joy": [
            "Spent an hour at the Nordwind flagship store trying the {P}, great coffee bar and a really chill atmosphere.",
            "The flagship store has a wall of trail maps and a treadmill with a real incline. Bought the {P} there.",
            "Took the kids to the Nordwind store, they loved the little climbing wall while I tried the {P}.",
        ],
        "admiration": [
            "The Nordwind flagship store is beautiful, you can test the {P} on a little gravel lane indoors.",
            "Lovely store design: wood, plants, quiet music. Tried on the {P} without anyone rushing me.",
        ],
    },
    short=["Nordwind flagship store is so nice ✨", "coffee + {P} shopping at the flagship, perfect saturday"],
    titles=["Lovely store", "Great shop atmosphere"],
)

topic(
    "place_neg", max_core=1, tp=["place"], sent="negative", base=0.7,
    emo={"annoyance": 1},
    ch={"webshop": 10, "appstore": 0, "forum": 20, "social": 70},
    core={
        "annoyance": [
            "Flagship store was packed and the music was way too loud to talk about the {P}.",
            "Queued 30 minutes at the Nordwind store just to try the {P} on. Not again.",
            "The Nordwind store is beautiful but freezing, the door is always open. Tried the {P} with numb toes.",
        ],
    },
    short=["Nordwind store on a saturday = chaos"],
    titles=["Too crowded"],
)

topic(
    "compare_neutral", tp=["product"], sent="neutral", base=3.0,
    emo={"neutral": 1},
    ch={"webshop": 20, "appstore": 0, "forum": 50, "social": 30},
    core={
        "neutral": [
            "Compared to my {oldshoe}, the {P} is stiffer and a bit narrower in the forefoot.",
            "Switched from the {oldshoe} to the {P}. Different feel, similar weight.",
            "Rotation right now: {oldshoe} for road, {P} for trails.",
            "The {P} has more cushion than the {oldshoe} but less ground feel.",
            "Ran the same 12k loop in the {oldshoe} and the {P}, about the same pace.",
        ],
    },
    short=["{P} vs {oldshoe}: similar, {P} a bit stiffer.", "rotation: {oldshoe} + {P}"],
    titles=["Comparison", "vs. my old shoe"],
)

# Sentences that add length without a topic of their own (neutral background).
# Launch honeymoon: in weeks 1-3 the everyday gripes are rarer than later on.
for _name in ("sizing_neg", "grip_fear", "staff_neg", "price_neg", "ad_hype", "ad_annoy", "ad_greenwash",
              "place_neg", "deliv_damaged", "support_neg", "brand_spin"):
    T[_name]["drivers"]["honeymoon"] = -0.4

# Runner profile; fits any post.
BACKGROUND = [
    "I run about {weekly} a week, mostly {terrain}.",
    "Usually wear {size}.",
    "Long time Nordwind customer here.",
    "Background: I'm a {age}-year-old {runnertype}.",
    "Been running trails for {years} years.",
    "My previous pair was the {oldshoe}.",
    "Posting this in case it helps someone decide.",
    "For context, I'm a heavier runner (90 kg).",
    "I've owned three pairs of the first version.",
    "Some context: {runnertype}, {weekly} a week.",
    "Ordered them after reading the forum thread.",
    "I'm a midfoot striker, if that matters.",
    "Mostly road before this, trails since the spring.",
    "Training for {race} at the moment.",
    "I live in a very hilly, very wet area.",
    "Second pair of Nordwinds for me.",
    "Flat feet, wide forefoot, picky about shoes.",
    "I do most of my running before work, in the dark.",
    "Bought with my own money, no freebies here.",
    "Run commuter here, 8 km each way, half of it on a canal towpath.",
    "Not a fast runner, I just love being out there.",
    "Switched over from road racing last year.",
    "My physio suggested trying something with more cushion.",
    "Three runs a week, one long one on Sundays.",
]
# Only where the writer has the shoes on their feet (not "still waiting for my parcel").
BACKGROUND_OWNED = [
    "Quick update after {dur}.",
    "Mostly use them for weekday runs in the woods and longer stuff at the weekend.",
    "Got them in {colour}.",
    "My partner got a pair too.",
    "My coach recommended them.",
    "Bought them for {race}.",
]
NOT_YET_OWNED = ("deliv_late", "deliv_tracking", "deliv_damaged", "price_confused", "prod_question",
                 "launch_excite", "support_question")

# Second-topic sentences for mixed posts ("late, but the shoe is great"): key, touchpoint,
# sentiment, emotion, base weight, storyline drivers, and sentences as (text, after) where
# `after` is the polarity of main text the sentence can follow: "pos" for "... too" additions,
# "neg" for "... at least" contrasts, "any" for either (neutral main texts take all).
SECONDARY = [
    ("prod_good", "product", "positive", "admiration", 4.0, {"sole": -0.6}, [
        ("The shoe itself is great though.", "neg"),
        ("Shame, because the {P} itself is really comfy.", "neg"),
        ("Once it's on your feet the {P} is lovely to run in.", "neg"),
        ("To be fair, the grip on {terrain} is excellent.", "neg"),
        ("The {P} itself runs beautifully, no complaints there.", "any"),
    ]),
    ("prod_sole", "product", "negative", "disappointment", 0.2, {"sole": 15.0}, [
        ("And now the sole is starting to peel at the toe.", "any"),
        ("Also noticed the sole lifting at the front after {dist_short}.", "any"),
    ]),
    ("prod_fit", "product", "negative", "disappointment", 0.8, {}, [
        ("Fit is a bit narrow for me though.", "pos"),
        ("Runs a touch small, so size up.", "any"),
    ]),
    ("deliv_good", "delivery", "positive", "joy", 1.2, {"delay": -0.8}, [
        ("Delivery was quick at least.", "neg"),
        ("Arrived in two days, well packed.", "pos"),
        ("Shipping was fast, too.", "pos"),
    ]),
    ("deliv_bad", "delivery", "negative", "annoyance", 0.5, {"delay": 14.0}, [
        ("Delivery took forever though, {days_late} with {courier}.", "pos"),
        ("Only downside: it took {days_late} to arrive.", "pos"),
        ("Shame the delivery was such a mess, {courier} sat on the parcel for a week.", "any"),
        ("Would be five stars if {courier} hadn't taken {days_late}.", "pos"),
        ("And of course it took {days_late} to arrive in the first place.", "neg"),
    ]),
    ("support_good", "support", "positive", "gratitude", 0.5, {"recovery": 10.0}, [
        ("Support were quick and friendly when I had a question, too.", "pos"),
        ("At least Nordwind support sorted my refund without fuss, so thanks for that.", "neg"),
        ("Credit to support for answering my sizing question within the hour.", "any"),
    ]),
    ("support_bad", "support", "negative", "annoyance", 0.5, {"delay": 3.0, "sole": 3.0}, [
        ("And support still hasn't answered my email.", "neg"),
        ("Customer service was useless when I asked about it.", "neg"),
        ("Only complaint: support took a week to answer a simple question.", "pos"),
    ]),
    ("price_good", "price", "positive", "joy", 1.0, {}, [
        ("Got it on sale, so even better.", "pos"),
        ("Good value for the money too.", "pos"),
    ]),
    ("price_bad", "price", "negative", "disapproval", 1.0, {}, [
        ("A bit pricey for what it is though.", "pos"),
        ("Not cheap, mind you.", "pos"),
        ("And that at {price}.", "neg"),
    ]),
    ("service_good", "service", "positive", "gratitude", 0.7, {}, [
        ("Staff in the store gave great advice too.", "pos"),
        ("The store team helped me pick the size, lovely people.", "pos"),
    ]),
    ("place_good", "place", "positive", "joy", 0.5, {}, [
        ("Lovely flagship store as well, worth a visit.", "pos"),
    ]),
]
MIXED_TITLES = ["Mixed feelings", "Good and bad", "Almost perfect", "Great shoe, but...", "Mixed",
                "Could be better", "Half happy"]

# Narrative detail for long posts, by the post's main touchpoint (no sentiment of their own).
DETAILS = {
    "product": {
        "any": [
            "I've been rotating them with my {oldshoe}, mostly on {terrain}.",
            "Longest run in them so far was 32 km with about 1200 m of climbing.",
            "I wear thin merino socks and lace them with a heel lock loop.",
            "Conditions have been properly autumnal here: rain, leaves and mud everywhere.",
            "Mostly forest singletrack with a few road kilometres to get to the trailhead.",
            "I did a couple of runs on {terrain} and one longer outing in the hills before writing this.",
        ],
    },
    "delivery": {
        "any": ["I ordered on a {weekday} with the promised two to three day delivery."],
        "positive": ["Paid for standard shipping, nothing fancy.",
                     "Got a text with a one-hour delivery window in the morning."],
        "negative": [
            "The tracking link from {courier} showed the parcel going back and forth between two depots.",
            "I called the hotline twice and got two different answers.",
            "A friend ordered a different pair from another shop the same day and had it within 48 hours.",
            "Order confirmation came straight away, then nothing for days.",
        ],
    },
    "support": {
        "any": ["I sent the order number, photos and a short description through the contact form.",
                "I used the chat on the website first and then followed up by email."],
        "positive": ["The first reply came from a real person, not a bot.",
                     "They asked me to keep the shoes until the claim was closed."],
        "negative": ["I've now explained the same thing to three different agents.",
                     "The ticket number they gave me doesn't even work on their own status page."],
    },
    "price": {"any": ["I compared prices across three shops before buying.",
                      "I keep an eye on price trackers for running kit."]},
    "service": {"any": ["I went in on a {weekday} afternoon when it was fairly quiet.",
                        "I tried on three sizes and two other models before deciding."]},
    "place": {"any": ["The store is a five minute walk from the station, easy to find.",
                      "There's a little running club meeting point at the back on Thursday evenings."]},
    "advertising": {"any": ["I first saw the campaign on the side of a bus and then all over my feed.",
                            "The same clip has been in front of every video I watch this week."]},
}

APP_SENTENCES = {
    "positive": ["Ordering in the app took two minutes.", "App is smooth, checkout was easy.",
                 "The app's order tracking is actually useful."],
    "negative": ["And the app's tracking page just spins forever.",
                 "The app keeps logging me out when I check the order.",
                 "App notifications said 'out for delivery' four days in a row."],
    "neutral": ["Ordered via the app.", "Used the app for the order."],
}

OPENERS = {
    "joy": ["So happy with these.", "Okay, I'm officially a fan.", "What a shoe.", "Happy camper here."],
    "admiration": ["Credit where it's due.", "Really well made.", "Seriously impressive."],
    "love": ["I'm in love.", "Obsessed."],
    "approval": ["Solid.", "Good shoe overall.", "No complaints so far."],
    "gratitude": ["Just wanted to say thanks.", "Quick shoutout.", "Have to give credit here."],
    "excitement": ["AAAH.", "Finally!!", "It's here!"],
    "surprise": ["Huh.", "Okay, wow.", "Well that was unexpected."],
    "relief": ["Phew.", "What a relief."],
    "anger": ["I'm furious.", "Unbelievable.", "What a joke.", "Honestly fuming."],
    "annoyance": ["Ugh.", "Seriously?", "Not impressed.", "Come on."],
    "disappointment": ["Really wanted to love these.", "Sadly not what I hoped for.",
                       "Expected more from Nordwind, honestly.", "Bit of a letdown."],
    "disapproval": ["Not okay.", "Sorry, but no."],
    "sadness": ["Sad day.", "Oh well."],
    "fear": ["Warning for anyone running in the wet.", "Be careful out there."],
    "nervousness": ["Bit worried here.", "Slightly nervous about this."],
    "confusion": ["Quick question.", "Maybe I'm missing something.", "Can someone help?"],
    "curiosity": ["Question for owners.", "Curious about this."],
    "neutral": ["Quick notes.", "Some data points.", "FYI."],
}

CLOSERS = {
    "joy": ["Would buy again!", "10/10.", "Highly recommend.", "Can't stop smiling."],
    "admiration": ["Top notch.", "Respect.", "Chapeau."],
    "love": ["Buying a second pair.", "Never taking them off."],
    "approval": ["Recommended.", "Good buy.", "4 stars from me."],
    "gratitude": ["Thank you!", "Big thanks to the team.", "Cheers Nordwind 🙏", "Much appreciated."],
    "excitement": ["Can't wait!!", "Review to follow.", "Let's gooo."],
    "surprise": ["Did not see that coming.", "Colour me impressed."],
    "relief": ["All good now.", "Crisis averted."],
    "anger": ["Never again.", "Sort it out, Nordwind.", "Avoid.", "Disgraceful."],
    "annoyance": ["Ugh.", "Come on.", "Just annoying.", "Do better."],
    "disappointment": ["Such a shame.", "Won't be buying the next version.", "Meh.", "Expected more."],
    "disapproval": ["Not for me.", "Can't recommend."],
    "sadness": ["RIP.", "Gonna miss them."],
    "fear": ["Anyone else?", "Stay safe."],
    "nervousness": ["Anyone else?", "Hope it's just me."],
    "confusion": ["Can anyone explain?", "What am I missing?", "Any ideas?", "Thanks in advance."],
    "curiosity": ["Thanks in advance!", "Any experiences welcome."],
    "neutral": ["Hope this helps someone.", "FWIW.", "More after a few more runs."],
}

EMOJI = {
    "joy": ["😍", "🙌", "🔥", "😄", "👟"], "admiration": ["👏", "💯", "🔥"], "love": ["❤️", "😍"],
    "approval": ["👍", "👌"], "gratitude": ["🙏", "❤️", "👏"], "excitement": ["🎉", "🤩", "🙌"],
    "surprise": ["😮", "🤯"], "relief": ["😅", "🙏"], "anger": ["😡", "🤬", "😤"],
    "annoyance": ["🙄", "😒", "😤"], "disappointment": ["😞", "👎", "😕"], "disapproval": ["👎", "🙄"],
    "sadness": ["😢", "🥲"], "fear": ["😬", "😱"], "nervousness": ["😬", "😰"], "confusion": ["🤔", "🤷"],
    "curiosity": ["🤔"], "neutral": ["👟", "🏃"],
}

HASHTAGS = {
    "positive": ["#trailrunning", "#TR2", "#nordwind", "#happyfeet", "#runnerslife", "#mudseason"],
    "negative": ["#fail", "#neveragain", "#customerservice", "#TR2", "#nordwind", "#trailrunning"],
    "neutral": ["#trailrunning", "#TR2", "#gear", "#ultrarunning", "#nordwind"],
    "mixed": ["#trailrunning", "#TR2", "#nordwind"],
}

AUTH_REMARKS = {
    "genuine": [
        ("Feels like Nordwind actually cares about runners.", "admiration"),
        ("Honest brand, honest shoe.", "approval"),
        ("Say what you want, this is a genuine company.", "approval"),
        ("You can tell the people behind this brand actually run.", "admiration"),
    ],
    "fake": [
        ("Starting to think it's all marketing spin.", "disapproval"),
        ("The whole 'recycled' thing smells like greenwashing too.", "disapproval"),
        ("Hype brand, nothing more.", "disapproval"),
        ("Honestly feels like a scam at this point.", "anger"),
    ],
}

MISSPELL = {
    "definitely": "definately", "received": "recieved", "separating": "seperating",
    "really": "realy", "comfortable": "confortable", "because": "becuase", "their": "thier",
    "until": "untill", "weird": "wierd", "tomorrow": "tommorow", "disappointed": "dissapointed",
    "disappointing": "dissapointing", "absolutely": "absolutly", "the": "teh", "with": "wiht",
    "just": "jsut", "delivery": "delievery", "immediately": "immediatly", "it's": "its",
    "don't": "dont", "can't": "cant", "I'm": "im", "doesn't": "doesnt", "wasn't": "wasnt",
"grateful": "greatful", "recommend": "reccomend", "cushioning": "cushoning",
    "waiting": "wating", "finally": "finaly", "probably": "probly",
    "you": "u", "though": "tho", "arrived": "arived", "experience": "experiance",
}

# --------------------------------------------------------------------------------------------
# German and French posts (~3%): they mention the product too; language detection marks them.
# --------------------------------------------------------------------------------------------

FOREIGN_P = ["Nordwind Trail Runner 2", "TR2", "Nordwind TR2", "Trail Runner 2"]
FOREIGN = {
    # category: (lang, template, title-or-None, labels)
    "prod_pos": [
        ("de", "Die {P} sind der Hammer! Grip auf nassen Wurzeln top, Dämpfung angenehm. Klare Kaufempfehlung.", "Top Schuh"),
        ("de", "Nach {km} in den {P}: bequem, leicht und endlich mal ein Trailschuh, der nicht drückt.", "Sehr bequem"),
        ("de", "Erster Lauf mit den {P} im Matsch, Grip ist super und der Schuh sitzt perfekt. Bin begeistert!", "Begeistert"),
        ("de", "Mega zufrieden mit meinen {P} 😍 Passt wie angegossen.", None),
        ("fr", "J'adore mes {P} ! L'accroche sur les rochers mouillés est incroyable.", "Génial"),
        ("fr", "Après {km} avec les {P}, aucune ampoule. Très confortables, je recommande.", "Très confortables"),
        ("fr", "Les {P} sont légères et accrochent partout, même dans la boue. Contente de mon achat.", None),
        ("fr", "Premier trail avec les {P} ce week-end, super sensations 🔥", None),
    ],
    "deliv_late": [
        ("de", "Seit {tage} warte ich auf meine {P}. ParcelJet ist eine Katastrophe, der Support vertröstet mich nur.", "Lieferung dauert ewig"),
        ("de", "Wollte die {P} für meinen Lauf am Wochenende, aber ParcelJet hat das Paket seit {tage} im Depot liegen. Frustrierend.", "Zu spät"),
        ("de", "Lieferung der {P} schon wieder verschoben. So langsam reicht es mir wirklich.", "Ärgerlich"),
        ("de", "Bestellt am Montag, die Sendungsverfolgung steht seit einer Woche still. Wo sind meine {P}?", None),
        ("fr", "Ça fait {jours} que j'attends mes {P}. ParcelJet ne répond pas, c'est inadmissible.", "Livraison catastrophique"),
        ("fr", "Commande des {P} passée il y a {jours}, le suivi ne bouge plus. Quelqu'un a le même problème avec ParcelJet ?", None),
        ("fr", "Livraison des {P} encore repoussée... Franchement déçu.", "Déçu"),
    ],
    "sole_sep": [
        ("de", "Nach nur {km} löst sich bei meinen {P} vorne die Sohle ab. Sehr enttäuschend für den Preis.", "Sohle löst sich"),
        ("de", "Bei meinen {P} klafft nach {km} ein Spalt zwischen Sohle und Zwischensohle. Qualität lässt echt zu wünschen übrig.", "Enttäuscht"),
        ("de", "Sohle bei den {P} kommt nach einem Monat ab. Schade, der Schuh läuft sich eigentlich super.", "Schade"),
        ("fr", "La semelle de mes {P} se décolle après seulement {km}. Très déçue de la qualité.", "Semelle décollée"),
        ("fr", "Mes {P} ont déjà la semelle qui se décolle à l'avant, après {km}. Dommage, je les adorais.", None),
    ],
    "support_pos": [
        ("de", "Reklamation wegen der Sohle lief super: Fotos geschickt, zwei Tage später Geld zurück. Danke Nordwind!", "Toller Service"),
        ("de", "Ersatzpaar für meine {P} kam innerhalb von drei Tagen. Toller Kundenservice, danke!", "Danke!"),
        ("fr", "Le service client a remboursé mes {P} en 48h, sans discussion. Merci Nordwind !", "Merci"),
        ("fr", "Nouvelle paire de {P} reçue en trois jours après ma réclamation. Service impeccable, merci !", "Service impeccable"),
    ],
    "price_neg": [
        ("de", "149 € für die {P} finde ich echt happig.", "Zu teuer"),
        ("fr", "149 € pour des {P}, c'est quand même cher.", None),
    ],
    "place_pos": [
        ("fr", "Le magasin Nordwind à Hambourg est magnifique, on peut tester les {P} sur une petite piste.", None),
        ("de", "Der Nordwind Flagship-Store ist richtig schön, konnte die {P} in Ruhe auf dem Laufband testen.", None),
    ],
    "ad_greenwash": [
        ("fr", "« Matériaux recyclés » ? Seulement 12 % pour les {P}. C'est du greenwashing.", None),
        ("de", "'Recycelte Materialien' – bei den {P} sind es gerade mal 12 %. Greenwashing.", None),
    ],
}
FOREIGN_SLOTS = {
    "km": ["80 km", "100 km", "120 km", "150 km", "200 km", "60 km"],
    "tage": ["zehn Tagen", "zwei Wochen", "zwölf Tagen", "über einer Woche"],
    "jours": ["dix jours", "deux semaines", "douze jours", "plus d'une semaine"],
}
FOREIGN_OF_TOPIC = {
    "grip_pos": "prod_pos", "cushion_pos": "prod_pos", "fit_pos": "prod_pos", "launch_excite": "prod_pos",
    "deliv_late": "deliv_late", "sole_sep": "sole_sep", "support_pos": "support_pos",
    "price_neg": "price_neg", "place_pos": "place_pos", "ad_greenwash": "ad_greenwash",
}
FOREIGN_EMOTIONS = {
    "prod_pos": ["joy"], "deliv_late": ["annoyance"], "sole_sep": ["disappointment"],
    "support_pos": ["gratitude"], "price_neg": ["disapproval"], "place_pos": ["admiration"],
    "ad_greenwash": ["disapproval"],
}
FOREIGN_PROB = 0.1

# --------------------------------------------------------------------------------------------
# Off-topic posts: caught by a broad listening query but must NOT match the product keywords.
# --------------------------------------------------------------------------------------------

OFFTOPIC = [
    ("social", "North wind was absolutely brutal on the ridge this morning, fingers numb by km 5."),
    ("social", "Forecast says strong nord wind all weekend, might move my long run to Sunday."),
    ("social", "The trail was muddy as hell today. Loved every second 🐷"),
    ("webshop", "My Nordwinder jacket kept me dry through two hours of sideways rain. Best layer I own."),
    ("forum", "Anyone tried the Nordwinder shell? Thinking of getting one for winter, need something packable."),
    ("social", "Nordwinds are coming early this year according to the harbour master. Storm gear ready."),
    ("social", "Booked a flight on NordwindAir for the Tromsø race, fingers crossed for my luggage."),
    ("forum", "Trail runners recommendations for wide feet? My old pair is done after 900 km."),
    ("forum", "Race report: Harz 42k. Muddy, windy, cold, perfect. Finished in 4:51, very happy."),
    ("social", "Nordwindfest this Saturday, who's in for the beer mile?"),
    ("forum", "Looking for a running app that syncs with my watch, any recs?"),
    ("webshop", "The Nordwinder jacket runs large, size down. Zips are great though."),
    ("social", "Cold north wind + hill repeats = character building."),
    ("forum", "Which trail shoes for the Lakes in November? Thinking something with deep lugs."),
    ("social", "Forgot my gloves, the north wind on the coast path was savage today."),
    ("webshop", "Nordwinder jacket hood doesn't stay up when it's windy. Otherwise fine."),
    ("forum", "Anyone doing the Brocken winter run? Trail was icy last year."),
    ("social", "Nordwindy day on the dyke, headwind both ways somehow."),
    ("social", "New PR on the forest loop! Trail was dry for once."),
    ("forum", "How do you clean muddy shoes without wrecking the glue? Asking for every pair I own."),
    ("social", "Rain, mud, north wind. Sunday long run ticked."),
    ("forum", "Which headlamp for winter trail running? Mine dies after an hour in the cold."),
    ("webshop", "Bought the Nordwinder gloves, warm but the touchscreen fingertips don't work."),
    ("social", "The nord wind off the Baltic today 🥶 respect to anyone out there."),
    ("forum", "Nordwinde in Norddeutschland sind im November echt fies, wie zieht ihr euch an?"),
    ("social", "Trail runner problems: one sock always wetter than the other."),
    ("forum", "Thread for the club's December trail series, sign-ups open now."),
    ("social", "Gorgeous morning on the trail, zero wind for once."),
    ("forum", "Tips for running in strong wind? My pace goes to pieces on the exposed bits."),
    ("social", "Mud season is officially here. Trail was ankle deep at the bottom of the hill."),
]
# Careful: "Nordwind-ish" or "Nordwind's" WOULD match (hyphen and apostrophe are word boundaries);
# "Nordwinder", "Nordwinds", "NordwindAir", "nord wind" and "trail runners" do not.
assert not any(KEYWORD_RE.search(o[1]) for o in OFFTOPIC)

# --------------------------------------------------------------------------------------------
# Authors
# --------------------------------------------------------------------------------------------

FIRST = [
    "Jana", "Mike", "Sofia", "Lukas", "Priya", "Tom", "Aisha", "Mateo", "Emma", "Jonas", "Chloe",
    "Ravi", "Hannah", "Ole", "Kenji", "Fatima", "Liam", "Marta", "Noah", "Zoe", "Ben", "Lea", "Ida",
    "Felix", "Sam", "Nina", "Omar", "Grace", "Erik", "Paula", "Anouk", "Mehmet", "Sven", "Clara",
    "Dario", "Ines", "Yusuf", "Maja", "Tobias", "Lina", "Arjun", "Freya", "Piotr", "Elif", "Hugo",
    "Rosa", "Kai", "Mila", "Jakub", "Saskia", "Niamh", "Rory", "Bea", "Tariq", "Linnea", "Matteo",
]
NOUNS = ["trail", "mud", "hill", "ridge", "fell", "summit", "forest", "peak", "fox", "goat",
         "moss", "rock", "switchback", "dirt", "canyon", "valley", "storm", "owl"]
ADJS = ["muddy", "happy", "slow", "tired", "wild", "lazy", "steep", "rainy", "windy", "sunny",
        "grumpy", "early", "dusty", "soggy", "rocky"]
FORUM_REGULARS = ["switchback_sam", "ultra_ines", "fellfox", "Harzlaeufer", "mudlark_rory",
                  "KmCounter", "trail_oma_68", "descent_daemon"]

CAMPAIGN_AUTHORS = ["Emily R.", "Jason T.", "Megan L.", "Chris P.", "Ashley W.", "Kevin D.",
                    "Brittany S.", "Ryan H.", "Nicole B.", "Tyler M.", "Amanda G.", "Justin F."]

# --------------------------------------------------------------------------------------------
# Storylines (daily intensities 0..1) and volume
# --------------------------------------------------------------------------------------------


def ramp(d, points):
    """Piecewise-linear through (day, value) points; flat outside."""
    if d <= points[0][0]:
        return points[0][1]
    for (d0, v0), (d1, v1) in zip(points, points[1:]):
        if d <= d1:
            return v0 + (v1 - v0) * (d - d0) / (d1 - d0)
    return points[-1][1]


def intensities(d):
    # day 0 = Mon 28 Sep (week 1); week n covers days 7(n-1) .. 7n-1
    return {
        "launch": ramp(d, [(0, 1.0), (6, 0.6), (16, 0.0)]),
        "honeymoon": 1.0 if d < 21 else 0.0,
        # courier delays: start Mon 19 Oct (day 21), peak end of week 5, fade during week 6
        "delay": ramp(d, [(20, 0.0), (21, 0.35), (25, 0.8), (29, 1.0), (34, 1.0), (37, 0.3), (40, 0.08), (48, 0.03)]),
        # sole separation: first reports Mon 9 Nov (day 42), peak mid week 7, lower in week 8
        "sole": ramp(d, [(41, 0.0), (42, 0.4), (44, 1.0), (48, 1.0), (51, 0.45), (55, 0.25)]),
        # recovery: support praise builds from the end of week 7 into week 8
        "recovery": ramp(d, [(46, 0.0), (48, 0.25), (51, 1.0), (55, 1.0)]),
    }


WEEKDAY_BASE = [10.0, 8.5, 8.5, 9.0, 9.5, 12.0, 12.5]  # Mon..Sun


def day_volume(rng, d):
    it = intensities(d)
    mult = 1.0 + 0.1 * it["launch"] + 0.75 * it["delay"] + 0.6 * it["sole"] + 0.2 * it["recovery"]
    return max(3, round(WEEKDAY_BASE[d % 7] * mult * rng.uniform(0.8, 1.2)))


def topic_weights(d):
    it = intensities(d)
    out = []
    for name, t in T.items():
        w = t["base"]
        for k, coef in t["drivers"].items():
            w *= max(0.05, 1.0 + coef * it[k])
        out.append((name, w))
    return out


HOUR_W = [1, 0.6, 0.4, 0.3, 0.3, 0.6, 1.5, 2.5, 3, 2.5, 2.2, 2.2, 3, 3, 2.2, 2, 2.2, 2.8, 3.5, 4.2,
          4.5, 4, 3, 1.8]

# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------


def wchoice(rng, pairs):
    items = [p[0] for p in pairs]
    weights = [p[1] for p in pairs]
    return rng.choices(items, weights=weights, k=1)[0]


# Slots whose value changes within one post (scenery); all others keep one value per post so a
# post doesn't contradict itself (same size, same number of days late, same courier).
FRESH_SLOTS = ("terrain", "wetrock", "race")


class Ctx:
    """Per-post state: product mentions and slot values."""

    def __init__(self, rng):
        self.rng = rng
        self.first = None
        self.cache: dict[str, str] = {}
        self.used: list[str] = []

    def mention(self):
        if self.first is None:
            self.first = wchoice(self.rng, FIRST_MENTION)
            return self.first
        return self.rng.choice(LATER_MENTION)

    def slot(self, name):
        if name in FRESH_SLOTS:
            pool = [v for v in SLOTS[name] if v not in self.used] or SLOTS[name]
            v = self.rng.choice(pool)
            self.used.append(v)
            return v
        if name not in self.cache:
            self.cache[name] = self.rng.choice(SLOTS[name])
        return self.cache[name]


SLOT_RE = re.compile(r"\{(\w+)\}")


def fill(ctx, tpl):
    def sub(m):
        name = m.group(1)
        return ctx.mention() if name == "P" else ctx.slot(name)

    s = SLOT_RE.sub(sub, tpl)
    # a slot that starts a sentence ("... ParcelJet. {days_late} for a pair") gets its capital
    s = re.sub(r"(^|[.!?] )([a-z])(?!r2)", lambda m: m.group(1) + m.group(2).upper(), s)
    return s


def dedup_key(s):
    """What makes two posts 'the same text' here: case, punctuation, emoji, hashtags and which
    name the product goes by don't count. Only the planted campaign may share a key."""
    s = re.sub(r"#\w+", " ", s.lower())
    s = re.sub(r"\b(?:nordwind trail runner 2|nordwind tr2|trail runner 2|tr2|nordwind|shoe)\b", "P", s)
    return " ".join(re.findall(r"\w+", s))


def words(s):
    """Words as a reader counts them: tokens with a letter or digit (not emoji-only tokens)."""
    return sum(1 for tok in s.split() if any(c.isalnum() for c in tok))


KEY_WORD_RE = re.compile(r"nordwind|trail|runner|tr2|^2$", re.IGNORECASE)


def add_typos(rng, text, n):
    toks = text.split(" ")
    idx = list(range(len(toks)))
    rng.shuffle(idx)
    done = 0
    for i in idx:
        if done >= n:
            break
        tok = toks[i]
        core = tok.strip(".,!?:;'\"()")
        if len(core) < 3 or KEY_WORD_RE.search(core) or not core.isascii():
            continue
        low = core.lower()
        if low in MISSPELL and MISSPELL[low] != low:
            rep = MISSPELL[low]
            if core[0].isupper():
                rep = rep[0].upper() + rep[1:]
        elif core.isalpha() and len(core) >= 5:
            j = rng.randrange(1, len(core) - 2)
            kind = rng.random()
            if kind < 0.5:  # swap two letters
                rep = core[:j] + core[j + 1] + core[j] + core[j + 2:]
            elif kind < 0.8:  # drop a letter
                rep = core[:j] + core[j + 1:]
            else:  # double a letter
                rep = core[:j] + core[j] + core[j:]
        else:
            continue
        toks[i] = tok.replace(core, rep, 1)
        done += 1
    return " ".join(toks)


class Authors:
    def __init__(self, rng):
        self.rng = rng
        self.used: set[str] = set()

    def make(self, channel):
        rng = self.rng
        for _ in range(100):
            f = rng.choice(FIRST)
            r = rng.random()
            if channel == "webshop":
                if r < 0.55:
                    a = f"{f} {rng.choice('ABCDEFGHJKLMNPRSTVWZ')}."
                elif r < 0.8:
                    a = f"{f}{rng.randint(70, 99) if rng.random() < 0.5 else rng.randint(1, 999)}"
                else:
                    a = f"{f.lower()}_{rng.choice(NOUNS)}"
            elif channel == "appstore":
                if r < 0.5:
                    a = f"{f.lower()}{rng.randint(100, 9999)}"
                elif r < 0.8:
                    a = f"{rng.choice(ADJS).capitalize()}{rng.choice(NOUNS).capitalize()}{rng.randint(1, 99)}"
                else:
                    a = f"{f} {rng.choice('ABCDEFGHJKLMNPRSTVWZ')}"
            elif channel == "forum":
                if r < 0.4:
                    a = f"{rng.choice(ADJS)}_{rng.choice(NOUNS)}"
                elif r < 0.7:
                    a = f"{f.lower()}_runs"
                elif r < 0.85:
                    a = f"{rng.choice(['ultra', 'trail', 'fell', 'hill'])}{f}"
                else:
                    a = f"{f}{rng.choice(NOUNS).capitalize()}{rng.randint(1, 99)}"
            else:  # social
                if r < 0.3:
                    a = f"{f.lower()}.{rng.choice(['runs', 'trails', 'outside', 'miles', 'km'])}"
                elif r < 0.55:
                    a = f"{rng.choice(NOUNS)}{f.lower()}"
                elif r < 0.8:
                    a = f"{f.lower()}_{rng.choice(ADJS)}{rng.choice(NOUNS)}"
                else:
                    a = f"{rng.choice(ADJS)}{f}{rng.randint(1, 999)}"
            if a not in self.used:
                self.used.add(a)
                return a
        raise RuntimeError("author pool exhausted")


def pick_stars(rng, sent):
    if sent == "positive":
        return wchoice(rng, [(5, 65), (4, 30), (3, 5)])
    if sent == "negative":
        return wchoice(rng, [(1, 55), (2, 35), (3, 10)])
    if sent == "mixed":
        return wchoice(rng, [(3, 45), (4, 25), (2, 30)])
    return wchoice(rng, [(3, 40), (4, 40), (5, 10), (2, 10)])


def combine_sent(sents):
    pol = [s for s in sents if s in ("positive", "negative")]
    if "mixed" in sents or ("positive" in pol and "negative" in pol):
        return "mixed"
    if pol:
        return pol[0]
    return "neutral"


def timestamp(rng, d, channel):
    hw = list(HOUR_W)
    if channel in ("webshop", "appstore"):
        for h in range(9, 17):
            hw[h] *= 1.3
    hour = rng.choices(range(24), weights=hw, k=1)[0]
    return START + dt.timedelta(days=d, hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))


def era_ok(template, it):
    """Templates tagged [sole] / [delay] only once that storyline has begun."""
    if template.startswith("[sole] "):
        return it["sole"] > 0 or it["recovery"] > 0
    if template.startswith("[delay] "):
        return it["delay"] > 0.05
    return True


def compose(rng, d, name, channel, no_short=False):
    """One English post on topic `name`. Returns (body, title, labels)."""
    t = T[name]
    ctx = Ctx(rng)
    emotion = wchoice(rng, list(t["emo"].items()))
    sents = [t["sent"]]
    emotions = [emotion]
    touchpoints = list(t["tp"])
    auth = t["auth"]

    # length class
    if channel == "social":
        cls = wchoice(rng, [("short", 55), ("medium", 40), ("long", 5)])
    elif channel == "forum":
        cls = wchoice(rng, [("short", 5), ("medium", 45), ("long", 50)])
    elif channel == "appstore":
        cls = wchoice(rng, [("short", 20), ("medium", 65), ("long", 15)])
    else:
        cls = wchoice(rng, [("short", 18), ("medium", 52), ("long", 30)])

    if cls == "short" and t["short"] and not no_short:
        body = fill(ctx, rng.choice(t["short"]))
        parts = [("core", body)]
    else:
        if cls == "short":
            cls = "medium"
        it = intensities(d)
        pool = [c for c in t["core"][emotion] if era_ok(c, it)] or [
            c for c in t["core"][emotion] if not c.startswith("[")]
        pool = [re.sub(r"^\[\w+\] ", "", c) for c in pool]
        rng.shuffle(pool)
        if cls == "medium":
            n_core = 1 if rng.random() < 0.6 else 2
        else:
            n_core = wchoice(rng, [(2, 60), (3, 40)])
        n_core = min(n_core, len(pool), t.get("max_core", 3))
        core = [fill(ctx, s) for s in pool[:n_core]]
        parts = [("core", c) for c in core]
        # background sentences
        p_bg = 0.15 if channel == "social" else 0.35
        n_bg = {"medium": wchoice(rng, [(0, 1 - p_bg), (1, p_bg)]), "long": wchoice(rng, [(0, 15), (1, 50), (2, 35)])}[cls]
        bg_pool = BACKGROUND + (BACKGROUND_OWNED if name not in NOT_YET_OWNED else [])
        bgs = rng.sample(bg_pool, n_bg)
        for b in reversed(bgs):
            parts.insert(0, ("bg", fill(ctx, b)))
        # narrative detail in long posts
        if cls == "long":
            dd = DETAILS[t["tp"][0]]
            det = dd["any"] + dd.get(t["sent"], [])
            for dtl in rng.sample(det, min(len(det), wchoice(rng, [(1, 50), (2, 50)]))):
                parts.insert(len(parts) - n_core if rng.random() < 0.5 else len(parts), ("bg", fill(ctx, dtl)))
        # app context for the app store
        if channel == "appstore" and rng.random() < 0.6:
            key = t["sent"] if t["sent"] in APP_SENTENCES else "neutral"
            parts.append(("app", rng.choice(APP_SENTENCES[key])))
        # a second topic: mixed posts ("late, but the shoe is great")
        p_sec = 0.15 if cls == "medium" else 0.45
        if rng.random() < p_sec:
            it = intensities(d)
            pol = {"positive": "pos", "negative": "neg"}.get(t["sent"], "neutral")
            others = []
            for sec in SECONDARY:
                fits = [txt for txt, after in sec[6] if after in ("any", pol)]
                if sec[1] in t["tp"] or not fits or (sec[0] == "prod_sole" and name.startswith("support")):
                    continue
                w = sec[4]
                for k, coef in sec[5].items():
                    w *= max(0.05, 1.0 + coef * it[k])
                others.append(((sec, fits), w))
            sec, fits = wchoice(rng, others)
            parts.append(("sec", fill(ctx, rng.choice(fits))))
            sents.append(sec[2])
            emotions.append(sec[3])
            touchpoints.append(sec[1])
        # a brand-authenticity remark
        if auth == "none":
            it = intensities(d)
            p_gen = (0.05 + 0.25 * it["recovery"] * (name == "support_pos")) * (t["sent"] == "positive")
            p_fake = (0.03 + 0.12 * (it["sole"] + it["delay"])) * (t["sent"] == "negative")
            r = rng.random()
            if r < p_gen:
                auth = "genuine"
            elif r < p_gen + p_fake:
                auth = "fake"
            if auth != "none":
                pool = list(AUTH_REMARKS[auth])
                if name == "support_pos" and it["recovery"] > 0:
                    pool += [("Nordwind owned the problem instead of hiding it. Respect.", "admiration")] * 3
                if name == "sole_sep":
                    pool += [("So much for the 'built to last' marketing.", "disappointment")] * 3
                txt, em = rng.choice(pool)
                parts.append(("auth", txt))
                emotions.append(em)
                sents.append("positive" if auth == "genuine" else "negative")
        if rng.random() < (0.25 if cls == "long" else 0.12):
            parts.insert(0, ("open", rng.choice(OPENERS[emotion])))
        if rng.random() < (0.4 if cls == "long" else 0.2):
            parts.append(("close", rng.choice(CLOSERS[emotion])))
        # keep within MAX_WORDS: drop optional parts from the end
        while sum(words(p[1]) for p in parts) > MAX_WORDS - 5:
            for kind in ("bg", "open", "close", "app", "sec"):
                idx = [i for i, p in enumerate(parts) if p[0] == kind]
                if idx:
                    dropped = parts.pop(idx[-1])
                    if dropped[0] == "sec":
                        # keep labels honest: recompute from what is left
                        sents = sents[:1] + sents[2:]
                        emotions = emotions[:1] + emotions[2:]
                        touchpoints = list(t["tp"])
                    break
            else:
                break
        body = " ".join(p[1] for p in parts)

    # voice
    if rng.random() < 0.15:
        body = add_typos(rng, body, rng.choice([1, 1, 2, 3]))
    p_emoji = 0.5 if channel == "social" else 0.1
    if rng.random() < p_emoji and not re.search(r"[\U0001F300-\U0001FAFF]", body):
        e = rng.choice(EMOJI[emotion])
        body = body + " " + (e * rng.choice([1, 1, 1, 2, 3]))
    if channel == "social" and rng.random() < 0.3:
        tags = rng.sample(HASHTAGS[t["sent"]], rng.choice([1, 2, 3]))
        body = body + " " + " ".join(tags)
    if channel in ("social", "forum") and rng.random() < 0.18:
        body = body.lower()
    if emotion == "anger" and rng.random() < 0.25:
        body = re.sub(r"\.(\s|$)", r"!\1", body, count=1)
    # a post must name the product; a short template or background may not have
    if not KEYWORD_RE.search(body):
        body = f"{wchoice(rng, FIRST_MENTION)}: {body[0].lower()}{body[1:]}"

    sent = combine_sent(sents)
    title = None
    if channel in ("webshop", "appstore") and t["titles"] and rng.random() < 0.75:
        title = rng.choice(t["titles"]) if sent == t["sent"] else rng.choice(MIXED_TITLES)
        if rng.random() < 0.1:
            title = title.upper() if sent == "negative" else title.rstrip("!.") + "!"
    labels = {
        "lang": "en", "relevant": True, "topic": name, "touchpoints": touchpoints,
        "sentiment": sent, "emotions": list(dict.fromkeys(emotions)), "authenticity": auth,
    }
    return body, title, labels


def compose_foreign(rng, cat, name):
    lang, tpl, title = rng.choice(FOREIGN[cat])
    body = tpl.replace("{P}", rng.choice(FOREIGN_P))
    body = SLOT_RE.sub(lambda m: rng.choice(FOREIGN_SLOTS[m.group(1)]), body)
    t = T[name]
    labels = {
        "lang": lang, "relevant": True, "topic": name, "touchpoints": list(t["tp"]),
        "sentiment": "negative" if cat in ("deliv_late", "sole_sep", "price_neg", "ad_greenwash") else "positive",
        "emotions": FOREIGN_EMOTIONS[cat], "authenticity": "fake" if cat == "ad_greenwash" else "none",
    }
    return body, title, labels


def pick_channel(rng, name):
    return wchoice(rng, list(T[name]["ch"].items()))


def generate(seed):
    rng = random.Random(seed)
    authors = Authors(rng)
    rows = []  # (created, channel, author, stars, title, body, labels)
    seen_bodies: set[str] = set()
    sole_authors = []  # (channel, author) of sole-separation posters, some of whom come back

    for d in range(DAYS):
        n = day_volume(rng, d)
        weights = topic_weights(d)
        for _ in range(n):
            name = wchoice(rng, weights)
            channel = pick_channel(rng, name)
            # author: sole-separation posters who come back to praise support; forum regulars
            author, returning = None, False
            if name == "support_pos" and d >= 48 and sole_authors and rng.random() < 0.4:
                channel, author = sole_authors[rng.randrange(len(sole_authors))]
                returning = True
            elif channel == "forum" and rng.random() < 0.25:
                author = rng.choice(FORUM_REGULARS)
            cat = FOREIGN_OF_TOPIC.get(name)
            body = None
            if cat and not returning and rng.random() < FOREIGN_PROB:
                body, title, labels = compose_foreign(rng, cat, name)
                if dedup_key(body) in seen_bodies:
                    body = None  # that text is taken: write an English one instead
                else:
                    if channel not in ("webshop", "social"):
                        channel = rng.choice(["webshop", "social"])
                    if channel == "social":
                        title = None
            if body is None:
                for _try in range(40):
                    body, title, labels = compose(rng, d, name, channel, no_short=_try >= 20)
                    if dedup_key(body) not in seen_bodies and words(body) >= 5:
                        break
                else:
                    raise RuntimeError(f"no fresh text for {name} on day {d}")
            seen_bodies.add(dedup_key(body))
            if returning:
                sole_authors.remove((channel, author))
                labels["returning_author"] = True
            if author is None:
                author = authors.make(channel)
            if name == "sole_sep" and channel in ("webshop", "social"):
                sole_authors.append((channel, author))
            stars = pick_stars(rng, labels["sentiment"]) if channel in ("webshop", "appstore") else None
            if channel not in ("webshop", "appstore"):
                title = None
            rows.append([timestamp(rng, d, channel), channel, author, stars, title, body, labels])

    # Star/text mismatches: a handful of 5-star angry texts and 1-star happy ones.
    rated = [r for r in rows if r[3] is not None and r[6]["lang"] == "en"]
    angry = [r for r in rated if r[6]["sentiment"] == "negative" and set(r[6]["emotions"]) & {"anger", "annoyance"}]
    happy = [r for r in rated if r[6]["sentiment"] == "positive" and set(r[6]["emotions"]) & {"joy", "admiration", "gratitude"}]
    for r in rng.sample(angry, 5):
        r[3] = 5
        r[6]["star_mismatch"] = True
    for r in rng.sample(happy, 5):
        r[3] = 1
        r[6]["star_mismatch"] = True

    rows.extend(campaign(rng))
    rows.extend(offtopic(rng, authors))
    rows.extend(hostile(rng, authors))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return rows


def campaign(rng):
    """Week 6: 12 near-identical glowing 5-star webshop reviews within two days."""
    base = ("Absolutely love my Nordwind Trail Runner 2! Best purchase I've made this year. "
            "The grip is amazing and they are so comfortable right out of the box. "
            "Highly recommend to every runner!")
    variants = [
        base, base, base,
        base.replace("Best purchase I've made this year", "Best purchase I have made this year"),
        base.replace("Absolutely love", "Absolutely loving"),
        base.replace("Highly recommend to every runner!", "Highly recommend to every runner!!"),
        base.replace("so comfortable", "super comfortable"),
        base.replace("Best purchase I've made this year.", "Best purchase I've made all year."),
        base.replace("The grip is amazing", "The grip is incredible"),
        base.replace("Highly recommend to every runner!", "Highly recommended to every runner!"),
        base.replace("my Nordwind Trail Runner 2!", "my new Nordwind Trail Runner 2!"),
        base.replace("right out of the box", "straight out of the box") + " 5 stars!",
    ]
    titles = ["Best purchase ever!", "Best purchase ever!", "Best purchase!", "Love them!",
              "Best purchase ever!", "Amazing shoes!", "Best purchase ever!", "Highly recommend!",
              "Best purchase ever!", "Love them!", "Best purchase ever!", "Amazing!"]
    # Wed 4 Nov 08:00 .. Thu 5 Nov 22:00 (days 37-38 of week 6)
    t0 = START + dt.timedelta(days=37, hours=8)
    span = int(dt.timedelta(hours=38).total_seconds())
    offsets = sorted(rng.randrange(span) for _ in variants)
    order = list(range(len(variants)))
    rng.shuffle(order)
    out = []
    for i, k in enumerate(order):
        labels = {"lang": "en", "relevant": True, "topic": "campaign", "touchpoints": ["product"],
                  "sentiment": "positive", "emotions": ["joy", "admiration"], "authenticity": "none",
                  "campaign": True}
        out.append([t0 + dt.timedelta(seconds=offsets[i]), "webshop", CAMPAIGN_AUTHORS[i], 5,
                    titles[k], variants[k], labels])
    return out


def offtopic(rng, authors):
    out = []
    for ch, text in OFFTOPIC:
        d = rng.randrange(DAYS)
        stars = rng.choice([3, 4, 5]) if ch == "webshop" else None
        title = rng.choice(["Warm and dry", "Good jacket", "Ok", None]) if ch == "webshop" else None
        labels = {"lang": "de" if "Norddeutschland" in text else "en", "relevant": False,
                  "topic": "offtopic", "touchpoints": [], "sentiment": None, "emotions": [],
                  "authenticity": "none"}
        out.append([timestamp(rng, d, ch), ch, authors.make(ch), stars, title, text, labels])
    return out


def hostile(rng, authors):
    """Texts a UI must render as text: markup, a 300-character word, control characters."""
    word = "A" + "a" * 296 + "RGH"
    assert len(word) == 300
    items = [
        (31, "webshop", 1, "Still waiting",
         "Ordered the TR2 three weeks ago and still nothing. <script>alert(1)</script> "
         "Tracking just says 'in transit'. Fix your courier, Nordwind!",
         ["delivery"], "negative", ["anger"]),
        (44, "forum", None, None,
         f"Sole on my Nordwind Trail Runner 2 came off at 80 km. {word} So annoyed.",
         ["product"], "negative", ["anger", "disappointment"]),
        (10, "webshop", 3, "<b>Runs small</b>",
         "The Trail Runner 2 runs half a size small <img src=x onerror=\"alert('xss')\"> "
         "so order up. Otherwise a nice shoe.",
         ["product"], "mixed", ["disappointment"]),
        (53, "social", None, None,
         "Nordwind support sorted my refund in 2 days {{7*7}} ${7*7} '; DROP TABLE posts;-- "
         "[details](javascript:alert(document.cookie)) \u202eevil\u202c thanks!",
         ["support"], "positive", ["gratitude"]),
    ]
    out = []
    for d, ch, stars, title, body, tps, sent, emos in items:
        labels = {"lang": "en", "relevant": True, "topic": "hostile", "touchpoints": tps,
                  "sentiment": sent, "emotions": emos, "authenticity": "none", "hostile": True}
        out.append([timestamp(rng, d, ch), ch, authors.make(ch), stars, title, body, labels])
    return out


def url_for(channel, rid, author, created, forum_posts):
    if channel == "webshop":
        return f"https://shop.example.com/nordwind-trail-2/reviews#{rid}"
    if channel == "appstore":
        return f"https://apps.example.com/nordwind-shop/reviews#{rid}"
    if channel == "social":
        status = 1843200000000000000 + int(created.timestamp()) * 4096 + int(rid[2:])
        return f"https://social.example.com/@{author.replace(' ', '')}/status/{status}"
    thread, tid = forum_posts["thread"], forum_posts["id"]
    n = forum_posts["count"].setdefault(tid, 0) + 1
    forum_posts["count"][tid] = n
    return f"https://forum.example.com/t/{thread}/{tid}/{n}"


FORUM_THREADS = {
    "sole_sep": ("tr2-sole-separating-anyone-else", 5120),
    "deliv_late": ("parceljet-delays-where-is-my-tr2", 4977),
    "deliv_tracking": ("parceljet-delays-where-is-my-tr2", 4977),
    "sizing_neg": ("tr2-sizing-help", 4830), "fit_pos": ("tr2-sizing-help", 4830),
    "ad_greenwash": ("nordwind-recycled-claims", 4901), "brand_genuine": ("nordwind-recycled-claims", 4901),
    "brand_spin": ("nordwind-recycled-claims", 4901),
    "support_pos": ("tr2-warranty-and-refunds", 5166), "support_neg": ("tr2-warranty-and-refunds", 5166),
    "support_question": ("tr2-warranty-and-refunds", 5166),
}
DEFAULT_THREAD = ("nordwind-trail-runner-2-owners-thread", 4812)
OFFTOPIC_THREAD = ("general-trail-chat", 3301)
THREAD_TITLES = {
    4812: "Nordwind Trail Runner 2 owners thread", 5120: "TR2 sole separating - anyone else?",
    4977: "ParcelJet delays - where is my TR2?", 4830: "TR2 sizing help",
    4901: "Nordwind 'recycled' claims", 5166: "TR2 warranty and refunds", 3301: "General trail chat",
}


def to_records(rows):
    forum_counts: dict[int, int] = {}
    records, labels = [], []
    for i, (created, ch, author, stars, title, body, lab) in enumerate(rows, start=1):
        rid = f"R-{i:06d}"
        if lab.get("relevant"):
            thread, tid = FORUM_THREADS.get(lab["topic"], DEFAULT_THREAD)
        else:
            thread, tid = OFFTOPIC_THREAD
        url = url_for(ch, rid, author, created, {"thread": thread, "id": tid, "count": forum_counts})
        if ch == "webshop" and not lab.get("relevant"):
            url = f"https://shop.example.com/nordwinder-jacket/reviews#{rid}"
        if ch == "forum":
            # the thread's opening post carries its title; some replies quote it
            n = forum_counts[tid]
            title = THREAD_TITLES[tid] if n == 1 else ("Re: " + THREAD_TITLES[tid] if (i * 7919) % 5 < 2 else None)
        records.append({
            "review_id": rid, "channel": ch, "author": author,
            "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"), "stars": stars, "title": title,
            "body": body, "url": url,
        })
        labels.append({"review_id": rid, **lab})
    return records, labels


# --------------------------------------------------------------------------------------------
# Self-check and summary
# --------------------------------------------------------------------------------------------


def check(path, labels):
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "file must end with a newline"
    recs = [json.loads(l) for l in lines[:-1]]
    lab = {l["review_id"]: l for l in labels}
    ids = [r["review_id"] for r in recs]
    assert len(ids) == len(set(ids)), "duplicate review_id"
    fields = ["review_id", "channel", "author", "created", "stars", "title", "body", "url"]
    for r in recs:
        assert list(r) == fields, r
        assert r["channel"] in ("webshop", "appstore", "forum", "social")
        t = dt.datetime.strptime(r["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
        assert START <= t <= END, r["created"]
        if r["channel"] in ("webshop", "appstore"):
            assert isinstance(r["stars"], int) and 1 <= r["stars"] <= 5, r
        else:
            assert r["stars"] is None, r
        if r["channel"] == "social":
            assert r["title"] is None, r
        assert r["url"].startswith("https://") and ".example.com/" in r["url"]
        rel = lab[r["review_id"]]["relevant"]
        assert bool(KEYWORD_RE.search(r["body"])) == rel, (rel, r["body"])
        n = words(r["body"])
        assert 5 <= n <= MAX_WORDS, (n, r["body"])
    size = path.stat().st_size
    assert size < 1_000_000, size
    return recs, size


def summary(recs, labels, size):
    lab = {l["review_id"]: l for l in labels}
    wk = lambda r: (dt.datetime.strptime(r["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc) - START).days // 7 + 1
    print(f"rows: {len(recs)}  bytes: {size}")
    per_week = collections.Counter(wk(r) for r in recs)
    print("per week:", " ".join(f"w{w}={per_week[w]}" for w in sorted(per_week)))
    print("per channel:", dict(sorted(collections.Counter(r["channel"] for r in recs).items())))
    wd = collections.Counter(dt.datetime.strptime(r["created"], "%Y-%m-%dT%H:%M:%SZ").strftime("%a") for r in recs)
    print("per weekday:", {d: wd[d] for d in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]})
    print("languages:", dict(sorted(collections.Counter(l["lang"] for l in labels).items())))
    print("off-topic:", sum(not l["relevant"] for l in labels),
          " campaign:", sum(bool(l.get("campaign")) for l in labels),
          " hostile:", sum(bool(l.get("hostile")) for l in labels),
          " star mismatches:", sum(bool(l.get("star_mismatch")) for l in labels),
          " returning authors:", sum(bool(l.get("returning_author")) for l in labels))
    print("authenticity:", dict(sorted(collections.Counter(l["authenticity"] for l in labels if l["relevant"]).items())))
    bodies = collections.Counter(r["body"] for r in recs)
    print("exact duplicate bodies (extra copies):", sum(c - 1 for c in bodies.values() if c > 1))
    lens = sorted(words(r["body"]) for r in recs)
    print(f"words per body: min {lens[0]}, median {lens[len(lens) // 2]}, max {lens[-1]}")
    print()
    hdr = "week  n    pos  neg  mix  neu | delivery product support  price service advert place | anger annoy disap grat"
    print(hdr)
    for w in range(1, 9):
        rs = [lab[r["review_id"]] for r in recs if wk(r) == w and lab[r["review_id"]]["relevant"]]
        s = collections.Counter(l["sentiment"] for l in rs)
        tp = collections.Counter(t for l in rs for t in l["touchpoints"])
        em = collections.Counter(e for l in rs for e in l["emotions"])
        n = len(rs)
        pct = lambda c: f"{100 * c / n:4.0f}"
        print(f"w{w}  {n:4d} {pct(s['positive'])} {pct(s['negative'])} {pct(s['mixed'])} {pct(s['neutral'])} |"
              f" {pct(tp['delivery']):>8} {pct(tp['product']):>7} {pct(tp['support']):>7} {pct(tp['price']):>6}"
              f" {pct(tp['service']):>7} {pct(tp['advertising']):>6} {pct(tp['place']):>5} |"
              f" {pct(em['anger']):>5} {pct(em['annoyance']):>5} {pct(em['disappointment']):>5} {pct(em['gratitude']):>4}")
    print("(percent of relevant posts that week)")


# Bidi and zero-width controls are written as \\u escapes: the parsed text still carries them (the
# hostile-text sample needs one), but the file itself shows no invisible characters in a diff.
INVISIBLE_RE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def json_line(obj):
    s = json.dumps(obj, ensure_ascii=False)
    return INVISIBLE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", s) + "\n"


def main(argv=None):
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=here / "reviews.jsonl")
    ap.add_argument("--labels", type=Path, help="also write the planted ground truth (JSONL) here")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    rows = generate(args.seed)
    records, labels = to_records(rows)
    with args.out.open("w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json_line(r))
    if args.labels:
        with args.labels.open("w", encoding="utf-8", newline="\n") as f:
            for l in labels:
                f.write(json_line(l))
    recs, size = check(args.out, labels)
    if not args.quiet:
        summary(recs, labels, size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
