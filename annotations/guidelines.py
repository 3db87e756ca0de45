"""The default guideline page every new project starts with (Markdown)."""

from __future__ import annotations

DEFAULT_GUIDELINES = """\
# How to annotate claims

**Your job.** Read the whole article first. Then mark *what is claimed*, *who says it*,
and *what disputes it*. Mark the headline and the article body only: skip site furniture
such as "Scroll to top", "Leave a comment", "Related stories" or copyright lines.

## 1. Claim (key `1`)

Any statement the text puts forward as true: a fact, a number, an accusation, a
description of someone, a prediction. Highlight the **shortest stretch that still says the
whole thing**. Leave out the reporting frame ("the mayor said that"), a leading "that" or
"However,", the quotation marks and the final full stop. Keep *not*, *allegedly*,
*at least*, *will*: they change what is claimed. If one sentence says two things that could
be checked separately, make two claims. The journalist's own statements are claims too;
they simply have no attribution.

> The mayor said that **the new bridge will cost at least 40 million tenge**.

## 2. Attribution (key `2`)

The words that tell you who makes the claim: the speaking verb or phrase together with
the speaker when they stand next to it.

> **According to the finance ministry**, inflation fell to 8 percent.
> "We will not resign," **the deputy told reporters**.

If the speaker is far away, or other claim text stands between, highlight only the cue
("said") and type the speaker's name in *Source entity*. For "he said", highlight the
pronoun and type who it is. Choose *Quote*: **direct** for words in quotation marks,
**indirect** for reported speech, **mixed** for both. Choose *Source type*: a named
person, a named organisation, an official document, anonymous ("a source in the
ministry"), vague ("many people say") or the author.

## 3. Links (key `L`)

Select an attribution, press `L`, then click each claim it introduces: that draws
**sources**. One attribution may source several claims (a long quote); a claim may have
two attributions when a reporter relays what someone else said. In interviews, answers
have no cue: write the speaker in the claim's *Implicit source* instead.

## 4. Counter-claim (key `3`)

A statement that argues another claim **in the same article** is false, wrong,
exaggerated or misleading. Highlight it like a claim, select it, press `L` and click
the claim it attacks: that draws **disputes**. A counter-claim without a *disputes* link
is an error.

> The opposition says the bridge will cost 40 million. **In fact, the tender documents
> list 62 million.**

If it disputes something not in the article, mark it as a plain claim and say so in the note.

## 5. Check-worthy

**Yes** if a fact-checker could verify it with evidence and it matters to the public
(numbers, events, who paid whom, what a law says). **No** for opinions, insults,
predictions and feelings. **Unsure** otherwise, with a note.

## 6. Awkward text

If a paragraph appears twice (the scraper repeated it), annotate only the first copy.
Never fix spelling, quotes or spaces: the text is fixed. Machine translations may be
clumsy: annotate what the sentence says. When in doubt, leave a short note; reviewers
read them.

## 7. Before you submit

Every attribution links to at least one claim; every counter-claim disputes something;
no two highlights of the same label overlap. The page lists any that fail; you may still
submit with a note that explains why.
"""
