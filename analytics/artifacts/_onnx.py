"""Any model exported to ONNX, run with onnxruntime (an optional extra: ``pip install 'vigil[onnx]'``).

An ONNX file is a graph of operators, not code. Two input layouts are accepted: one float tensor
``[rows, features]`` whose columns are the spec's features in declaration order, or one input per
feature named as the feature (strings for categoricals). The probability of class 1 is read from
the output that holds class probabilities (a tensor or skl2onnx's list of maps). ONNX models
usually compute in float32, so their scores reproduce the reference to about 1e-6, not 1e-12.
Attributions: shap's exact or permutation explainer on the log-odds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.artifacts._agnostic import agnostic_contributions, explainer_name
from analytics.artifacts._base import logit
from analytics.errors import InvalidInputError
from analytics.logschema import LogSchema

_NUMPY = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
          "tensor(int32)": np.int32, "tensor(string)": object, "tensor(bool)": bool}


class ONNXArtifact:
    """An ONNX binary classifier as a :class:`~analytics.artifacts.ModelArtifact`."""

    format = "onnx"
    needs_background = True

    def __init__(self, path, schema: LogSchema) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise InvalidInputError("ONNX models need onnxruntime: pip install 'vigil[onnx]'") from None
        try:
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own hierarchy for unreadable files
            raise InvalidInputError(f"{path.name} is not an ONNX model onnxruntime can run: {str(exc)[:200]}") from None
        inputs = self.session.get_inputs()
        declared = [c.name for c in schema.features]
        if len(inputs) == 1 and len(declared) > 1 or (len(inputs) == 1 and inputs[0].name not in declared):
            self.tensor = True
            width = inputs[0].shape[1] if len(inputs[0].shape) == 2 else None
            if isinstance(width, int) and width != len(declared):
                raise InvalidInputError(f"{path.name} takes {width} inputs in one tensor, but the spec declares "
                                        f"{len(declared)} features")
            self.features = declared
        else:
            self.tensor = False
            self.features = [i.name for i in inputs]
        self.inputs = inputs
        self.path = path
        self.output = self._probability_output(path)
        self.explainer = explainer_name(len(self.features))

    def _probability_output(self, path) -> str:
        outputs = self.session.get_outputs()
        for output in outputs:
            if "prob" in output.name.lower():
                return output.name
        if len(outputs) >= 2:
            return outputs[1].name
        raise InvalidInputError(f"{path.name} has no output of class probabilities")

    def _feed(self, inputs: pd.DataFrame) -> dict:
        if self.tensor:
            kind = _NUMPY.get(self.inputs[0].type, np.float32)
            return {self.inputs[0].name: inputs[self.features].to_numpy(dtype=float).astype(kind)}
        feed = {}
        for spec in self.inputs:
            kind = _NUMPY.get(spec.type, np.float32)
            values = inputs[spec.name]
            if kind is object:
                column = values.astype("string").fillna("").to_numpy(dtype=object)
            else:
                column = values.to_numpy(dtype=float).astype(kind)
            feed[spec.name] = column.reshape(-1, 1)
        return feed

    def score(self, inputs: pd.DataFrame) -> np.ndarray:
        result = self.session.run([self.output], self._feed(inputs))[0]
        if isinstance(result, list):  # skl2onnx's ZipMap: one {class: probability} per row
            return np.array([row[1] for row in result], dtype=float)
        return np.asarray(result, dtype=float)[:, 1]

    def raw(self, inputs: pd.DataFrame) -> np.ndarray:
        return logit(self.score(inputs))

    def contributions(self, inputs: pd.DataFrame, background: pd.DataFrame | None) -> tuple[np.ndarray, float]:
        if background is None:
            raise InvalidInputError("explaining this model needs reference rows as background")
        return agnostic_contributions(self.raw, inputs[self.features], background[self.features])

    @property
    def size(self) -> dict[str, int]:
        import onnx

        return {"nodes": len(onnx.load(str(self.path)).graph.node)}
