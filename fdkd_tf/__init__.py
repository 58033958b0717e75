"""fdkd-tf: frequency-decoupled cross-modal knowledge distillation in Keras 3.

Importing the package registers every serializable layer, loss, schedule and
distiller, so a saved ``student.keras`` (or a whole distiller) reloads with
`keras.saving.load_model` after ``import fdkd_tf``.

The method core imported here (layers, losses, models, distillers, schedules) is
written with `keras.ops` and imports without TensorFlow, so it runs under
``KERAS_BACKEND=jax`` and ``torch`` too. The data pipelines, export, distribution
strategies and the CLIs are TensorFlow and are imported only where used.
"""

from fdkd_tf import distillers, layers, losses, models  # noqa: F401  (registration)
from fdkd_tf.training import schedules  # noqa: F401  (registration)

__version__ = "0.1.0"
