"""fdkd-tf: frequency-decoupled cross-modal knowledge distillation in Keras 3.

Importing the package registers every serializable layer, loss and schedule, so a
saved ``student.keras`` reloads with `keras.saving.load_model` after ``import fdkd_tf``.
"""

from fdkd_tf import layers, losses, models  # noqa: F401  (registration)
from fdkd_tf.training import schedules  # noqa: F401  (registration)

__version__ = "0.1.0"
