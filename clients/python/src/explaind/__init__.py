"""explaind: a Python client for the explaind model-explanation server.

>>> from explaind import Client
>>> client = Client("http://127.0.0.1:8080")
>>> client.register("churn", xgb_model, background=X_train)      # doctest: +SKIP
>>> e = client.explain("churn", X_test)                           # doctest: +SKIP
>>> shap.plots.waterfall(e[0])                                    # doctest: +SKIP

``explain`` answers with a ``shap.Explanation`` when shap is installed (else
``explaind.Explanation``, the same fields); errors are ``ExplaindError`` with the
server's code and message; a model that cannot be converted for the server raises
``ConversionError`` at ``register``.
"""

from .client import Client, ModelInfo
from .errors import ConversionError, ExplaindError
from .explanation import Explanation

__all__ = ["Client", "ConversionError", "ExplaindError", "Explanation", "ModelInfo"]
__version__ = "0.1.0"
