"""The page's classifier, as the page gets it: its ONNX file stores int8 weights (a quarter of float32's bytes),
and names the Fashion-MNIST test images as the float classifier does."""
import numpy as np
import onnx
import onnxruntime as ort
import torch

from model.store.companions import load_classifier
from model.store.onnx import export_module, int8_initializers
from ui.describe import CLASSIFIER_DIR, _Probabilities, classifier_onnx


def predictions(path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"image": x[i:i + 1000]})[0] for i in range(0, len(x), 1000)])


def test_the_int8_classifier_names_the_test_set_as_the_float_one_does(weights_root, fashion_test, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setenv("VAE_CACHE_DIR", str(tmp_path / "cache"))
    folder = weights_root / CLASSIFIER_DIR
    path = classifier_onnx(folder)
    graph = onnx.load(path)
    stored = {i.name: i for i in graph.graph.initializer}
    quantized = [n for n, i in stored.items() if n.endswith("__q8")]
    assert quantized and all(stored[n].data_type == onnx.TensorProto.INT8 for n in quantized)
    assert not [n for n, i in stored.items() if i.data_type == onnx.TensorProto.FLOAT and len(i.dims) >= 2]

    net = _Probabilities(load_classifier(folder)).eval()        # eval all through: the export keeps its mode
    floats = export_module(net, torch.zeros(1, 1, 28, 28), tmp_path / "float.onnx", ["image"], ["p"])
    assert path.stat().st_size < 0.4 * floats.stat().st_size          # 0.25 MB against 0.67 MB

    x = fashion_test.images.astype(np.float32) / 255                    # (10000, 1, 28, 28)
    with torch.inference_mode():
        want = net(torch.from_numpy(x)).numpy().argmax(1)
    same = predictions(floats, x).argmax(1) == want
    assert same.all(), np.flatnonzero(~same)                            # float16-exact: the very same answers
    agree = (predictions(path, x).argmax(1) == want).mean()
    assert agree >= 0.99, agree                                           # 0.9978 measured


def test_int8_weights_are_within_half_a_step_of_the_originals():
    from onnx import helper, numpy_helper

    w = np.random.default_rng(0).normal(size=(8, 3, 3, 3)).astype(np.float32)
    w[2] = 0                                                              # an all-zero channel keeps scale 1
    model = helper.make_model(helper.make_graph(
        [helper.make_node("Identity", ["w"], ["out"])], "g", [],
        [helper.make_tensor_value_info("out", onnx.TensorProto.FLOAT, list(w.shape))],
        [numpy_helper.from_array(w, "w")]), opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    assert int8_initializers(model) == 1
    back = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {})[0]
    step = np.abs(w).reshape(8, -1).max(axis=1) / 127
    assert (np.abs(back - w) <= step.reshape(8, 1, 1, 1) / 2 + 1e-7).all()
    assert np.array_equal(back[2], w[2]) and not np.array_equal(back, w)
