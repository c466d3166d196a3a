"""The words of column names: how a name is split into words ("Train Loss", "train_loss", "train/loss" all
become ``train loss``), and the vocabularies role recognition (:mod:`lrscope.logs.roles`) reads them with."""

from __future__ import annotations

import re

WORD = re.compile(r"\d+\.\d+|[a-z0-9@]+")
CAMEL = re.compile(r"([a-z0-9])([A-Z])")

VAL = {"val", "valid", "validation", "eval", "evaluation", "dev", "holdout", "vl"}
TEST = {"test", "te", "testing"}
TRAIN = {"train", "training", "trn", "tr"}
LEVEL = {"epoch", "epochs", "step", "steps", "batch", "iter"}
AGGREGATE = {"total", "sum", "overall", "all", "avg", "mean", "average", "final", "global", "metrics", "x"}
# words that make a name a time, a count, a size or an optimiser setting: never a metric
IGNORE = {
    "time",
    "times",
    "runtime",
    "timestamp",
    "walltime",
    "wall",
    "duration",
    "seconds",
    "second",
    "sec",
    "hours",
    "hour",
    "minutes",
    "memory",
    "mem",
    "params",
    "parameters",
    "n",
    "num",
    "speed",
    "throughput",
    "samples",
    "tokens",
    "flos",
    "eta",
    "gpu",
    "data",
    "count",
    "size",
    "grad",
    "gnorm",
    "norm",
    "momentum",
    "wd",
    "decay",
    "ratio",
    "factor",
    "wps",
    "ups",
    "wpb",
    "bsz",
    "clip",
}
LOSS_WORDS = {
    "loss",
    "losses",
    "nll",
    "ce",
    "xent",
    "bce",
    "crossentropy",
    "cost",
    "objective",
    "mse",
    "mae",
    "rmse",
    "bpd",
}
NOT_LOSS = {"scale", "scaler", "weight", "weights"}
ACC_WORDS = {
    "acc",
    "accuracy",
    "accuracies",
    "top1",
    "top5",
    "acc1",
    "acc5",
    "acc@1",
    "acc@5",
    "prec1",
    "prec5",
    "prec@1",
    "prec@5",
    "precision1",
    "correct",
    "top1accuracy",
    "top5accuracy",
}
ERR_WORDS = {"err", "error", "errors", "err1", "err5", "top1err", "top5err", "wer", "cer", "ter"}
ACC_N = re.compile(r"^acc(?:uracy)?@?\d+$")  # acc1, acc@5, accuracy3 (not accum, accumulation)
PPL_WORDS = {"ppl", "perplexity"}
AP_WORDS = {"map", "ap", "ap50", "ap75", "map50", "map75", "aps", "apm", "apl"}
SCORE_WORDS = {
    "dice",
    "coef",
    "iou",
    "miou",
    "f1",
    "auc",
    "auroc",
    "bleu",
    "rouge",
    "rouge1",
    "rouge2",
    "rougel",
    "meteor",
    "score",
}
PR_WORDS = {"precision", "recall", "sensitivity", "specificity"}
TOP1 = {"top1", "prec1", "acc1", "err1", "acc@1", "prec@1", "top1err", "top1accuracy"}
TOP5 = {"top5", "acc5", "err5", "prec5", "acc@5", "prec@5", "top5err", "top5accuracy"}
# metrics that have no side are evaluation figures: ImageNet's top-1, a detector's AP, a WER or BLEU
EVAL_FAMILY_WORDS = TOP1 | TOP5 | AP_WORDS | {"wer", "cer", "ter", "bleu", "rouge", "rougel", "meteor"}
# words naming one head of a detector (fast_rcnn/cls_accuracy): an accuracy of that part, not of the model
HEAD_WORDS = {"cls", "fg", "bg", "rpn", "rcnn", "roi", "head", "mask", "fast", "box", "obj"}
VARIANT = {"unscaled", "best", "ema", "smoothed", "smooth", "running", "std", "var", "min", "max", "raw"}
TIER = {"loss": 5, "acc": 5, "ap": 4, "err": 3, "score": 2, "pr": 1, "ppl": 1}
LOWER_FAMILIES = {"loss", "err", "ppl"}
ENOUGH = 3  # finite values a curve needs; fewer is a summary figure (a test-at-end row)

EPOCH_NAMES = {"epoch", "epochs", "ep", "trainer epoch", "epoch num", "epoch number"}
STEP_WORDS = {
    "step",
    "steps",
    "global step",
    "globalstep",
    "iteration",
    "iterations",
    "iter",
    "iters",
    "it",
    "batch",
    "batches",
    "update",
    "updates",
    "num updates",
    "trainer global step",
    "global_step",
}


def normalise(name: str) -> list[str]:
    """Lower-case word list of a column name, without W&B run prefixes ("run - metric").

    camelCase is split ("top1Accuracy" -> top1, accuracy), "mAP" is one word, decimals stay whole
    ("mAP_0.5:0.95" -> map, 0.5, 0.95)."""
    text = name.strip().strip('"').strip("'")
    if " - " in text:  # W&B export: "<run name> - <metric>"
        text = text.rsplit(" - ", 1)[1]
    text = text.replace("mAP", " map ")
    text = CAMEL.sub(r"\1 \2", text)
    return WORD.findall(text.lower())


def is_summary_column(name: str) -> bool:
    """W&B exports add NAME__MIN / NAME__MAX beside each metric: never take those for a role."""
    return bool(re.search(r"__(min|max|step)$", name.strip(), re.IGNORECASE))


def joined_words(name: str) -> str:
    return " ".join(normalise(name))


def is_step_name(joined: str) -> bool:
    """Whether a column's joined words name a step counter ("global step" and "globalstep" alike)."""
    return joined in STEP_WORDS or joined.replace(" ", "") in STEP_WORDS


def is_x_name(joined: str) -> bool:
    return joined in EPOCH_NAMES or is_step_name(joined)


def epoch_column(columns, skip: str | None = None) -> str | None:
    """The first column named as an epoch counter ("epoch", "Epoch", "trainer/epoch" ...), other than ``skip``."""
    for name in columns:
        if name != skip and not is_summary_column(name) and joined_words(name) in EPOCH_NAMES:
            return name
    return None


def step_column(columns) -> str | None:
    """The first column named as a step counter ("step", "iter", "global_step" ...)."""
    for name in columns:
        if not is_summary_column(name) and is_step_name(joined_words(name)):
            return name
    return None
