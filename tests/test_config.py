"""Tests of `fdkd_tf.config`: YAML loading, validation errors, overrides, round trip."""

import copy
import pathlib

import pytest
import yaml

from fdkd_tf.config import (
    ConfigError,
    ExperimentConfig,
    config_from_dict,
    dump_config,
    load_config,
)

MFEAT_CONFIG = pathlib.Path(__file__).resolve().parents[1] / "configs" / "mfeat.yaml"


def mfeat_tree():
    with open(MFEAT_CONFIG, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture
def write_config(tmp_path):
    """Returns ``f(key_path, value) -> path``: mfeat.yaml with one key set, in tmp_path."""

    def write(key_path, value):
        tree = copy.deepcopy(mfeat_tree())
        *parents, leaf = key_path.split(".")
        node = tree
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
        path = tmp_path / "experiment.yaml"
        path.write_text(yaml.safe_dump(tree), encoding="utf-8")
        return path

    return write


def assert_config_error(path, *fragments, overrides=None):
    with pytest.raises(ConfigError) as error:
        load_config(path, overrides)
    message = str(error.value)
    for fragment in (*fragments, str(path)):
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def test_mfeat_config_loads_with_its_values():
    config = load_config(MFEAT_CONFIG)
    assert isinstance(config, ExperimentConfig)
    assert (config.data.teacher, config.data.student) == ("pix", "fou")
    assert config.model.teacher.arch == "small_cnn" and config.model.student.hidden_units == [256]
    assert config.distill.method == "fdcmkd" and config.distill.fdcmkd.cutoff == 0.5
    assert config.train.epochs == 40 and isinstance(config.train.epochs, int)
    assert config.train.learning_rate == 0.01 and isinstance(config.train.learning_rate, float)
    assert config.teacher.checkpoint is None


@pytest.mark.parametrize("key_path", ["epoch", "train.epoch", "distill.fdcmkd.lambda_1", "model.student.units"])
def test_unknown_key_names_the_full_path_and_the_file(write_config, key_path):
    message = assert_config_error(write_config(key_path, 1), f"'{key_path}'")
    assert "unknown" in message


@pytest.mark.parametrize(
    "key_path,value",
    [
        ("train.epochs", "ten"),
        ("train.epochs", 2.5),
        ("train.epochs", True),
        ("distill.fdcmkd.freq", 3),
        ("distill.fdcmkd.lambda1", "big"),
        ("train.optimizer", "rmsprop"),
        ("model.student.hidden_units", 256),
        ("data", [1, 2]),
    ],
)
def test_wrong_type_names_the_key(write_config, key_path, value):
    assert_config_error(write_config(key_path, value), f"'{key_path}'", repr(value))


def test_wrong_list_item_type_names_the_index(write_config):
    assert_config_error(write_config("model.student.hidden_units", [256, "x"]), "'model.student.hidden_units[1]'")


@pytest.mark.parametrize(
    "key_path,value",
    [
        ("train.epochs", -3),
        ("train.epochs", 0),
        ("data.batch_size", 0),
        ("distill.fdcmkd.cutoff", 1.5),
        ("distill.fdcmkd.cutoff", 0.0),
        ("distill.fdcmkd.lambda1", -1.0),
        ("train.momentum", 1.0),
    ],
)
def test_out_of_range_names_the_key(write_config, key_path, value):
    assert_config_error(write_config(key_path, value), f"'{key_path}'", repr(value))


@pytest.mark.parametrize(
    "key_path,value",
    [
        ("train.precision", "float8"),
        ("train.precision", "float16"),
        ("train.jit_compile", "yes"),
        ("train.jit_compile", 1),
        ("train.steps_per_execution", 0),
        ("train.steps_per_execution", 1.5),
        ("train.gradient_accumulation_steps", 0),
        ("train.gradient_accumulation_steps", "two"),
    ],
)
def test_bad_execution_keys_name_the_key(write_config, key_path, value):
    message = assert_config_error(write_config(key_path, value), f"'{key_path}'", repr(value))
    assert "\n" not in message


def test_execution_keys_load():
    config = config_from_dict(
        {"train": {"precision": "mixed_bfloat16", "jit_compile": True, "steps_per_execution": 4, "gradient_accumulation_steps": 2}}
    )
    assert (config.train.precision, config.train.jit_compile) == ("mixed_bfloat16", True)
    assert (config.train.steps_per_execution, config.train.gradient_accumulation_steps) == (4, 2)
    assert ExperimentConfig().train.precision == "float32" and ExperimentConfig().train.jit_compile == "auto"


@pytest.mark.parametrize("key_path", ["data.cache", "distill.teacher_cache"])
def test_cache_keys_take_a_bare_yaml_off_and_name_a_bad_value(write_config, key_path):
    section, key = key_path.split(".")
    config = load_config(write_config(key_path, False))  # what YAML makes of `off`
    assert getattr(getattr(config, section), key) == "off"
    assert getattr(getattr(load_config(write_config(key_path, "disk")), section), key) == "disk"
    assert_config_error(write_config(key_path, "ram"), f"config key '{key_path}' must be one of", "'ram'")


def test_unknown_method_names_distill_method(write_config):
    assert_config_error(write_config("distill.method", "dkd_typo"), "'distill.method'", "'dkd_typo'", "fdcmkd")


def test_log_without_freq_is_rejected(write_config):
    assert_config_error(write_config("distill.fdcmkd.freq", False), "'distill.fdcmkd.log'", "freq")


def test_freq_off_with_log_off_is_accepted():
    config = load_config(MFEAT_CONFIG, ["distill.fdcmkd.freq=false", "distill.fdcmkd.log=false"])
    assert config.distill.fdcmkd.freq is False and config.distill.fdcmkd.log is False


def test_overrides_take_effect_with_yaml_typing():
    config = load_config(
        MFEAT_CONFIG,
        ["train.epochs=5", "distill.fdcmkd.lambda1=1e3", "distill.fdcmkd.lambda2=2.5e-4", "teacher.epochs=null"],
    )
    assert config.train.epochs == 5 and type(config.train.epochs) is int
    assert config.distill.fdcmkd.lambda1 == 1000.0 and type(config.distill.fdcmkd.lambda1) is float
    assert config.distill.fdcmkd.lambda2 == 2.5e-4
    assert config.teacher.epochs is None
    assert load_config(MFEAT_CONFIG).train.epochs == 40  # the file itself is untouched


def test_int_in_a_float_field_becomes_float():
    config = load_config(MFEAT_CONFIG, ["distill.fdcmkd.lambda1=1000"])
    assert type(config.distill.fdcmkd.lambda1) is float


def test_exponent_floats_in_a_yaml_file_load_as_numbers(tmp_path):
    text = MFEAT_CONFIG.read_text(encoding="utf-8").replace("final_learning_rate: 0.0001", "final_learning_rate: 1e-4")
    assert "1e-4" in text
    path = tmp_path / "exponent.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_config(path).train.final_learning_rate == 1e-4


@pytest.mark.parametrize("override,key_path", [("train.epoch=5", "train.epoch"), ("trian.epochs=5", "trian")])
def test_override_of_unknown_key_names_it(override, key_path):
    assert_config_error(MFEAT_CONFIG, f"'{key_path}'", override, overrides=[override])


def test_bad_override_value_names_the_key_and_the_override():
    assert_config_error(MFEAT_CONFIG, "'train.epochs'", "train.epochs=-3", overrides=["train.epochs=-3"])


@pytest.mark.parametrize("override", ["train.epochs", "=5", "train..epochs=5"])
def test_malformed_override_raises(override):
    with pytest.raises(ConfigError, match="override"):
        load_config(MFEAT_CONFIG, [override])


def test_missing_file_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_dump_and_reload_round_trips():
    original = load_config(MFEAT_CONFIG, ["distill.fdcmkd.lambda1=1e3", "teacher.checkpoint=t.weights.h5"])
    reloaded = config_from_dict(yaml.safe_load(dump_config(original)))
    assert reloaded == original
    assert type(reloaded.distill.fdcmkd.lambda1) is float


def test_defaults_round_trip_and_empty_file_gives_defaults(tmp_path):
    defaults = config_from_dict({})
    assert defaults == ExperimentConfig()
    assert config_from_dict(yaml.safe_load(dump_config(defaults))) == defaults
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    assert load_config(path) == defaults
