import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from disentangle.errors import InputError
from disentangle.models import build_model
from disentangle.train.checkpoint import TrainingState, load_checkpoint, read_checkpoint, save_checkpoint


def _model_and_optimizer(seed):
    torch.manual_seed(seed)
    model = build_model("beta-vae", (1, 8, 8), beta=2.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.loss(torch.rand(4, 1, 8, 8), 0)["loss"].backward()
    optimizer.step()
    return model, optimizer


def test_checkpoint_round_trip_restores_weights_optimizer_and_random_streams(tmp_path):
    model, optimizer = _model_and_optimizer(0)
    generator = torch.Generator().manual_seed(5)
    torch.manual_seed(11)
    save_checkpoint(tmp_path / "c.safetensors", model, {"optimizer": optimizer}, TrainingState(3, generator))
    expected_noise, expected_index = torch.rand(3), torch.randint(100, (3,), generator=generator)

    other, other_optimizer = _model_and_optimizer(1)
    state = load_checkpoint(tmp_path / "c.safetensors", other, {"optimizer": other_optimizer})
    assert state.step == 3
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))
    saved, restored = optimizer.state_dict()["state"], other_optimizer.state_dict()["state"]
    assert saved.keys() == restored.keys()
    for index, slots in saved.items():
        assert all(torch.equal(torch.as_tensor(slots[k]), torch.as_tensor(restored[index][k])) for k in slots)
    assert torch.equal(torch.rand(3), expected_noise)
    assert torch.equal(torch.randint(100, (3,), generator=state.data_generator), expected_index)


def test_a_truncated_checkpoint_is_reported_not_loaded(tmp_path):
    model, optimizer = _model_and_optimizer(0)
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, {"optimizer": optimizer}, TrainingState(1, torch.Generator()))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(InputError, match="not a readable safetensors checkpoint"):
        read_checkpoint(path)


def test_no_temporary_file_is_left_after_saving(tmp_path):
    model, optimizer = _model_and_optimizer(0)
    save_checkpoint(tmp_path / "c.safetensors", model, {"optimizer": optimizer}, TrainingState(1, torch.Generator()))
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]


def test_checkpoints_get_the_permissions_of_every_run_folder_file(tmp_path):
    """0666 less the umask, as config.json: not a temporary file's private 0600, so that a
    group can read a shared sweep."""
    import stat

    from disentangle import run_folder

    model, optimizer = _model_and_optimizer(0)
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, {"optimizer": optimizer}, TrainingState(1, torch.Generator()))
    run_folder.atomic_write_json(tmp_path / "config.json", {})
    expected = 0o666 & ~run_folder._UMASK
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE((tmp_path / "config.json").stat().st_mode) == expected
    assert expected & 0o044 or run_folder._UMASK & 0o044  # readable by others unless the umask says no


def _rewrite(path, change):
    """Apply ``change(tensors, metadata)`` to a checkpoint file, keeping no checksums."""
    import json

    from safetensors.torch import load_file, save_file

    tensors = load_file(str(path))
    with open(path, "rb") as handle:
        metadata = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))["__metadata__"]
    change(tensors, metadata)
    save_file(tensors, str(path), metadata=metadata)


def test_a_checkpoint_written_before_checksums_still_loads(tmp_path):
    model, optimizer = _model_and_optimizer(0)
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, {"optimizer": optimizer}, TrainingState(3, torch.Generator()))
    _rewrite(path, lambda tensors, metadata: metadata.pop("checksums"))
    other, other_optimizer = _model_and_optimizer(1)
    assert load_checkpoint(path, other, {"optimizer": other_optimizer}).step == 3
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t, m: t.update({"optimizer.0.exp_avg": torch.zeros(2, 2)}), "optimizer state 'optimizer.0.exp_avg'"),
        (lambda t, m: t.update({"model.decoder.net.0.weight": torch.zeros(3)}), "weight 'decoder.net.0.weight'"),
        (lambda t, m: [t.pop(k) for k in list(t) if k.startswith("optimizer.")], "no optimizer state"),
        (lambda t, m: t.update({"rng.torch": torch.zeros(7, dtype=torch.uint8)}), "random state 'rng.torch'"),
    ],
)
def test_a_checkpoint_that_does_not_fit_changes_neither_model_nor_optimizer_nor_random_stream(tmp_path, change, message):
    model, optimizer = _model_and_optimizer(0)
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, {"optimizer": optimizer}, TrainingState(3, torch.Generator()))
    _rewrite(path, lambda tensors, metadata: (metadata.pop("checksums"), change(tensors, metadata)))
    other, other_optimizer = _model_and_optimizer(1)
    weights = {k: v.clone() for k, v in other.state_dict().items()}
    moments = {k: {n: v.clone() for n, v in s.items()} for k, s in other_optimizer.state_dict()["state"].items()}
    rng = torch.get_rng_state()
    with pytest.raises(InputError, match=message):
        load_checkpoint(path, other, {"optimizer": other_optimizer})
    assert all(torch.equal(weights[k], v) for k, v in other.state_dict().items())
    restored = other_optimizer.state_dict()["state"]
    assert all(torch.equal(torch.as_tensor(moments[k][n]), torch.as_tensor(restored[k][n])) for k in moments for n in moments[k])
    assert torch.equal(torch.get_rng_state(), rng)


def test_every_tensor_is_checksummed_and_a_flipped_bit_names_its_tensor(tmp_path):
    model, optimizer = _model_and_optimizer(0)
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, {"optimizer": optimizer}, TrainingState(1, torch.Generator()))
    checkpoint = read_checkpoint(path)
    import json

    assert set(json.loads(checkpoint.metadata["checksums"])) == set(checkpoint.tensors)
    data = bytearray(path.read_bytes())
    data[len(data) - 5] ^= 0x01  # inside the last tensor's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"tensor '[^']+' is damaged \(CRC-32 [0-9a-f]{8}, stored [0-9a-f]{8}\)"):
        read_checkpoint(path)


# --------------------------------------------------------------------------- any metadata



@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from(["format", "step", "optimizer.param_groups", "checksums"]),
    value=st.text(max_size=30) | st.sampled_from(["[]", "{}", '[{"params": [0]}]', "-1", "1e3", "null", "[[]]"]),
)
def test_any_metadata_value_is_loaded_or_refused_in_one_line(tmp_path, key, value):
    model, optimizer = _model_and_optimizer(0)
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, {"optimizer": optimizer}, TrainingState(3, torch.Generator()))
    _rewrite(path, lambda tensors, metadata: metadata.update({key: value}))
    other, other_optimizer = _model_and_optimizer(1)
    try:
        load_checkpoint(path, other, {"optimizer": other_optimizer})
    except InputError as error:
        assert "\n" not in str(error) and str(path) in str(error)
