"""Image datasets without factors: MNIST-style IDX files, arrays, folders, digits."""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from disentangle.data import DATASETS, get_dataset
from disentangle.data.images import (
    MNIST,
    ArrayImages,
    Digits,
    FashionMNIST,
    ImageFolder,
    images_from_array,
    read_idx_images,
)
from disentangle.errors import InputError

# A fresh tmp_path per example is not needed: each example overwrites its own file.
file_property = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def write_idx(path: Path, images: np.ndarray, magic: int = 0x00000803, compress: bool = False) -> Path:
    """Write uint8 ``images`` (N, H, W) as an IDX file (gzip-compressed if asked)."""
    data = struct.pack(">I", magic) + struct.pack(">3I", *images.shape) + images.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def random_images(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def mnist_folder(folder: Path, train: int = 5, test: int = 3, compress: bool = False) -> Path:
    """A folder with official-name train and test IDX files of 28×28 random images."""
    folder.mkdir(exist_ok=True)
    suffix = ".gz" if compress else ""
    for name, count, seed in (("train", train, 1), ("t10k", test, 2)):
        images = random_images((count, 28, 28), seed)
        write_idx(folder / f"{name}-images-idx3-ubyte{suffix}", images, compress=compress)
    return folder


def raises_naming(path, message: str = ""):
    """``pytest.raises(InputError)`` whose one-line message names ``path`` (and ``message``)."""
    pattern = re.escape(str(path)) + (".*" + re.escape(message) if message else "")
    return pytest.raises(InputError, match=pattern)


def test_every_image_dataset_is_registered_by_its_command_line_name():
    assert DATASETS["mnist"] is MNIST
    assert DATASETS["fashion-mnist"] is FashionMNIST
    assert DATASETS["array"] is ArrayImages
    assert DATASETS["folder"] is ImageFolder
    assert DATASETS["digits"] is Digits


# --------------------------------------------------------------------------- IDX / MNIST


@pytest.mark.parametrize("compress", [False, True])
def test_idx_file_reads_back_the_images_written(tmp_path, compress):
    images = random_images((4, 5, 7))
    assert np.array_equal(read_idx_images(write_idx(tmp_path / "x", images, compress=compress)), images)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_folder_serves_the_train_split_by_default(tmp_path, compress):
    folder = mnist_folder(tmp_path / "mnist", compress=compress)
    dataset = MNIST(folder)
    assert len(dataset) == 5 and dataset.observation_shape == (1, 28, 28)
    expected = torch.from_numpy(random_images((5, 28, 28), 1)).unsqueeze(1)
    assert torch.equal(dataset.images(np.arange(5)), expected)


def test_mnist_split_all_is_train_then_test(tmp_path):
    folder = mnist_folder(tmp_path / "mnist")
    train, test, every = MNIST(folder, split="train"), MNIST(folder, split="test"), MNIST(folder, split="all")
    assert len(test) == 3 and len(every) == 8
    assert torch.equal(every.images(range(8)), torch.cat([train.images(range(5)), test.images(range(3))]))


def test_mnist_reads_one_idx_file_given_directly(tmp_path):
    images = random_images((6, 28, 28))
    dataset = MNIST(write_idx(tmp_path / "any-name.gz", images, compress=True))
    assert torch.equal(dataset.images([5, 0]), torch.from_numpy(images[[5, 0]]).unsqueeze(1))


def test_fashion_mnist_reads_the_same_file_layout_under_its_own_name(tmp_path):
    dataset = get_dataset("fashion-mnist", path=str(mnist_folder(tmp_path / "fashion")))
    assert isinstance(dataset, FashionMNIST) and len(dataset) == 5
    expected = {"name": "fashion-mnist", "path": str((tmp_path / "fashion").resolve()), "split": "train"}
    assert dataset.describe() == expected


@pytest.mark.parametrize("split", [None, "test", "all"])
def test_mnist_describe_rebuilds_the_same_dataset(tmp_path, split):
    dataset = MNIST(mnist_folder(tmp_path / "mnist"), split=split)
    rebuilt = get_dataset(**dataset.describe())
    assert torch.equal(rebuilt.images(range(len(dataset))), dataset.images(range(len(dataset))))


def test_idx_magic_of_another_type_is_rejected_with_both_magics(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", random_images((2, 28, 28)), magic=0x00000801)
    message = f"{path}: IDX magic 0x00000801 is not uint8 images (expected 0x00000803)"
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        read_idx_images(path)


def test_idx_file_shorter_than_its_header_says_is_rejected(tmp_path):
    path = write_idx(tmp_path / "x", random_images((3, 28, 28)))
    path.write_bytes(path.read_bytes()[:-1])
    with raises_naming(path, "3×28×28 images (2368 bytes) but the file holds 2367 bytes"):
        read_idx_images(path)


def test_idx_file_longer_than_its_header_says_is_rejected(tmp_path):
    path = write_idx(tmp_path / "x", random_images((3, 28, 28)))
    path.write_bytes(path.read_bytes() + b"\0")
    with raises_naming(path, "but the file holds 2369 bytes"):
        read_idx_images(path)


def test_idx_header_cut_short_is_rejected(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"\0\0\x08\x03\0\0")
    with raises_naming(path, "too short for an IDX images header"):
        read_idx_images(path)


def test_idx_file_with_no_images_is_rejected(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((0, 28, 28), np.uint8))
    with raises_naming(path, "expected at least one image"):
        read_idx_images(path)


def test_damaged_gzip_idx_file_is_rejected(tmp_path):
    path = write_idx(tmp_path / "x.gz", random_images((3, 28, 28)), compress=True)
    path.write_bytes(path.read_bytes()[:40])
    with raises_naming(path, "damaged gzip file"):
        read_idx_images(path)


def test_missing_idx_file_is_rejected(tmp_path):
    with raises_naming(tmp_path / "nothing", "no such file"):
        read_idx_images(tmp_path / "nothing")


def test_mnist_path_that_does_not_exist_is_rejected(tmp_path):
    with raises_naming(tmp_path / "nothing", "no such file or folder"):
        MNIST(tmp_path / "nothing")


def test_mnist_folder_without_the_requested_split_is_rejected(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte", random_images((2, 28, 28)))
    with raises_naming(folder, "no t10k-images-idx3-ubyte or t10k-images-idx3-ubyte.gz"):
        MNIST(folder, split="test")
    with raises_naming(tmp_path, "no train-images-idx3-ubyte or train-images-idx3-ubyte.gz"):
        MNIST(tmp_path)


def test_mnist_images_of_another_size_are_rejected(tmp_path):
    path = write_idx(tmp_path / "x", random_images((2, 32, 32)))
    with raises_naming(path, "images are 32×32, expected 28×28 MNIST images"):
        MNIST(path)


def test_mnist_unknown_split_is_rejected(tmp_path):
    with pytest.raises(InputError, match="^split: expected 'train', 'test' or 'all', got 'valid'$"):
        MNIST(mnist_folder(tmp_path / "mnist"), split="valid")


def test_mnist_split_with_a_single_file_is_rejected(tmp_path):
    path = write_idx(tmp_path / "x", random_images((2, 28, 28)))
    with pytest.raises(InputError, match=f"^split: .*{re.escape(str(path))} is a file$"):
        MNIST(path, split="test")


@file_property
@given(
    images=arrays(np.uint8, st.tuples(*[st.integers(1, 6)] * 3)),
    compress=st.booleans(),
)
def test_any_uint8_array_written_as_idx_reads_back_identically(tmp_path, images, compress):
    assert np.array_equal(read_idx_images(write_idx(tmp_path / "x", images, compress=compress)), images)


@file_property
@given(data=st.binary(max_size=64) | st.binary(max_size=64).map(lambda tail: b"\x1f\x8b" + tail))
def test_any_byte_string_as_idx_raises_only_input_error(tmp_path, data):
    path = tmp_path / "x"
    path.write_bytes(data)
    try:
        images = read_idx_images(path)
    except InputError as error:
        assert str(path) in str(error) and "\n" not in str(error)
    else:
        assert images.dtype == np.uint8 and images.ndim == 3


@file_property
@given(cut=st.integers(0, 16 + 2 * 3 * 4 - 1), compress=st.booleans())
def test_idx_file_cut_anywhere_raises_input_error(tmp_path, cut, compress):
    data = write_idx(tmp_path / "x", random_images((2, 3, 4))).read_bytes()[:cut]
    path = tmp_path / "cut"
    path.write_bytes(gzip.compress(data) if compress else data)
    with raises_naming(path):
        read_idx_images(path)


# --------------------------------------------------------------------------- arrays


def test_npy_of_grey_images_gains_a_channel_axis(tmp_path):
    images = random_images((4, 6, 5))
    np.save(tmp_path / "x.npy", images)
    dataset = ArrayImages(tmp_path / "x.npy")
    assert dataset.observation_shape == (1, 6, 5)
    assert torch.equal(dataset.images(range(4)), torch.from_numpy(images).unsqueeze(1))


@pytest.mark.parametrize("channels", [1, 3])
def test_channel_last_images_are_moved_to_channel_first(tmp_path, channels):
    images = random_images((4, 6, 5, channels))
    np.save(tmp_path / "x.npy", images)
    dataset = ArrayImages(tmp_path / "x.npy")
    assert dataset.observation_shape == (channels, 6, 5)
    assert torch.equal(dataset.images(range(4)), torch.from_numpy(images).permute(0, 3, 1, 2))


def test_channel_first_images_are_kept_as_they_are(tmp_path):
    images = random_images((4, 3, 6, 5))
    np.save(tmp_path / "x.npy", images)
    assert torch.equal(ArrayImages(tmp_path / "x.npy").images(range(4)), torch.from_numpy(images))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_float_images_in_unit_interval_are_scaled_to_bytes(tmp_path, dtype):
    values = np.array([0.0, 0.5, 1.0, 1 / 255, 0.999], dtype=dtype).reshape(1, 1, 5)
    np.save(tmp_path / "x.npy", values)
    pixels = ArrayImages(tmp_path / "x.npy").images([0]).flatten().tolist()
    assert pixels == np.rint(values.astype(np.float64) * 255).astype(int).flatten().tolist()
    assert pixels[0] == 0 and pixels[2] == 255


def test_bool_images_become_black_and_white(tmp_path):
    np.save(tmp_path / "x.npy", np.array([[[True, False]]]))
    assert ArrayImages(tmp_path / "x.npy").images([0]).flatten().tolist() == [255, 0]


def test_npz_with_one_array_reads_it_whatever_its_name(tmp_path):
    images = random_images((3, 4, 4))
    np.savez(tmp_path / "x.npz", anything=images)
    dataset = ArrayImages(tmp_path / "x.npz")
    assert dataset.key == "anything"
    assert torch.equal(dataset.images(range(3)), torch.from_numpy(images).unsqueeze(1))


@pytest.mark.parametrize("name", ["imgs", "images"])
def test_npz_with_several_arrays_defaults_to_imgs_or_images(tmp_path, name):
    images = random_images((3, 4, 4))
    np.savez_compressed(tmp_path / "x.npz", labels=np.arange(3), **{name: images})
    dataset = ArrayImages(tmp_path / "x.npz")
    assert dataset.key == name
    assert torch.equal(dataset.images(range(3)), torch.from_numpy(images).unsqueeze(1))


def test_npz_key_chooses_the_array(tmp_path):
    other = random_images((2, 5, 5), 7)
    np.savez(tmp_path / "x.npz", imgs=random_images((3, 4, 4)), other=other)
    dataset = ArrayImages(tmp_path / "x.npz", key="other")
    assert dataset.key == "other" and torch.equal(dataset.images(range(2)), torch.from_numpy(other)[:, None])


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_array_describe_rebuilds_the_same_dataset(tmp_path, suffix):
    images = random_images((3, 4, 4))
    path = tmp_path / f"x{suffix}"
    if suffix == ".npy":
        np.save(path, images)
    else:
        np.savez(path, a=images, imgs=images[::-1])
    dataset = ArrayImages(path)
    assert torch.equal(get_dataset(**dataset.describe()).images(range(3)), dataset.images(range(3)))


def test_images_are_served_by_index_in_the_order_asked(tmp_path):
    images = random_images((5, 2, 2))
    np.save(tmp_path / "x.npy", images)
    dataset = ArrayImages(tmp_path / "x.npy")
    index = torch.tensor([4, 0, 4, 2])
    assert torch.equal(dataset.images(index), torch.from_numpy(images[index.numpy()]).unsqueeze(1))
    assert torch.equal(dataset.observations(index), dataset.images(index).float() / 255)
    with pytest.raises(InputError, match=re.escape("index: expected values in [0, 5)")):
        dataset.images([5])


def test_missing_array_file_is_rejected(tmp_path):
    with raises_naming(tmp_path / "x.npy", "no such file"):
        ArrayImages(tmp_path / "x.npy")


def test_file_that_is_not_an_array_is_rejected(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"not numpy at all")
    with raises_naming(tmp_path / "x.npy", "not a readable .npy or .npz file"):
        ArrayImages(tmp_path / "x.npy")


def test_pickled_object_array_is_never_unpickled(tmp_path):
    np.save(tmp_path / "x.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with raises_naming(tmp_path / "x.npy", "not a readable .npy or .npz file"):
        ArrayImages(tmp_path / "x.npy")


def test_pickled_object_array_inside_npz_is_never_unpickled(tmp_path):
    np.savez(tmp_path / "x.npz", imgs=np.array([{"a": 1}], dtype=object))
    with raises_naming(tmp_path / "x.npz", "array 'imgs' is unreadable"):
        ArrayImages(tmp_path / "x.npz")


def test_unknown_npz_key_is_rejected_with_the_keys_it_holds(tmp_path):
    np.savez(tmp_path / "x.npz", a=random_images((1, 2, 2)), b=random_images((1, 2, 2)))
    path = re.escape(str(tmp_path / "x.npz"))
    with pytest.raises(InputError, match=f"^key: {path} has no array 'c' \\(it holds a, b\\)$"):
        ArrayImages(tmp_path / "x.npz", key="c")


def test_npz_with_several_arrays_and_no_default_name_asks_for_a_key(tmp_path):
    np.savez(tmp_path / "x.npz", a=random_images((1, 2, 2)), b=random_images((1, 2, 2)))
    with raises_naming(tmp_path / "x.npz", "choose one with key="):
        ArrayImages(tmp_path / "x.npz")


def test_key_with_a_single_array_file_is_rejected(tmp_path):
    np.save(tmp_path / "x.npy", random_images((1, 2, 2)))
    with pytest.raises(InputError, match="^key: applies to a .npz archive"):
        ArrayImages(tmp_path / "x.npy", key="imgs")


@pytest.mark.parametrize(
    "shape",
    [(5,), (5, 4), (2, 4, 4, 2), (2, 5, 4, 4), (2, 3, 4, 4, 1), (0, 4, 4), (2, 0, 4), (2, 4, 4, 0)],
)
def test_array_of_a_shape_that_is_not_images_is_rejected(tmp_path, shape):
    np.save(tmp_path / "x.npy", np.zeros(shape, np.uint8))
    with raises_naming(tmp_path / "x.npy", str(shape)):
        ArrayImages(tmp_path / "x.npy")


@pytest.mark.parametrize(
    "values", [np.int64([[[0, 255]]]), np.array([[["a", "b"]]]), np.complex64([[[0, 1]]])]
)
def test_array_of_a_dtype_that_is_not_images_is_rejected(tmp_path, values):
    np.save(tmp_path / "x.npy", values)
    with raises_naming(tmp_path / "x.npy", f"dtype {values.dtype} is not images"):
        ArrayImages(tmp_path / "x.npy")


@pytest.mark.parametrize("bad", [1.5, -0.1, np.nan, np.inf])
def test_float_values_outside_the_unit_interval_are_rejected(tmp_path, bad):
    np.save(tmp_path / "x.npy", np.array([[[0.5, bad]]]))
    with raises_naming(tmp_path / "x.npy", "expected [0, 1]"):
        ArrayImages(tmp_path / "x.npy")


@file_property
@given(data=st.binary(max_size=200))
def test_any_byte_string_as_array_file_raises_only_input_error(tmp_path, data):
    path = tmp_path / "x.npy"
    path.write_bytes(data)
    with raises_naming(path):
        ArrayImages(path)


image_shapes = st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5))


@settings(max_examples=60, deadline=None)
@given(images=arrays(np.uint8, image_shapes) | arrays(np.float64, image_shapes, elements=st.floats(0, 1)))
def test_unit_floats_and_bytes_map_onto_the_bytes_they_mean(images):
    pixels = images_from_array(images, "x").numpy()
    expected = images if images.dtype == np.uint8 else np.rint(images * 255)
    assert pixels.dtype == np.uint8 and np.array_equal(pixels[:, 0], expected)


# --------------------------------------------------------------------------- folders


def save_image(path: Path, pixels: np.ndarray, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode).save(path)


def test_folder_of_grey_images_reads_them_sorted_by_relative_path(tmp_path):
    grey = [random_images((6, 5), seed) for seed in range(3)]
    save_image(tmp_path / "b" / "a.png", grey[1])
    save_image(tmp_path / "a.png", grey[0])
    save_image(tmp_path / "b" / "c.PNG", grey[2])
    (tmp_path / "notes.txt").write_text("not an image")
    dataset = ImageFolder(tmp_path)
    assert dataset.mode == "L" and dataset.observation_shape == (1, 6, 5)
    assert torch.equal(dataset.images(range(3)), torch.from_numpy(np.stack(grey)).unsqueeze(1))


def test_one_colour_image_makes_the_folder_rgb_and_grey_ones_repeat_their_channel(tmp_path):
    grey, colour = random_images((4, 4), 1), random_images((4, 4, 3), 2)
    save_image(tmp_path / "0.png", grey)
    save_image(tmp_path / "1.bmp", colour)
    dataset = ImageFolder(tmp_path)
    assert dataset.mode == "RGB" and dataset.observation_shape == (3, 4, 4)
    assert torch.equal(dataset.images([0]), torch.from_numpy(np.stack([grey] * 3))[None])
    assert torch.equal(dataset.images([1]), torch.from_numpy(colour).permute(2, 0, 1)[None])


def test_rgb_files_whose_channels_are_equal_count_as_grey(tmp_path):
    grey = random_images((4, 4))
    save_image(tmp_path / "0.png", np.stack([grey] * 3, axis=2))
    dataset = ImageFolder(tmp_path)
    assert dataset.mode == "L" and torch.equal(dataset.images([0]), torch.from_numpy(grey)[None, None])


def test_mode_l_converts_colour_to_luma(tmp_path):
    colour = random_images((4, 4, 3))
    save_image(tmp_path / "0.png", colour)
    luma = np.array(Image.fromarray(colour).convert("L"))
    assert torch.equal(ImageFolder(tmp_path, mode="L").images([0]), torch.from_numpy(luma)[None, None])


def test_jpeg_and_gif_files_are_read(tmp_path):
    save_image(tmp_path / "0.jpg", random_images((8, 8)))
    save_image(tmp_path / "1.gif", random_images((8, 8)))
    save_image(tmp_path / "2.jpeg", random_images((8, 8)))
    assert len(ImageFolder(tmp_path, mode="L")) == 3


def test_size_resizes_images_of_different_sizes(tmp_path):
    save_image(tmp_path / "0.png", random_images((10, 12)))
    save_image(tmp_path / "1.png", random_images((7, 5)))
    assert ImageFolder(tmp_path, size=6).observation_shape == (1, 6, 6)
    assert ImageFolder(tmp_path, size=[4, 9]).observation_shape == (1, 4, 9)


def test_folder_describe_rebuilds_the_same_dataset(tmp_path):
    save_image(tmp_path / "0.png", random_images((10, 12, 3)))
    save_image(tmp_path / "1.png", random_images((7, 5)))
    dataset = ImageFolder(tmp_path, size=(4, 9))
    expected = {"name": "folder", "path": str(tmp_path.resolve()), "mode": "RGB", "size": [4, 9]}
    assert dataset.describe() == expected
    assert torch.equal(get_dataset(**dataset.describe()).images(range(2)), dataset.images(range(2)))


def test_missing_folder_is_rejected(tmp_path):
    with raises_naming(tmp_path / "nothing", "no such folder"):
        ImageFolder(tmp_path / "nothing")


def test_folder_without_images_is_rejected(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with raises_naming(tmp_path, "no images found"):
        ImageFolder(tmp_path)


def test_images_of_different_sizes_without_size_are_rejected_naming_the_odd_one(tmp_path):
    save_image(tmp_path / "0.png", random_images((4, 4)))
    save_image(tmp_path / "1.png", random_images((4, 5)))
    with raises_naming(tmp_path / "1.png", "image is 4×5 but"):
        ImageFolder(tmp_path)


def test_unreadable_image_file_is_rejected_by_name(tmp_path):
    save_image(tmp_path / "0.png", random_images((4, 4)))
    (tmp_path / "1.png").write_bytes(b"\x89PNG garbage")
    with raises_naming(tmp_path / "1.png", "not a readable image"):
        ImageFolder(tmp_path)


def test_sixteen_bit_images_are_rejected_by_name(tmp_path):
    Image.fromarray(np.full((4, 4), 1000, np.uint16)).save(tmp_path / "0.png")
    with raises_naming(tmp_path / "0.png", "images are not supported"):
        ImageFolder(tmp_path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "CMYK"}, "^mode: expected 'L' or 'RGB'"),
        ({"size": 0}, "^size: expected an int or a pair .height, width. of 1 to 4096 pixels"),
        ({"size": [4]}, "^size: expected an int or a pair .height, width. of 1 to 4096 pixels"),
        ({"size": 6.5}, "^size: expected an int or a pair .height, width. of 1 to 4096 pixels"),
    ],
)
def test_invalid_folder_options_are_rejected_by_name(tmp_path, options, message):
    save_image(tmp_path / "0.png", random_images((4, 4)))
    with pytest.raises(InputError, match=message):
        ImageFolder(tmp_path, **options)


# --------------------------------------------------------------------------- digits


def test_digits_are_1797_grey_8x8_images_scaled_to_bytes_with_labels():
    dataset = get_dataset("digits")
    assert len(dataset) == 1797 and dataset.observation_shape == (1, 8, 8)
    everything = dataset.images(range(len(dataset)))
    assert everything.dtype == torch.uint8 and int(everything.max()) == 255 and int(everything.min()) == 0
    assert dataset.labels.dtype == np.int64 and dataset.labels.shape == (1797,)
    assert set(dataset.labels.tolist()) == set(range(10))
    assert dataset.describe() == {"name": "digits"}
