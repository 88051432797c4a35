"""Sample quality: the shipped Fashion-MNIST classifier, and the FID, precision and recall
computed on its features (model/analysis/quality.py). Small sets: the three tests that run the classifier over
thousands of images are marked slow, the rest run in seconds."""
import numpy as np
import pytest
import torch
from scipy import linalg
from scipy.ndimage import gaussian_filter

from model.analysis import quality as q
from model.data import load_dataset
from model.nets.classifier import CLASSIFIER_CONFIG_NAME, CLASSIFIER_WEIGHTS_NAME, Classifier, ClassifierConfig
from model.serving.registry import ModelRegistry
from model.store.companions import load_classifier, save_classifier
from model.store.weights import WeightsError
from model.training import classifier as trainer

N = 1000


@pytest.fixture(scope="module")
def test_set():
    return load_dataset("fashion-mnist", "test")


@pytest.fixture(scope="module")
def train_images():
    return load_dataset("fashion-mnist", "train").images[:N]


@pytest.fixture(scope="module")
def clean_feats(test_set):
    """The classifier's features of the first N test images, computed once for every test that compares sets."""
    return q.features(test_set.images[:N])


@pytest.fixture(scope="module")
def noisy_feats(test_set):
    """noisy_feats(sigma): the features of those images with noise of std sigma added, each computed once."""
    done = {}

    def get(sigma: float) -> np.ndarray:
        if sigma not in done:
            done[sigma] = q.features(noisy(test_set.images[:N], sigma))
        return done[sigma]
    return get


