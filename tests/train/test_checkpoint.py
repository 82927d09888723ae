import pytest
import torch

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

    from disentangle.train import run_folder

    model, optimizer = _model_and_optimizer(0)
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, {"optimizer": optimizer}, TrainingState(1, torch.Generator()))
    run_folder.atomic_write_json(tmp_path / "config.json", {})
    expected = 0o666 & ~run_folder._UMASK
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE((tmp_path / "config.json").stat().st_mode) == expected
    assert expected & 0o044 or run_folder._UMASK & 0o044  # readable by others unless the umask says no
