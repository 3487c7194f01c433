"""Lab 6's folk-tune LSTM (the reference in solutions/06_music.ipynb): validity of what it writes.

Runs the lab's own cells outside a kernel (setup, data, every solution cell, the training cell
with the lab's full CPU budget, and the GuardedModel cell), then samples with the lab's start
string and temperature until --tunes complete tunes are extracted, twice: with the lab's sampler
through GuardedModel (constrained decoding, as the lab's last generation cell does), and freely
(the model on its own). For each it prints the share that are valid: music21 parses the ABC as
written, it renders to MIDI, and the MIDI synthesises to non-silent audio. Tunes music21 refuses
only for unpaired repeat signs are counted apart (rendered after dropping the repeats), never as
valid. Also prints the held-out loss and the time of each stage. Target (issue 7): at least 90%
of 50 tunes valid, with the lab's sampler.

    python benchmarks/music_validity.py [--tunes 50] [--temperature T] [--seed 3]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

from common import solution_namespace

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "solutions" / "06_music.ipynb"
CELLS = ("setup", "data", "train", "guard")  # plus every solution cell, in notebook order


def lab_namespace() -> dict:
    """The lab's setup, solution and named cells, executed headless."""
    os.environ.pop("NBGRADER_EXECUTION", None)  # the full training budget
    return solution_namespace("06_music", cells=CELLS)


def lab_temperature() -> float:
    """The temperature the lab's generation cell uses."""
    for cell in json.loads(LAB.read_text())["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "generate":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("temperature ="):
                    return float(line.split("=")[1].split("#")[0])
    raise LookupError("no 'temperature = ...' line in the lab's generation cell")


def sample_tunes(ns: dict, model, n: int, temperature: float, seed: int) -> tuple[list[str], int]:
    """The first n complete tunes the lab's sample and extract_tunes give, and the characters drawn.

    One long text from the lab's start string; if it holds fewer than n complete tunes, the cut-off
    last tune is dropped and sampling starts again from the start string (same rng), until n.
    """
    rng, sample, extract, start = ns["np"].random.default_rng(seed), ns["sample"], ns["extract_tunes"], "X:1\nT:"
    text = sample(model, start, 500 * n, temperature, ns["chars"], rng)
    drawn = len(text) - len(start)
    while len(extract(text)) < n:
        cut = text.rfind("\n\n")
        more = sample(model, start, 5000, temperature, ns["chars"], rng)
        text, drawn = (text[:cut + 2] if cut >= 0 else "") + more, drawn + len(more) - len(start)
    return extract(text)[:n], drawn


def validity(ns: dict, tunes: list[str]) -> tuple[Counter, list[str]]:
    """Count valid tunes (parse, MIDI, audible audio), tunes valid only without repeats, and others."""
    from seqlab.music import abc_to_midi, check_tune, midi_to_wave

    outcome, failures = Counter(), []
    for i, tune in enumerate(tunes):
        name = f"tune {i} ({ns['tune_title'](tune)!r})"
        check = check_tune(tune, name=name, repair_repeats=True)
        if check.ok and not check.repaired:
            midi_to_wave(abc_to_midi(tune, name), fs=8000, name=name)  # raises if the audio would be silent
            outcome["valid"] += 1
        elif check.ok:
            outcome["repeats"] += 1
            failures.append(f"{name}: repeat signs do not pair up (renders only without them)")
        else:
            outcome["invalid"] += 1
            failures.append(check.error)
    return outcome, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tunes", type=int, default=50)
    parser.add_argument("--temperature", type=float, default=None, help="default: the lab's")
    parser.add_argument("--seed", type=int, default=3, help="seed of the sampling rng (the lab uses 3)")
    args = parser.parse_args()
    temperature = lab_temperature() if args.temperature is None else args.temperature

    start = time.perf_counter()
    ns = lab_namespace()
    history = ns["history"]
    print(f"training: {ns['n_steps']} steps in {history.seconds:.0f} s on {ns['device']}; held-out loss "
          f"{history.final_eval:.3f} nats/char (bigram {ns['bigram_loss']:.3f}); setup + data + training "
          f"{time.perf_counter() - start:.0f} s", flush=True)

    guarded = ns["GuardedModel"](ns["model"], ns["chars"])
    for label, model in (("with the rules (GuardedModel, the lab's sampler)", guarded),
                         ("without the rules (the model on its own)", ns["model"])):
        t0 = time.perf_counter()
        tunes, drawn = sample_tunes(ns, model, args.tunes, temperature, args.seed)
        sampling = time.perf_counter() - t0
        t0 = time.perf_counter()
        outcome, failures = validity(ns, tunes)
        n = len(tunes)
        print(f"\n{label}: {drawn:,} characters at temperature {temperature} in {sampling:.0f} s for {n} complete tunes")
        print(f"  valid (parse as ABC, render to MIDI and audio): {outcome['valid']}/{n} = {outcome['valid'] / n:.0%} "
              f"(target >= 90%); unpaired repeats: {outcome['repeats']}; other failures: {outcome['invalid']}; "
              f"checked in {time.perf_counter() - t0:.0f} s", flush=True)
        if model is guarded:
            moved = ns["np"].array(guarded.moved)
            print(f"  the rules moved more than 10% of the probability at {(moved > 0.1).sum()} of {moved.size} "
                  f"steps, more than half at {(moved > 0.5).sum()}")
        for line in failures:
            print("   -", line[:160])
    print(f"\ntotal {time.perf_counter() - start:.0f} s ({os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
