"""Checks on user input: each error names the culprit."""

from __future__ import annotations

import re

import numpy as np
import pytest

from aquarium.validation import artifact_name, check_key, flatten, merge_params, metric_value, plain_param


@pytest.mark.parametrize("key", ["train/loss", "val.acc", "ßλ-准确率", "a" * 250, "with space"])
def test_good_keys(key):
    assert check_key(key) == key


@pytest.mark.parametrize("key", ["", "a" * 251, "tab\there", "nl\n", "\x00", 5, None, b"bytes"])
def test_bad_keys_name_the_key(key):
    with pytest.raises(ValueError, match="metric key"):
        check_key(key)


class TorchLike:
    def __init__(self, value, n=1):
        self.value, self.n = value, n

    def numel(self):
        return self.n

    def __float__(self):
        return float(self.value)


@pytest.mark.parametrize("value, expected", [
    (1, 1), (2.5, 2.5), (True, 1.0), (np.float32(0.5), 0.5), (np.int64(7), 7.0), (np.array(3.0), 3.0),
    (np.array([4.0]), 4.0), (np.bool_(True), 1.0), (TorchLike(9.5), 9.5),
])
def test_metric_values_accepted(value, expected):
    assert metric_value("k", value) == expected


@pytest.mark.parametrize("value, kind", [
    ("0.3", "str"), (None, "NoneType"), ([1.0], "list"), (np.zeros(2), "ndarray of shape (2,)"),
    (TorchLike(1.0, n=4), "TorchLike"), ({"a": 1}, "dict"), (np.array(["x"]), "ndarray"),
])
def test_non_numbers_raise_type_error_naming_key_and_type(value, kind):
    with pytest.raises(TypeError, match=f"'k'.*{re.escape(kind)}"):
        metric_value("k", value)


def test_too_large_int_raises_value_error_naming_key():
    with pytest.raises(ValueError, match="'big'"):
        metric_value("big", 10**400)


def test_params_are_plain_json():
    assert plain_param("p", {"a": np.float64(0.5), "b": [np.int32(1), "x"], "c": None}) == \
        {"a": 0.5, "b": [1, "x"], "c": None}
    with pytest.raises(ValueError, match="'p.a'"):
        plain_param("p", {"a": float("nan")})
    with pytest.raises(TypeError, match="'p'.*set"):
        plain_param("p", {1, 2})


def test_flatten_and_merge():
    params = {"lr": 0.1, "optimizer": {"name": "sgd", "momentum": 0.9}}
    assert flatten(params) == {"lr": 0.1, "optimizer.name": "sgd", "optimizer.momentum": 0.9}
    assert merge_params(params, {"optimizer": {"name": "sgd", "nesterov": True}})["optimizer"] == \
        {"name": "sgd", "momentum": 0.9, "nesterov": True}
    with pytest.raises(ValueError, match="'optimizer.name'.*'sgd'.*'adam'"):
        merge_params(params, {"optimizer": {"name": "adam"}})
    with pytest.raises(ValueError, match="'lr.x'"):
        merge_params(params, {"lr": {"x": 1}})


@pytest.mark.parametrize("name", ["/abs", "../up", "a/../../up", "..", "a/b/../../../c", "C:\\x", "", "a\x00b"])
def test_escaping_artifact_names_are_refused(name):
    with pytest.raises(ValueError, match="artifact name"):
        artifact_name(name)


def test_fine_artifact_names_are_normalized():
    assert artifact_name("a/./b.txt") == "a/b.txt"
    assert artifact_name("models\\final.pt") == "models/final.pt"
