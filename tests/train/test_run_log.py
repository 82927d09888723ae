"""Where training numbers go: the meter's interval means, log.jsonl and TensorBoard."""

from __future__ import annotations

import json

import pytest
import torch

from disentangle.run_folder import LOG, read_log
from disentangle.train.run_log import RunLogger, TermMeter


def test_the_meter_gives_the_mean_of_each_term_since_the_last_call_then_starts_again():
    meter = TermMeter()
    for value in (1.0, 2.0, 6.0):
        meter.add({"loss": torch.tensor(value), "kl_per_dim": torch.tensor([value, 2 * value])})
    assert meter.means() == {"loss": 3.0, "kl_per_dim": [3.0, 6.0]}
    meter.add({"loss": torch.tensor(10.0, requires_grad=True)})
    assert meter.means() == {"loss": 10.0}


def test_the_meter_does_not_keep_the_graph_or_alias_the_first_tensor():
    meter, first = TermMeter(), torch.tensor([1.0, 1.0])
    meter.add({"x": first})
    meter.add({"x": torch.tensor([3.0, 5.0])})
    assert first.tolist() == [1.0, 1.0] and meter.means() == {"x": [2.0, 3.0]}


def test_the_logger_appends_one_line_per_call_and_mirrors_scalars_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logger = RunLogger(tmp_path, start_step=0, total_steps=4, progress=False)
    logger.write(2, 64, {"loss": 1.5, "kl_per_dim": [0.1, 0.2]})
    logger.write(4, 64, {"loss": 1.25, "kl_per_dim": [0.3, 0.4]})
    logger.close()
    records = read_log(tmp_path)
    assert [r["step"] for r in records] == [2, 4] and records[1]["kl_per_dim"] == [0.3, 0.4]
    assert all(r["images_per_second"] > 0 and r["time"] >= 0 for r in records)
    assert all(json.loads(line) for line in (tmp_path / LOG).read_text().splitlines())
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert {"loss", "kl_per_dim/0", "kl_per_dim/1", "images_per_second"} <= set(events.Tags()["scalars"])
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [(2, 1.5), (4, 1.25)]
    assert events.Scalars("kl_per_dim/1")[0].value == pytest.approx(0.2)


def test_a_resumed_logger_appends_after_the_lines_already_there(tmp_path):
    first = RunLogger(tmp_path, 0, 4, progress=False)
    first.write(2, 8, {"loss": 2.0})
    first.close()
    second = RunLogger(tmp_path, 2, 4, progress=False)
    second.write(4, 8, {"loss": 1.0})
    second.close()
    assert [r["step"] for r in read_log(tmp_path)] == [2, 4]
