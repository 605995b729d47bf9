"""What afterbeep says: the prompt texts, sentences built at run time, and offline speech.

``catalogue`` holds the static prompt texts in every language; ``phrases`` (with ``when`` for
dates and times) builds the sentences that depend on data (counts, callers) from CLDR
grammar; ``numbers`` spells numbers; ``tts`` turns text into telephone audio with espeak-ng.
"""
