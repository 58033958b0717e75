"""Learning-rate schedules and optimizers of the reference training recipe."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="fdkd_tf")
class PolyEpochDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The reference code's per-epoch polynomial decay.

    ``lr(epoch) = final + (initial - final) * (1 - epoch / epochs) ** power``, with
    ``epoch = floor(step / steps_per_epoch)``: constant within an epoch, from
    ``initial`` at epoch 0 towards ``final``. Driven by the optimizer's iteration
    counter, so a resumed run continues on the same curve.

    Args:
        initial_learning_rate: rate at epoch 0 (1e-2 in the paper).
        final_learning_rate: asymptotic rate (1e-4).
        epochs: length of the schedule in epochs.
        steps_per_epoch: optimizer steps per epoch.
        power: exponent (0.9).
    """

    def __init__(self, initial_learning_rate, final_learning_rate, epochs, steps_per_epoch, power=0.9):
        self.initial_learning_rate = float(initial_learning_rate)
        self.final_learning_rate = float(final_learning_rate)
        self.epochs = int(epochs)
        self.steps_per_epoch = max(int(steps_per_epoch), 1)
        self.power = float(power)

    def __call__(self, step):
        epoch = ops.floor(ops.cast(step, "float32") / float(self.steps_per_epoch))
        progress = ops.clip(1.0 - epoch / float(self.epochs), 0.0, 1.0)
        span = self.initial_learning_rate - self.final_learning_rate
        return self.final_learning_rate + span * ops.power(progress, self.power)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "final_learning_rate": self.final_learning_rate,
            "epochs": self.epochs,
            "steps_per_epoch": self.steps_per_epoch,
            "power": self.power,
        }


def build_optimizer(train_config, steps_per_epoch: int, epochs: int) -> keras.optimizers.Optimizer:
    """SGD with momentum (reference) or Adam, with the configured schedule.

    With ``train.gradient_accumulation_steps`` > 1 the optimizer averages that many
    batches' gradients before each update (Keras' own accumulation).

    Args:
        train_config: `fdkd_tf.config.TrainConfig`.
        steps_per_epoch: batches per epoch of the training split.
        epochs: length of this stage in epochs.
    """
    if train_config.schedule == "poly":
        learning_rate = PolyEpochDecay(
            train_config.learning_rate,
            train_config.final_learning_rate,
            epochs,
            steps_per_epoch,
            train_config.power,
        )
    else:
        learning_rate = train_config.learning_rate
    options = {
        "weight_decay": train_config.weight_decay or None,
        # Keras takes None for "no accumulation" (it refuses 1).
        "gradient_accumulation_steps": train_config.gradient_accumulation_steps if train_config.gradient_accumulation_steps > 1 else None,
    }
    if train_config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate, **options)
    return keras.optimizers.SGD(learning_rate, momentum=train_config.momentum, **options)
