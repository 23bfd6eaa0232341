"""The image's models stage: make the ONNX graphs of the bundled model named on the command line
(``int8``, what a new index and answer composition use; ``fp32`` too to serve an index of fp32
vectors) under $XDG_CACHE_HOME/newsqa, where the runtime stage finds them by the model's content
alone (it has no torch to make them with)."""

import sys
from pathlib import Path

from newsqa.embedding.base import default_model_path
from newsqa.embedding.onnx import default_cache_dir, onnx_model

model, cache = Path(default_model_path()), default_cache_dir()
for precision in sys.argv[1:] or ["int8"]:
    print(onnx_model(model, cache, precision))