def noisy(images: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """uint8 images with Gaussian noise of std sigma (on the [0, 1] scale) added, clipped."""
    x = images / 255.0 + np.random.default_rng(seed).normal(0, sigma, images.shape)
    return (np.clip(x, 0, 1) * 255).round().astype(np.uint8)


# ---------------------------------------------------------------- the classifier
def test_the_shipped_classifier_loads_and_classifies_test_images(test_set):
    net = load_classifier(q.SHIPPED_CLASSIFIER)
    x = torch.from_numpy(test_set.images[:N]).float() / 255
    with torch.inference_mode():
        logits, feats = net(x), net.features(x)
    assert logits.shape == (N, 11) and feats.shape == (N, net.config.features)      # 10 classes and noise
    accuracy = (logits.argmax(1).numpy() == test_set.labels[:N]).mean()
    assert accuracy >= 0.85, accuracy
    noise = torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        assert (net(noise).argmax(1) == 10).float().mean() > 0.9
    assert (q.SHIPPED_CLASSIFIER / CLASSIFIER_WEIGHTS_NAME).stat().st_size < 1_000_000      # float16, small
    assert load_classifier(q.SHIPPED_CLASSIFIER).state_dict()["fc.weight"].dtype == torch.float32


def test_a_classifier_round_trips_and_a_mismatched_file_is_refused(tmp_path):
    net = Classifier(ClassifierConfig(widths=(4, 8), features=16)).eval()
    save_classifier(net, tmp_path / "a")
    back = load_classifier(tmp_path / "a")
    x = torch.rand(3, 1, 28, 28)
    assert back.config == net.config and torch.equal(back(x), net(x))
    save_classifier(Classifier(ClassifierConfig(widths=(4, 8), features=32)), tmp_path / "b")
    (tmp_path / "b" / CLASSIFIER_CONFIG_NAME).write_bytes((tmp_path / "a" / CLASSIFIER_CONFIG_NAME).read_bytes())
    with pytest.raises(WeightsError, match="does not match"):
        load_classifier(tmp_path / "b")
    with pytest.raises(WeightsError, match="missing"):
        load_classifier(tmp_path / "nowhere")


def test_the_trainers_noise_images_are_of_every_kind_and_in_range():
    x = trainer.noise_images(8, torch.Generator().manual_seed(0))
    assert x.shape == (8, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    dots = x[3::4]
    assert set(dots.unique().tolist()) <= {0.0, 1.0}                    # the fourth kind: dots on black


def test_the_trainer_refuses_bad_settings(capsys):
    assert trainer.main(["--out", "unused", "--epochs", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err


def test_the_registry_does_not_offer_the_classifier(weights_root, tmp_path):
    folder = q.SHIPPED_CLASSIFIER
    assert folder.name.startswith(".")                               # the registry's scan skips dot-folders
    assert not (folder / "config.json").exists() and not (folder / "model.safetensors").exists()
    root = tmp_path / "root"
    root.mkdir()
    (root / "fashion-mnist").symlink_to((weights_root / "fashion-mnist").resolve(), target_is_directory=True)
    (root / folder.name).symlink_to(folder.resolve(), target_is_directory=True)
    reg = ModelRegistry(root)
    assert reg.names() == ["fashion-mnist"] and not reg.warnings
    assert folder.name not in ModelRegistry(folder.parent).names()


# ---------------------------------------------------------------- FID
@pytest.mark.slow                        # the classifier's features of 5,000 images
def test_fid_is_zero_for_identical_sets_and_grows_with_noise(clean_feats, noisy_feats):
    assert q.frechet_distance(clean_feats, clean_feats) == pytest.approx(0, abs=1e-6)
    fids = [q.frechet_distance(clean_feats, noisy_feats(s)) for s in (0.05, 0.1, 0.2, 0.4)]
    assert 0 < fids[0] and all(a < b for a, b in zip(fids[:-1], fids[1:], strict=True)), fids


@pytest.mark.slow                        # reads the training set; features of 4,000 images
def test_the_test_set_is_nearer_the_training_set_than_noisy_or_blurred_images(test_set, train_images, clean_feats,
                                                                              noisy_feats):
    real, other = q.features(train_images), clean_feats
    floor = q.frechet_distance(real, other)
    blurred = gaussian_filter(test_set.images[:N].astype(np.float64), sigma=(0, 0, 1, 1)).round().astype(np.uint8)
    assert floor < q.frechet_distance(real, q.features(blurred))
    assert floor < q.frechet_distance(real, noisy_feats(0.1))


def test_fid_matches_the_textbook_formula_with_scipy_sqrtm():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(200, 8)) @ rng.normal(size=(8, 8)) + 0.5
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(s_a @ s_b).real
    textbook = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s_a + s_b - 2 * root)
    assert q.frechet_distance(a, b) == pytest.approx(textbook, rel=1e-6)


# ---------------------------------------------------------------- precision and recall
def brute_force(real, fake, k):
    """Kynkäänniemi et al.'s definition, written out with full distance matrices."""
    d_rr, d_ff = (np.linalg.norm(x[:, None] - x[None], axis=-1) for x in (real, fake))
    d_fr = np.linalg.norm(fake[:, None] - real[None], axis=-1)
    r_real, r_fake = np.sort(d_rr, 1)[:, k], np.sort(d_ff, 1)[:, k]
    return (d_fr <= r_real[None]).any(1).mean(), (d_fr <= r_fake[:, None]).any(0).mean()


def test_precision_recall_match_the_definition_whatever_the_chunk_size():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(150, 5)), rng.normal(size=(120, 5)) * 1.5 + 0.3
    want = brute_force(real, fake, 3)
    for chunk in (7, 1024):
        got = q.manifold_coverage(real, q.knn_radii(real, 3, chunk), fake, q.knn_radii(fake, 3, chunk), chunk)
        assert got == pytest.approx(want, abs=1e-9)
    assert q.precision_recall(real, fake) == pytest.approx(want, abs=1e-9)


def test_a_set_against_itself_has_full_precision_and_recall_and_noise_has_none(clean_feats):
    feats = clean_feats
    assert q.precision_recall(feats, feats) == pytest.approx((1.0, 1.0), abs=1e-3)
    noise = np.random.default_rng(3).integers(0, 256, (N, 1, 28, 28), dtype=np.uint8)
    precision, recall = q.precision_recall(feats, q.features(noise))
    assert precision < 0.05 and recall < 0.05, (precision, recall)


@pytest.mark.slow                        # reads the training set; features of 3,000 images
def test_quality_caches_the_reference_and_refuses_images_of_another_shape(test_set, train_images):
    out = q.quality(train_images, test_set.images[:N])
    assert set(out) == {"fid", "precision", "recall"} and out["fid"] > 0 and 0.5 < out["precision"] <= 1
    assert len(q._REFERENCES) >= 1
    again = q.quality(train_images, test_set.images[:N])
    assert again == out
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        q.features(np.zeros((2, 3, 64, 64), dtype=np.uint8))
    with pytest.raises(ValueError, match="k must lie"):
        q.knn_radii(np.zeros((3, 4)), k=3)
