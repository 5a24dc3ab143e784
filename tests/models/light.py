"""The nine real CNNs shipped with the onnx package, and how its backend runner feeds them."""
import os

import numpy as np
import onnx
from onnx import numpy_helper

LIGHT_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
LIGHT_MODELS = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50",
                "shufflenet", "squeezenet", "vgg19", "zfnet512"]
# the onnx package's runner compares light models with these (loader default for model tests)
RTOL, ATOL = 1e-3, 1e-7


def model_path(name: str) -> str:
    return os.path.join(LIGHT_DIR, f"light_{name}.onnx")


def runner_inputs(model: onnx.ModelProto, name: str) -> list[np.ndarray]:
    """The inputs onnx's backend test runner feeds a light model (its own generator)."""
    from onnx.backend.test.runner import Runner

    inits = {i.name for i in model.graph.initializer}
    return [Runner.generate_dummy_data(x, seed=0, name=name, random=False)
            for x in model.graph.input if x.name not in inits]


def reference_outputs(name: str, count: int) -> list[np.ndarray]:
    outs = []
    for i in range(count):
        t = onnx.TensorProto()
        with open(os.path.join(LIGHT_DIR, f"light_{name}_output_{i}.pb"), "rb") as f:
            t.ParseFromString(f.read())
        outs.append(numpy_helper.to_array(t))
    return outs


def ort_session(model: onnx.ModelProto, threads: int | None = None):
    """An onnxruntime CPU session for ``model``, quiet about unused initializers."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def with_random_weights(model: onnx.ModelProto, seed: int = 0) -> onnx.ModelProto:
    """A copy whose ConstantOfShape-built weights are random initializers instead.

    The light models' weights are each one repeated value, so their outputs are uniform and
    cannot catch indexing bugs; random weights can.  Weights are scaled by 1/sqrt(fan-in)
    to keep activations finite; BatchNormalization variances stay positive.
    """
    rng = np.random.default_rng(seed)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    positive = {n.input[4] for n in m.graph.node if n.op_type == "BatchNormalization"}
    keep = []
    for node in m.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in inits:
            shape = tuple(int(d) for d in inits[node.input[0]])
            out = node.output[0]
            if out in positive:
                w = rng.uniform(0.5, 1.5, shape)
            else:
                fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
                w = rng.uniform(-1, 1, shape) * (np.sqrt(3.0 / fan_in) if fan_in > 1 else 0.5)
            m.graph.initializer.append(numpy_helper.from_array(w.astype(np.float32), out))
        else:
            keep.append(node)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m
