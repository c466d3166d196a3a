"""LLM training logs with no LR field, x = step: modded-nanogpt (`step:N/M train_loss:X`, `val_loss:X`, after the
training script's source) and old llm.c (`s:N trl:X`, `s:N tel:X`); both end with a linear warm-down to 0."""

from __future__ import annotations

import re

from ._checks import assert_smooth, close, describe, quoted_pairs, single

NANOGPT = "nanogpt-fineweb-gpt2small-modernarch-warmdown.txt"
LLMC = "llmc-fineweb-gpt2small-adamw-warmdown-no-lr-field.log"
# The specs in the README, t = iteration / step.
NANOGPT_SPEC = "join([constant(0.0036), linear(0.0036, 0.0, 1450)], [3650])"
LLMC_SPEC = "warmup(256, join([constant(0.0018), linear(0.0018, 0.0, 2048)], [7232]))"
FASTER = re.compile(r"faster|quicker|steeper|more quickly|sped up|accelerat", re.IGNORECASE)


def _roles(d):
    cols = d["source"]["columns"]
    assert "train_loss" in cols and "val_loss" in cols and "lr" not in cols, cols


def _cooldown(d, start, val_before, val_after, name):
    """A cooldown finding: it names the step the warm-down starts at (within a few hundred steps) and says the
    validation loss fell faster there; levels it quotes for the validation loss are within 10 % of the truth."""
    found = [f for f in d["findings"] if f["kind"] == "cooldown"]
    assert found, f"{name}: no cooldown finding: {[(f['kind'], f['text'][:80]) for f in d['findings']]}"
    text = " ".join(f["text"] for f in found)
    steps = [float(s.replace(",", "")) for s in re.findall(r"\b\d[\d,]{2,}\b", text)]
    assert any(abs(s - start) <= 300 for s in steps), f"{name}: warm-down start {start} not named: {text}"
    low = text.lower()
    assert "validation loss" in low and "fell" in low and FASTER.search(low), text
    for a, b in quoted_pairs(text[low.index("validation loss") :], "fell")[:1]:
        assert close(a, val_before) and close(b, val_after), (a, b, text)


def test_nanogpt_reads_past_the_script_and_roles(explain):
    """The first 577 lines are the script and nvidia-smi output; then 5100 train_loss lines and 42 val_loss lines."""
    d = single(explain(NANOGPT), NANOGPT)
    _roles(d)
    assert 5100 <= d["source"]["rows"] <= 5101, d["source"]


def test_nanogpt_has_no_event(explain):
    """No LR logged; the warm-down is smooth, with no step event; the faster fall is not a step change."""
    d = single(explain(NANOGPT), NANOGPT)
    assert_smooth(d, NANOGPT)


def test_nanogpt_with_spec_has_no_step_event(explain):
    d = single(explain(NANOGPT, "--schedule", NANOGPT_SPEC), NANOGPT)
    assert_smooth(d, NANOGPT)


def test_nanogpt_with_spec_says_what_the_warmdown_did(explain):
    """Val loss falls 0.0037-0.0088 per 125 steps late in the constant phase and 0.0081-0.0151 per 125 steps in the
    warm-down from 3650: 3.4103 (3625) -> 3.2741 (5100)."""
    d = single(explain(NANOGPT, "--schedule", NANOGPT_SPEC), NANOGPT)
    _cooldown(d, 3650, 3.4103, 3.2741, NANOGPT)


def test_llmc_roles_and_rows(explain):
    """9536 `s:N trl:X` lines (N = 0 .. 9535) and 76 `s:N tel:X` lines (to N = 9536)."""
    d = single(explain(LLMC), LLMC)
    _roles(d)
    assert 9536 <= d["source"]["rows"] <= 9537, d["source"]


def test_llmc_has_no_event(explain):
    d = single(explain(LLMC), LLMC)
    assert_smooth(d, LLMC)


def test_llmc_val_bump_is_noise(explain):
    """The val bump 3.541802 -> 3.558064 -> 3.536469 at s:3712, 3840, 3968 is noise, not a drop."""
    d = single(explain(LLMC), LLMC)
    near = [x for x in d["drops"] if x["metric"] == "val_loss" and 3584 <= x["x"] <= 4224]
    assert not near, f"noise reported as a drop: {near} ({describe(d)})"


def test_llmc_with_spec_has_no_step_event(explain):
    d = single(explain(LLMC, "--schedule", LLMC_SPEC), LLMC)
    assert_smooth(d, LLMC)


def test_llmc_with_spec_says_what_the_warmdown_did(explain):
    """Warm-down from step 7488: val loss 3.442713 (s:7424) -> 3.275959 (s:9536), falling 0.0022-0.0179 per 128 steps
    against -0.0054 to +0.0093 per 128 steps over s:6528-7424 before it."""
    d = single(explain(LLMC, "--schedule", LLMC_SPEC), LLMC)
    _cooldown(d, 7488, 3.442713, 3.275959, LLMC)
