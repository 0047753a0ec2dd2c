"""An independent numpy implementation of the NSynth encoder, written from the design facts.

Uses Magenta's storage layout ([1, k, in, out] kernels, a dict of named tensors) and explicit
zero padding, so it shares no code with audiostyle's TensorFlow encoder.
"""

from __future__ import annotations

import numpy as np


def mu_law_quantized(x: np.ndarray) -> np.ndarray:
    q = np.floor(128.0 * np.sign(x) * np.log(1.0 + 255.0 * np.abs(x)) / np.log(256.0))
    return q / 128.0


def conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, dilation: int = 1) -> np.ndarray:
    """x [T, in], w [1, k, in, out]: cross-correlation with zero 'same' padding."""
    k = w.shape[1]
    half = (k - 1) // 2 * dilation
    padded = np.pad(x.astype(np.float64), ((half, half), (0, 0)))
    out = np.zeros((x.shape[0], w.shape[3]))
    for j in range(k):
        out += padded[j * dilation : j * dilation + x.shape[0]] @ w[0, j].astype(np.float64)
    return out + b


def encoder_taps(x_scaled: np.ndarray, t: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every tap of a 1-D input already scaled (mu-law or not)."""
    taps = {}
    en = conv(x_scaled[:, None], t["ae_startconv/W"], t["ae_startconv/biases"])
    for i in range(1, 31):
        a = np.maximum(en, 0.0)
        d = conv(
            a, t[f"ae_dilatedconv_{i}/W"], t[f"ae_dilatedconv_{i}/biases"], 2 ** ((i - 1) % 10)
        )
        b = np.maximum(d, 0.0)
        en = en + conv(b, t[f"ae_res_{i}/W"], t[f"ae_res_{i}/biases"])
        taps[f"A_{i}"], taps[f"B_{i}"], taps[f"C_{i}"] = a, b, en.copy()
    z = conv(en, t["ae_bottleneck/W"], t["ae_bottleneck/biases"])
    taps["encoding"] = z.reshape(-1, 512, 16).mean(axis=1)
    taps["final_relu"] = taps["B_30"]
    return taps


def random_tensors(seed: int, scale_bias: float = 0.05) -> dict[str, np.ndarray]:
    """Encoder tensors in Magenta's names and shapes, biases non-zero so they are tested too."""
    rng = np.random.default_rng(seed)

    def w(k: int, cin: int, cout: int) -> np.ndarray:
        lim = np.sqrt(3.0 / (k * cin))
        return rng.uniform(-lim, lim, (1, k, cin, cout)).astype(np.float32)

    def b(n: int) -> np.ndarray:
        return rng.uniform(-scale_bias, scale_bias, n).astype(np.float32)

    t = {"ae_startconv/W": w(3, 1, 128), "ae_startconv/biases": b(128)}
    for i in range(1, 31):
        t[f"ae_dilatedconv_{i}/W"] = w(3, 128, 128)
        t[f"ae_dilatedconv_{i}/biases"] = b(128)
        t[f"ae_res_{i}/W"] = w(1, 128, 128)
        t[f"ae_res_{i}/biases"] = b(128)
    t["ae_bottleneck/W"] = w(1, 128, 16)
    t["ae_bottleneck/biases"] = b(16)
    return t


def write_tf1_checkpoint(
    prefix: str,
    encoder: dict[str, np.ndarray],
    ema: dict[str, np.ndarray] | None = None,
    extra: dict[str, np.ndarray] | None = None,
) -> str:
    """A name-based TF1 checkpoint like Magenta's: encoder, EMA shadows, Adam slots, decoder, step."""
    import tensorflow as tf

    values: dict[str, np.ndarray] = dict(encoder)
    for name, value in encoder.items():
        values[f"{name}/Adam"] = np.zeros_like(value)
        values[f"{name}/Adam_1"] = np.zeros_like(value)
        if ema is not None:
            values[f"{name}/ExponentialMovingAverage"] = ema[name]
    rng = np.random.default_rng(1)
    values["startconv/W"] = rng.normal(size=(1, 2, 1, 8)).astype(np.float32)
    values["dilatedconv_1/W"] = rng.normal(size=(1, 2, 8, 16)).astype(np.float32)
    values["logits/biases"] = rng.normal(size=(256,)).astype(np.float32)
    values["global_step"] = np.array(200000, dtype=np.int32)
    values.update(extra or {})
    graph = tf.Graph()
    with graph.as_default():
        variables = {
            n: tf.compat.v1.Variable(v, name=n.replace("/", "_") + "_var")
            for n, v in values.items()
        }
        saver = tf.compat.v1.train.Saver(var_list=variables)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return saver.save(sess, prefix, write_meta_graph=False)
